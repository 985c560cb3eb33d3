"""FractalDB (Kataoka et al., ACCV 2020): categories by filling rate, instances by weight patterns.

- Categories: the 1,000 published FractalDB-1k systems (``published_categories``), or new ones from
  ``search_categories``: candidates from ``ifs.sample_fractaldb_system`` kept when their filling rate
  (100,000 points, one pixel each, on 512 x 512 with pad 6) is at least 0.2.
- Instances: 25 weight patterns (the identity, and each of the six parameter positions times 0.2,
  0.6, 1.4 or 1.8 in every map; probabilities not recomputed), rendered with FractalDB's 3x3
  random-mask patch (last writer wins, gray 127), flipped top to bottom, then in one of four flips
  (none, vertical, horizontal, both). All renders of a category share one map sequence (the
  original reseeds with 100): they differ in their patch masks only.

Departures: the chaos game runs 32 chains with a 20-point burn-in (the original keeps its start
point); ``points_per_pixel * size^2`` points per render (2 per pixel by default; the original 200,000
at 362 px is 1.5 per pixel) and pad ``round(6 size / 362)`` (at least 1); a data set sample draws its
(pattern, flip) and a fresh set of patch masks from its own seed rather than enumerating the
original's 10 fixed renders; channels are three copies of the gray image.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from tqdm.auto import tqdm

from mae_study.data.fractals.ifs import iterate, num_points, sample_fractaldb_system
from mae_study.data.fractals.render import filling_rates, render_patch
from mae_study.data.fractals.seeding import (STREAM_CATEGORY, STREAM_FIGURE, STREAM_SEARCH, draw_seed, make_rng,
                                             sample_rng)
from mae_study.paths import reference_root

NUM_PATTERNS = 25
FLIPS = ("none", "vertical", "horizontal", "both")


@dataclass(frozen=True)
class FractalDBConfig:
    """How FractalDB instances are rendered."""

    image_size: int = 32
    points_per_pixel: float = 2.0  # chaos-game points per pixel (the original: 200,000 at 362 px)
    num_chains: int = 32
    burn_in: int = 20
    pad: int | None = None  # border in pixels; None: round(6 * size / 362), at least 1


def default_pad(image_size: int) -> int:
    """FractalDB's 6-pixel border at 362 px, scaled to ``image_size`` (at least 1 for the 3x3 patch)."""
    return max(1, int(round(6 * image_size / 362)))


@lru_cache(maxsize=1)
def _published() -> tuple[np.ndarray, ...]:
    table = np.loadtxt(reference_root() / "fractaldb1k" / "categories.csv", delimiter=",", skiprows=1)
    cats = table[:, 0].astype(int)
    return tuple(table[cats == c, 2:9] for c in range(cats.max() + 1))  # each (M, 7): a..f, p


def num_published() -> int:
    """How many FractalDB-1k categories were published (1,000)."""
    return len(_published())


def published_categories(num_categories: int | None = None) -> list[np.ndarray]:
    """The first ``num_categories`` (all 1,000 when None) FractalDB-1k systems, each (M, 7)."""
    cats = _published()
    if num_categories is not None and not 1 <= num_categories <= len(cats):
        raise ValueError(f"num_categories={num_categories} must be between 1 and {len(cats)}")
    return [c.copy() for c in cats[:num_categories]]


@lru_cache(maxsize=1)
def weight_patterns() -> np.ndarray:
    """The 25 weight patterns, (25, 6) multipliers of (a, b, c, d, e, f); row 2 is the identity."""
    return np.loadtxt(reference_root() / "fractaldb1k" / "weights_0.4.csv", delimiter=",")


def instance_system(category: np.ndarray, pattern: int) -> np.ndarray:
    """A category's system under weight pattern ``pattern``; probabilities kept as they were. (M, 7)."""
    system = category.copy()
    system[:, :6] *= weight_patterns()[pattern]
    return system


def filling_rate(systems: list[np.ndarray], seeds: np.ndarray, size: int = 512, num_points: int = 100_000,
                 pad: int = 6) -> np.ndarray:
    """FractalDB's filling rate of each system (chaos game from (0, 0)), (S,) in [0, 1]."""
    return filling_rates(iterate(systems, seeds, num_points), size, pad)


