"""The claims of Hata, Tadamura and Samura, "Dynamic Modulation of Masking Rate in Pre-training of
Masked Autoencoders Improves Classification Accuracy", judged on the study's runs by the shared rule
of `mae_study.report.claims`.

`claims_from` is a pure function of the two run tables (`dynmask_tables.pretrain_table`,
`dynmask_tables.finetune_table`), so it is tested on made-up tables; `claims` applies it to the
runs of one profile. Each trial is one pre-training run (its accuracy: the mean over its
fine-tuning runs, a fraction).
"""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.dynmask.tables import (accuracy_per_encoder, finetune_table, pretrain_table, scratch_accuracy,
                                               tasks)
from mae_study.report.claims import Claim, claims_frame, deterministic_verdict, difference, rung_failures
from mae_study.runs.rungs import mean_probe

COLUMNS = {"claim": "claim", "verdict": "verdict", "measured": "evidence", "failed_rungs": "untestable because"}
"""The columns of the chapter's claims table (`Claim` field -> title)."""


def _pct(ratio: float) -> str:
    return f"{round(ratio * 100)} %"


def loss_claims(pre: pd.DataFrame) -> list[Claim]:
    """Table 4: dynamic ends with a slightly lower loss at every ratio, more so at high ratios."""
    ratios = sorted(pre["final_mask_ratio"].unique())

    def loss(method, ratio):
        return pre[(pre["method"] == method) & (pre["final_mask_ratio"] == ratio)]["final_loss"]

    # Claimed direction: static's loss higher. Shown the paper's way round, dynamic - static.
    advantage = {r: difference(higher=loss("static", r), lower=loss("dynamic", r)) for r in ratios}
    lo, hi = ratios[0], ratios[-1]
    grows = advantage[hi] - advantage[lo]
    return [
        Claim.judged("dynamic reaches a slightly lower final reconstruction loss at every ratio",
                     "Table 4: dynamic - static < 0 at all six ratios",
                     "; ".join(f"{_pct(r)}: {(-d).format(4)}" for r, d in advantage.items()),
                     list(advantage.values())),
        Claim.judged("the loss advantage of dynamic grows with the ratio",
                     "Table 4: dynamic - static from -0.00011 at 70 % to -0.00294 at 95 %",
                     f"(dyn - static) at {_pct(hi)} minus at {_pct(lo)}: {(-grows).format(4)}", [grows]),
    ]


def accuracy_claims(pre: pd.DataFrame, evals: pd.DataFrame, pixel_probe: float | None) -> list[Claim]:
    """Figure 3 and the conclusion: static peaks at 75 %; dynamic above static from 85 %; static
    has the higher peak. Each is "untestable" when a rung it stands on failed (`rung_failures`:
    scratch above ``pixel_probe``, every condition it compares above scratch or the probe)."""
    ratios = sorted(pre["final_mask_ratio"].unique())
    per_encoder = accuracy_per_encoder(evals)
    scratch = scratch_accuracy(evals)

    def acc(method, ratio):
        rows = per_encoder[(per_encoder["method"] == method) & (per_encoder["final_mask_ratio"] == ratio)]
        return rows["accuracy"]

    def rungs(*conditions):
        return rung_failures(pixel_probe, scratch, {f"{m} {_pct(r)}": acc(m, r) for m, r in conditions})

    means = {r: acc("static", r).mean() for r in ratios}
    best = max(means, key=means.get)
    peak = ([difference(higher=acc("static", 0.75), lower=acc("static", r)) for r in ratios if r != 0.75]
            if 0.75 in means else [])
    lower_ratios_run = min(ratios) < 0.75 - 1e-9
    high = [r for r in ratios if r >= 0.85 - 1e-9]
    dynamic_above = {r: difference(higher=acc("dynamic", r), lower=acc("static", r)) for r in high}
    best_static = max(ratios, key=lambda r: acc("static", r).mean())
    best_dynamic = max(ratios, key=lambda r: acc("dynamic", r).mean())
    static_peak_higher = difference(higher=acc("static", best_static), lower=acc("dynamic", best_dynamic))
    return [
        Claim.judged("static accuracy peaks at a 75 % ratio and falls as the ratio rises",
                     "Figure 3: static peaks at 75 % and falls above it",
                     "; ".join(f"{_pct(r)}: {m:.3f}" for r, m in means.items()) + f"; best {_pct(best)}" +
                     ("" if lower_ratios_run else " (only ratios ≥ 75 % run)"), peak,
                     failures=rungs(*[("static", r) for r in ratios])),
        Claim.judged("dynamic accuracy is above static from 85 % on",
                     "Figure 3: dynamic above static from 85 %, clearly so above it",
                     "; ".join(f"{_pct(r)}: {d.format(3)}" for r, d in dynamic_above.items()),
                     list(dynamic_above.values()), failures=rungs(*[(m, r) for r in high for m in ("static", "dynamic")])),
        Claim.judged("static reaches the higher peak accuracy", "Section 5: the peak is higher with static",
                     f"peak static {acc('static', best_static).mean():.3f} at {_pct(best_static)}, "
                     f"peak dynamic {acc('dynamic', best_dynamic).mean():.3f} at {_pct(best_dynamic)}; "
                     f"static - dynamic: {static_peak_higher.format(3)}", [static_peak_higher],
                     failures=rungs(("static", best_static), ("dynamic", best_dynamic))),
    ]


def cost_claim(pre: pd.DataFrame) -> Claim:
    """Section 5: a higher ratio leaves fewer visible patches, so the encoder computes less (an
    analytic count, no spread: it holds or it does not)."""
    encoder = pre.groupby("final_mask_ratio")["encoder_train_tflops"].mean()
    return Claim("higher mask ratios cut the encoder's pre-training compute",
                 "Section 5: fewer visible patches, less encoder compute",
                 "; ".join(f"{_pct(r)}: {v:.2f} TFLOP" for r, v in encoder.items()),
                 deterministic_verdict(encoder.is_monotonic_decreasing))


def claims_from(pre: pd.DataFrame, evals: pd.DataFrame, pixel_probe: float | None = None) -> pd.DataFrame:
    """The paper's claims, one row each (`COLUMNS`), judged on a pre-training table and a
    fine-tuning table shaped like `pretrain_table` and `finetune_table`, and the task's pixel
    probe (a fraction; None: not run). A difference counts when it lies outside its Student's t
    interval (`mae_study.report.claims`); with 2-3 trials a side that is weak, hence many
    "inconclusive". The accuracy claims are "untestable" where the models did not learn."""
    rows = loss_claims(pre)
    if not evals.empty and (evals["method"] == "static").any():
        rows += accuracy_claims(pre, evals, pixel_probe)
    rows.append(cost_claim(pre))
    return claims_frame(rows, COLUMNS)


def claims(profile: str) -> pd.DataFrame:
    """Each claim of the paper with this profile's verdict and the numbers behind it."""
    probe = mean_probe(tasks(profile))
    return claims_from(pretrain_table(profile), finetune_table(profile), probe["accuracy"] if probe else None)
