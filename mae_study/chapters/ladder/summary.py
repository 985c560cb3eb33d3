"""Every chapter's task rungs on one table, for the data chapter: how much room each chapter's own
recipe (sized to its time budget) left, beside the calibration ladder's generous one.

One row per chapter (and per task and model where a chapter has several): chance, pixel probe,
scratch, the best arm, its gain over scratch and the standard error of that gain, read from the
chapter's `rungs` table. A chapter without results at the profile is left out.
"""
from __future__ import annotations

import math

import pandas as pd

from mae_study.runs.rungs import ARM


def _summary(chapter: str, table: pd.DataFrame, **keys) -> dict | None:
    t = table.set_index("rung")
    arms = t[(t["what"] == ARM) & t["accuracy %"].notna()]
    if not len(arms) or math.isnan(t.loc["scratch", "accuracy %"]):
        return None
    best = arms["accuracy %"].idxmax()
    se = math.sqrt(arms.loc[best, "se"] ** 2 + t.loc["scratch", "se"] ** 2)
    return {"chapter": chapter, **keys, "chance": t.loc["chance", "accuracy %"],
            "pixel probe": t.loc["pixel probe", "accuracy %"], "scratch": t.loc["scratch", "accuracy %"],
            "best arm": best, "best": arms.loc[best, "accuracy %"], "best - scratch": arms.loc[best, "above scratch"],
            "se": se, "runs (best, scratch)": f"{int(arms.loc[best, 'runs'])}, {int(t.loc['scratch', 'runs'])}"}


def chapter_rungs(profile: str) -> pd.DataFrame:
    """The rows described above, in the book's chapter order."""
    from mae_study.chapters.ablations import tables as ablation_tables
    from mae_study.chapters.dynmask import tables as dynmask_tables
    from mae_study.chapters.kd import tables as kd_tables
    from mae_study.chapters.synthetic import rungs as synthetic_rungs
    rows = []
    for chapter, make in (("MAE ablations", ablation_tables.rungs), ("dynamic masking", dynmask_tables.rungs),
                          ("distillation", kd_tables.rungs)):
        rows.append(_summary(chapter, make(profile), task="builtin", model="-"))
    for (task, model), t in synthetic_rungs.rungs(profile).groupby(["task", "model"], sort=False):
        rows.append(_summary("synthetic pre-training", t.drop(columns=["task", "model"]), task=task, model=model))
    return pd.DataFrame([r for r in rows if r is not None])
