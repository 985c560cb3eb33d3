"""The row none of the chapter's anchors has: the study's base MAE pre-training (self-supervised, on
the built-in task's own 40,000 unlabelled images) beside fractal pre-training (supervised, on
synthetic images), each fine-tuned on the built-in task with the same recipe (AdamW 1e-3, a 1-epoch
warm-up, cosine, 30 epochs of batch 50 on 2,000 labelled images, the last 3 averaged).

These are the base recipe's own runs (`mae_study.runs.base`, under the data chapter's experiments),
not trained again: the MAE's ViT (the base encoder) and its own ViT from scratch. The models differ
from the chapter's DeiT (the MAE encoder pools its tokens; the DeiT reads a class token) and trial s
of the base draws its own labelled split (``data_seed = s``), so the page compares *gains over each
model's own scratch*, not raw accuracies.
"""
from __future__ import annotations

import pandas as pd

from mae_study.runs import base
from mae_study.runs.finetune import run_finetune
from mae_study.runs.pretrain import run_pretrain
from mae_study.runs.results import load_named_runs
from mae_study.runs.skeleton import auto_run_name

ARMS = ("MAE (base recipe)", "scratch (base ViT)")  # the row's pre-training set labels


def mae_entries(profile: str, seeds: tuple[int, ...]) -> list[tuple[str, str, object, object]]:
    """The base runs behind the row, in plan form: each seed's base pre-training, its fine-tuning
    and the base ViT from scratch (none at a profile without a base recipe, e.g. ``paper``)."""
    if profile not in base.BASE_PRETRAIN.defaults:
        return []
    out = []
    for s in seeds:
        pre = base.base_pretrain(profile, s)
        out.append((base.PRETRAIN, auto_run_name(pre), pre, run_pretrain))
    for s in seeds:
        for source in (auto_run_name(base.base_pretrain(profile, s)), "scratch"):
            ft = base.base_finetune(profile, source, "full", s)
            out.append((base.FINETUNE, auto_run_name(ft), ft, run_finetune))
    return out


def mae_trials(profile: str, seeds: tuple[int, ...]) -> pd.DataFrame:
    """One row per finished base fine-tuning behind the row: pretrain_set (`ARMS`), trial, and the
    test accuracy (%, averaged over the last epochs), shaped as `synthetic_tables.accuracy_per_trial`."""
    entries = [e for e in mae_entries(profile, seeds) if e[0] == base.FINETUNE]
    runs = load_named_runs([(e[0], e[1]) for e in entries], profile)
    cols = ["downstream", "model", "variant", "pretrain_set", "trial", "accuracy"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    scratch = runs["config.params.pretrained"] == "scratch"
    return pd.DataFrame({
        "downstream": runs["config.params.dataset"], "model": "mae_vit", "variant": "main",
        "pretrain_set": [ARMS[1] if s else ARMS[0] for s in scratch],
        "trial": [f"s{seed}" for seed in runs["config.params.seed"]],
        "accuracy": 100 * runs["final.test_accuracy_last_k"]})[cols].reset_index(drop=True)


def gain_from(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model) and pre-training set the gain over that model's own scratch (points):
    each pre-trained trial minus the mean of the model's scratch trials; mean, sd, runs. Pure over
    a table shaped like `accuracy_per_trial` (scratch rows: pretrain_set "scratch" or `ARMS[1]`)."""
    rows = []
    is_scratch = trials["pretrain_set"].isin(["scratch", ARMS[1]])
    for (task, model), group in trials.groupby(["downstream", "model"]):
        ref = group.loc[is_scratch.loc[group.index], "accuracy"]
        if ref.empty:
            continue
        for pset, arm in group[~is_scratch.loc[group.index]].groupby("pretrain_set"):
            gains = arm["accuracy"] - ref.mean()
            rows.append({"downstream": task, "model": model, "pretrain_set": pset, "gain": gains.mean(),
                         "gain_sd": gains.std(), "runs": len(gains), "scratch": ref.mean()})
    return pd.DataFrame(rows, columns=["downstream", "model", "pretrain_set", "gain", "gain_sd", "runs", "scratch"])