def search_categories(num_categories: int, seed: int, min_fill: float = 0.2, size: int = 512,
                      num_points: int = 100_000, batch_size: int = 64,
                      max_candidates: int = 1_000_000, progress: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """FractalDB's category search: candidate ``j`` (drawn from ``make_rng(seed, STREAM_SEARCH, j)``) is
    kept when its filling rate is at least ``min_fill``; the first ``num_categories`` kept, in candidate
    order. A few per cent of candidates pass at the defaults; for the candidates tested per second, see the
    ``search`` entry of ``benchmarks/results/fractals_vm.json`` (written by ``benchmarks/bench_fractals.py``).

    Args:
        progress: show a progress bar of the categories found.
    Returns:
        categories: list of (M, 7) systems.
        rates: (num_categories,) their filling rates.
    """
    found, rates = [], []
    with tqdm(total=num_categories, desc="FractalDB category search", disable=not progress) as bar:
        for lo in range(0, max_candidates, batch_size):
            rngs = [make_rng(seed, STREAM_SEARCH, j) for j in range(lo, lo + batch_size)]
            systems = [sample_fractaldb_system(rng) for rng in rngs]
            seeds = np.array([draw_seed(rng) for rng in rngs], dtype=np.uint64)
            for system, rate in zip(systems, filling_rate(systems, seeds, size, num_points)):
                if rate >= min_fill and len(found) < num_categories:
                    found.append(system)
                    rates.append(rate)
                    bar.update(1)
            if len(found) == num_categories:
                return found, np.array(rates)
    raise RuntimeError(f"only {len(found)} of {num_categories} categories in {max_candidates} candidates")


def category_seed(seed: int, category: int) -> np.uint64:
    """The chaos-game seed shared by every render of ``category`` (the original reseeds with 100)."""
    return draw_seed(make_rng(seed, STREAM_CATEGORY, category))


def render_instances(systems: list[np.ndarray], iter_seeds: np.ndarray, mask_seeds: np.ndarray, flips: np.ndarray,
                     config: FractalDBConfig) -> np.ndarray:
    """Render weighted systems the FractalDB way.

    Args:
        systems: B systems (already weighted, see ``instance_system``).
        iter_seeds, mask_seeds: (B,) uint64 chaos-game and patch-mask seeds.
        flips: (B,) indices into ``FLIPS``.
    Returns:
        (B, S, S) uint8 with values 0 and 127.
    """
    size = config.image_size
    pad = default_pad(size) if config.pad is None else config.pad
    points = iterate(systems, iter_seeds, num_points(size, config.points_per_pixel), num_chains=config.num_chains,
                     burn_in=config.burn_in)  # (B, P, 2)
    images = render_patch(points, mask_seeds, size, pad)[:, ::-1].copy()  # the original flips top to bottom
    flips = np.asarray(flips)
    vertical, horizontal = (flips == 1) | (flips == 3), (flips == 2) | (flips == 3)
    images[vertical] = images[vertical][:, ::-1]
    images[horizontal] = images[horizontal][:, :, ::-1]
    return images


def generate_fractaldb(categories: list[np.ndarray], labels: np.ndarray, key: tuple[int, ...], indices: np.ndarray,
                       config: FractalDBConfig) -> np.ndarray:
    """Images ``indices`` of stream ``key``, image b an instance of category ``labels[b]``: its weight
    pattern, flip and patch masks drawn from ``(key, index)``, its map sequence from ``(key[0],
    category)``. Returns (B, 3, S, S) uint8."""
    u, mask_seeds = np.empty((len(indices), 2)), np.empty(len(indices), dtype=np.uint64)
    for b, i in enumerate(indices):  # each sample's random numbers from its own generator
        rng = sample_rng(key, i)
        u[b] = rng.random(2)
        mask_seeds[b] = draw_seed(rng)
    patterns = np.minimum((u[:, 0] * NUM_PATTERNS).astype(np.int64), NUM_PATTERNS - 1)
    flips = np.minimum((u[:, 1] * len(FLIPS)).astype(np.int64), len(FLIPS) - 1)
    seeds = {c: category_seed(key[0], c) for c in set(int(c) for c in labels)}
    systems = [instance_system(categories[c], p) for c, p in zip(labels, patterns)]
    gray = render_instances(systems, np.array([seeds[int(c)] for c in labels], dtype=np.uint64), mask_seeds, flips,
                            config)
    return np.repeat(gray[:, None], 3, axis=1)


def category_instances(category: np.ndarray, config: FractalDBConfig, seed: int = 0,
                       render: int = 0) -> np.ndarray:
    """All 25 weight patterns x 4 flips of one category, one render: (25, 4, S, S) uint8 (for figures)."""
    systems = [instance_system(category, p) for p in range(NUM_PATTERNS) for _ in FLIPS]
    mask_seeds = [draw_seed(make_rng(seed, STREAM_FIGURE, render, p)) for p in range(NUM_PATTERNS) for _ in FLIPS]
    flips = [f for _ in range(NUM_PATTERNS) for f in range(len(FLIPS))]
    iter_seeds = np.full(len(systems), category_seed(seed, 0), dtype=np.uint64)
    images = render_instances(systems, iter_seeds, np.array(mask_seeds, dtype=np.uint64), np.array(flips), config)
    return images.reshape(NUM_PATTERNS, len(FLIPS), *images.shape[1:])
