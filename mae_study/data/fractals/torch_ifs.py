"""The chaos game and both renderers in torch, for a GPU (they run on the CPU too).

A batch of S systems x C chains advances one step at a time: the map of every chain is chosen by
``searchsorted`` on the cumulative probabilities, its coefficients fetched with ``gather``. Rendering
counts points per pixel with one ``bincount`` over all systems; Anderson & Farrell's 3x3 patch is then
a grouped convolution (one group per system), and FractalDB's last-writer-wins patch is a
``scatter_reduce(amax)`` of ``point index * 9 + cell`` followed by a look-up of that point's mask bit.
Given the same points (and masks), both renderers give exactly what the numba ones in ``render`` give.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mae_study.data.fractals.ifs import pack_systems
from mae_study.data.fractals.style import check_style


def iterate_torch(systems: list[np.ndarray], num_points: int, starts: np.ndarray | None = None,
                  num_chains: int = 256, burn_in: int = 20, drop_before: int = 100,
                  generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Chaos game of every system, all chains in lock step.

    Args:
        systems: S systems, each (M, 7).
        num_points: points per system (rounded up to a multiple of ``num_chains``).
        starts: (S, 2) start points, (0, 0) when None.
        generator: torch generator on ``device`` for the map choices.
    Returns:
        (S, P, 2) points on ``device``, point ``t * num_chains + c`` is step t of chain c; NaN from
        ``drop_before`` steps before a chain's first non-finite point on.
    """
    params, cumprob = pack_systems(systems)
    params = torch.as_tensor(params, device=device, dtype=dtype)  # (S, M, 6)
    cumprob = torch.as_tensor(cumprob, device=device, dtype=torch.float64)  # (S, M)
    S, M = cumprob.shape
    steps = -(-num_points // num_chains)
    start = torch.zeros(S, 2, dtype=dtype, device=device) if starts is None else torch.as_tensor(
        starts, dtype=dtype, device=device)
    x = start[:, :1].expand(S, num_chains).contiguous()  # (S, C)
    y = start[:, 1:].expand(S, num_chains).contiguous()
    out = torch.empty(S, steps, num_chains, 2, dtype=dtype, device=device)
    for t in range(burn_in + steps):
        u = torch.rand(S, num_chains, generator=generator, device=device, dtype=torch.float64)
        k = torch.searchsorted(cumprob, u, right=True).clamp_max_(M - 1)  # first map with u < cumprob
        coef = torch.gather(params, 1, k.unsqueeze(-1).expand(S, num_chains, 6))  # (S, C, 6)
        x, y = (coef[..., 0] * x + coef[..., 1] * y + coef[..., 4],
                coef[..., 2] * x + coef[..., 3] * y + coef[..., 5])
        if t >= burn_in:
            out[:, t - burn_in, :, 0] = x
            out[:, t - burn_in, :, 1] = y
    bad = ~torch.isfinite(out).all(-1)  # (S, T, C)
    if bad.any():  # drop each diverging chain from `drop_before` steps before it first fails
        bad = bad.int().cummax(dim=1).values.bool()
        bad = torch.cat([bad[:, drop_before:], bad[:, -1:].expand(S, min(drop_before, steps), num_chains)], 1)
        out[bad] = float("nan")
    return out.reshape(S, steps * num_chains, 2)


def _bbox(points: torch.Tensor):
    # (S, P, 2) -> finite mask (S, P) and per-system xmin, xmax, ymin, ymax (S,) over finite points
    finite = torch.isfinite(points).all(-1)
    lo = torch.where(finite[..., None], points, torch.inf).amin(1)
    hi = torch.where(finite[..., None], points, -torch.inf).amax(1)
    return finite, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]


