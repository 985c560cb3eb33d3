"""The claims of the multi-teacher distillation paper, judged on the study's runs by the shared
rule of `mae_study.report.claims`: a difference counts when it lies outside its Student's t interval
around zero.

`claims_from` is a pure function of three tables (`kd_tables.adapt_table`, `kd_tables.distance_table`,
`kd_tables.student_table`), so it is tested on made-up tables; `claims` applies it to one profile.
What a standard error is over differs by claim and is said in its evidence: adaptation seeds
(Table 1), images (Figure 1: one pre-training per teacher, so the test says these two models
differ, not that the two methods always do), student seeds (Table 2).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mae_study.chapters.kd.student import KD_STUDENT
from mae_study.chapters.kd.tables import adapt_table, distance_table, per_image_from, student_table
from mae_study.report.claims import (Claim, Difference, claims_frame, combined_se, difference, gated, rung_failures,
                                     standard_error)
from mae_study.runs.rungs import probe_result

COLUMNS = {"claim": "claim", "paper": "paper", "verdict": "verdict", "measured": "evidence",
           "failed_rungs": "untestable because"}
"""The columns of the chapter's claims table (`Claim` field -> title)."""


def _acc(adapt: pd.DataFrame, teacher: str, mode: str) -> pd.Series:
    return adapt[(adapt["teacher"] == teacher) & (adapt["mode"] == mode)]["accuracy"]


def gap_closed(partial, full, linear) -> Difference:
    """Partial-1 minus the midpoint of linear and full: positive when Partial-1 closes more than half
    of the gap between the linear probe and full fine-tuning (the paper's MAE teacher closes 91 %)."""
    partial, full, linear = (np.asarray(x, float) for x in (partial, full, linear))
    value = partial.mean() - (full.mean() + linear.mean()) / 2
    return Difference(float(value), combined_se(standard_error(partial), standard_error(full) / 2,
                                                standard_error(linear) / 2),
                      min(len(partial), len(full), len(linear)) - 1)  # the fewest runs' df: conservative


def adaptation_claims(adapt: pd.DataFrame) -> list[Claim]:
    """Table 1: for the MIM teacher, Partial-1 is far above linear and near fine-tuning."""
    partial, full, linear = (_acc(adapt, "mae", m) for m in ("partial-1", "full", "linear"))
    above = difference(higher=partial, lower=linear)
    near = gap_closed(partial, full, linear)
    closed = (partial.mean() - linear.mean()) / (full.mean() - linear.mean()) if len(full) and len(linear) else math.nan
    seeds = f"{len(partial)} adaptation seed(s) each"
    return [
        Claim.judged("Partial-1 of the MIM teacher is far above its linear probe",
                     "Table 1: MAE 79.30 % (Partial-1) vs 54.02 % (linear)",
                     f"Partial-1 - linear: {above.format(1)} points ({seeds})", [above]),
        Claim.judged("Partial-1 of the MIM teacher comes near full fine-tuning (closes over half the gap from linear)",
                     "Table 1: MAE 79.30 % vs 81.70 % fine-tuned: 91 % of the gap closed",
                     f"{100 * closed:.0f} % of the gap closed; Partial-1 - midpoint: {near.format(1)} points", [near]),
    ]


def attention_claim(distance: pd.DataFrame) -> Claim:
    """Figure 1: in the deep layers (the second half) the contrastive teacher attends further than
    the masked-image one; one difference per deep layer, over images."""
    per_image = per_image_from(distance)
    depth = int(per_image["layer"].max()) + 1
    deep = range(depth // 2, depth)

    def values(teacher, layer):
        return per_image[(per_image["teacher"] == teacher) & (per_image["layer"] == layer)]["distance_px"]

    diffs = {layer: difference(higher=values("dino", layer), lower=values("mae", layer)) for layer in deep}
    return Claim.judged("in deep layers the contrastive teacher attends more globally than the masked-image one",
                        "Figure 1: in deep layers CL (DINO) attends globally, MIM (MAE) locally",
                        "DINO - MAE attention distance (px), per deep layer over images: "
                        + "; ".join(f"layer {k + 1}: {d.format(2)}" for k, d in diffs.items()), list(diffs.values()))


def student_claims(students: pd.DataFrame) -> list[Claim]:
    """Table 2: one teacher beats none; two teachers beat one."""
    def acc(arm):
        return students[students["arm"] == arm]["accuracy"]
    one = {t: difference(higher=acc(t), lower=acc("alone")) for t in ("DINO", "MAE")}
    two = {t: difference(higher=acc("DINO + MAE"), lower=acc(t)) for t in ("DINO", "MAE")}
    seeds = f"{len(acc('alone'))}-{len(acc('DINO + MAE'))} student seeds a row"
    return [
        Claim.judged("distilling from one teacher beats training the student alone",
                     "Table 2: 73.1 % (DINO), 73.1 % (MAE) vs 72.2 % (alone)",
                     "; ".join(f"KD from {t} - alone: {d.format(1)}" for t, d in one.items()) + f" ({seeds})",
                     list(one.values())),
        Claim.judged("distilling from both teachers beats distilling from either one",
                     "Table 2: 74.4 % (both) vs 73.1 % (either)",
                     "; ".join(f"both - {t}: {d.format(1)}" for t, d in two.items()) + f" ({seeds})",
                     list(two.values())),
    ]


def claims_from(adapt: pd.DataFrame, distance: pd.DataFrame, students: pd.DataFrame,
                pixel_probe: float | None = None) -> pd.DataFrame:
    """The paper's claims, one row each (`COLUMNS`), from tables shaped like `adapt_table`,
    `distance_table` and `student_table` and the task's pixel probe (a fraction; None: not run);
    a table that is empty leaves its claims out. Each claim is "untestable" where a rung it
    stands on failed (`rung_failures`, the student alone as scratch): Table 1's adapted teachers,
    Figure 1's teachers (fine-tuned, as the teachers' own health check) and Table 2's students."""
    alone = (students.loc[students["arm"] == "alone", "accuracy"] / 100).tolist() if len(students) else []

    def rungs(arms: dict) -> list[str]:
        return rung_failures(pixel_probe, alone, {k: np.asarray(v, float) / 100 for k, v in arms.items()})

    rows = []
    if not adapt.empty:
        adapted = {f"MAE teacher, {m}": _acc(adapt, "mae", m) for m in ("partial-1", "full", "linear")}
        rows += [gated(c, rungs(adapted)) for c in adaptation_claims(adapt)]
    if not distance.empty:
        teachers = {f"{t.upper()} teacher fine-tuned": _acc(adapt, t, "full") if not adapt.empty else []
                    for t in ("dino", "mae")}
        rows.append(gated(attention_claim(distance), rungs(teachers)))
    if not students.empty:
        distilled = {f"KD from {a}": students.loc[students["arm"] == a, "accuracy"] for a in ("DINO", "MAE", "DINO + MAE")}
        rows += [gated(c, rungs(distilled)) for c in student_claims(students)]
    return claims_frame(rows, COLUMNS)


def claims(profile: str) -> pd.DataFrame:
    """Each claim of the paper with this profile's verdict and the numbers behind it."""
    probe = probe_result(KD_STUDENT.resolve(profile))
    return claims_from(adapt_table(profile), distance_table(profile), student_table(profile),
                       probe["accuracy"] if probe else None)
