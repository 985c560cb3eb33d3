"""Analytic FLOPs of the MAE (multiply-add = 2 FLOPs), per image.

Counted by hand rather than by a profiler because the fused attention kernels are invisible to
torch's FlopCounterMode on the CPU. A training step costs about 3x the forward (backward = 2x).
"""
from __future__ import annotations

from mae_study.masking import num_visible
from mae_study.models.mae import MAEConfig


def block_flops(tokens: int, dim: int, mlp_ratio: float = 4.0) -> int:
    """One pre-norm transformer block over ``tokens`` tokens of width ``dim``."""
    linear = 2 * tokens * dim * dim * (4 + 2 * mlp_ratio)  # qkv (3), proj (1), mlp (2 x ratio)
    attention = 2 * 2 * tokens * tokens * dim             # q k^T and attn v
    return int(linear + attention)


def mae_forward_flops(cfg: MAEConfig, mask_ratio: float) -> dict[str, int]:
    """Forward FLOPs per image of encoder, decoder and their sum at ``mask_ratio``."""
    L = cfg.num_patches
    K = L if cfg.encoder_mask_token else num_visible(L, mask_ratio)
    embed = 2 * L * cfg.patch_dim * cfg.embed_dim
    encoder = embed + cfg.depth * block_flops(K + 1, cfg.embed_dim, cfg.mlp_ratio)
    decoder = (2 * (K + 1) * cfg.embed_dim * cfg.decoder_embed_dim
               + cfg.decoder_depth * block_flops(L + 1, cfg.decoder_embed_dim, cfg.mlp_ratio)
               + 2 * L * cfg.decoder_embed_dim * cfg.patch_dim)
    return {"encoder": encoder, "decoder": decoder, "total": encoder + decoder}


def train_step_flops(cfg: MAEConfig, mask_ratio: float) -> int:
    """Forward + backward per image (3x forward)."""
    return 3 * mae_forward_flops(cfg, mask_ratio)["total"]


def classifier_forward_flops(cfg: MAEConfig) -> int:
    """Forward FLOPs per image of the encoder on every patch (fine-tuning, inference)."""
    L = cfg.num_patches
    return 2 * L * cfg.patch_dim * cfg.embed_dim + cfg.depth * block_flops(L + 1, cfg.embed_dim, cfg.mlp_ratio)
