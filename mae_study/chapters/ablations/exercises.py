"""The MAE ablations chapter's exercises (see `mae_study.report.exercises`)."""
from __future__ import annotations

from mae_study.chapters.ablations.plan import MAE_ABLATION_PRETRAIN, evaluation_entries, pretrain_entry
from mae_study.report.exercises import Exercise, accuracy, first_missing
from mae_study.runs.params import Params
from mae_study.runs.results import RunDir


def _runs(p: Params) -> list[RunDir]:
    """Notebook 06's runs: the pre-training, then its fine-tuning and its linear probe."""
    entries = [pretrain_entry(p), *evaluation_entries(p).values()]
    return [RunDir(p["profile"], experiment, name) for experiment, name, _, _ in entries]


def _evaluations(profile: str, **change) -> dict[str, float | None]:
    p = MAE_ABLATION_PRETRAIN.resolve(profile, **change)
    return {mode: accuracy(RunDir(profile, experiment, name))
            for mode, (experiment, name, _, _) in evaluation_entries(p).items()}


def _against_baseline(profile: str, change: dict, what: str, paper: str) -> str | None:
    arm, base = _evaluations(profile, **change), _evaluations(profile)
    if first_missing({**{f"arm {k}": v for k, v in arm.items()}, **{f"base {k}": v for k, v in base.items()}}):
        return None
    return (f"With {what}, fine-tuning reaches **{arm['full']:.1f} %** against the baseline's "
            f"{base['full']:.1f} % ({arm['full'] - base['full']:+.1f} points), and the linear probe "
            f"{arm['linear']:.1f} % against {base['linear']:.1f} % ({arm['linear'] - base['linear']:+.1f}). "
            f"{paper} One pre-training seed a side: the chapter's table for this ablation gives the mean "
            "and spread over its seeds, and its claims table says whether the difference is larger than it.")


EXERCISES = (
    Exercise(
        title="block masking",
        question="Hide square blocks of patches instead of patches chosen at random (`sampling` "
                 "`block`, still 75 % of the patches). Is the encoder better or worse, fine-tuned and "
                 "probed?",
        shows="that what the mask hides shapes the task: blocks remove whole regions, so neighbouring "
              "visible patches no longer give the answer away",
        notebook="06_mae_ablation_pretrain", experiment=MAE_ABLATION_PRETRAIN, change=("sampling", "block"),
        locate=_runs,
        answer=lambda profile: _against_baseline(
            profile, {"sampling": "block"}, "block masking",
            "He et al. (Table 1f) find block masking worse than random at 75 % and prefer random sampling.")),
    Exercise(
        title="a normalised pixel target",
        question="Reconstruct each patch's pixels normalised by the patch's own mean and variance "
                 "(`norm_pix_loss` `True`) instead of raw pixels. Does the encoder improve?",
        shows="that the target, not only the input, decides what an encoder must learn: a normalised "
              "target removes each patch's brightness and contrast",
        notebook="06_mae_ablation_pretrain", experiment=MAE_ABLATION_PRETRAIN, change=("norm_pix_loss", True),
        locate=_runs,
        answer=lambda profile: _against_baseline(
            profile, {"norm_pix_loss": True}, "the normalised target",
            "He et al. (Table 1d) find the normalised target better for fine-tuning than raw pixels.")),
)