def render_patch_torch(points: torch.Tensor, size: int, pad: int, masks: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, value: int = 127) -> torch.Tensor:
    """FractalDB rendering (last writer wins), as ``render.render_patch``.

    Args:
        points: (S, P, 2); computed in float64 so pixel positions match the numba renderer.
        masks: (S, P) int64 9-bit patch masks (1..511), drawn from ``generator`` when None.
    Returns:
        (S, size, size) uint8 on the points' device.
    """
    S, P, _ = points.shape
    dev = points.device
    pts = points.double()
    finite, xmin, xmax, ymin, ymax = _bbox(pts)
    span = size - 2 * pad - 1
    sx = torch.where(xmax > xmin, span / (xmax - xmin), 0.0)
    sy = torch.where(ymax > ymin, span / (ymax - ymin), 0.0)
    pts = torch.nan_to_num(pts, nan=0.0, posinf=0.0, neginf=0.0)
    col = pad + ((pts[..., 0] - xmin[:, None].nan_to_num(0.0)) * sx[:, None]).long()  # (S, P)
    row = pad + ((pts[..., 1] - ymin[:, None].nan_to_num(0.0)) * sy[:, None]).long()
    if masks is None:
        masks = torch.randint(1, 512, (S, P), generator=generator, device=dev)
    base = torch.arange(S, device=dev)[:, None] * size * size
    order = torch.arange(P, device=dev).expand(S, P) * 9
    last = torch.full((S * size * size,), -1, dtype=torch.long, device=dev)  # point * 9 + cell of the last writer
    for o in range(9):
        r, c = row + o // 3 - 1, col + o % 3 - 1
        ok = finite & (r >= 0) & (r < size) & (c >= 0) & (c < size)
        last.scatter_reduce_(0, (base + r * size + c)[ok], (order + o)[ok], reduce="amax")
    written = last >= 0
    point, cell = last.clamp_min(0) // 9, last.clamp_min(0) % 9
    system = torch.arange(S * size * size, device=dev) // (size * size)
    bit = (masks.reshape(-1)[system * P + point] >> cell) & 1
    return (written * bit * value).to(torch.uint8).view(S, size, size)


def render_counts_torch(points: torch.Tensor, scales: torch.Tensor, shifts: torch.Tensor, patches: torch.Tensor,
                        size: int, style: str = "study") -> torch.Tensor:
    """Anderson & Farrell rendering, as ``render.render_counts`` (the same binning ``style``):
    bincount, then one grouped convolution.

    Args:
        points: (S, P, 2); positions computed in float64.
        scales, shifts: (S, 2); patches: (S, 9) binary.
        style: ``"original"`` (``size - 1`` pixel widths across the window) or ``"study"``.
    Returns:
        (S, size, size) float32 in [0, 1].
    """
    S = points.shape[0]
    dev = points.device
    pts = points.double()
    finite, xmin, xmax, ymin, ymax = _bbox(pts)
    scales, shifts = scales.to(dev, torch.float64), shifts.to(dev, torch.float64)
    ex, ey = (xmax - xmin).clamp_min(1e-12), (ymax - ymin).clamp_min(1e-12)
    w, h = ex * scales[:, 0], ey * scales[:, 1]
    x0 = (xmin + xmax) / 2 + shifts[:, 0] * ex - w / 2
    y0 = (ymin + ymax) / 2 + shifts[:, 1] * ey - h / 2
    original = check_style(style) == 1
    bins = size - 1 if original else size
    fx = (pts[..., 0] - x0[:, None]) * (bins / w)[:, None]  # (S, P) in pixels
    fy = (pts[..., 1] - y0[:, None]) * (bins / h)[:, None]
    if original:  # truncation toward zero: (-1, size) -> 0 .. size - 1
        ok = finite & (fx > -1) & (fx < size) & (fy > -1) & (fy < size)
    else:
        ok = finite & (fx >= 0) & (fx <= size) & (fy >= 0) & (fy <= size)
    col = fx.nan_to_num(0.0).trunc().clamp(0, size - 1).long()
    row = fy.nan_to_num(0.0).trunc().clamp(0, size - 1).long()
    index = (torch.arange(S, device=dev)[:, None] * size * size + row * size + col)[ok]
    counts = torch.bincount(index, minlength=S * size * size).float().view(1, S, size, size)
    # every point pastes the patch centred on it: a true convolution, so flip for conv2d's correlation
    weight = patches.to(dev, torch.float32).view(S, 1, 3, 3).flip(-1, -2)
    img = F.conv2d(counts, weight, padding=1, groups=S).view(S, size, size)
    peak = img.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, img / peak.clamp_min(1e-12), img)
