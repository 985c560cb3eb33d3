"""The chapters' exercises: one command with one changed parameter, answered from the runs it names."""
import json
import re
import shlex
from pathlib import Path

import pytest

from mae_study import classroom
from mae_study.report import exercises as ex
from mae_study.report.documented import documented_commands
from mae_study.runs.results import RunDir

ROOT = Path(__file__).resolve().parents[1]
ALL = classroom.all_exercises()


def test_every_chapter_package_with_exercises_has_at_least_two_and_a_page():
    for chapter, (page, _, found) in classroom.CHAPTERS.items():
        assert len(classroom.chapter_exercises(chapter)) >= 2 and found, chapter
        assert (ROOT / "book" / f"{page}.md").exists()
        assert f'classroom.render("{chapter}", PROFILE)' in (ROOT / "book" / f"{page}.md").read_text()


@pytest.mark.parametrize("page, e", ALL, ids=[e.title for _, e in ALL])
def test_the_command_changes_one_parameter_away_from_its_default(page, e):
    args = shlex.split(e.command())
    assert args[:2] == ["papermill", f"notebooks/{e.notebook}.ipynb"] and args.count("-p") == 1
    name, value = e.change
    assert args[-2:] == [name, str(value)]
    e.params("ci")  # CI runs it there (where it may coincide with the default, e.g. ci's 16 px)
    assert e.params("cpu")[name] != e.experiment.resolve("cpu")[name], f"{e.title}: {name}={value!r} is cpu's default"


def test_an_unknown_chapter_is_refused():
    with pytest.raises(ValueError, match="chapter must be one of"):
        classroom.render("no_such_chapter", "cpu")


def test_exercise_commands_are_documented_so_ci_runs_them():
    documented = {c for _, c in documented_commands(extra=classroom.commands())}
    assert {e.command() for _, e in ALL} <= documented


def test_a_parameter_the_notebook_does_not_have_is_refused_when_the_exercise_is_defined():
    _, e = ALL[0]
    with pytest.raises(ValueError, match="no parameter 'not_a_parameter'"):
        ex.Exercise("t", "q", "s", e.notebook, e.experiment, ("not_a_parameter", 1), e.answer)


@pytest.mark.parametrize("page, e", ALL, ids=[e.title for _, e in ALL])
def test_with_no_runs_there_is_no_answer_and_no_cost(page, e, results_dir):
    assert e.answer("cpu") is None and ex.cost(e, "cpu") is None
    assert "do not hold this answer yet" in ex.render([e], "cpu")


def test_cost_is_the_runs_recorded_wall_time_plus_its_pretraining_for_a_finetuning(results_dir):
    _, e = next((p, e) for p, e in ALL if e.params("cpu").get("pretrained") not in (None, "scratch"))
    run = e.run("cpu")
    p = e.params("cpu")
    source = RunDir("cpu", p["pretrain_experiment"], p["pretrained"])
    for r, seconds in ((run, 90.0), (source, 300.0)):
        r.path.mkdir(parents=True)
        r.file("provenance.json").write_text(json.dumps(
            {"wall_time_s": seconds, "hardware": {"cpu": "Test CPU", "cpu_count": 2, "torch_threads": 1}}))
        r.file("final.json").write_text(json.dumps({"test_accuracy_last_k": 0.5}))
    c = ex.cost(e, "cpu")
    assert c["minutes"] == pytest.approx(1.5) and c["weights_minutes"] == pytest.approx(5.0)
    sentence = ex.cost_sentence(e, "cpu")
    assert "1.5 minutes (Test CPU, 2 cores, 1 thread(s))" in sentence and "5.0 more minutes" in sentence


def test_committed_answers_quote_the_committed_accuracies():
    """At cpu, each committed answer holds the accuracy of the exercise's own run, as its final.json has it."""
    answered = [(p, e) for p, e in ALL if e.answer("cpu") is not None]
    assert answered, "the committed cpu results answer at least one exercise"
    quoted = {"test_accuracy_last_k": lambda v: f"{100 * v:.1f} %", "final_loss": lambda v: f"{v:.3f}",
              "pixel_linear_probe": lambda v: f"{100 * v:.1f} %", "scratch_vit": lambda v: f"{100 * v:.1f} %"}
    for _, e in answered:
        finals = [r.read("final.json") for r in e.runs("cpu")]
        accuracies = [f for f in finals if "test_accuracy_last_k" in f]  # evaluations, where there are some
        shown = [fmt(f[k]) for f in (accuracies or finals) for k, fmt in quoted.items() if k in f]
        assert shown and all(s in e.answer("cpu") for s in shown), (e.title, shown)
    rendered = "".join(classroom.render(c, "cpu") for c in classroom.CHAPTERS)
    assert rendered.count("<details>") == len(ALL) and len(re.findall(r"```bash\npapermill ", rendered)) == len(ALL)


def test_a_notebook_that_makes_several_runs_costs_their_sum_and_needs_all_of_them(results_dir):
    _, e = next((p, e) for p, e in ALL if len(e.runs("cpu")) > 1)
    runs = e.runs("cpu")
    assert len({r.path for r in runs}) == len(runs)
    for i, r in enumerate(runs):
        r.path.mkdir(parents=True)
        r.file("provenance.json").write_text(json.dumps({"wall_time_s": 60.0 * (i + 1), "hardware": {}}))
        assert ex.cost(e, "cpu") is None  # one run still missing: no cost, no committed answer
        r.file("final.json").write_text(json.dumps({"test_accuracy_last_k": 0.5}))
    assert ex.cost(e, "cpu")["minutes"] == pytest.approx(sum(range(1, len(runs) + 1)))
