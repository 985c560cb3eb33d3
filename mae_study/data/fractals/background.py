"""Backgrounds: diamond-square noise coloured in HSV (Anderson & Farrell).

Noise on a (2^k + 1)^2 grid (the smallest that covers the image; the image is its top-left corner):
random corners U(0, 1), then at each level the diamond and square steps add uniform noise of
amplitude ``0.5 exp(decay (1 - level))``, ``decay ~ U(0.4, 0.8)``. Two colourings (``style``):

- ``"original"`` (the synthetic pre-training sets), as Anderson & Farrell's code: the square step
  wraps around the grid's edges (always four neighbours); the raw noise ``x`` (not rescaled) gives
  hue ``x * U(0.25, 1) + U(0, 1)``, saturation ``x * U(0.1, 0.3) + U(0.4, 0.6)`` and value
  ``x * U(0.3, 0.6) + U(0.4, 0.6)``, clipped to [0, 1]. The hue reproduces the original's 8-bit
  path: ``255 * hue`` wraps modulo 256 and is read as OpenCV's half-degrees (``/ 180`` turns), so
  it spans up to 1.4 turns with one jump. Light, low-saturation backgrounds: median image value
  about 0.7.
- ``"study"`` (the built-in setting's, kept so its images and every result on them stay
  reproducible): the square step uses the neighbours inside the grid; the noise, rescaled to
  [0, 1] per image, is mapped linearly into a random hue interval (wrapping), a saturation interval
  and a value interval between two U(0, 1) numbers each: darker and flatter backgrounds (median
  value about 0.5).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from mae_study.data.fractals.colour import hsv_to_rgb
from mae_study.data.fractals.seeding import splitmix_uniform, substream
from mae_study.data.fractals.style import check_style


@njit(cache=True)
def diamond_square(seed: np.uint64, n: int, decay: float, wrap: bool = False) -> np.ndarray:
    """Diamond-square noise on an n x n grid, n = 2^k + 1: (n, n) float64, not normalised.
    ``wrap``: the square step's neighbours wrap around the edges (the original's), else only
    those inside the grid count."""
    grid = np.zeros((n, n))
    state = substream(seed, 0)
    for y in (0, n - 1):
        for x in (0, n - 1):
            state, grid[y, x] = splitmix_uniform(state)
    step, level = n - 1, 1
    while step > 1:
        half = step // 2
        amp = 0.5 * np.exp(decay * (1 - level))
        for y in range(half, n, step):  # diamond step: centres of squares
            for x in range(half, n, step):
                state, u = splitmix_uniform(state)
                avg = (grid[y - half, x - half] + grid[y - half, x + half]
                       + grid[y + half, x - half] + grid[y + half, x + half]) / 4
                grid[y, x] = avg + amp * (2 * u - 1)
        for y in range(0, n, half):  # square step: midpoints of edges, from up to 4 neighbours
            for x in range(half if (y // half) % 2 == 0 else 0, n, step):
                total, count = 0.0, 0
                for dy, dx in ((-half, 0), (half, 0), (0, -half), (0, half)):
                    yy, xx = y + dy, x + dx
                    if wrap:  # the opposite edge's neighbour: row -half is n - 1 - half, row n - 1 + half is half
                        yy = n - 1 - half if yy < 0 else (half if yy > n - 1 else yy)
                        xx = n - 1 - half if xx < 0 else (half if xx > n - 1 else xx)
                    if 0 <= yy < n and 0 <= xx < n:
                        total += grid[yy, xx]
                        count += 1
                state, u = splitmix_uniform(state)
                grid[y, x] = total / count + amp * (2 * u - 1)
        step, level = half, level + 1
    return grid


@njit(cache=True, inline="always")
def original_hue(x: float, scale: float, shift: float) -> float:
    """The original's hue in turns: ``uint8(255 (x scale + shift))`` (modulo 256) read by OpenCV as
    half-degrees."""
    return (np.floor(255.0 * (x * scale + shift)) % 256.0) / 180.0


@njit(cache=True)
def _clip01(x):
    return min(max(x, 0.0), 1.0)


@njit(cache=True)
def _background_original(seed, decay, ranges, n, out):
    # the original's colouring of the raw noise -> out (size, size, 3)
    size = out.shape[0]
    noise = diamond_square(seed, n, decay, True)
    hs, h0, ss, s0, vs, v0 = ranges[0], ranges[1], ranges[2], ranges[3], ranges[4], ranges[5]
    for r in range(size):
        for c in range(size):
            x = noise[r, c]
            out[r, c, 0], out[r, c, 1], out[r, c, 2] = hsv_to_rgb(original_hue(x, hs, h0), _clip01(x * ss + s0),
                                                                  _clip01(x * vs + v0))


@njit(cache=True)
def _background_one(seed, decay, ranges, n, out, style):
    # one background: noise on an n x n grid, its top-left corner coloured -> out (size, size, 3)
    if style == 1:
        _background_original(seed, decay, ranges, n, out)
        return
    size = out.shape[0]
    noise = diamond_square(seed, n, decay, False)
    lo, hi = np.inf, -np.inf
    for r in range(size):
        for c in range(size):
            lo, hi = min(lo, noise[r, c]), max(hi, noise[r, c])
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    h0, hspan, s0, s1, v0, v1 = ranges[0], ranges[1], ranges[2], ranges[3], ranges[4], ranges[5]
    for r in range(size):
        for c in range(size):
            g = (noise[r, c] - lo) * scale
            out[r, c, 0], out[r, c, 1], out[r, c, 2] = hsv_to_rgb(h0 + g * hspan, s0 + g * (s1 - s0),
                                                                  v0 + g * (v1 - v0))


@njit(cache=True, parallel=True)
def _backgrounds_kernel(seeds, decays, ranges, size, style, out):
    # seeds (B,), decays (B,), ranges (B, 6) -> out (B, size, size, 3) float32 RGB in [0, 1]
    n = 2
    while n + 1 < size:
        n *= 2
    for b in prange(len(seeds)):
        _background_one(seeds[b], decays[b], ranges[b], n + 1, out[b], style)


# the original's colour ranges: (hue scale, hue shift, saturation scale, shift, value scale, shift)
ORIGINAL_LOW = np.array([0.25, 0.0, 0.1, 0.4, 0.3, 0.4])
ORIGINAL_HIGH = np.array([1.0, 1.0, 0.3, 0.6, 0.6, 0.6])


def background_params(u: np.ndarray, style: str = "study") -> tuple[np.ndarray, np.ndarray]:
    """Backgrounds' ``decay ~ U(0.4, 0.8)`` and six colour numbers from seven U(0, 1) numbers each.
    (B, 7) -> (B,), (B, 6).

    ``"study"``: HSV ranges ``(hue start, hue span, s from, s to, v from, v to)`` (hue start and span
    U(0, 1); saturation and value intervals between two U(0, 1)). ``"original"``: ``(hue scale, hue
    shift, saturation scale, saturation shift, value scale, value shift)`` in the original's ranges
    (``ORIGINAL_LOW`` to ``ORIGINAL_HIGH``)."""
    if check_style(style) == 1:
        return 0.4 + 0.4 * u[:, 0], ORIGINAL_LOW + (ORIGINAL_HIGH - ORIGINAL_LOW) * u[:, 1:]
    ranges = u[:, 1:].copy()
    ranges[:, 2:4].sort(axis=1)
    ranges[:, 4:6].sort(axis=1)
    return 0.4 + 0.4 * u[:, 0], ranges


def render_backgrounds(seeds: np.ndarray, decays: np.ndarray, ranges: np.ndarray, size: int,
                       style: str = "study") -> np.ndarray:
    """Backgrounds for a batch: (B,) uint64 seeds, (B,) decays, (B, 6) colour numbers of
    ``background_params(..., style)`` -> (B, size, size, 3) float32 RGB in [0, 1]."""
    out = np.empty((len(seeds), size, size, 3), dtype=np.float32)
    _backgrounds_kernel(np.asarray(seeds, dtype=np.uint64), np.asarray(decays, dtype=np.float64),
                        np.asarray(ranges, dtype=np.float64), size, check_style(style), out)
    return out
