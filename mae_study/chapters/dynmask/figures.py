"""The dynamic mask-ratio chapter's figures: the paper's Figures 2 and 3 from the study's runs, and
accuracy against pre-training compute."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from mae_study.chapters.dynmask.plan import PRETRAIN
from mae_study.chapters.dynmask.tables import accuracy_per_encoder, cost_table, finetune_table, pretrain_table
from mae_study.report.style import book_style
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_histories


@book_style()
def figure2(profile: str, ax=None):
    """Mask ratio against epoch, as the runs recorded it at every step (the first pre-training
    seed of each schedule)."""
    pre = pretrain_table(check_profile(profile))
    first_seed = pre[pre["seed"] == pre["seed"].min()].set_index("run")
    steps = load_histories(PRETRAIN, profile, file="steps.csv")
    steps = steps[steps["run"].isin(first_seed.index)].copy()
    steps["method"] = steps["run"].map(first_seed["method"])
    steps["schedule"] = steps["method"] + " " + steps["run"].map(
        (first_seed["final_mask_ratio"] * 100).round().astype(int).astype(str)) + " %"
    step_in_run = steps.groupby("run")["step"].transform(lambda s: s - s.min())
    steps_per_epoch = steps.groupby("run")["epoch"].transform(lambda e: (e == e.min()).sum())
    steps["position"] = step_in_run / steps_per_epoch
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    sns.lineplot(data=steps[steps["method"] == "dynamic"], x="position", y="mask_ratio", hue="schedule",
                 drawstyle="steps-post", ax=ax)
    for ratio in sorted(first_seed.loc[first_seed["method"] == "static", "final_mask_ratio"].unique()):
        ax.axhline(ratio, ls=":", color="grey", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mask ratio used")
    ax.set_title("dynamic schedules (static ratios dotted)")
    ax.figure.tight_layout()
    return ax


@book_style()
def figure3(profile: str, ax=None, mode: str = "full"):
    """Fine-tuned (``mode="full"``) or linearly probed (``"linear"``) accuracy (a fraction) against
    final mask ratio, static vs dynamic: mean and sd over pre-trained encoders (each the mean of its
    evaluations); the fine-tuned scratch rung dashed."""
    evals = finetune_table(profile)
    per_encoder = accuracy_per_encoder(evals, mode)
    per_encoder["final ratio [%]"] = (per_encoder["final_mask_ratio"] * 100).round().astype(int)
    ax = ax or plt.subplots(figsize=(6, 3.8))[1]
    sns.pointplot(data=per_encoder, x="final ratio [%]", y="accuracy", hue="method", errorbar="sd",
                  dodge=0.2, capsize=0.1, ax=ax, hue_order=["static", "dynamic"])
    scratch = evals[(evals["method"] == "scratch") & (evals["mode"] == "full")]["accuracy"]
    if len(scratch):
        ax.axhline(scratch.mean(), color="grey", ls="--", lw=1, label="no pre-training")
        ax.legend()
    what = "fine-tuned" if mode == "full" else "linear probe"
    ax.set_ylabel(f"{what} accuracy (mean of last {int(evals['average_last'].iloc[0])} epochs)")
    return ax


@book_style()
def figure_cost(profile: str, ax=None):
    """Fine-tuned accuracy against the encoder's pre-training compute, one point per method and
    final ratio (`cost_table`); None, and no figure, when no fine-tuning has finished."""
    cost = cost_table(profile)
    if "accuracy" not in cost:
        return None
    ax = ax or plt.subplots()[1]
    sns.scatterplot(data=cost, x="encoder_train_tflops", y="accuracy", hue="method", style="final_mask_ratio",
                    hue_order=["static", "dynamic"], s=80, ax=ax)
    ax.set_xlabel("encoder pre-training compute (TFLOP)")
    ax.set_ylabel("fine-tuned accuracy")
    return ax
