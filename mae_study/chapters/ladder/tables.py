"""The data chapter's ladder tables: each rung of each task with its spread over seeds, and the
checks a useful setting must pass (`ladder_checks`). Accuracies are fractions (0-1) in the run
files; the tables show percentages.

Pure functions over the rows of `ladder_rows` (one per run), so they are tested on made-up numbers.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mae_study.chapters.ladder.plan import FINETUNE, PRETRAIN, PROBE, SETTING, TASKS
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_runs

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


def settings_tried(profile: str) -> pd.DataFrame:
    """The built-in settings measured so far, one row each, rungs in % side by side: the first
    calibration (`calibration_report`, one seed, no pre-training measured) and the ladder's
    setting (mean over seeds). A rung a setting was not measured on is nan."""
    from mae_study.chapters.ladder.calibration_report import calibration_table
    rows = []
    first = calibration_table(check_profile(profile))
    for _, r in first[first["task"] == "builtin"].iterrows():
        rows.append({"setting": r["setting"], "labelled train images": r["train images"], "seeds": 1,
                     "chance": 100 * r["chance"], "pixel probe": 100 * r["linear probe on pixels"],
                     "ViT from scratch": 100 * r["ViT from scratch"]})
    probes = load_runs(PROBE, profile)
    table = ladder_table(ladder_rows(profile))
    built = table[table["task"] == "builtin"].set_index("rung") if len(table) else table
    if len(built):
        settings = probes.loc[probes["config.params.dataset"] == "builtin", "config.params.data_setting"].unique()
        train = probes.loc[probes["config.params.dataset"] == "builtin", "config.params.num_train"].unique()
        rows.append({"setting": ", ".join(map(str, settings)), "labelled train images": int(train[0]),
                     "seeds": int(built["seeds"].max()),
                     **{rung: built.loc[rung, "accuracy %"] if rung in built.index else np.nan for rung in RUNGS}})
    return pd.DataFrame(rows, columns=["setting", "labelled train images", "seeds", *RUNGS])


def setting_facts(name: str = SETTING) -> dict:
    """The numbers a page states about a built-in setting, read from its definition."""
    from mae_study.data.builtin import BUILTIN_SETTINGS
    s = BUILTIN_SETTINGS[name]
    return {"classes": s.num_classes, "distractors": getattr(s, "num_distractors", 0), "pool": s.num_unlabelled,
            "train": s.num_train, "test": s.num_test, "pool_ratio": s.num_unlabelled / s.num_train,
            "task_share": getattr(s, "task_fraction", 1.0), "max_clutter": getattr(s, "max_clutter", 0)}


def recipe_sentence(profile: str) -> str:
    """The ladder's recipe at ``profile`` in words, from its experiments' parameters."""
    from mae_study.chapters.ladder.plan import LADDER_FINETUNE, LADDER_PRETRAIN
    pre, ft = LADDER_PRETRAIN.resolve(check_profile(profile)), LADDER_FINETUNE.resolve(profile)
    return (f"{pre['num_epochs']} pre-training epochs over the {pre['num_images']:,}-image pool "
            f"({pre['num_epochs'] * pre['num_images']:,} image-steps, model `{pre['model']}`, {pre['image_size']} px), "
            f"then {ft['num_epochs']} fine-tuning epochs on {ft['num_train']:,} labelled images, tested on "
            f"{ft['num_test']:,} (accuracy averaged over the last {ft['average_last']} epochs)")


def choice_sentence(profile: str, table: pd.DataFrame) -> str:
    """Why the chapters use the ladder's setting, from the settings' rungs and the ladder's checks."""
    tried = settings_tried(profile).set_index("setting")
    parts = []
    for name, r in tried.iterrows():
        below = r["ViT from scratch"] < r["pixel probe"]
        parts.append(f"on `{name}` the ViT from scratch reaches {r['ViT from scratch']:.1f} % against the pixel "
                     f"probe's {r['pixel probe']:.1f} % ({'below' if below else 'above'} it)")
    checks = ladder_checks(table)
    built = checks[checks["task"] == "builtin"]
    met = int(built["met"].fillna(False).astype(bool).sum())
    text = "; ".join(parts)
    return (text[:1].upper() + text[1:] + f". The recalibrated setting meets {met} of the ladder's {len(built)} "
            "goals on the built-in task (checks above). The chapters that follow run on it, each with a lighter "
            "recipe than this ladder's so that its whole sweep fits its time budget; each shows its own task's "
            "rungs (chance, pixel probe, scratch) beside its results, and says where a verdict changed from "
            "its `siblings-v1` runs.")
