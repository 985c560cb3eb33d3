"""Generic tables and curves for notebooks and book pages, drawn only from run files: a run's
parameters, training curves, spread over trials, what a set of runs was and where it ran.

The MAE teaching figures are in `mae_study.chapters.mae.figures`; the book's plot style in `mae_study.report.style`.
"""
from __future__ import annotations

import json

import numpy as np

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from mae_study.report.style import book_style


def show_params(params: dict) -> pd.DataFrame:
    """The resolved parameters as a two-column table (the notebook's record of what it ran)."""
    return pd.DataFrame({"parameter": list(params), "value": [json.dumps(v) if isinstance(v, (list, tuple))
                                                               else v for v in params.values()]})


@book_style()
def plot_loss_curves(history: pd.DataFrame, y: str = "train_loss", hue: str = "run", ax=None, **kw):
    """Training curves of one or many runs (``history`` from `load_histories`)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    sns.lineplot(data=history, x="epoch", y=y, hue=hue if hue in history else None, marker="o", ax=ax, **kw)
    ax.set_xlabel("epoch")
    ax.set_ylabel(y.replace("_", " "))
    return ax


def mean_spread(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, standard deviation, min, max and count of ``value`` per group."""
    groups = df.groupby(by)[value]
    return groups.agg(mean="mean", std="std", min="min", max="max", n="count").reset_index()


def pretrain_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per pre-training run (``runs`` from `load_runs`): its model size, data, final mask
    ratio, final loss and wall time, under readable column names."""
    columns = {"run": "run", "config.model.embed_dim": "width", "config.model.depth": "encoder depth",
               "config.model.decoder_depth": "decoder depth", "config.data.num_images": "images",
               "config.train.num_epochs": "epochs", "final.final_mask_ratio": "mask ratio",
               "final.final_loss": "final loss (masked MSE)", "final.wall_time_s": "wall time (s)"}
    return runs[list(columns)].rename(columns=columns)


def provenance_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Where and how the runs of a table were produced (from `load_runs` columns): one row per
    distinct machine and code version, with its own number of runs and summed wall time."""
    cols = [c for c in ("profile", "prov.device", "prov.cpu", "prov.gpu", "prov.git_commit") if c in df]
    out = df.groupby(cols, dropna=False, sort=False).agg(runs=("run", "size"), wall=("prov.wall_time_s", "sum"))
    out["total wall time (min)"] = (out.pop("wall") / 60).round(1)
    return out.reset_index()


@book_style()
def plot_ratio_and_loss(steps: pd.DataFrame):
    """Per-step mask ratio (top) and loss (bottom) of one run."""
    fig, (ratio_ax, loss_ax) = plt.subplots(2, 1, figsize=(6.5, 4.2), sharex=True)
    ratio_ax.step(steps["step"], steps["mask_ratio"], where="post")
    ratio_ax.set_ylabel("mask ratio")
    loss_ax.plot(steps["step"], steps["loss"], lw=0.8)
    loss_ax.set_ylabel("loss")
    loss_ax.set_xlabel("step")
    fig.tight_layout()
    return fig


def spread_decimals(spread: float, digits: int = 2) -> int | None:
    """Decimals that keep ``digits`` significant digits of ``spread`` (0.00137 -> 4: 0.0014);
    None for a spread that is missing or zero (nothing to round to)."""
    if spread is None or not np.isfinite(spread) or spread <= 0:
        return None
    return max(0, digits - 1 - int(np.floor(np.log10(spread))))


def _decimals(spreads: pd.Series, digits: int, default: int) -> int:
    """Decimals of the smallest of ``spreads`` at ``digits`` significant digits; ``default`` if none is known."""
    known = [d for d in (spread_decimals(s, digits) for s in spreads) if d is not None]
    return max(known) if known else default


def round_to_spread(df: pd.DataFrame, spreads: dict[str, str], digits: int = 2, default: int = 4,
                    by: str | list[str] | None = None) -> pd.DataFrame:
    """Each value column ``spreads`` names rounded, with its spread column, to the decimals of the
    column's smallest spread at ``digits`` significant digits: no digit finer than any row's spread
    supports is shown (``default`` decimals where no spread is known, one trial say). A pair whose
    columns the table lacks (no linear probe at a profile, say) is skipped; a spread column paired
    with itself is rounded alone (a standard error shown beside its sd).

    With ``by`` (column name(s), a task say) the rule applies within each group of rows instead of
    column-wide, so that a task measured to 0.02 does not print another measured to 5 at 0.02's
    decimals; a group with no known spread gets ``default``. Where the groups' decimals differ, the
    rounded columns hold Python floats (object dtype) so that each cell prints at its own precision
    (a float column prints every row at its longest row's decimals)."""
    out = df.copy()
    groups = list(out.groupby(by, sort=False, dropna=False).indices.values()) if by is not None else None
    for value, spread in spreads.items():
        if value not in out or spread not in out:
            continue
        columns = list(dict.fromkeys([value, spread]))
        if groups is None:
            out[columns] = out[columns].round(_decimals(out[spread], digits, default))
            continue
        block = out[columns].apply(pd.to_numeric)  # a spread an earlier pair left as objects
        decimals = [_decimals(out[spread].iloc[rows], digits, default) for rows in groups]
        for rows, d in zip(groups, decimals):
            block.iloc[rows] = block.iloc[rows].round(d)
        out[columns] = block.astype(object) if len(set(decimals)) > 1 else block
    return out
