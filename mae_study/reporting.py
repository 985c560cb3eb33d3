"""Tables and figures for notebooks and book pages, drawn only from run files."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from .masking import sample_mask
from .results import RunDir

sns.set_theme(style="whitegrid", context="notebook")


def show_params(params: dict) -> pd.DataFrame:
    """The resolved parameters as a two-column table (the notebook's record of what it ran)."""
    return pd.DataFrame({"parameter": list(params), "value": [json.dumps(v) if isinstance(v, (list, tuple))
                                                               else v for v in params.values()]})


def plot_loss_curves(history: pd.DataFrame, y: str = "train_loss", hue: str = "run", ax=None, **kw):
    """Training curves of one or many runs (``history`` from `load_histories`)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    sns.lineplot(data=history, x="epoch", y=y, hue=hue if hue in history else None, marker="o", ax=ax, **kw)
    ax.set_xlabel("epoch")
    ax.set_ylabel(y.replace("_", " "))
    return ax


def _recon_files(run: RunDir) -> list[Path]:
    return sorted(run.path.glob("recon_e*.pt"))


def plot_reconstructions(run: RunDir, max_images: int = 4):
    """Rows: images; column groups: epochs; each group = masked input | prediction + visible | original."""
    snaps = [torch.load(f, weights_only=False) for f in _recon_files(run)]
    if not snaps:
        raise FileNotFoundError(f"{run.path} has no reconstruction snapshots (recon_e*.pt)")
    n = min(max_images, len(snaps[0]["original"]))
    cols = len(snaps) * 2 + 1
    fig, axes = plt.subplots(n, cols, figsize=(1.3 * cols, 1.35 * n + 0.4), squeeze=False)
    for r in range(n):
        for s, snap in enumerate(snaps):
            for c, key in enumerate(("masked", "pasted")):
                ax = axes[r, 2 * s + c]
                ax.imshow(snap[key][r])
                if r == 0:
                    ax.set_title(f"{'masked' if c == 0 else 'recon.'}\nepoch {snap['epoch'] + 1}", fontsize=8)
        axes[r, -1].imshow(snaps[-1]["original"][r])
        if r == 0:
            axes[r, -1].set_title("original", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.grid(False)
    fig.tight_layout()
    return fig


def plot_masks(grid: int = 8, ratios=(0.5, 0.75, 0.9), samplings=("random", "block", "grid"), seed: int = 0):
    """The three samplings at several ratios on one patch grid (dark = masked)."""
    fig, axes = plt.subplots(len(samplings), len(ratios), figsize=(2.1 * len(ratios), 2.2 * len(samplings)),
                             squeeze=False)
    for i, sampling in enumerate(samplings):
        for j, ratio in enumerate(ratios):
            m = sample_mask(1, grid, ratio, sampling, torch.Generator().manual_seed(seed)).mask.view(grid, grid)
            ax = axes[i, j]
            ax.imshow(1 - m.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            ax.set_title(f"{sampling}, {int(round(ratio * 100))} %", fontsize=9)
    fig.tight_layout()
    return fig


def mean_spread(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, standard deviation, min, max and count of ``value`` per group."""
    g = df.groupby(by)[value]
    return g.agg(mean="mean", std="std", min="min", max="max", n="count").reset_index()


def provenance_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Where and how the runs of a table were produced (from `load_runs` columns)."""
    cols = [c for c in ("profile", "prov.device", "prov.cpu", "prov.gpu", "prov.git_commit") if c in df]
    out = df[cols].drop_duplicates().copy()
    out["runs"] = len(df)
    out["total wall time (min)"] = round(df["prov.wall_time_s"].sum() / 60, 1)
    return out.reset_index(drop=True)


def plot_ratio_and_loss(steps: pd.DataFrame):
    """Per-step mask ratio (top) and loss (bottom) of one run."""
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.5, 4.2), sharex=True)
    a.step(steps["step"], steps["mask_ratio"], where="post")
    a.set_ylabel("mask ratio")
    b.plot(steps["step"], steps["loss"], lw=0.8)
    b.set_ylabel("loss")
    b.set_xlabel("step")
    fig.tight_layout()
    return fig
