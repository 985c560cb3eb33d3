"""The book's gallery figures of the synthetic data: each function draws one figure and returns it.

Images are generated on the spot (a few dozen, no cache), from the same makers the loaders use, so
the figures show exactly what the experiments train on.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from mae_study.paths import REPO_ROOT

from mae_study.data.builtin import CLASS_NAMES, DEFAULT_SETTING, builtin_maker
from mae_study.data.fractals.fractaldb import (FLIPS, FractalDBConfig, category_instances, published_categories,
                                               weight_patterns)
from mae_study.data.fractals.loaders import fractal_maker
from mae_study.data.fractals.nuisance import NUISANCE_SETS

GENERATOR_TITLES = {"fractaldb": "FractalDB", "fractal_single": "Single-Instance",
                    "fractal_multi": "Multi-Instance", "builtin": "Built-in (train)"}
PARAMETERS = "abcdef"


def _as_hwc(image) -> np.ndarray:
    # (3, H, W) uint8 tensor or array -> (H, W, 3) for imshow
    image = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    return image.transpose(1, 2, 0) if image.ndim == 3 else image


def image_grid(images, row_titles=None, col_titles=None, cell: float = 1.1, title: str | None = None) -> Figure:
    """A grid of images, (R, C, 3, H, W) or (R, C, H, W) uint8, with optional row and column titles."""
    images = np.asarray(images)
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell + (1.4 if row_titles else 0), rows * cell),
                             squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(_as_hwc(images[r, c]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row_titles and c == 0:
                ax.set_ylabel(row_titles[r], rotation=0, ha="right", va="center", fontsize=9)
            if col_titles and r == 0:
                ax.set_title(col_titles[c], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def generator_samples(name: str, image_size: int, seed: int, count: int, num_classes: int = 100,
                      render_size: int | None = None, nuisance: str = "full") -> np.ndarray:
    """The first ``count`` training images of a generator (a fractal set or ``"builtin"``): (count, 3, S, S);
    fractals drawn at ``render_size`` and area-averaged down where given, Single-/Multi-Instance with
    ``nuisance`` ("full" or "reduced", `mae_study.data.fractals.nuisance`)."""
    if name == "builtin":
        make = builtin_maker("train", image_size, seed)
    else:
        make = fractal_maker(name, "train", image_size, seed, num_classes, render_size=render_size,
                             nuisance=nuisance)
    return make(np.arange(count))[0]


def generator_gallery(image_size: int = 96, seed: int = 0, per_row: int = 8,
                      names: tuple[str, ...] = tuple(GENERATOR_TITLES), render_size: int | None = None,
                      nuisance: str = "full") -> Figure:
    """One row of samples per generator (fractals drawn at ``render_size`` where given, Single- and
    Multi-Instance with ``nuisance``; a reduced row is titled so)."""
    images = np.stack([generator_samples(name, image_size, seed, per_row,
                                         render_size=None if name == "builtin" else render_size, nuisance=nuisance)
                       for name in names])
    reduced = nuisance != "full"
    return image_grid(images, row_titles=[GENERATOR_TITLES[n] + (" (reduced nuisances)" if reduced and n in NUISANCE_SETS
                                                                 else "") for n in names])


def pattern_name(pattern: int) -> str:
    """A weight pattern as text: ``"identity"`` or e.g. ``"c x1.4"``."""
    weights = weight_patterns()[pattern]
    changed = np.flatnonzero(weights != 1)
    return "identity" if len(changed) == 0 else f"{PARAMETERS[changed[0]]} x{weights[changed[0]]:g}"


def fractaldb_category_figure(category: int = 0, image_size: int = 64, seed: int = 0,
                              patterns: tuple[int, ...] = tuple(range(25))) -> Figure:
    """FractalDB's instances of one published category: weight patterns (columns) x flips (rows)."""
    images = category_instances(published_categories(category + 1)[category], FractalDBConfig(image_size), seed)
    images = images[list(patterns)].transpose(1, 0, 2, 3)  # (4 flips, patterns, S, S)
    return image_grid(images, row_titles=list(FLIPS), col_titles=[pattern_name(p) for p in patterns], cell=0.8,
                      title=f"FractalDB-1k category {category}: weight patterns x flips")


def builtin_classes_figure(image_size: int = 64, seed: int = 0, per_class: int = 6,
                           setting: str = DEFAULT_SETTING) -> Figure:
    """A built-in task: ``per_class`` training images of each of its 10 classes (one row each),
    for a setting of `BUILTIN_SETTINGS` (the classes are balanced, so the first images hold them)."""
    make = builtin_maker("train", image_size, seed, setting=setting)
    images, labels = make(np.arange(20 * per_class))
    rows = np.stack([images[labels == k][:per_class] for k in range(len(CLASS_NAMES))])
    return image_grid(rows, row_titles=list(CLASS_NAMES))


def _one_thread_rate(fast: dict) -> float | None:
    """Images/s measured with one thread, rounded; None when the run did not measure it (``--quick``)."""
    rate = fast.get("1_threads")
    return None if rate is None else round(rate)


def fractal_benchmark_table(results_dir: str | Path | None = None) -> pd.DataFrame:
    """The generator speeds recorded by ``benchmarks/bench_fractals.py`` (one row per machine,
    generator and image size), for the book. Reads ``benchmarks/results/fractals_*.json``; a
    ``--quick`` run (all threads only) is marked as such and has no one-thread speed."""
    folder = Path(results_dir) if results_dir is not None else REPO_ROOT / "benchmarks" / "results"
    rows = []
    for path in sorted(folder.glob("fractals_*.json")):
        bench = json.loads(path.read_text())
        machine = f"{bench.get('host')} ({bench.get('device')}, {bench.get('cpu_threads')} threads)"
        if bench.get("quick"):
            machine += ", quick run"
        for size, gens in bench["sizes"].items():
            for name, r in gens.items():
                if not isinstance(r, dict) or "fast" not in r:
                    continue  # e.g. the torch path's separate timings
                vs_original = r.get("per_core_vs_original")
                rows.append({"machine": machine, "generator": name, "size (px)": int(size),
                             "fast, 1 thread (images/s)": _one_thread_rate(r["fast"]),
                             "straightforward (images/s)": round(r["reference"], 1),
                             "speed-up per core": round(r["speedup_per_core"], 1),
                             "x original code per core": (f"{vs_original[0]:.0f}-{vs_original[1]:.0f}"
                                                          if vs_original else "")})
    return pd.DataFrame(rows)
