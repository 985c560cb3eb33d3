"""The nuisance arm: Single- and Multi-Instance pre-trained under both generator settings
(`mae_study.data.fractals.nuisance`), the profile's main one and the other, on the same seeds (the
same fractal systems), side by side: each pre-training's health check and its fine-tuned accuracy
on every task. Pure over the chapter's tables (`synthetic.tables`), so it is tested on made-up ones.
"""
from __future__ import annotations

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
