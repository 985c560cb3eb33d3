"""Patchify and mask: the part of MAE that decides what the encoder sees.

Conventions (as in the original MAE code):
  * ``imgs`` are (N, C, H, W); ``patches`` are (N, L, p*p*C) in row-major patch order.
  * ``mask`` is (N, L) with 0 = keep (visible), 1 = remove (masked).
  * ``ids_keep`` (N, L_keep) indexes the visible patches in the order the encoder sees them;
    ``ids_restore`` (N, L) puts the shuffled sequence [visible, masked] back in patch order.

Every sampling ("random", "block", "grid") only produces a *score* per patch; one shared path
(`scores_to_mask`) turns scores into ``ids_keep``/``ids_restore``/``mask``, so all samplings keep
exactly the same number of patches:

    num_keep = round_half_up(L * (1 - mask_ratio)), at least 1

(rounding half up, stated here because the original used ``int()``, i.e. floor; the two differ
only when ``L * (1 - mask_ratio)`` is not an integer).

All randomness comes from an explicit ``torch.Generator``; nothing reads the global random state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SAMPLINGS = ("random", "block", "grid")


def check_mask_ratio(mask_ratio: float, name: str = "mask_ratio") -> float:
    """Raise a clear ValueError unless ``0 <= mask_ratio < 1``."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise ValueError(f"{name} must be a number in [0, 1), got {mask_ratio!r}")
    if not (0.0 <= float(mask_ratio) < 1.0) or math.isnan(float(mask_ratio)):
        raise ValueError(f"{name} must be in [0, 1) (1 would leave the encoder nothing), got {mask_ratio!r}")
    return float(mask_ratio)


def check_sampling(sampling: str) -> str:
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    return sampling


