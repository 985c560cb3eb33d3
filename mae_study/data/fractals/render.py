"""Point clouds -> images, in numba, in parallel over systems.

- ``render_patch``: FractalDB's renderer. The cloud's bounding box is rescaled, x and y
  independently, into ``[pad, size - pad - 1]``; every point pastes a 3x3 patch whose cells come from
  a random 9-bit mask (1..511; cell ``(dy, dx)``, rows then columns, is bit ``3 dy + dx``), gray 127
  on and 0 off, and later points overwrite earlier ones (last writer wins), as the original's loop.
- ``filling_rates``: FractalDB's acceptance test: one pixel per point, nonzero pixels / size^2.
- ``render_counts``: Anderson & Farrell's renderer. A window (the bounding box, each axis scaled and
  its centre shifted) is mapped onto the image; each point adds a random 3x3 binary patch, which is
  the same as counting points per pixel and convolving the counts with the patch once; the result
  is divided by its maximum, so values lie in [0, 1]. Two binnings (``style``): ``"original"``, as
  the original code, ``col = int((x - x0) (size - 1) / w)`` truncated toward zero and kept when
  ``0 <= col < size`` (the window spans ``size - 1`` pixel widths; the first column also takes the
  points up to one pixel left of the window, the last the points up to one pixel right of it);
  ``"study"`` (the built-in setting's, kept so its images stay reproducible), ``col = int((x - x0)
  size / w)``, points outside the window dropped (``size`` bins: the same fractal about one pixel
  smaller in the image's frame).

Points are (S, P, 2) float32 with NaN for dropped points (see ``ifs.iterate``); ``x`` is the column,
``y`` the row.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from mae_study.data.fractals.seeding import splitmix_next, substream
from mae_study.data.fractals.style import check_style


@njit(cache=True)
def _bbox(points):
    # points (P, 2) -> xmin, xmax, ymin, ymax over finite points, and their count
    xmin, xmax, ymin, ymax, n = np.inf, -np.inf, np.inf, -np.inf, 0
    for p in range(points.shape[0]):
        x, y = np.float64(points[p, 0]), np.float64(points[p, 1])
        if np.isfinite(x) and np.isfinite(y):
            xmin, xmax = min(xmin, x), max(xmax, x)
            ymin, ymax = min(ymin, y), max(ymax, y)
            n += 1
    return xmin, xmax, ymin, ymax, n


@njit(cache=True)
def _scale(lo, hi, span):
    # the factor that maps [lo, hi] onto [0, span]; 0 for a degenerate extent
    return span / (hi - lo) if hi > lo else 0.0


@njit(cache=True)
def _render_patch_one(points, mask_seed, size, pad, value, out):
    # one cloud: points (P, 2), mask_seed uint64 -> out (size, size) uint8, zero on entry
    xmin, xmax, ymin, ymax, n = _bbox(points)
    if n == 0:
        return
    span = size - 2 * pad - 1
    sx, sy = _scale(xmin, xmax, span), _scale(ymin, ymax, span)
    flat = out.ravel()  # a flat view with unsigned indices spares numba's negative-index checks
    state = substream(mask_seed, 0)
    for p in range(points.shape[0]):
        state, z = splitmix_next(state)  # one mask per point, dropped points included
        x, y = np.float64(points[p, 0]), np.float64(points[p, 1])
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        col = pad + np.int64((x - xmin) * sx)
        row = pad + np.int64((y - ymin) * sy)
        mask = np.uint64(1) + z % np.uint64(511)
        corner = np.uint64((row - 1) * size + col - 1)  # pad >= 1 keeps the patch inside
        for dy in range(3):
            for dx in range(3):  # cell (dy, dx) takes bit 3 dy + dx
                bit = (mask >> np.uint64(3 * dy + dx)) & np.uint64(1)
                flat[corner + np.uint64(dy * size + dx)] = np.uint8(value) * np.uint8(bit)


@njit(cache=True, parallel=True)
def _render_patch_kernel(points, mask_seeds, size, pad, value, out):
    # points (S, P, 2), mask_seeds (S,) uint64 -> out (S, size, size) uint8, zero on entry
    for s in prange(points.shape[0]):
        _render_patch_one(points[s], mask_seeds[s], size, pad, value, out[s])


def check_size_pad(size: int, pad: int, min_pad: int = 1) -> None:
    """Raise ``ValueError`` unless ``pad >= min_pad`` (1 for the 3x3 patch) and ``size >= 2 * pad + 1``,
    so that every point lands inside the image (the kernels do not check bounds)."""
    if pad < min_pad:
        raise ValueError(f"pad={pad}; allowed: pad >= {min_pad}")
    if size < 2 * pad + 1:
        raise ValueError(f"size={size} with pad={pad}: allowed size >= 2 * pad + 1 = {2 * pad + 1}")


def render_patch(points: np.ndarray, mask_seeds: np.ndarray, size: int, pad: int, value: int = 127) -> np.ndarray:
    """FractalDB rendering, last writer wins. (S, P, 2) points, (S,) uint64 mask seeds ->
    (S, size, size) uint8 with values 0 and ``value``. The masks are ``seeding.patch_masks(seed, P)``."""
    check_size_pad(size, pad)
    out = np.zeros((len(points), size, size), dtype=np.uint8)
    _render_patch_kernel(points, np.asarray(mask_seeds, dtype=np.uint64), size, pad, value, out)
    return out


@njit(cache=True)
def _filling_rate_one(points, size, pad):
    # one cloud: points (P, 2) -> fraction of the size x size pixels hit by at least one point
    xmin, xmax, ymin, ymax, n = _bbox(points)
    if n == 0:
        return 0.0
    span = size - 2 * pad - 1
    sx, sy = _scale(xmin, xmax, span), _scale(ymin, ymax, span)
    hit = np.zeros((size, size), dtype=np.bool_)
    count = 0
    for p in range(points.shape[0]):
        x, y = np.float64(points[p, 0]), np.float64(points[p, 1])
        if np.isfinite(x) and np.isfinite(y):
            row, col = pad + np.int64((y - ymin) * sy), pad + np.int64((x - xmin) * sx)
            if not hit[row, col]:
                hit[row, col] = True
                count += 1
    return count / (size * size)


@njit(cache=True, parallel=True)
def _filling_kernel(points, size, pad, out):
    # points (S, P, 2) -> out (S,)
    for s in prange(points.shape[0]):
        out[s] = _filling_rate_one(points[s], size, pad)


def filling_rates(points: np.ndarray, size: int = 512, pad: int = 6) -> np.ndarray:
    """FractalDB's filling rate of each cloud: (S, P, 2) -> (S,) float64 in [0, 1]."""
    check_size_pad(size, pad, min_pad=0)
    out = np.empty(len(points))
    _filling_kernel(points, size, pad, out)
    return out


