"""Exercises for a class: one papermill command with one changed parameter, answered from the runs.

Each chapter package defines its ``EXERCISES`` (a tuple of `Exercise`); `mae_study.classroom` lists
them all (it alone knows every chapter's, as `mae_study.sweep` knows every chapter's plan). An
exercise names the notebook a student runs and the one parameter they change; the runs that command
makes are found by the notebook's own experiment and naming rule (`auto_run_name`), so a page shows
the command, the cost recorded in those runs' provenance (what computing them afresh took, and on
what), and an answer rendered from the committed result files, hidden behind a toggle.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mae_study.runs.params import Experiment, Params
from mae_study.runs.results import RunDir
from mae_study.runs.skeleton import auto_run_name


@dataclass(frozen=True)
class Exercise:
    title: str
    question: str                         # Markdown
    shows: str                            # what it teaches, one sentence for the teacher's page
    notebook: str                         # notebooks/<notebook>.ipynb
    experiment: Experiment                # what the notebook resolves its parameters with
    change: tuple[str, Any]               # the one parameter the student changes, and its value
    answer: Callable[[str], str | None]   # profile -> Markdown from result files; None: not run yet
    locate: Callable[[Params], list[RunDir]] | None = None  # every run the command makes, if not
    #                                                         one named by auto_run_name

    def __post_init__(self):
        name, value = self.change
        if name not in self.experiment.defaults["cpu"]:
            raise ValueError(f"exercise {self.title!r}: {self.notebook} has no parameter {name!r}")

    def command(self) -> str:
        name, value = self.change
        return f"papermill notebooks/{self.notebook}.ipynb out.ipynb -p {name} {_cli(value)}"

    def params(self, profile: str) -> Params:
        return self.experiment.resolve(profile, **dict([self.change]))

    def runs(self, profile: str) -> list[RunDir]:
        """Every run the command makes (a pre-training and its evaluations, say), first the main one."""
        p = self.params(profile)
        return self.locate(p) if self.locate else [RunDir(profile, self.experiment.name, auto_run_name(p))]

    def run(self, profile: str) -> RunDir:
        return self.runs(profile)[0]


def _cli(value: Any) -> str:
    return repr(value) if isinstance(value, (list, tuple)) else str(value)


def cost(exercise: Exercise, profile: str) -> dict | None:
    """Recorded wall time of the exercise's runs (summed) and the machine the first ran on; None
    unless every run finished."""
    runs = exercise.runs(profile)
    if not all(r.is_finished() and r.file("provenance.json").exists() for r in runs):
        return None
    provs = [r.read("provenance.json") for r in runs]
    hw = provs[0].get("hardware", {})
    return {"minutes": sum(p["wall_time_s"] for p in provs) / 60, "cpu": hw.get("cpu", "?"), "cores": hw.get("cpu_count"),
            "threads": hw.get("torch_threads"), "device": hw.get("device", "cpu"),
            "weights_minutes": _weights_minutes(exercise.params(profile))}


def _weights_minutes(p: Params) -> float | None:
    """A fine-tuning needs its pre-training's weights, which are not committed: the recorded wall
    time of that pre-training (what a fresh clone spends recomputing them), or None."""
    if p.get("pretrained") in (None, "scratch") or "pretrain_experiment" not in p:
        return None
    source = RunDir(p["profile"], p["pretrain_experiment"], p["pretrained"])  # read, never recomputed here
    return source.read("provenance.json")["wall_time_s"] / 60 if source.file("provenance.json").exists() else None


def cost_sentence(exercise: Exercise, profile: str) -> str:
    c = cost(exercise, profile)
    if c is None:
        return "Its run is not among the committed results yet, so it computes from scratch."
    where = f"{c['cpu']}, {c['cores']} cores, {c['threads']} thread(s)" if c["device"] == "cpu" else c["device"]
    weights = ("" if c["weights_minutes"] is None else
               f" It fine-tunes a committed pre-training whose weights are not committed: computing the "
               f"run afresh recomputes them first, {c['weights_minutes']:.1f} more minutes as recorded.")
    n = len(exercise.runs(profile))
    runs = "its run" if n == 1 else f"its {n} runs"
    return (f"Reading the committed results back takes seconds; computing {runs} afresh took "
            f"{c['minutes']:.1f} minutes ({where}).{weights}")


def render(exercises: Sequence[Exercise], profile: str) -> str:
    """Exercises as Markdown: question, command, cost, and the answer in a toggle."""
    parts = []
    for i, ex in enumerate(exercises, 1):
        answer = ex.answer(profile)
        answer = answer if answer is not None else (
            "The committed results do not hold this answer yet: its runs are part of a sweep in progress.")
        parts.append(f"**Exercise {i}: {ex.title}.** {ex.question}\n\n```bash\n{ex.command()}\n```\n\n"
                     f"{cost_sentence(ex, profile)}\n\n<details><summary>Answer (from the committed runs)"
                     f"</summary>\n\n{answer}\n\n</details>\n")
    return "\n".join(parts)


def overview(entries: Sequence[tuple[str, Exercise]], profile: str) -> pd.DataFrame:
    """Every (chapter title, exercise): title, what it shows, command, recorded cost."""
    rows = []
    for chapter, ex in entries:
        c = cost(ex, profile)
        rows.append({"chapter": chapter, "exercise": ex.title, "what it shows": ex.shows, "command": ex.command(),
                     "minutes to compute": None if c is None else round(c["minutes"], 1),
                     "with the weights it needs": None if c is None or c["weights_minutes"] is None
                     else round(c["minutes"] + c["weights_minutes"], 1),
                     "machine": None if c is None else f"{c['cpu']}, {c['threads']} thread(s)",
                     "answer committed": all(r.is_finished() for r in ex.runs(profile))})
    return pd.DataFrame(rows)


def teacher_list(entries: Sequence[tuple[str, Exercise]], profile: str) -> str:
    """`overview` as a Markdown list: chapter, exercise, what it shows, command and cost."""
    lines = []
    for _, row in overview(entries, profile).iterrows():
        if pd.isna(row["minutes to compute"]):
            cost_text = "not run yet"
        else:
            extra = ("" if pd.isna(row["with the weights it needs"]) else
                     f", {row['with the weights it needs']:.1f} with the pre-training whose weights it needs")
            cost_text = f"{row['minutes to compute']:.1f} minutes to compute{extra} ({row['machine']})"
        lines.append(f"- **{row['chapter']}: {row['exercise']}.** It shows {row['what it shows']}. "
                     f"`{row['command']}`: {cost_text}.")
    return "\n".join(lines)


def accuracy(run: RunDir, key: str = "test_accuracy_last_k") -> float | None:
    """A finished run's accuracy in percent, or None."""
    return 100 * run.read("final.json")[key] if run.is_finished() else None


def first_missing(values: Mapping[str, float | None]) -> str | None:
    return next((k for k, v in values.items() if v is None), None)
