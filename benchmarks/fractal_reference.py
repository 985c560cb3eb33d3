"""Straightforward implementations, written the way the original code does it: the baseline.

One chain, one point at a time. FractalDB's original is plain Python/numpy per point, so its
reference here is too (``iterate_chain``, ``render_patch_loop``, ``filling_rate_loop``). Anderson &
Farrell's original runs its per-point loops under numba and does the rest per image in numpy, so the
Single- and Multi-Instance references compile the same per-point loops with ``numba.njit`` (the
``*_jit`` names) and keep 100,000 points at every size. Not part of the study: it lives beside the
benchmark (``bench_fractals.py``), which uses it, as does tests/test_fractals.py: with the same
random numbers these loops give bit for bit what the fast kernels give.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from mae_study.data.fractals.ifs import ORIGINAL_POINTS, fixed_point, jitter_system

# ---- per-point loops (plain Python; the same source compiled by numba below) ----------------------


def iterate_chain(params, cumprob, start, uniforms, out):
    """One chain of the chaos game. params (M, 6), cumprob (M,), start (2,), uniforms (P,) ->
    out (P + 1, 2): the start point, then one point per uniform."""
    x, y = start[0], start[1]
    out[0, 0], out[0, 1] = x, y
    m = len(cumprob)
    for i in range(len(uniforms)):
        k = 0
        while k < m - 1 and uniforms[i] >= cumprob[k]:
            k += 1
        a, b, c, d, e, f = params[k, 0], params[k, 1], params[k, 2], params[k, 3], params[k, 4], params[k, 5]
        x, y = a * x + b * y + e, c * x + d * y + f
        out[i + 1, 0], out[i + 1, 1] = x, y


def render_patch_loop(points, masks, size, pad, value, out):
    """FractalDB's renderer: each finite point pastes its 3x3 mask pattern; last writer wins.
    points (P, 2) float64, masks (P,) int -> out (size, size) uint8, zero on entry."""
    finite = np.isfinite(points[:, 0]) & np.isfinite(points[:, 1])
    if not finite.any():
        return
    xmin, xmax = points[finite, 0].min(), points[finite, 0].max()
    ymin, ymax = points[finite, 1].min(), points[finite, 1].max()
    span = size - 2 * pad - 1
    sx = span / (xmax - xmin) if xmax > xmin else 0.0
    sy = span / (ymax - ymin) if ymax > ymin else 0.0
    for p in range(len(points)):
        if finite[p]:
            col = pad + int((points[p, 0] - xmin) * sx)
            row = pad + int((points[p, 1] - ymin) * sy)
            for o in range(9):
                out[row + o // 3 - 1, col + o % 3 - 1] = value if (masks[p] >> o) & 1 else 0


def filling_rate_loop(points, size, pad):
    """FractalDB's filling rate: one pixel per finite point, nonzero pixels / size^2."""
    finite = np.isfinite(points[:, 0]) & np.isfinite(points[:, 1])
    if not finite.any():
        return 0.0
    xmin, xmax = points[finite, 0].min(), points[finite, 0].max()
    ymin, ymax = points[finite, 1].min(), points[finite, 1].max()
    span = size - 2 * pad - 1
    sx = span / (xmax - xmin) if xmax > xmin else 0.0
    sy = span / (ymax - ymin) if ymax > ymin else 0.0
    image = np.zeros((size, size), dtype=np.uint8)
    for p in range(len(points)):
        if finite[p]:
            image[pad + int((points[p, 1] - ymin) * sy), pad + int((points[p, 0] - xmin) * sx)] = 1
    return np.count_nonzero(image) / (size * size)


def render_counts_loop(points, window, patch, size, out, original=False):
    """Anderson & Farrell's renderer: each point in the window (x0, w, y0, h) adds the 3x3 patch.
    points (P, 2) float64, patch (3, 3) float32 -> out (size, size) float32 counts, zero on entry.
    ``original``: ``size - 1`` pixel widths across the window, as the original code (else ``size``)."""
    x0, w, y0, h = window[0], window[1], window[2], window[3]
    bins = size - 1 if original else size
    kx, ky = bins / w, bins / h
    for p in range(len(points)):
        fx, fy = (points[p, 0] - x0) * kx, (points[p, 1] - y0) * ky
        inside = (-1.0 < fx < size and -1.0 < fy < size) if original else (0.0 <= fx <= size and 0.0 <= fy <= size)
        if inside:
            row, col = min(int(fy), size - 1), min(int(fx), size - 1)
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    if 0 <= row + dy < size and 0 <= col + dx < size:
                        out[row + dy, col + dx] += patch[dy + 1, dx + 1]


