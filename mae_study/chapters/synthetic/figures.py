"""The synthetic pre-training chapter's figures: the paper's Figure 2 (fine-tuned accuracy by
pre-training set, model and task) and the pre-training curves, drawn from `synthetic.tables`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from mae_study.chapters.synthetic.tables import (MODEL_LABELS, SET_LABELS, accuracy_per_trial, arm_label, curves,
                                                 finetune_table)
from mae_study.report.style import book_style
from mae_study.runs.params import check_profile


@book_style()
def figure2(profile: str):
    """Fine-tuned accuracy by pre-training set, one panel per task: points are means over trials,
    bars one sd, small dots the trials; dashed lines the same model trained from scratch."""
    trials = accuracy_per_trial(finetune_table(check_profile(profile)))
    trials = trials[trials["variant"] == "main"].assign(model=lambda d: d["model"].map(MODEL_LABELS))
    tasks = sorted(trials["downstream"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False)
    order = [SET_LABELS[s] for s in SET_LABELS if s != "scratch" and s in set(trials["pretrain_set"])]
    colours = dict(zip(MODEL_LABELS.values(), sns.color_palette()))
    for ax, task in zip(axes[0], tasks):
        here = trials[trials["downstream"] == task]
        pre = here[here["pretrain_set"] != "scratch"].assign(pretrain_set=lambda d: d["pretrain_set"].map(SET_LABELS))
        sns.pointplot(data=pre, x="pretrain_set", y="accuracy", hue="model", order=order, palette=colours,
                      errorbar="sd", dodge=0.3 if pre["model"].nunique() > 1 else False, capsize=0.1,
                      linestyle="none", ax=ax)
        sns.stripplot(data=pre, x="pretrain_set", y="accuracy", hue="model", order=order, palette=colours,
                      dodge=pre["model"].nunique() > 1, size=3, alpha=0.5, legend=False, ax=ax)
        for model, rows in here[here["pretrain_set"] == "scratch"].groupby("model"):
            ax.axhline(rows["accuracy"].mean(), ls="--", lw=1, color=colours[model], label=f"{model} from scratch")
        ax.set_title(task)
        ax.set_xlabel("pre-training set")
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@book_style()
def pretrain_curves(profile: str):
    """Training loss and held-out top-1 (mAP for Multi-Instance) per epoch, mean and sd over seeds;
    one column per pre-training set, one colour per arm throughout."""
    data = curves(check_profile(profile))
    data = data.assign(arm=[arm_label(m, v) for m, v in data[["model", "variant"]].to_numpy()])
    arms = sorted(data["arm"].unique(), key=lambda a: (len(a), a))
    palette = dict(zip(arms, sns.color_palette(n_colors=len(arms))))
    sets = [s for s in SET_LABELS if s in set(data["pretrain_set"])]
    fig, axes = plt.subplots(2, len(sets), figsize=(4 * len(sets), 5.5), squeeze=False, sharex=True)
    for k, name in enumerate(sets):
        here = data[data["pretrain_set"] == name]
        metric = "eval_mAP" if name == "fractal_multi" and "eval_mAP" in here else "eval_top1"
        for row, (y, label) in enumerate((("train_loss", "training loss"), (metric, f"held-out {metric[5:]} (%)"))):
            sns.lineplot(data=here, x="epoch", y=y, hue="arm", palette=palette, errorbar="sd", marker="o",
                         ax=axes[row, k], legend=False)
            axes[row, k].set_ylabel(label)
        axes[0, k].set_title(SET_LABELS[name])
    handles = [plt.Line2D([], [], color=palette[a], marker="o", label=a) for a in arms]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(arms), 4), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
