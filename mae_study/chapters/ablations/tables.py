"""He et al.'s ablations: the chapter's tables and figures, the study's numbers beside the paper's.

Accuracies are in % (He et al.'s unit), from `ablation_results.results`.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from mae_study.chapters.ablations.plan import (GRIDS, MODES, PRETRAIN, TABLES, check_table, evaluation_tasks,
                                               pretrain_entry, table_pretrain_runs)
from mae_study.chapters.ablations.results import (MODE_NAMES, arm_label, arm_value, encoder_width, mean_sd, paper_key,
                                                  paper_numbers, pretrain_table, results)
from mae_study.report.style import book_style
from mae_study.report.tables import mean_spread
from mae_study.runs import rungs as task_rungs
from mae_study.runs.params import check_profile
from mae_study.runs.results import RunDir


def table(profile: str, name: str) -> pd.DataFrame:
    """One ablation: per arm, ours (mean and sd over pre-training seeds) beside the paper's numbers."""
    check_profile(profile)
    check_table(name)
    everything = results(profile)
    stats = mean_spread(everything[everything["table"] == name], ["value", "mode"], "accuracy_pct")
    stats = stats.set_index(["value", "mode"])
    pre = pretrain_table(profile)
    loss = pre.set_index("run")["final_loss"] if len(pre) else pd.Series(dtype=float)
    grid = GRIDS[profile][name]
    width = encoder_width(profile)
    paper = paper_numbers(name)
    runs = table_pretrain_runs(profile, name)
    title = name.replace("_", " ")
    rows = []
    for arm in grid.arms():
        value = arm_value(name, arm)
        row = {title: arm_label(name, value)}
        if name == "decoder_width":
            row["x encoder width"] = round(value / width, 3)
        for mode in grid.modes:
            row[MODE_NAMES[mode]], row[f"{MODE_NAMES[mode]} sd"] = mean_sd(stats, (value, mode))
        done = [run for run, run_arm, _ in runs if run_arm == arm and run in loss.index]
        row["pre-training loss"] = loss[done].mean() if done else math.nan
        row["trials"] = len(done)
        if paper:
            row["paper fine-tune"], row["paper linear probe"] = paper.get(paper_key(name, value, width),
                                                                          (math.nan, math.nan))
        rows.append(row)
    if grid.scratch:
        scratch = everything[everything["table"] == "scratch"]
        scratch_stats = mean_spread(scratch, ["mode"], "accuracy_pct").set_index("mode")
        row = {title: "no pre-training"}
        for mode in grid.modes:
            row[MODE_NAMES[mode]], row[f"{MODE_NAMES[mode]} sd"] = mean_sd(scratch_stats, mode)
        row["trials"] = int(scratch["seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def summary(profile: str) -> pd.DataFrame:
    """Every table stacked: table, arm, fine-tune and linear-probe accuracy (mean, sd), trials."""
    check_profile(profile)
    frames = []
    for name in TABLES:
        one = table(profile, name).rename(columns={name.replace("_", " "): "arm"})
        frames.append(one.assign(table=name)[["table", "arm"] + [c for c in one.columns if c != "arm"]])
    return pd.concat(frames, ignore_index=True)


def trial_range(profile: str) -> tuple[int, int]:
    """The fewest and the most trials (pre-training seeds) behind any entry of any table."""
    trials = summary(profile)["trials"]
    return int(trials.min()), int(trials.max())


def baseline_and_scratch(profile: str) -> dict[str, dict[str, float]]:
    """Mean accuracy (%) of the baseline (75 %) and of training from scratch, per evaluation mode:
    ``{"baseline": {"full": ..., "linear": ...}, "scratch": {...}}``; nan where not run."""
    everything = results(check_profile(profile))
    ratios = everything[everything["table"] == "mask_ratio"]
    stats = mean_spread(ratios, ["value", "mode"], "accuracy_pct").set_index(["value", "mode"])
    scratch = everything[everything["table"] == "scratch"]
    scratch_stats = mean_spread(scratch, ["mode"], "accuracy_pct").set_index("mode")
    return {"baseline": {mode: mean_sd(stats, (0.75, mode))[0] for mode in MODES},
            "scratch": {mode: mean_sd(scratch_stats, mode)[0] for mode in MODES}}


def rungs(profile: str) -> pd.DataFrame:
    """The task's rungs (chance, pixel probe, scratch fine-tuned), then the baseline (75 %) and the
    best arm of any table per evaluation mode, one value per pre-trained encoder; a linear probe
    of a random encoder beside them (`rungs.rungs_table`)."""
    everything = results(check_profile(profile))
    pretrained = everything[everything["table"] != "scratch"].drop_duplicates(["pretrained", "mode"])
    scratch = everything[everything["table"] == "scratch"]
    arms = {}
    for mode in MODES:
        ones = pretrained[pretrained["mode"] == mode]
        base = ones[(ones["table"] == "mask_ratio") & (ones["value"] == 0.75)]
        arms[f"baseline (75 %), {MODE_NAMES[mode]}"] = (base["accuracy_pct"] / 100).tolist()
        if len(ones):
            means = ones.groupby(["table", "label"])["accuracy_pct"].mean()
            table, label = means.idxmax()
            best = ones[(ones["table"] == table) & (ones["label"] == label)]
            arms[f"best arm, {MODE_NAMES[mode]}: {table.replace('_', ' ')} {label}"] = (
                best["accuracy_pct"] / 100).tolist()
    random = {f"random encoder, {MODE_NAMES['linear']}": (
        scratch.loc[scratch["mode"] == "linear", "accuracy_pct"] / 100).tolist()}
    full_scratch = (scratch.loc[scratch["mode"] == "full", "accuracy_pct"] / 100).tolist()
    return task_rungs.task_rungs(evaluation_tasks(profile), full_scratch, arms, random)


@book_style()
def figure(profile: str, name: str, axes=None):
    """Accuracy per arm, fine-tuning and linear probe side by side: each pre-training seed a dot,
    mean and one standard deviation as a bar; training from scratch dashed where it was run."""
    check_profile(profile)
    check_table(name)
    everything = results(profile)
    data = everything[everything["table"] == name]
    order = [arm_label(name, arm_value(name, arm)) for arm in GRIDS[profile][name].arms()]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    scratch = everything[everything["table"] == "scratch"]
    for ax, mode in zip(axes, MODES):
        arms = data[data["mode"] == mode]
        if len(arms):
            sns.stripplot(data=arms, x="label", y="accuracy_pct", order=order, color="0.5", size=4, ax=ax,
                          jitter=0.08)
            sns.pointplot(data=arms, x="label", y="accuracy_pct", order=order, errorbar="sd", capsize=0.15, ax=ax,
                          linestyles="-" if name == "mask_ratio" else "none", markers="D")
        scratch_acc = scratch[scratch["mode"] == mode]["accuracy_pct"]
        if name == "mask_ratio" and len(scratch_acc):
            ax.axhline(scratch_acc.mean(), color="grey", ls="--", lw=1, label="no pre-training")
            ax.legend(loc="best", fontsize=8)
        ax.set_title(MODE_NAMES[mode])
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("test accuracy [%]")
        if name in ("mask_token", "sampling", "target"):
            ax.tick_params(axis="x", labelrotation=20)
    axes[0].figure.tight_layout()
    return axes


def recon_runs(profile: str, seed: int = 0) -> dict[str, RunDir]:
    """The target table's two runs of one seed: {"pixels": RunDir, "normalised pixels": RunDir}."""
    runs = {arm["norm_pix_loss"]: pretrain_entry(params)[:2]
            for _, arm, params in table_pretrain_runs(check_profile(profile), "target") if params["seed"] == seed}
    return {arm_label("target", value): RunDir(profile, *runs[value]) for value in (False, True)}
