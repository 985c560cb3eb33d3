"""The MAE chapter's exercises (see `mae_study.report.exercises`): notebook 02, one pre-training."""
from __future__ import annotations

from mae_study.chapters.mae.plan import MAE_PRETRAIN
from mae_study.report.exercises import Exercise
from mae_study.runs.results import RunDir
from mae_study.runs.skeleton import auto_run_name


def _loss(profile: str, **change) -> float | None:
    run = RunDir(profile, MAE_PRETRAIN.name, auto_run_name(MAE_PRETRAIN.resolve(profile, **change)))
    return run.read("final.json")["final_loss"] if run.is_finished() else None


def _compare(profile: str, change: dict, label: str, lesson: str) -> str | None:
    base, other = _loss(profile), _loss(profile, **change)
    if base is None or other is None:
        return None
    return (f"The final reconstruction loss (mean squared error on the masked patches) is "
            f"**{other:.3f}** with {label}, against {base:.3f} with the default "
            f"({100 * (other - base) / base:+.0f} %). {lesson}")


EXERCISES = (
    Exercise(
        title="grid masking",
        question="Hide patches on a regular grid instead of at random (`sampling` `grid`, still 75 %). "
                 "Is reconstruction easier or harder? Look at the reconstructions as well as the loss.",
        shows="that a lower reconstruction loss is not a better representation: every hidden patch "
              "then has visible neighbours to copy from",
        notebook="02_mae_pretrain", experiment=MAE_PRETRAIN, change=("sampling", "grid"),
        answer=lambda profile: _compare(
            profile, {"sampling": "grid"}, "grid masking",
            "He et al. report the same for grid sampling: a lower training loss and sharper "
            "reconstructions, but a worse representation (Table 1f; the ablation chapter's sampling "
            "table measures it here).")),
    Exercise(
        title="half the patches hidden",
        question="Hide half of the patches instead of three quarters (`final_mask_ratio` `0.5`). "
                 "Does the loss fall? Can the two losses be compared at all?",
        shows="that a loss only compares runs of the same task: with more visible patches the "
              "task itself is easier",
        notebook="02_mae_pretrain", experiment=MAE_PRETRAIN, change=("final_mask_ratio", 0.5),
        answer=lambda profile: _compare(
            profile, {"final_mask_ratio": 0.5}, "half the patches hidden",
            "The two runs solve different tasks (and average over different patches), so the loss "
            "says nothing about which encoder is better; He et al. find 75 % best for fine-tuning "
            "(Table 1a), which the ablation chapter's mask-ratio table measures here.")),
)
