"""The multi-teacher distillation chapter's figures: the paper's Figure 1 (attention distance per
layer of both teachers), the heads Attention Confidence picks, and Table 2 as points with spread."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
import seaborn as sns

from mae_study.chapters.kd.attention import KD_ATTENTION
from mae_study.chapters.kd.plan import TABLE2
from mae_study.chapters.kd.tables import distance_table, per_image_from, student_table
from mae_study.report.style import book_style
from mae_study.runs.params import check_profile
from mae_study.runs.results import find_runs

COLOURS = {"dino": "tab:red", "mae": "tab:blue"}  # the paper's Figure 1: CL red, MIM blue


@book_style()
def figure1(profile: str):
    """Left: mean attention distance per layer (over heads), mean over images with a band of one sd
    over images. Right: every head's mean distance (dots), as Park et al. plot them."""
    distance = distance_table(check_profile(profile))
    per_image = per_image_from(distance)
    per_head = distance.groupby(["teacher", "layer", "head"], as_index=False)["distance_px"].mean()
    for df in (per_image, per_head):
        df["layer"] = df["layer"] + 1
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    sns.lineplot(data=per_image, x="layer", y="distance_px", hue="teacher", errorbar="sd", marker="o",
                 palette=COLOURS, ax=left)
    left.set_title("mean over heads (band: sd over images)")
    sns.stripplot(data=per_head, x="layer", y="distance_px", hue="teacher", palette=COLOURS, dodge=True,
                  jitter=0.1, ax=right)
    right.set_title("each head (mean over images)")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (left, right):
        ax.set_xlabel("layer")
        ax.set_ylabel("attention distance (px)")
    fig.tight_layout()
    return fig


@book_style()
def figure_heads(profile: str, layer: int = -1):
    """For each teacher, its example images and, beside each, where the CLS token of the head that
    Attention Confidence picks at ``layer`` looks (its attention over patches, CLS column dropped
    and renormalised)."""
    runs = find_runs(KD_ATTENTION.name, check_profile(profile))
    examples = {run.read("config.json")["params"]["teacher"]: run.read("attention_examples.pt") for run in runs}
    n = min(len(e["images"]) for e in examples.values())
    fig, axes = plt.subplots(len(examples), 2 * n, figsize=(2 * n * 1.3, 1.5 * len(examples)), squeeze=False)
    for row, (teacher, e) in enumerate(sorted(examples.items())):
        g, head = e["grid"], e["chosen_heads"][layer]
        for i in range(n):
            cls = e["maps"][i, layer, 0, 1:].astype(np.float32)  # (L,) the CLS query over patches
            axes[row, 2 * i].imshow(e["images"][i])
            axes[row, 2 * i + 1].imshow((cls / cls.sum()).reshape(g, g), cmap="inferno")
            axes[row, 2 * i + 1].set_title(f"{teacher} head {head}", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


@book_style()
def figure2(profile: str, ax=None):
    """Table 2 as points: the student's accuracy per row, every seed, and the mean with one sd."""
    students = student_table(check_profile(profile))
    rows = students[students["arm"].isin(TABLE2)]
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    sns.pointplot(data=rows, x="arm", y="accuracy", order=list(TABLE2), errorbar="sd", capsize=0.1,
                  linestyle="none", color="black", ax=ax)
    sns.stripplot(data=rows, x="arm", y="accuracy", order=list(TABLE2), alpha=0.5, ax=ax)
    ax.set_xlabel("student distilled from")
    ax.set_ylabel("test accuracy (%)")
    ax.figure.tight_layout()
    return ax
