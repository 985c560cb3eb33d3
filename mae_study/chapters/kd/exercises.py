"""The distillation chapter's exercises (see `mae_study.report.exercises`): notebook 09, the
paper's method (both teachers, one stage, attention KD) with one change, against the student alone."""
from __future__ import annotations

from mae_study.chapters.kd.student import KD_STUDENT
from mae_study.report.exercises import Exercise, accuracy, first_missing
from mae_study.runs.results import RunDir
from mae_study.runs.rungs import probe_result
from mae_study.runs.skeleton import auto_run_name


def _student(profile: str, **change) -> float | None:
    return accuracy(RunDir(profile, KD_STUDENT.name, auto_run_name(KD_STUDENT.resolve(profile, **change))))


def _compare(profile: str, change: dict, label: str, lesson: str) -> str | None:
    values = {"method": _student(profile), "changed": _student(profile, **change),
              "alone": _student(profile, teachers="none")}
    probe = probe_result(KD_STUDENT.resolve(profile))
    if first_missing(values) or probe is None:
        return None
    pixels = 100 * probe["accuracy"]
    text = (f"With {label} the student reaches **{values['changed']:.1f} %**, against {values['method']:.1f} % "
            f"with the paper's method and {values['alone']:.1f} % for the student trained alone; a linear "
            f"classifier on the raw pixels reaches {pixels:.1f} %. ")
    below = [k for k, v in (("the method's student", values["method"]), (f"the student with {label}",
                                                                          values["changed"]),
                            ("the student alone", values["alone"])) if not v > pixels]
    if below:
        return text + (f"Before comparing: {', '.join(below)} {'is' if len(below) == 1 else 'are'} not above the "
                       "pixel probe, so at this profile the difference says nothing about distillation: a "
                       "student that has not learnt the task cannot show what a loss term adds (the "
                       "chapter's claims are untestable for the same reason). The exercise is worth "
                       f"rerunning once the chapter's students learn. {lesson}")
    return text + lesson + " One run a side: compare with the chapter's table over seeds before calling it an effect."


EXERCISES = (
    Exercise(
        title="distillation without the attention term",
        question="Distil from both teachers without the attention KL (`attention` `False`): only the "
                 "output KD and the cross-entropies remain. Does the student lose accuracy?",
        shows="how to isolate one loss term, and why the comparison needs a student that learns at all",
        notebook="09_kd_student", experiment=KD_STUDENT, change=("attention", False),
        answer=lambda profile: _compare(
            profile, {"attention": False}, "no attention term",
            "The paper credits the attention term with part of its gain; the chapter's ablation table "
            "compares the two over seeds.")),
    Exercise(
        title="a random head instead of the most confident one",
        question="Distil the attention map of a head drawn at random (`head` `random`) instead of the "
                 "head with the highest Attention Confidence. Does the choice of head matter?",
        shows="what Attention Confidence is for: choosing which teacher head is worth imitating",
        notebook="09_kd_student", experiment=KD_STUDENT, change=("head", "random"),
        answer=lambda profile: _compare(
            profile, {"head": "random"}, "a random head",
            "When every head of a teacher attends alike (as a teacher with uniform attention does), "
            "the confident head and a random one carry the same map, and the choice cannot matter.")),
)