def num_visible(num_patches: int, mask_ratio: float) -> int:
    """How many of ``num_patches`` stay visible: round half up of L * (1 - r), at least 1."""
    check_mask_ratio(mask_ratio)
    # 1e-9 guards against 0.75 * 64 landing on 47.99999 in floating point.
    return max(1, min(num_patches, int(math.floor(num_patches * (1.0 - mask_ratio) + 0.5 + 1e-9))))


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, p*p*C), patches in row-major order, pixels (p, p, C) inside."""
    N, C, H, W = imgs.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError(f"patch_size {p} must divide the image size {H}x{W}")
    h, w = H // p, W // p
    x = imgs.reshape(N, C, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(N, h * w, p * p * C)


def unpatchify(patches: torch.Tensor, patch_size: int, in_chans: int) -> torch.Tensor:
    """(N, L, p*p*C) -> (N, C, H, W); the inverse of `patchify` for square images."""
    N, L, _ = patches.shape
    p, C = patch_size, in_chans
    h = w = int(round(math.sqrt(L)))
    if h * w != L:
        raise ValueError(f"{L} patches do not form a square grid")
    x = patches.reshape(N, h, w, p, p, C)
    x = torch.einsum("nhwpqc->nchpwq", x)
    return x.reshape(N, C, h * p, w * p)


@dataclass(frozen=True)
class Masking:
    """The outcome of masking a batch. Shapes: ids_keep (N, K), ids_restore (N, L), mask (N, L)."""

    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    mask: torch.Tensor


def scores_to_mask(scores: torch.Tensor, num_keep: int) -> Masking:
    """Keep the ``num_keep`` lowest-scoring patches of each row. scores: (N, L)."""
    N, L = scores.shape
    ids_shuffle = torch.argsort(scores, dim=1)  # ascending: the first num_keep are kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :num_keep]
    mask = torch.ones(N, L, device=scores.device)
    mask[:, :num_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)  # back to patch order
    return Masking(ids_keep, ids_restore, mask)


def random_scores(N: int, L: int, generator: torch.Generator | None, device=None) -> torch.Tensor:
    """Uniform noise per patch: argsort of it is a uniformly random permutation."""
    return torch.rand(N, L, generator=generator, device=device)


def _randint(generator: torch.Generator | None, low: int, high: int) -> int:
    """An integer in [low, high) drawn from ``generator`` (CPU)."""
    return int(torch.randint(low, high, (1,), generator=generator).item())


def _uniform(generator: torch.Generator | None, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator).item())


def block_mask_one(grid: int, num_mask: int, generator: torch.Generator | None,
                   min_block: int | None = None, max_attempts: int = 10) -> torch.Tensor:
    """A BEiT-style block-wise mask over a ``grid`` x ``grid`` patch grid, exactly ``num_mask`` ones.

    Blocks of random area (at least ``min_block`` patches; BEiT uses 16 on a 14x14 grid, scaled
    here with the grid) and aspect ratio log-uniform in [0.3, 1/0.3] are added until the target is
    reached. Because blocks overlap and must fit, the count can fall short or overshoot; it is then
    topped up (or trimmed) with uniformly chosen single patches, so every sampling keeps exactly the
    same number of patches. Returns (grid*grid,) float with 1 = masked.
    """
    L = grid * grid
    if min_block is None:
        min_block = max(1, round(16 * L / 196))
    mask = torch.zeros(grid, grid)
    log_aspect = (math.log(0.3), math.log(1 / 0.3))
    count, failures = 0, 0
    while count < num_mask and failures < 4 * max_attempts:
        remaining = num_mask - count
        if remaining < min_block:
            break
        area = _uniform(generator, min_block, remaining)
        aspect = math.exp(_uniform(generator, *log_aspect))
        h = int(round(math.sqrt(area * aspect)))
        w = int(round(math.sqrt(area / aspect)))
        if not (1 <= h <= grid and 1 <= w <= grid):
            failures += 1
            continue
        top, left = _randint(generator, 0, grid - h + 1), _randint(generator, 0, grid - w + 1)
        newly = h * w - int(mask[top:top + h, left:left + w].sum())
        if 0 < newly <= remaining:
            mask[top:top + h, left:left + w] = 1
            count += newly
        else:
            failures += 1
    mask = mask.flatten()
    # Top up (or trim) to the exact count with uniformly chosen patches.
    if count < num_mask:
        free = torch.nonzero(mask == 0).flatten()
        pick = free[torch.randperm(len(free), generator=generator)[: num_mask - count]]
        mask[pick] = 1
    elif count > num_mask:
        taken = torch.nonzero(mask == 1).flatten()
        drop = taken[torch.randperm(len(taken), generator=generator)[: count - num_mask]]
        mask[drop] = 0
    return mask


def block_scores(N: int, grid: int, num_keep: int, generator: torch.Generator | None) -> torch.Tensor:
    """Scores whose ``num_keep`` lowest entries are exactly the unmasked patches of a block mask."""
    L = grid * grid
    masks = torch.stack([block_mask_one(grid, L - num_keep, generator) for _ in range(N)])
    # masked patches score in [1, 2), visible in [0, 1): argsort keeps exactly the visible ones,
    # in random order among themselves.
    return masks + torch.rand(N, L, generator=generator)


def bayer_order(grid: int) -> torch.Tensor:
    """Ordered-dither (Bayer) rank of every cell of a ``grid`` x ``grid`` patch grid, (grid*grid,).

    Keeping the k lowest-ranked cells gives a regular grid: one patch of every 2x2 at k = L/4
    (the paper's "grid" sampling at 75 %), one of every 4x4 at L/16, and evenly spread regular
    patterns in between. Grids that are not a power of two use the enclosing power of two.
    """
    bits = max(1, math.ceil(math.log2(grid)))
    i = torch.arange(grid).view(-1, 1).expand(grid, grid)
    j = torch.arange(grid).view(1, -1).expand(grid, grid)
    value = torch.zeros(grid, grid, dtype=torch.long)
    x = i ^ j
    for b in range(bits):  # interleave bits, least significant coordinate bit -> most significant rank bit
        value = (value << 2) | (((x >> b) & 1) << 1) | ((i >> b) & 1)
    return value.flatten()


def grid_scores(N: int, grid: int) -> torch.Tensor:
    """Deterministic scores: the same regular grid for every sample (no randomness, as in the paper)."""
    order = bayer_order(grid).float()
    return order.unsqueeze(0).expand(N, -1).clone()


def sample_mask(N: int, grid: int, mask_ratio: float, sampling: str = "random",
                generator: torch.Generator | None = None, device=None) -> Masking:
    """Mask a batch of ``N`` images with ``grid`` x ``grid`` patches.

    Args:
        mask_ratio: fraction of patches removed, in [0, 1).
        sampling: "random" (uniform per sample), "block" (BEiT block-wise) or "grid" (regular).
        generator: CPU generator for all random draws (scores are moved to ``device``).
    """
    check_mask_ratio(mask_ratio)
    check_sampling(sampling)
    L = grid * grid
    num_keep = num_visible(L, mask_ratio)
    if sampling == "random":
        scores = random_scores(N, L, generator)
    elif sampling == "block":
        scores = block_scores(N, grid, num_keep, generator)
    else:
        scores = grid_scores(N, grid)
    return scores_to_mask(scores.to(device) if device is not None else scores, num_keep)