iterate_chain_jit = njit(cache=True)(iterate_chain)
render_counts_loop_jit = njit(cache=True)(render_counts_loop)


# ---- helpers ---------------------------------------------------------------------------------------

def cumulative(system: np.ndarray) -> np.ndarray:
    """Cumulative map probabilities, the last exactly 1 (as ``ifs.pack_systems``). (M,)."""
    cum = np.cumsum(system[:, 6] / system[:, 6].sum())
    cum[-1] = 1.0
    return cum


def drop_diverged(points: np.ndarray, drop_before: int = 100) -> np.ndarray:
    """FractalDB: drop the first non-finite point, all after it, and the ``drop_before`` before it."""
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        return points[:max(0, int(np.argmax(bad)) - drop_before)]
    return points


def window_of(points: np.ndarray, scale=(1.0, 1.0), shift=(0.0, 0.0)) -> np.ndarray:
    """(x0, w, y0, h) of the bounding box scaled by ``scale`` and shifted by ``shift`` of its extent."""
    lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    extent = np.maximum(hi - lo, 1e-12)
    size = extent * np.asarray(scale)
    corner = (lo + hi) / 2 + np.asarray(shift) * extent - size / 2
    return np.array([corner[0], size[0], corner[1], size[1]])


def hsv_to_rgb_np(h, s, v) -> np.ndarray:
    """Vectorised HSV -> RGB (arrays broadcast), h wraps: (..., 3)."""
    h = np.asarray(h) % 1.0 * 6.0
    i = np.minimum(h.astype(int), 5)
    f = h - i
    s, v = np.broadcast_to(s, h.shape), np.broadcast_to(v, h.shape)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def diamond_square_np(rng: np.random.Generator, n: int, decay: float) -> np.ndarray:
    """Diamond-square noise, numpy slices per level (as the original). (n, n)."""
    grid = np.zeros((n, n))
    grid[::n - 1, ::n - 1] = rng.random((2, 2))
    step, level = n - 1, 1
    while step > 1:
        half = step // 2
        amp = 0.5 * np.exp(decay * (1 - level))
        corners = grid[0:n - 1:step, 0:n - 1:step] + grid[0:n - 1:step, step::step] \
            + grid[step::step, 0:n - 1:step] + grid[step::step, step::step]
        grid[half::step, half::step] = corners / 4 + amp * rng.uniform(-1, 1, corners.shape)
        padded = np.pad(grid, half, constant_values=np.nan)
        for r0, c0 in ((0, half), (half, 0)):  # edge midpoints: rows 0, step.. / rows half, ..
            rows, cols = np.arange(r0, n, step), np.arange(c0, n, step)
            rr, cc = np.meshgrid(rows + half, cols + half, indexing="ij")
            around = np.stack([padded[rr - half, cc], padded[rr + half, cc], padded[rr, cc - half],
                               padded[rr, cc + half]])
            grid[np.ix_(rows, cols)] = np.nanmean(around, axis=0) + amp * rng.uniform(-1, 1, rr.shape)
        step, level = half, level + 1
    return grid


def background_np(rng: np.random.Generator, size: int) -> np.ndarray:
    """A coloured diamond-square background, (size, size, 3) in [0, 1]."""
    n = 2 ** int(np.ceil(np.log2(max(size - 1, 1)))) + 1
    noise = diamond_square_np(rng, n, rng.uniform(0.4, 0.8))[:size, :size]
    g = (noise - noise.min()) / max(noise.max() - noise.min(), 1e-12)
    h0, hspan = rng.uniform(0, 1, 2)
    s0, s1 = np.sort(rng.uniform(0, 1, 2))
    v0, v1 = np.sort(rng.uniform(0, 1, 2))
    return hsv_to_rgb_np(h0 + g * hspan, s0 + g * (s1 - s0), v0 + g * (v1 - v0))


def blur_np(img: np.ndarray, sigma: float) -> np.ndarray:
    """3x3 Gaussian blur, edges replicated: (H, W, 3) -> (H, W, 3)."""
    w1 = np.exp(-0.5 / sigma ** 2)
    k = np.array([w1, 1.0, w1]) / (1 + 2 * w1)
    p = np.pad(img, ((0, 0), (1, 1), (0, 0)), mode="edge")
    img = k[0] * p[:, :-2] + k[1] * p[:, 1:-1] + k[2] * p[:, 2:]
    p = np.pad(img, ((1, 1), (0, 0), (0, 0)), mode="edge")
    return k[0] * p[:-2] + k[1] * p[1:-1] + k[2] * p[2:]


