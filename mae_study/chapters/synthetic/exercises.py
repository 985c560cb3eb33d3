"""The synthetic pre-training chapter's exercises (see `mae_study.report.exercises`): notebook 12,
one fine-tuning of the default pre-training (DeiT on Single-Instance, seed 0) with one change."""
from __future__ import annotations

from mae_study.chapters.synthetic.finetune import FINETUNE, SYNTHETIC_FINETUNE
from mae_study.chapters.synthetic.pretrain import PRETRAIN
from mae_study.chapters.synthetic.tables import HEALTH_MIN
from mae_study.report.exercises import Exercise, accuracy, first_missing
from mae_study.runs.results import RunDir
from mae_study.runs.rungs import probe_result
from mae_study.runs.skeleton import auto_run_name


def _tuned(profile: str, **change) -> float | None:
    return accuracy(RunDir(profile, FINETUNE, auto_run_name(SYNTHETIC_FINETUNE.resolve(profile, **change))))


def _health(profile: str) -> str:
    """How the default pre-training did on its own held-out fractals, as a clause."""
    name = SYNTHETIC_FINETUNE.resolve(profile)["pretrained"]
    run = RunDir(profile, PRETRAIN, name)
    if not run.is_finished():
        return f"`{name}` has not finished at this profile"
    top1 = 100 * run.read("final.json")["eval_top1"]
    verdict = "reaches" if top1 >= HEALTH_MIN else "stays below"
    return f"`{name}` {verdict} the chapter's {HEALTH_MIN:g} % health mark on its own held-out fractals ({top1:.1f} %)"


def _scratch_answer(profile: str) -> str | None:
    values = {"pre-trained": _tuned(profile), "scratch": _tuned(profile, pretrained="scratch")}
    probe = probe_result(SYNTHETIC_FINETUNE.resolve(profile))
    if first_missing(values) or probe is None:
        return None
    gain = values["pre-trained"] - values["scratch"]
    return (f"From scratch the DeiT reaches **{values['scratch']:.1f} %** on the built-in task; pre-trained on "
            f"Single-Instance, {values['pre-trained']:.1f} % ({gain:+.1f} points). A linear classifier on "
            f"the raw pixels reaches {100 * probe['accuracy']:.1f} %. Before reading the gain as what "
            f"fractals teach, look at the pre-training itself: {_health(profile)}. A pre-training that did not "
            "learn its own task hands over little more than a differently scaled initialisation, and one "
            "seed a side cannot separate that from the seed-to-seed spread (the chapter's rungs table "
            "shows it over trials).")


def _digits_answer(profile: str) -> str | None:
    values = {"digits": _tuned(profile, dataset="digits"), "digits scratch": _tuned(profile, dataset="digits",
                                                                                   pretrained="scratch"),
              "builtin": _tuned(profile), "builtin scratch": _tuned(profile, pretrained="scratch")}
    if first_missing(values):
        return None
    p = SYNTHETIC_FINETUNE.resolve(profile, dataset="digits")
    gain_d, gain_b = values["digits"] - values["digits scratch"], values["builtin"] - values["builtin scratch"]
    return (f"On digits ({p['num_train']} labelled images) the Single-Instance DeiT reaches **{values['digits']:.1f} %** "
            f"against {values['digits scratch']:.1f} % from scratch ({gain_d:+.1f} points); on the built-in task "
            f"the gain is {gain_b:+.1f} points. With few labels, what the initialisation brings matters more "
            f"than with {SYNTHETIC_FINETUNE.resolve(profile)['num_train']:,}; and handwritten strokes on a plain background are closer to fractal outlines "
            "than the built-in task's textured objects. One fine-tuning a side: the chapter's Figure 2 "
            "shows both tasks over trials.")


EXERCISES = (
    Exercise(
        title="what pre-training adds over scratch",
        question="Fine-tune the same DeiT from a random initialisation (`pretrained` `scratch`) instead of "
                 "from its Single-Instance pre-training. How many points does fractal pre-training add, and "
                 "did the pre-training learn its own task?",
        shows="that a pre-training's gain is read against scratch and the pixel probe, and only after "
              "checking that the pre-training learnt anything",
        notebook="12_synthetic_finetune", experiment=SYNTHETIC_FINETUNE, change=("pretrained", "scratch"),
        answer=_scratch_answer),
    Exercise(
        title="a task with few labels",
        question="Fine-tune the Single-Instance DeiT on handwritten digits with 15 labels per class "
                 "(`dataset` `digits`) instead of the built-in task. Is the gain over scratch larger?",
        shows="that what a pre-training is worth depends on the downstream task and how many labels it has",
        notebook="12_synthetic_finetune", experiment=SYNTHETIC_FINETUNE, change=("dataset", "digits"),
        answer=_digits_answer),
)
