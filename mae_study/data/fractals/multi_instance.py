"""Multi-Instance (Anderson & Farrell): 1 to 5 fractals of different classes per image.

A cache of gray fractals is rendered first (at half the image size, ``cache_per_class`` per class,
unjittered as the original's, bounding-box window); each image is a background plus 1..5 cache entries, each flipped,
recoloured, resized to ``U(0.15, 0.6)`` of the image side (nearest neighbour) and placed at random,
possibly partly outside (at least a quarter of its box inside). Targets are multi-hot over the
classes of the pasted fractals (for BCE with ``pos_weight = classes / positives``).

Departures: per-sample seeding (see ``seeding``); nearest-neighbour resizing keeps "gray > 0" as
the paste mask; the cache is fixed (``cache_per_class`` renders of every class, a pure function of
``(key, entry)``, so any image can be made alone: resume, several processes) where the original's
is rolling (each new image renders one fractal into a 512-entry ring, backgrounds included, and
composes from what the ring holds). Unjittered renders of one class differ only in their chaos-game
points and 3x3 patch, so a pasted fractal is drawn from the same distribution either way; what the
fixed cache drops is the ring's correlation (an image's fractals come from the 512 most recently
rendered classes, its background from a recent render).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mae_study.data.fractals.background import background_params, render_backgrounds
from mae_study.data.fractals.colour import colours_from_uniforms
from mae_study.data.fractals.compose import compose_multi
from mae_study.data.fractals.seeding import STREAM_CACHE, draw_seed, sample_rng
from mae_study.data.fractals.single_instance import SingleInstanceConfig, draw_fractals, render_gray


@dataclass(frozen=True)
class MultiInstanceConfig:
    """How Multi-Instance images are drawn."""

    image_size: int = 32
    cache_per_class: int = 8  # gray fractals rendered per class
    cache_jitter: bool = False  # jitter the cached systems (the original does not)
    max_fractals: int = 5  # 1..max_fractals fractals per image
    size_range: tuple[float, float] = (0.15, 0.6)  # fractal side as a fraction of the image side
    flip_p: float = 0.5
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 1.0)
    fractal: SingleInstanceConfig = field(default_factory=SingleInstanceConfig)  # cache rendering


def cache_size(image_size: int) -> int:
    """Side of the cached fractals: half the image (at least 8)."""
    return max(8, image_size // 2)


def build_cache(systems: list[np.ndarray], key: tuple[int, ...], config: MultiInstanceConfig,
                chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Render ``cache_per_class`` gray fractals of every system.

    Returns:
        cache: (K * m, h, h) float32 in [0, 1], h = half the image size; entry ``k * m + j`` is copy j of class k.
        labels: (K * m,) int64.
    """
    m, h = config.cache_per_class, cache_size(config.image_size)
    labels = np.repeat(np.arange(len(systems)), m)
    cache = np.empty((len(labels), h, h), dtype=np.float32)
    for lo in range(0, len(labels), chunk):
        entries = range(lo, min(lo + chunk, len(labels)))
        rngs = [sample_rng((*key, STREAM_CACHE), e) for e in entries]
        fractals = draw_fractals(rngs, [systems[labels[e]] for e in entries], config.fractal, window=False,
                                 jitter=config.cache_jitter)
        cache[lo:lo + len(rngs)] = render_gray(fractals, h, config.fractal)
    return cache, labels


def generate_multi_instance(cache: np.ndarray, cache_labels: np.ndarray, num_classes: int, key: tuple[int, ...],
                            indices: np.ndarray, config: MultiInstanceConfig) -> tuple[np.ndarray, np.ndarray]:
    """Images ``indices`` of stream ``key`` composed from ``cache``.

    Returns:
        images: (B, 3, S, S) uint8.
        targets: (B, num_classes) float32 multi-hot: the classes of the pasted fractals.
    """
    size, big, batch = config.image_size, config.max_fractals, len(indices)
    u = np.empty((batch, big, 10))  # per fractal slot: entry, flips (3), colour (3), side, top, left
    v = np.empty((batch, 10))  # per image: background (7), blur (2), count of fractals
    seeds = np.empty(batch, dtype=np.uint64)
    for b, i in enumerate(indices):  # each sample's random numbers from its own generator
        rng = sample_rng(key, i)
        v[b] = rng.random(10)
        u[b] = rng.random((big, 10))
        seeds[b] = draw_seed(rng)
    counts = 1 + np.minimum((v[:, 9] * big).astype(np.int64), big - 1)  # 1..max_fractals
    used = np.arange(big)[None, :] < counts[:, None]  # (B, J)
    items = np.where(used, np.minimum((u[..., 0] * len(cache)).astype(np.int64), len(cache) - 1), -1)
    flips = u[..., 1:4] < config.flip_p
    colours = colours_from_uniforms(u[..., 4:7])
    lo, hi = config.size_range
    side = np.maximum(2, np.round((lo + (hi - lo) * u[..., 7]) * size)).astype(np.int64)
    corner = -(side[..., None] // 2) + np.floor(u[..., 8:10] * size).astype(np.int64)  # top, left: at least
    boxes = np.concatenate([corner, side[..., None]], axis=-1)  # a quarter of the box inside the image
    decays, ranges = background_params(v[:, :7], config.fractal.style)
    lo, hi = config.blur_sigma
    blur = np.where(v[:, 7] < config.blur_p, lo + (hi - lo) * v[:, 8], 0.0)
    targets = np.zeros((batch, num_classes), dtype=np.float32)
    rows, slots = np.nonzero(used)
    targets[rows, cache_labels[items[rows, slots]]] = 1.0
    if config.fractal.background:
        backgrounds = render_backgrounds(seeds, decays, ranges, size, config.fractal.style)  # (B, S, S, 3)
    else:
        backgrounds = np.zeros((batch, size, size, 3), dtype=np.float32)
    return compose_multi(cache, items, flips, colours, boxes, backgrounds, blur), targets
