"""Per-sample seeding: every image is a pure function of ``(key, index)``.

The original Anderson & Farrell code creates one random generator before the data-loader workers
fork, so every worker draws the same augmentations. Here nothing shares a stream: sample ``i`` of a
stream ``key`` (a tuple such as ``(seed, split_code, epoch)``) draws all its random choices from
``make_rng(*key, i)``, so it is the same whether it is generated alone, in a batch, or in any worker.
``make_rng`` appends the number of words to numpy's seed sequence: without it, ``[a, b]`` and
``[a, b, 0]`` would seed the same stream (numpy pads short entropy with zeros).

Inside the numba kernels the many random numbers per image (map choices, patch masks, background
noise) come from SplitMix64, a tiny counter-style generator seeded with one 64-bit integer that the
sample's numpy generator drew.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Stream codes, so that different uses of one seed never share a random stream.
SPLIT_CODES = {"train": 1, "test": 2, "unlabelled": 3}
STREAM_SYSTEMS = 101  # the class systems (shared by all splits)
STREAM_LABELS = 102  # the label order within each block of classes
STREAM_CACHE = 103  # Multi-Instance: the cache of rendered fractals
STREAM_CATEGORY = 104  # FractalDB: the map sequence of a category
STREAM_SEARCH = 105  # FractalDB: candidates of the category search
STREAM_FIGURE = 106  # FractalDB: patch masks of the gallery figure


def check_choice(param: str, value, allowed) -> None:
    """Raise ``ValueError`` naming ``param`` and the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        raise ValueError(f"{param}={value!r} is not one of {sorted(allowed)}")


def make_rng(*words: int) -> np.random.Generator:
    """A numpy generator seeded by the words and their count (so no two word lists share a stream)."""
    return np.random.default_rng([*(int(w) for w in words), len(words)])


def sample_rng(key: tuple[int, ...], index: int) -> np.random.Generator:
    """The numpy generator that owns every random choice of sample ``index`` of stream ``key``."""
    return make_rng(*key, index)


def draw_seed(rng: np.random.Generator) -> np.uint64:
    """A 64-bit seed for a numba kernel, drawn from ``rng``."""
    return np.uint64(rng.bit_generator.random_raw())


def balanced_labels(indices: np.ndarray, num_classes: int, key: tuple[int, ...]) -> np.ndarray:
    """Class of each sample index: every block of ``num_classes`` consecutive indices holds each class
    once, in an order drawn from ``(key, block)``. So any prefix is balanced and each label depends only
    on its index. (The original's label formula was right only when classes equal samples per class.)

    Args:
        indices: (B,) sample indices.
    Returns:
        (B,) int64 class indices.
    """
    indices = np.asarray(indices, dtype=np.int64)
    blocks = indices // num_classes
    labels = np.empty_like(indices)
    for block in np.unique(blocks):
        order = make_rng(*key, STREAM_LABELS, block).permutation(num_classes)
        here = blocks == block
        labels[here] = order[indices[here] % num_classes]
    return labels


# ---- SplitMix64 for numba kernels -----------------------------------------------------------------

@njit(cache=True, inline="always")
def splitmix_next(state: np.uint64):
    """Advance a SplitMix64 state; returns ``(new_state, 64 random bits)``."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def splitmix_uniform(state: np.uint64):
    """Advance the state; returns ``(new_state, u)`` with u uniform in [0, 1) (53 bits)."""
    state, z = splitmix_next(state)
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def substream(seed: np.uint64, index: np.int64) -> np.uint64:
    """The starting state of sub-stream ``index`` (a chain, a point) of ``seed``: one hash of both."""
    _, z = splitmix_next(seed ^ (np.uint64(index + 1) * np.uint64(0xD1B54A32D192ED03)))
    return z


@njit(cache=True)
def uniforms(seed: np.uint64, index: np.int64, n: np.int64) -> np.ndarray:
    """The first ``n`` uniforms of sub-stream ``index`` of ``seed``: (n,) float64. For tests and the
    reference implementation, which can then replay exactly what a kernel drew."""
    out = np.empty(n)
    state = substream(seed, index)
    for i in range(n):
        state, out[i] = splitmix_uniform(state)
    return out


@njit(cache=True)
def patch_masks(seed: np.uint64, n: np.int64) -> np.ndarray:
    """FractalDB's 9-bit patch masks (values 1..511) of points ``0..n-1`` under ``seed``: (n,) int64."""
    out = np.empty(n, dtype=np.int64)
    state = substream(seed, 0)
    for p in range(n):
        state, z = splitmix_next(state)
        out[p] = 1 + np.int64(z % np.uint64(511))
    return out
