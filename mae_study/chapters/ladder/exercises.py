"""The data chapter's exercises (see `mae_study.report.exercises`): notebook 01, the calibration."""
from __future__ import annotations

from mae_study.chapters.ladder.calibration import CALIBRATION, EXPERIMENT, calibration_run_name
from mae_study.report.exercises import Exercise
from mae_study.runs.params import Params
from mae_study.runs.results import RunDir


def _runs(p: Params) -> list[RunDir]:
    """Per task, the calibration row and its from-scratch classifier."""
    return [RunDir(p["profile"], experiment, calibration_run_name(p, task))
            for task in p["tasks"] for experiment in (EXPERIMENT, EXPERIMENT + "_scratch")]


def _rows(profile: str, **change) -> dict[str, dict] | None:
    p = CALIBRATION.resolve(profile, **change)
    runs = {task: RunDir(profile, EXPERIMENT, calibration_run_name(p, task)) for task in p["tasks"]}
    if not all(r.is_finished() for r in runs.values()):
        return None
    return {task: r.read("final.json") for task, r in runs.items()}


def _compare(profile: str, change: dict, label: str, lesson: str) -> str | None:
    base, other = _rows(profile), _rows(profile, **change)
    if base is None or other is None:
        return None
    lines = [f"| task | rung | default | {label} |", "|---|---|---|---|"]
    notes = []
    for task in base:
        for key, rung in (("pixel_linear_probe", "pixel probe"), ("scratch_vit", "ViT from scratch")):
            lines.append(f"| {task} | {rung} | {100 * base[task][key]:.1f} % | {100 * other[task][key]:.1f} % |")
        moved = {k: 100 * (other[task][k] - base[task][k]) for k in ("pixel_linear_probe", "scratch_vit")}
        note = (f"On {task} the pixel probe moves {moved['pixel_linear_probe']:+.1f} points and the ViT "
                f"from scratch {moved['scratch_vit']:+.1f}")
        if all(r["scratch_vit"] < r["pixel_linear_probe"] for r in (base[task], other[task])):
            note += ", and the ViT stays below the pixel probe in both (a linear classifier on raw pixels beats it)"
            if task == "builtin":
                note += (": the reason the data chapter recalibrated the built-in data (`distinct-v2`) before "
                         "any chapter used it")
        notes.append(note + ".")
    return "\n".join(lines) + "\n\n" + " ".join(notes) + f" {lesson}"


EXERCISES = (
    Exercise(
        title="half the resolution",
        question="Calibrate the tasks at 16 px instead of 32 (`image_size` `16`): a quarter of the "
                 "pixels. How much do the pixel probe and the ViT trained from scratch lose on each task?",
        shows="that a task's difficulty is a property of its setting, not of the data set's name: "
              "the rungs move with the resolution",
        notebook="01_data_calibration", experiment=CALIBRATION, change=("image_size", 16), locate=_runs,
        answer=lambda profile: _compare(
            profile, {"image_size": 16}, "16 px",
            "One run per cell. Where a rung hardly moves, what the task needs survives the "
            "down-sampling; the ViT's patches are fixed in pixels, so at 16 px each covers four times "
            "the share of the image and the sequence is four times shorter.")),
    Exercise(
        title="another draw of the data",
        question="Calibrate on another draw of the built-in data (`data_seed` `1`: other images of "
                 "the same classes, other splits). Do the rungs move, and by how much?",
        shows="that part of any result's spread comes from the data drawn, which is why the base "
              "recipe's trials each draw their own",
        notebook="01_data_calibration", experiment=CALIBRATION, change=("data_seed", 1), locate=_runs,
        answer=lambda profile: _compare(
            profile, {"data_seed": 1}, "data seed 1",
            "The digits images are fixed and the seed redraws only their train/test split; the "
            "built-in task's images are generated anew. Compare the differences with the spread that "
            "the data chapter's ladder reports over its three trials.")),
)
