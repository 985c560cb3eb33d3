"""How close the synthetic generators are to Anderson & Farrell's code: each detail measured under
both styles (``style``), beside the original code's figures from ``data/reference/fractal_fidelity.csv``.

The original code is not run here (it needs OpenCV and writes images one at a time); its figures
were measured once on the same inputs and are kept, with their source, in the reference file. Each
function below measures one detail of this project's generator, from its own random draws:

    fidelity_table()   # the data chapter's table: detail, measure, original code, ours (original style), ours (study style)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from mae_study.data.fractals.background import background_params, render_backgrounds
from mae_study.data.fractals.ifs import jitter_system, num_points, sample_sigma_system
from mae_study.data.fractals.multi_instance import MultiInstanceConfig
from mae_study.data.fractals.seeding import draw_seed, make_rng
from mae_study.data.fractals.single_instance import SingleInstanceConfig
from mae_study.data.fractals.style import STYLES
from mae_study.paths import REPO_ROOT

REFERENCE = REPO_ROOT / "data" / "reference" / "fractal_fidelity.csv"
MEASURE_SEED = 20261201  # the draws behind every measurement here


def background_stats(style: str, count: int = 1000, size: int = 64, seed: int = MEASURE_SEED) -> dict[str, float]:
    """Brightness of ``count`` backgrounds, as the original code's figures were measured: the median
    over images of the mean HSV value (``max(R, G, B)``, in [0, 1]); the median over images of the
    pixel standard deviation (per RGB channel, averaged over the channels); the share of images
    whose mean value is under 0.3."""
    rng = make_rng(seed, 1)
    decays, ranges = background_params(rng.random((count, 7)), style)
    seeds = np.array([draw_seed(rng) for _ in range(count)], dtype=np.uint64)
    rgb = render_backgrounds(seeds, decays, ranges, size, style)  # (N, S, S, 3)
    value = rgb.max(-1).mean((1, 2))  # (N,)
    spread = rgb.std((1, 2)).mean(-1)  # (N,)
    return {"median brightness (HSV value)": float(np.median(value)), "median pixel std": float(np.median(spread)),
            "share darker than 0.3": float((value < 0.3).mean())}


def _singular_values(params: np.ndarray) -> np.ndarray:
    # (M, 6) -> (M, 2) singular values of each map's 2x2 part, largest first
    return np.linalg.svd(params[:, :4].reshape(-1, 2, 2), compute_uv=False)


def sigma_s1_sums(style: str, num_maps: int = 2, count: int = 2000, seed: int = MEASURE_SEED) -> np.ndarray:
    """Per system, the sum over its ``num_maps`` maps of the largest singular value: (count,)."""
    return np.array([_singular_values(sample_sigma_system(make_rng(seed, 2, k), num_maps, style))[:, 0].sum()
                     for k in range(count)])


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (scipy): the largest gap between the empirical CDFs."""
    return float(ks_2samp(a, b).statistic)


def jitter_shape_change(style: str, count: int = 2000, seed: int = MEASURE_SEED) -> float:
    """Median relative change of the jittered map's singular-value ratio ``s2 / s1`` (0: the map keeps
    its shape, as the original's one factor per map does)."""
    changes = []
    for k in range(count):
        rng = make_rng(seed, 3, k)
        system = sample_sigma_system(rng, style=style)
        jittered = jitter_system(system, rng, style=style)
        moved = np.flatnonzero(np.any(jittered[:, :6] != system[:, :6], axis=1))
        if len(moved):
            before, after = _singular_values(system[moved]), _singular_values(jittered[moved])
            changes.append(abs(after[0, 1] / after[0, 0] / (before[0, 1] / before[0, 0]) - 1))
    return float(np.median(changes))


def measurements() -> dict[tuple[str, str], dict[str, float]]:
    """(detail, measure) -> {style: value} for every measured detail."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    stats = {style: background_stats(style) for style in STYLES}
    for measure in stats[STYLES[0]]:
        out[("background", measure)] = {style: stats[style][measure] for style in STYLES}
    sums = {style: sigma_s1_sums(style) for style in STYLES}
    out[("singular values", "median sum of s1, N = 2")] = {style: float(np.median(sums[style])) for style in STYLES}
    gap = ks_distance(sums["original"], sums["study"])
    out[("singular values", "KS distance to the other style, N = 2")] = {style: gap for style in STYLES}
    out[("Single-Instance jitter", "median change of the map's s2 / s1")] = {
        style: jitter_shape_change(style) for style in STYLES}
    return out


def reference() -> pd.DataFrame:
    """The original code's figures and the decision taken on each detail, with their source."""
    return pd.read_csv(REFERENCE)


def rules() -> dict[str, dict[str, str]]:
    """The details that are rules rather than numbers: detail -> {style: what this generator does}."""
    config = SingleInstanceConfig()
    points = f"{config.points_per_pixel:g} per pixel ({num_points(32, config.points_per_pixel):,} at 32 px)"
    multi = MultiInstanceConfig()
    cache = f"fixed: {multi.cache_per_class} {'jittered' if multi.cache_jitter else 'unjittered'} renders per class"
    return {"renderer": {"original": "size - 1", "study": "size"},
            "Multi-Instance cache": {"original": cache, "study": "(not used)"},
            "Single-Instance queue": {"original": "none: every image fresh", "study": "none: every image fresh"},
            "chaos-game points": {"original": points, "study": points}}


def _show(value) -> str:
    if isinstance(value, float):
        return "0" if abs(value) < 1e-9 else f"{value:.3g}"
    return str(value)


def fidelity_table(path: str | Path | None = None) -> pd.DataFrame:
    """The data chapter's table: one row per (detail, measure), the original code's figure or rule,
    this generator's under both styles (measured now, or its rule), and what the synthetic sets use."""
    ref = pd.read_csv(path or REFERENCE, dtype=str)
    measured, rule = measurements(), rules()
    rows = []
    for r in ref.itertuples(index=False):
        ours = measured.get((r.detail, r.measure)) or rule.get(r.detail, {})
        rows.append({"detail": r.detail, "measure": r.measure, "original code": r.original,
                     "ours, original style": _show(ours.get("original", "")),
                     "ours, study style (built-in)": _show(ours.get("study", "")), "synthetic sets use": r.decision})
    return pd.DataFrame(rows)