def to_uint8(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (3, H, W) uint8."""
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8).transpose(2, 0, 1)


# ---- whole images, one at a time -------------------------------------------------------------------

def fractaldb_reference(system: np.ndarray, size: int, num_points: int, rng: np.random.Generator,
                        pad: int = 1) -> np.ndarray:
    """One FractalDB render in plain Python: one chain from (0, 0), a uniform and a mask drawn per
    point, last writer wins. Returns (size, size) uint8."""
    uniforms = np.array([rng.random() for _ in range(num_points)])
    points = np.empty((num_points + 1, 2))
    iterate_chain(system[:, :6], cumulative(system), np.zeros(2), uniforms, points)
    points = drop_diverged(points)
    masks = [int(rng.integers(1, 512)) for _ in range(len(points))]
    image = np.zeros((size, size), dtype=np.uint8)
    render_patch_loop(points, masks, size, pad, 127, image)
    return image[::-1]


def filling_rate_reference(system: np.ndarray, rng: np.random.Generator, size: int = 512,
                           num_points: int = 100_000, pad: int = 6) -> float:
    """FractalDB's filling-rate test of one system, in plain Python."""
    points = np.empty((num_points + 1, 2))
    iterate_chain(system[:, :6], cumulative(system), np.zeros(2), rng.random(num_points), points)
    return filling_rate_loop(drop_diverged(points), size, pad)


def fractal_gray_reference(system: np.ndarray, size: int, rng: np.random.Generator, num_points: int = ORIGINAL_POINTS,
                           window: bool = True) -> np.ndarray:
    """Anderson & Farrell's gray fractal: jitter, one numba chain from the first map's fixed point,
    window, patch counts / max. (size, size) float32."""
    system = jitter_system(system, rng, style="original")
    points = np.empty((num_points + 1, 2))
    iterate_chain_jit(system[:, :6], cumulative(system), fixed_point(system), rng.random(num_points), points)
    points = points[np.isfinite(points).all(axis=1)]
    scale, shift = (rng.uniform(0.5, 2.0, 2), rng.uniform(-0.2, 0.2, 2)) if window else ((1, 1), (0, 0))
    patch = (rng.random((3, 3)) < 0.5).astype(np.float32)
    gray = np.zeros((size, size), dtype=np.float32)
    render_counts_loop_jit(points, window_of(points, scale, shift), patch, size, gray, True)
    return gray / max(gray.max(), 1e-12)


def single_instance_reference(system: np.ndarray, size: int, rng: np.random.Generator,
                              num_points: int = ORIGINAL_POINTS) -> np.ndarray:
    """One Single-Instance image the original way: (3, size, size) uint8."""
    gray = fractal_gray_reference(system, size, rng, num_points)
    if rng.random() < 0.5:
        gray = gray.T
    if rng.random() < 0.5:
        gray = gray[::-1]
    if rng.random() < 0.5:
        gray = gray[:, ::-1]
    hue, sat, val = rng.uniform(0, 1), rng.uniform(0.3, 1), rng.uniform(0.5, 1)
    image = background_np(rng, size)
    image = np.where(gray[..., None] > 0, hsv_to_rgb_np(gray + hue, sat, val), image)
    if rng.random() < 0.5:
        image = blur_np(image, rng.uniform(0.5, 1.0))
    return to_uint8(image)


def multi_instance_reference(cache: list[np.ndarray], cache_labels: np.ndarray, num_classes: int, size: int,
                             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One Multi-Instance image the original way, from a cache of gray fractals: (3, S, S) uint8 and
    (num_classes,) multi-hot targets."""
    image = background_np(rng, size)
    target = np.zeros(num_classes, dtype=np.float32)
    for _ in range(int(rng.integers(1, 6))):
        k = int(rng.integers(len(cache)))
        gray = cache[k]
        if rng.random() < 0.5:
            gray = gray.T
        if rng.random() < 0.5:
            gray = gray[::-1]
        if rng.random() < 0.5:
            gray = gray[:, ::-1]
        side = max(2, int(round(rng.uniform(0.15, 0.6) * size)))
        src = np.arange(side) * gray.shape[0] // side
        gray = gray[np.ix_(src, src)]  # nearest-neighbour resize
        top, left = rng.integers(-(side // 2), size - side // 2, size=2)
        r0, r1, c0, c1 = max(top, 0), min(top + side, size), max(left, 0), min(left + side, size)
        crop = gray[r0 - top:r1 - top, c0 - left:c1 - left]
        colour = hsv_to_rgb_np(crop + rng.uniform(0, 1), rng.uniform(0.3, 1), rng.uniform(0.5, 1))
        image[r0:r1, c0:c1] = np.where(crop[..., None] > 0, colour, image[r0:r1, c0:c1])
        target[cache_labels[k]] = 1.0
    if rng.random() < 0.5:
        image = blur_np(image, rng.uniform(0.5, 1.0))
    return to_uint8(image), target
