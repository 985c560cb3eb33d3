"""The data chapter's ladder tables: each rung of each task with its spread over seeds, and the
checks a useful setting must pass (`ladder_checks`). Accuracies are fractions (0-1) in the run
files; the tables show percentages.

Pure functions over the rows of `ladder_rows` (one per run), so they are tested on made-up numbers.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..params import check_profile
from ..results import load_runs
from .ladder import FINETUNE, PRETRAIN, PROBE, TASKS

RUNGS = ("chance", "pixel probe", "ViT from scratch", "MAE fine-tuned", "MAE linear probe")
STEPS = (("pixel probe", "chance"), ("ViT from scratch", "pixel probe"), ("MAE fine-tuned", "ViT from scratch"))
MIN_SE = 3.0      # each step of the ladder must exceed this many standard errors
MIN_GAIN = 10.0   # MAE fine-tuned minus scratch, percentage points
MAX_BEST = 90.0   # the best rung stays below this, so that differences between arms stay visible


def ladder_rows(profile: str) -> pd.DataFrame:
    """One row per finished run: task, rung, seed, accuracy (%) and wall time (s)."""
    rows = []
    probes = load_runs(PROBE, check_profile(profile))
    for _, r in probes.iterrows():
        task, seed = r["config.params.dataset"], r["config.params.data_seed"]
        rows.append({"task": task, "rung": "pixel probe", "seed": seed, "accuracy": 100 * r["final.accuracy"],
                     "wall_time_s": r["prov.wall_time_s"]})
        rows.append({"task": task, "rung": "chance", "seed": seed, "accuracy": 100 * r["final.chance"],
                     "wall_time_s": 0.0})
    tunes = load_runs(FINETUNE, profile)
    for _, r in tunes.iterrows():
        scratch = r["config.params.pretrained"] == "scratch"
        rung = "ViT from scratch" if scratch else {"full": "MAE fine-tuned", "linear": "MAE linear probe"}[
            r["config.params.mode"]]
        rows.append({"task": r["config.params.dataset"], "rung": rung, "seed": r["config.params.seed"],
                     "accuracy": 100 * r["final.test_accuracy_last_k"], "wall_time_s": r["prov.wall_time_s"]})
    return pd.DataFrame(rows, columns=["task", "rung", "seed", "accuracy", "wall_time_s"])


DETERMINISTIC = ("chance", "pixel probe")  # no randomness once the data are fixed


def _se(values: pd.Series, rung: str) -> float:
    """Standard error over seeds. A single value has none (nan), except for a rung without
    randomness once the data are fixed (chance; the pixel probe of a task whose splits are fixed,
    such as digits), whose single value is exact (0)."""
    if len(values) > 1:
        return float(values.std(ddof=1) / math.sqrt(len(values)))
    return 0.0 if len(values) == 1 and rung in DETERMINISTIC else math.nan


def ladder_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per task and rung: mean, sd and standard error (percentage points) and the number of seeds."""
    out = []
    for task in [t for t in TASKS if t in set(rows["task"])]:
        for rung in RUNGS:
            acc = rows[(rows["task"] == task) & (rows["rung"] == rung)]["accuracy"]
            if len(acc):
                out.append({"task": task, "rung": rung, "accuracy %": acc.mean(),
                            "sd": acc.std(ddof=1) if len(acc) > 1 else np.nan, "se": _se(acc, rung), "seeds": len(acc)})
    return pd.DataFrame(out)


def ladder_checks(table: pd.DataFrame) -> pd.DataFrame:
    """The goals a calibrated setting must meet, one row each per task: every step of the ladder
    beyond `MIN_SE` standard errors, MAE fine-tuned at least `MIN_GAIN` points above scratch, the
    MAE linear probe above the pixel probe, the best rung below `MAX_BEST` %."""
    out = []
    for task, t in table.groupby("task", sort=False):
        rung = t.set_index("rung")

        def gap(higher: str, lower: str):
            if higher not in rung.index or lower not in rung.index:
                return math.nan, math.nan
            d = rung.loc[higher, "accuracy %"] - rung.loc[lower, "accuracy %"]
            return d, math.sqrt(rung.loc[higher, "se"] ** 2 + rung.loc[lower, "se"] ** 2)

        for higher, lower in STEPS:
            d, se = gap(higher, lower)
            out.append({"task": task, "goal": f"{higher} > {lower} by > {MIN_SE:g} SE", "difference": d, "se": se,
                        "met": bool(d > MIN_SE * se) if not math.isnan(d) and not math.isnan(se) else None})
        d, se = gap("MAE fine-tuned", "ViT from scratch")
        out.append({"task": task, "goal": f"MAE fine-tuned - scratch >= {MIN_GAIN:g} points", "difference": d,
                    "se": se, "met": bool(d >= MIN_GAIN) if not math.isnan(d) else None})
        d, se = gap("MAE linear probe", "pixel probe")
        out.append({"task": task, "goal": "MAE linear probe > pixel probe (by > 2 SE)", "difference": d, "se": se,
                    "met": bool(d > 2 * se) if not math.isnan(d) and not math.isnan(se) else None})
        best = t["accuracy %"].max()
        out.append({"task": task, "goal": f"best rung < {MAX_BEST:g} %", "difference": best - MAX_BEST, "se": np.nan,
                    "met": bool(best < MAX_BEST)})
    return pd.DataFrame(out)


def ladder_cost(profile: str) -> pd.DataFrame:
    """What the ladder's runs cost: runs and summed wall time (minutes) per experiment."""
    out = []
    for experiment in (PROBE, PRETRAIN, FINETUNE):
        runs = load_runs(experiment, check_profile(profile))
        if len(runs):
            out.append({"experiment": experiment, "runs": len(runs),
                        "wall time (min)": runs["prov.wall_time_s"].sum() / 60})
    return pd.DataFrame(out)
