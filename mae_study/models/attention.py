"""Attention maps on demand, for MAE encoders and timm ViTs alike.

The blocks run fused attention (``scaled_dot_product_attention``), which never forms the weights.
Where maps are asked for, hooks recompute them beside the fused path from the block's own q and k:
a pre-hook on ``blk.attn`` notes its mask, a hook on ``blk.attn.qkv`` takes the projection the
block computed anyway, and the weights are ``softmax(q k^T * scale)`` exactly as in timm's
``Attention.forward`` (q/k norms, mask; before attention dropout). The hooks are removed afterwards,
so the model's own forward is untouched wherever maps are not asked for.

    maps = attention_maps(model, imgs, layers=[-1])           # analysis: [(N, heads, T, T)]
    logits, maps = forward_with_attention(student, imgs)      # a KD step: one forward, maps with grad
    with recording_attention(mae.encoder) as maps:            # any other forward, e.g. masked
        mae.encoder.forward_masked(imgs, masking)
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn as nn
from timm.layers import Attention
from timm.layers.attention import maybe_add_mask, resolve_self_attn_mask

from mae_study.models.classifier import MAEClassifier


def attention_weights(attn: Attention, qkv: torch.Tensor, attn_mask: torch.Tensor | None = None,
                      is_causal: bool = False) -> torch.Tensor:
    """Softmax attention of one timm `Attention` from its qkv projection (N, T, 3 * heads * d):
    (N, heads, T, T), rows summing to 1."""
    N, T, _ = qkv.shape
    q, k, _ = qkv.reshape(N, T, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)  # (N, heads, T, d)
    scores = (q * attn.scale) @ k.transpose(-2, -1)  # (N, heads, T, T)
    scores = maybe_add_mask(scores, resolve_self_attn_mask(T, scores, attn_mask, is_causal))
    return scores.softmax(dim=-1)


def _blocks(model: nn.Module) -> list[nn.Module]:
    encoder = model.encoder if isinstance(model, MAEClassifier) else model
    blocks = list(getattr(encoder, "blocks", []))
    if not blocks or not all(isinstance(getattr(b, "attn", None), Attention) for b in blocks):
        raise ValueError(f"model must be an MAEEncoder, an MAEClassifier or a timm ViT whose blocks use "
                         f"timm's Attention, got {type(model).__name__}")
    return blocks


def _layer_indices(layers: Sequence[int] | None, depth: int) -> list[int]:
    if layers is None:
        return list(range(depth))
    if isinstance(layers, int) or not all(isinstance(i, int) and -depth <= i < depth for i in layers):
        raise ValueError(f"layers must be None or a sequence of block indices in [-{depth}, {depth}), got {layers!r}")
    return [i % depth for i in layers]


@contextmanager
def recording_attention(model: nn.Module, layers: Sequence[int] | None = None) -> Iterator[list]:
    """Within the context, every forward of `model` fills the yielded list with the maps of
    `layers` (None = every block; negative indices count from the end), in that order.

    Args:
        model: an `MAEEncoder`, `MAEClassifier` or timm ViT/DeiT.
        layers: block indices.
    """
    blocks = _blocks(model)
    indices = _layer_indices(layers, len(blocks))
    maps: list[torch.Tensor | None] = [None] * len(indices)
    masks: dict[int, tuple] = {}
    handles = []

    def note_mask(j: int, attn: Attention, args: tuple, kwargs: dict) -> None:
        masks[j] = (kwargs.get("attn_mask", args[1] if len(args) > 1 else None),
                    kwargs.get("is_causal", args[2] if len(args) > 2 else False))

    def record(j: int, attn: Attention, qkv: torch.Tensor) -> None:
        maps[j] = attention_weights(attn, qkv, *masks.pop(j))

    try:
        for j, i in enumerate(indices):
            attn = blocks[i].attn
            handles.append(attn.register_forward_pre_hook(
                lambda m, args, kwargs, j=j: note_mask(j, m, args, kwargs), with_kwargs=True))
            handles.append(attn.qkv.register_forward_hook(
                lambda m, args, out, j=j, attn=attn: record(j, attn, out)))
        yield maps
    finally:
        for handle in handles:
            handle.remove()


def forward_with_attention(model: nn.Module, imgs: torch.Tensor, layers: Sequence[int] | None = None,
                           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``model(imgs)`` and the attention maps of `layers` from the same forward (gradients as the
    caller's context has them): for a student trained with a loss on its maps.

    Args:
        model: an `MAEClassifier` or timm ViT/DeiT classifier.
        imgs: (N, C, H, W).
        layers: block indices; None = every block.
    Returns:
        logits (N, num_classes) and, per layer, (N, heads, T, T) with T = prefix tokens (CLS) + L.
    """
    with recording_attention(model, layers) as maps:
        out = model(imgs)
    return out, maps


def attention_maps(model: nn.Module, imgs: torch.Tensor, layers: Sequence[int] | None = None,
                   grad: bool = False) -> list[torch.Tensor]:
    """Per-layer attention weights, (N, heads, T, T) with T = prefix tokens (CLS) + L.

    Args:
        model: an `MAEEncoder`, `MAEClassifier` or timm ViT/DeiT, in the mode the caller set.
        imgs: (N, C, H, W).
        layers: block indices; None = every block.
        grad: keep gradients (e.g. a distillation loss); else run under ``torch.no_grad()``.
    """
    with torch.set_grad_enabled(grad), recording_attention(model, layers) as maps:
        model.forward_features(imgs)  # the blocks, without the head
    return maps
