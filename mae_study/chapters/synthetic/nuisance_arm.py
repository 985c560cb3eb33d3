"""The nuisance arm: Single- and Multi-Instance pre-trained under both generator settings
(`mae_study.data.fractals.nuisance`), the profile's main one and the other, on the same seeds (the
same fractal systems), side by side: each pre-training's health check and its fine-tuned accuracy
on every task. Pure over the chapter's tables (`synthetic.tables`), so it is tested on made-up ones.
"""
from __future__ import annotations

import math

import pandas as pd

from mae_study.chapters.synthetic.tables import (MODEL_LABELS, SET_LABELS, accuracy_per_trial, finetune_table,
                                                 health_from, pretrain_table)

COLUMNS = ["model", "pretrain_set", "nuisances", "seed", "metric", "pre-training (%)"]


def nuisance_from(pre: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """Per model, set and seed of the nuisance arm, one row per generator setting: the pre-training's
    health metric and value (%), and the accuracy (%) of its fine-tunings on each downstream task (a
    column per task). Empty (with the columns) when no nuisance arm ran."""
    arm = pre[pre["variant"].str.endswith("_nuisance")] if len(pre) else pre
    if not len(arm):
        return pd.DataFrame(columns=COLUMNS)
    both = pre[pre["variant"].isin(["main", *arm["variant"].unique()]) & pre["pretrain_set"].isin(arm["pretrain_set"])
               & pre["model"].isin(arm["model"]) & pre["seed"].isin(arm["seed"])]
    health = health_from(both).set_index("run")
    out = pd.DataFrame({"run": both["run"], "model": both["model"].map(MODEL_LABELS),
                        "pretrain_set": both["pretrain_set"].map(SET_LABELS), "seed": both["seed"],
                        "nuisances": [n + (" (main)" if v == "main" else "") for n, v in both[["nuisance", "variant"]]
                                      .to_numpy()]})
    out["metric"] = out["run"].map(health["metric"])
    out["pre-training (%)"] = out["run"].map(health["value"])
    if len(evals):
        trials = accuracy_per_trial(evals)
        tasks = trials[trials["trial"].isin(out["run"])].pivot_table(index="trial", columns="downstream",
                                                                        values="accuracy")
        for task in tasks.columns:
            out[f"{task} (%)"] = out["run"].map(tasks[task])
    return out.drop(columns="run").sort_values(["model", "pretrain_set", "seed", "nuisances"]).reset_index(drop=True)


def nuisance_table(profile: str) -> pd.DataFrame:
    pre = pretrain_table(profile)
    return nuisance_from(pre, finetune_table(profile)) if len(pre) else pd.DataFrame(columns=COLUMNS)


def transfer_sentence(table: pd.DataFrame, spread: pd.DataFrame | None = None, task: str = "builtin") -> str:
    """How each pair of settings compares on ``task`` after fine-tuning (one sentence; empty without
    pairs). ``spread``: the main arms' standard deviation between trials (`figure2_from`'s columns
    downstream, model, pretrain_set, sd, labels as shown); a pair counts as reversed (the full setting
    higher although its pre-training scored lower) only when the gap exceeds twice that sd."""
    col = f"{task} (%)"
    if not len(table) or col not in table:
        return ""
    sd = {} if spread is None else {(m, s): v for m, s, v in spread.loc[spread["downstream"] == task,
                                                                          ["model", "pretrain_set", "sd"]].to_numpy()}
    pairs = []
    for (model, pset, _), g in table.groupby(["model", "pretrain_set", "seed"], sort=False):
        full = g[g["nuisances"].str.startswith("full")]
        reduced = g[g["nuisances"].str.startswith("reduced")]
        if len(full) and len(reduced) and full[col].notna().all() and reduced[col].notna().all():
            pairs.append((model, pset, float(full[col].iloc[0]), float(reduced[col].iloc[0]),
                          float(full["pre-training (%)"].iloc[0]), float(reduced["pre-training (%)"].iloc[0]),
                          sd.get((model, pset))))
    if not pairs:
        return ""
    shown = "; ".join(f"{m} on {s}: {f:.1f} % with the full setting, {r:.1f} % with the reduced one"
                      for m, s, f, r, *_ in pairs)
    known = [p for p in pairs if p[6] is not None and not math.isnan(p[6])]  # an sd to compare with (2+ trials)
    reversed_ = [p for p in known if p[2] - p[3] > 2 * p[6] and p[4] < p[5]]
    tail = ""
    if reversed_:
        tail = (" " + "; ".join(f"{m} on {s} fine-tunes {f - r:.1f} points higher with the full setting (more than "
                                f"twice the {sd_:.1f}-point sd between trials)" for m, s, f, r, _, _, sd_ in reversed_)
                + ", although that pre-training scored lower on its own held-out fractals: the health check says "
                "whether a model learnt its synthetic task, not how well that task transfers.")
    elif known:
        tail = " No gap exceeds twice the sd between trials of the main arms."
    return f"Fine-tuned on {task} (one trial a side): {shown}.{tail}"
