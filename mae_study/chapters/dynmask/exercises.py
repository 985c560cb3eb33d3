"""The dynamic-masking chapter's exercises (see `mae_study.report.exercises`)."""
from __future__ import annotations

from mae_study.chapters.dynmask.plan import DYNMASK_FINETUNE, FINETUNE
from mae_study.report.exercises import Exercise, accuracy, first_missing
from mae_study.runs.results import RunDir
from mae_study.runs.rungs import probe_result
from mae_study.runs.skeleton import auto_run_name


def _finetuned(profile: str, **change) -> tuple[float | None, object]:
    p = DYNMASK_FINETUNE.resolve(profile, **change)
    return accuracy(RunDir(profile, FINETUNE, auto_run_name(p))), p


def _linear_answer(profile: str) -> str | None:
    linear, p = _finetuned(profile, mode="linear")
    full, _ = _finetuned(profile)
    probe = probe_result(p)
    values = {"linear": linear, "full": full, "probe": None if probe is None else 100 * probe["accuracy"]}
    if first_missing(values):
        return None
    return (f"The frozen encoder of `{p['pretrained']}` with a linear head reaches **{linear:.1f} %**; "
            f"fine-tuning every weight reaches {full:.1f} %, and a linear classifier on the raw pixels "
            f"{values['probe']:.1f} %. "
            + ("So the frozen features are better than pixels, " if linear > values["probe"] else
               "So the frozen features are no better than pixels, ")
            + f"but fine-tuning adds {full - linear:.1f} points: at this scale most of what MAE "
            "pre-training gives is a starting point for fine-tuning rather than linearly separable "
            "features, as He et al. also report for MAE (its linear probe lags its fine-tuning). "
            "One run each: compare with the chapter's linear-probe figure for the spread over trials.")


def _ratio95_answer(profile: str) -> str | None:
    dynamic, p = _finetuned(profile, pretrained="dynamic_r95_s0")
    static, _ = _finetuned(profile, pretrained="static_r95_s0")
    base, base_p = _finetuned(profile)
    if first_missing({"dynamic": dynamic, "static": static, "base": base}):
        return None
    better = "above" if dynamic > static else "below"
    return (f"Fine-tuned, the encoder pre-trained with the curriculum ending at 95 % reaches "
            f"**{dynamic:.1f} %**, {better} the static 95 % encoder ({static:.1f} %), and "
            f"{'above' if dynamic > base else 'below'} the default dynamic 75 % one ({base:.1f} %). "
            "With one seed a side this is one sample of each: whether the gap is larger than the "
            "seed-to-seed spread is what the chapter's Figure 3 and its claims table decide, over "
            "three trials. Read the pre-training losses too (notebook 03's output): the curriculum "
            "spends its early epochs at lower ratios, where reconstruction is easier.")


EXERCISES = (
    Exercise(
        title="a linear probe instead of fine-tuning",
        question="Keep the pre-trained encoder frozen and train only a linear head on its mean-pooled "
                 "features (`mode` `linear`). How much of the fine-tuned accuracy is already in the "
                 "frozen features, and are they better than the raw pixels?",
        shows="that fine-tuning and linear probing measure different things: MAE features are a starting "
              "point more than a linearly separable representation",
        notebook="04_dynmask_finetune", experiment=DYNMASK_FINETUNE, change=("mode", "linear"),
        answer=_linear_answer),
    Exercise(
        title="the curriculum at a 95 % final ratio",
        question="Fine-tune the encoder whose curriculum ends at a 95 % mask ratio "
                 "(`pretrained` `dynamic_r95_s0`; the default is `dynamic_r75_s0`). Does the dynamic "
                 "curriculum beat the static 95 % encoder (`static_r95_s0`), as the paper reports "
                 "for high ratios?",
        shows="how to read one comparison against the seed-to-seed spread before calling it an effect",
        notebook="04_dynmask_finetune", experiment=DYNMASK_FINETUNE, change=("pretrained", "dynamic_r95_s0"),
        answer=_ratio95_answer),
)