@njit(cache=True)
def _render_counts_one(points, scale_x, scale_y, shift_x, shift_y, patch, size, original, out):
    # one cloud: points (P, 2), patch (9,) -> out (size, size) float32 in [0, 1]
    xmin, xmax, ymin, ymax, n = _bbox(points)
    ex, ey = max(xmax - xmin, 1e-12), max(ymax - ymin, 1e-12)
    w, h = ex * scale_x, ey * scale_y
    x0 = (xmin + xmax) / 2 + shift_x * ex - w / 2
    y0 = (ymin + ymax) / 2 + shift_y * ey - h / 2
    bins = size - 1 if original else size
    kx, ky = bins / w, bins / h
    counts = np.zeros((size + 2, size + 2), dtype=np.float32)  # points per pixel, 1-pixel border
    for p in range(points.shape[0] if n > 0 else 0):
        fx = (np.float64(points[p, 0]) - x0) * kx
        fy = (np.float64(points[p, 1]) - y0) * ky
        if original:  # int() truncates toward zero: (-1, size) -> columns 0 .. size - 1
            if -1.0 < fx < size and -1.0 < fy < size:  # False for NaN
                counts[1 + np.int64(fy), 1 + np.int64(fx)] += 1.0
        elif 0.0 <= fx <= size and 0.0 <= fy <= size:  # False for NaN
            counts[1 + min(np.int64(fy), size - 1), 1 + min(np.int64(fx), size - 1)] += 1.0
    # every point pastes the patch centred on it: pixel (r, c) gets cell (dy, dx) of each point at
    # (r - dy, c - dx), one shifted add per nonzero cell (the inner loop is contiguous: SIMD)
    for r in range(size):
        for c in range(size):
            out[r, c] = 0.0
    for o in range(9):
        if patch[o] != 0:
            dr, dc, weight = 2 - o // 3, 2 - o % 3, patch[o]
            for r in range(size):
                for c in range(size):
                    out[r, c] += weight * counts[r + dr, c + dc]
    peak = np.float32(0.0)
    for r in range(size):
        for c in range(size):
            peak = max(peak, out[r, c])
    if peak > 0:
        for r in range(size):
            for c in range(size):
                out[r, c] /= peak


@njit(cache=True, parallel=True)
def _render_counts_kernel(points, scales, shifts, patches, size, original, out):
    # points (S, P, 2), scales (S, 2), shifts (S, 2), patches (S, 9) -> out (S, size, size) float32
    for s in prange(points.shape[0]):
        _render_counts_one(points[s], scales[s, 0], scales[s, 1], shifts[s, 0], shifts[s, 1], patches[s], size,
                           original, out[s])


def render_counts(points: np.ndarray, scales: np.ndarray, shifts: np.ndarray, patches: np.ndarray,
                  size: int, style: str = "study") -> np.ndarray:
    """Anderson & Farrell rendering.

    Args:
        points: (S, P, 2) float32.
        scales: (S, 2) window size per axis relative to the bounding box (1 = the box).
        shifts: (S, 2) window centre shift per axis, as a fraction of the box's extent.
        patches: (S, 9) float32 binary 3x3 patches, row-major.
        size: image side.
        style: ``"original"`` (``size - 1`` pixel widths across the window) or ``"study"`` (``size``).
    Returns:
        (S, size, size) float32 in [0, 1], 0 where no point landed.
    """
    out = np.empty((len(points), size, size), dtype=np.float32)
    _render_counts_kernel(points, np.asarray(scales, dtype=np.float64), np.asarray(shifts, dtype=np.float64),
                          np.asarray(patches, dtype=np.float32), size, check_style(style) == 1, out)
    return out
