"""Statistics of attention maps: which head to distil (Attention Confidence) and how far heads look
(attention distance).

Maps are ``(N, H, T, T)`` softmax weights, query rows summing to 1 over keys, as
`mae_study.models.attention_maps` returns them: T = prefix tokens (the CLS token, first) + L patches,
patches in row-major order of the (gh, gw) grid (timm's ``flatten(2)`` of the patch embedding).

    conf = attention_confidence(maps[-1], include_cls=True)    # (H,)
    head = select_head(conf, "max")                            # the head the paper transfers
    A = head_attention(maps[-1], head)                         # (N, T, T)
    mad = mean_attention_distance_per_layer(maps, grid_size=14, patch_size=16)  # (layers, H) pixels
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Union

import torch

HeadChoice = Union[int, Literal["mean"]]  # a head index, or "mean": the mean map over heads
STRATEGIES = ("max", "random", "mean")


def patch_attention(attn: torch.Tensor, num_prefix_tokens: int = 1, eps: float = 1e-12) -> torch.Tensor:
    """Drop the prefix (CLS) rows and columns of ``attn`` (..., T, T) and renormalise every query
    row over the L patch keys: (..., L, L). A row that gave all its weight to the CLS token has
    nothing left to renormalise; it stays (near) zero instead of dividing by zero."""
    patches = attn[..., num_prefix_tokens:, num_prefix_tokens:]  # (..., L, L)
    return patches / patches.sum(-1, keepdim=True).clamp_min(eps)


def attention_confidence(attn: torch.Tensor, include_cls: bool = True) -> torch.Tensor:
    """Attention Confidence of every head (Voita et al., ACL 2019; the multi-teacher distillation
    paper's Eq. 2):
    C_h = mean over queries q of max over keys k of A_h(q, k), i.e. ``attn.max(-1).values.mean(-1)``.

    Choices the paper leaves open:
      * images: C_h is averaged over the N images (Voita et al. average over sentences). Every image
        has the same T queries, so this equals the mean over all N * T queries.
      * CLS: ``include_cls=True`` scores the map as the model computes it (CLS as query and key);
        ``False`` drops the CLS row and column first and renormalises the rows (`patch_attention`),
        so a uniform map scores 1 / (T - 1) rather than 1 / T.

    Args:
        attn: (N, H, T, T) attention weights of one layer.
        include_cls: keep the CLS token (the first token) as a query and a key.
    Returns:
        (H,) confidences in [1 / keys, 1].
    """
    _check_maps(attn)
    if not include_cls:
        attn = patch_attention(attn)
    return attn.max(-1).values.mean(-1).mean(0)  # (N, H, T) -> (N, H) -> (H,)


def select_head(confidences: torch.Tensor, strategy: str | int = "max",
                generator: torch.Generator | None = None) -> HeadChoice:
    """The head whose map is distilled.

    Args:
        confidences: (H,) from `attention_confidence`.
        strategy: "max": the most confident head (the paper's choice); "random": a head drawn from
            ``generator`` (a control, reproducible for a seeded generator); "mean": no single head,
            the mean map over heads (another control); an int: that head, checked to exist.
        generator: CPU generator for "random"; None draws from a fresh generator seeded 0, so the
            result never depends on the global random state.
    Returns:
        A head index, or "mean"; pass it to `head_attention`.
    """
    H = len(confidences)
    if isinstance(strategy, int) and not isinstance(strategy, bool):
        return _check_head(strategy, H)
    if strategy == "max":
        return int(confidences.argmax())  # ties: the first head
    if strategy == "random":
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        return int(torch.randint(0, H, (1,), generator=generator))
    if strategy == "mean":
        return "mean"
    raise ValueError(f"strategy must be one of {STRATEGIES} or a head index, got {strategy!r}")


def head_attention(attn: torch.Tensor, head: HeadChoice) -> torch.Tensor:
    """The (N, T, T) map of ``head`` (an index, or "mean" over heads) from ``attn`` (N, H, T, T)."""
    _check_maps(attn)
    if head == "mean":
        return attn.mean(1)
    return attn[:, _check_head(head, attn.shape[1])]


def patch_distances(grid_size: int | tuple[int, int], patch_size: int) -> torch.Tensor:
    """(L, L) Euclidean distances in pixels between the centres of patches i and j of a row-major
    (gh, gw) grid: patch_size x the distance of their grid positions."""
    gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    pos = torch.stack([rows.flatten(), cols.flatten()], -1).double()  # (L, 2), index i = r * gw + c
    return patch_size * torch.cdist(pos, pos)  # (L, L)


def attention_distance(attn: torch.Tensor, grid_size: int | tuple[int, int], patch_size: int) -> torch.Tensor:
    """Mean attention distance per head, in pixels, as Park et al. (ICLR 2023, "What do
    self-supervised ViTs learn?") compute it: drop the CLS row and column, renormalise each row,
    sum over keys attention x (patch_size x Euclidean distance of query and key grid positions),
    then average over queries and images.

    Prefix tokens are inferred as T - gh * gw (1 for a CLS token, 0 for none, more for DeiT's
    distillation token or registers) and all of them are dropped.

    Args:
        attn: (N, H, T, T) attention weights of one layer.
        grid_size: patches per side, or (gh, gw).
        patch_size: pixels per patch side.
    Returns:
        (H,) distances in pixels (float64 on attn's device).
    """
    _check_maps(attn)
    dist = patch_distances(grid_size, patch_size).to(attn.device)  # (L, L)
    L, T = dist.shape[0], attn.shape[-1]
    if T < L:
        raise ValueError(f"attention maps have {T} tokens, fewer than the {L} patches of grid {grid_size}")
    patches = patch_attention(attn.double(), num_prefix_tokens=T - L)  # (N, H, L, L)
    per_query = (patches * dist).sum(-1)  # (N, H, L): expected distance of each query's keys
    return per_query.mean(-1).mean(0)  # (H,)


def mean_attention_distance_per_layer(maps: Sequence[torch.Tensor], grid_size: int | tuple[int, int] | None = None,
                                      patch_size: int = 16) -> torch.Tensor:
    """Attention distance of every layer and head: (layers, H) pixels (the paper's Figure 1 plots
    the mean over heads, ``.mean(1)``).

    Args:
        maps: per layer (N, H, T, T), e.g. from `attention_maps(model, imgs)`.
        grid_size: patches per side or (gh, gw); None: a square grid with one CLS token, i.e.
            sqrt(T - 1) per side.
        patch_size: pixels per patch side.
    """
    if not maps:
        raise ValueError("maps is empty: pass one (N, H, T, T) map per layer")
    if grid_size is None:
        T = maps[0].shape[-1]
        side = math.isqrt(T - 1)
        if side * side != T - 1:
            raise ValueError(f"cannot infer a square grid from T = {T} tokens (1 CLS + a square); pass grid_size")
        grid_size = side
    heads = {m.shape[1] for m in maps}
    if len(heads) != 1:
        raise ValueError(f"every layer must have the same number of heads, got {sorted(heads)}")
    return torch.stack([attention_distance(m, grid_size, patch_size) for m in maps])  # (layers, H)


def _check_maps(attn: torch.Tensor) -> None:
    if attn.ndim != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attention maps must be (N, heads, T, T), got {tuple(attn.shape)}")


def _check_head(head: int, num_heads: int) -> int:
    if not isinstance(head, int) or isinstance(head, bool) or not 0 <= head < num_heads:
        raise ValueError(f"head {head!r} does not exist: the model has {num_heads} heads (0 to {num_heads - 1})")
    return head
