"""The masked autoencoder of He et al. (CVPR 2022), on timm's transformer blocks.

An asymmetric encoder-decoder: the encoder (a ViT) sees only the visible patches plus a CLS
token; a lighter decoder gets the encoded visible tokens back in patch order with a shared,
learned mask token at every masked position, adds its own position embeddings, and predicts the
pixels of every patch. The loss is the mean squared error on the *masked* patches only,
optionally against per-patch normalised pixels (``norm_pix_loss``).

What is written here by hand is what the study is about (masking, the MAE forward and its
loss); the blocks, the patch embedding and the 2-D sin-cos position embeddings come from timm.

    model = MaskedAutoencoder(mae_config("dynmask_stl10"))
    out = model(imgs, mask_ratio=0.75, sampling="random", generator=g)
    out.loss, out.pred, out.mask   # scalar, (N, L, p*p*C), (N, L) with 1 = masked
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import torch
import torch.nn as nn
from timm.layers import PatchEmbed, build_sincos2d_pos_embed
from timm.models.vision_transformer import Block

from mae_study.masking import Masking, check_mask_ratio, patchify, sample_mask


@dataclass(frozen=True)
class MAEConfig:
    img_size: int = 32             # square input side, pixels
    patch_size: int = 4            # square patch side; must divide img_size
    in_chans: int = 3              # any channel count
    embed_dim: int = 192           # encoder width
    depth: int = 12                # encoder blocks
    num_heads: int = 12            # encoder attention heads
    decoder_embed_dim: int = 192   # decoder width
    decoder_depth: int = 8         # decoder blocks
    decoder_num_heads: int = 16    # decoder attention heads
    mlp_ratio: float = 4.0         # MLP hidden width / block width
    norm_pix_loss: bool = False    # target = per-patch normalised pixels (paper's best) or raw
    encoder_mask_token: bool = False  # ablation: encoder also gets mask tokens (sees all L tokens)
    fused_attn: bool = True        # torch's fused scaled_dot_product_attention (flash kernels on CPU
                                   # and CUDA; the fastest measured here), or the plain softmax path

    def __post_init__(self) -> None:
        for name in ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
                     "decoder_embed_dim", "decoder_depth", "decoder_num_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("norm_pix_loss", "encoder_mask_token", "fused_attn"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.img_size % self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} does not divide img_size {self.img_size}; "
                             f"allowed: a divisor of {self.img_size}")
        for dim, heads, which in ((self.embed_dim, self.num_heads, ""),
                                  (self.decoder_embed_dim, self.decoder_num_heads, "decoder_")):
            if dim % heads:
                raise ValueError(f"{which}embed_dim {dim} must be divisible by {which}num_heads {heads}")
            if dim % 4:
                raise ValueError(f"{which}embed_dim {dim} must be divisible by 4 (2-D sin-cos embedding)")

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    @property
    def patch_dim(self) -> int:
        return self.patch_size ** 2 * self.in_chans


MAE_CONFIGS: dict[str, MAEConfig] = {
    # Hata, Tadamura and Samura, Table 1: STL10 at 96 px, patch 6, 192-d, encoder 12 blocks / 12 heads,
    # decoder 8 blocks / 16 heads.
    "dynmask_stl10": MAEConfig(img_size=96, patch_size=6, embed_dim=192, depth=12, num_heads=12,
                               decoder_embed_dim=192, decoder_depth=8, decoder_num_heads=16),
    # He et al.'s ViT-B/16 with the 512-d, 8-block decoder.
    "mae_vit_base_patch16_dec512d8b": MAEConfig(img_size=224, patch_size=16, embed_dim=768, depth=12,
                                                num_heads=12, decoder_embed_dim=512, decoder_depth=8,
                                                decoder_num_heads=16, norm_pix_loss=True),
    # ViT-Tiny-sized encoder for 32 px images: the `cpu` profile's model.
    "tiny_32": MAEConfig(img_size=32, patch_size=4, embed_dim=192, depth=6, num_heads=3,
                         decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4),
    # Hata et al.'s proportions (decoder as wide as the encoder, 12/8 heads-ish) shrunk for 2 CPU cores.
    "dynmask_cpu_32": MAEConfig(img_size=32, patch_size=4, embed_dim=96, depth=4, num_heads=4,
                                decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=4),
    # The distillation chapter's `gpu` teachers: ViT-S-sized at 96 px with 8 px patches (a 12 x 12
    # grid, the student's).
    "kd_vit_small_96": MAEConfig(img_size=96, patch_size=8, embed_dim=384, depth=12, num_heads=6,
                                 decoder_embed_dim=256, decoder_depth=4, decoder_num_heads=8),
    # Just enough to exercise every code path in a second: the `ci` profile's model.
    "ci_16": MAEConfig(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                       decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2),
}


def mae_config(name: str, **overrides) -> MAEConfig:
    """A named configuration, with fields replaced by ``overrides`` (validated)."""
    if name not in MAE_CONFIGS:
        raise ValueError(f"unknown MAE config {name!r}; allowed: {sorted(MAE_CONFIGS)}")
    unknown = set(overrides) - set(MAEConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown MAEConfig fields {sorted(unknown)}; allowed: {sorted(MAEConfig.__dataclass_fields__)}")
    return replace(MAE_CONFIGS[name], **overrides)


def sincos_pos_embed(grid_size: int, dim: int, cls_token: bool = True) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings, (1, [1 +] grid_size**2, dim); the CLS slot is zeros."""
    pos = build_sincos2d_pos_embed([grid_size, grid_size], dim=dim)  # (L, dim)
    if cls_token:
        pos = torch.cat([torch.zeros(1, dim), pos], dim=0)
    return pos.unsqueeze(0)


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float, fused_attn: bool) -> nn.Sequential:
    norm = partial(nn.LayerNorm, eps=1e-6)
    blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio, qkv_bias=True, norm_layer=norm) for _ in range(depth)])
    for block in blocks:  # from the config, not from timm's environment switch (TIMM_FUSED_ATTN)
        block.attn.fused_attn = fused_attn
    return blocks


def _init_weights(module: nn.Module) -> None:
    """As in the original: xavier-uniform linears, unit layer norms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class MAEEncoder(nn.Module):
    """A ViT over visible patches. Also the classifier backbone (`forward_features`)."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed(cfg.grid_size, cfg.embed_dim), persistent=False)
        # Only for the "mask token in the encoder" ablation; otherwise the encoder never sees one.
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim)) if cfg.encoder_mask_token else None
        self.blocks = _blocks(cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio, cfg.fused_attn)
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)

    def embed(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> patch tokens with position, (N, L, D)."""
        return self.patch_embed(imgs) + self.pos_embed[:, 1:]

    def with_cls(self, x: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1)  # (N, 1 + K, D)

    def forward_masked(self, imgs: torch.Tensor, masking: Masking) -> torch.Tensor:
        """Encode; returns (N, 1 + K, D) for the K visible patches, or (N, 1 + L, D) when the
        encoder takes mask tokens (ablation)."""
        x = self.embed(imgs)  # (N, L, D)
        if self.mask_token is not None:
            m = masking.mask.unsqueeze(-1).to(x.dtype)  # (N, L, 1)
            x = x * (1 - m) + (self.mask_token + self.pos_embed[:, 1:]) * m
        else:
            D = x.shape[-1]
            x = torch.gather(x, 1, masking.ids_keep.unsqueeze(-1).expand(-1, -1, D))  # (N, K, D)
        return self.norm(self.blocks(self.with_cls(x)))

    def forward_features(self, imgs: torch.Tensor) -> torch.Tensor:
        """Encode every patch (no masking): (N, 1 + L, D); the fine-tuning path."""
        return self.norm(self.blocks(self.with_cls(self.embed(imgs))))


class MAEDecoder(nn.Module):
    """Lightweight decoder: encoded visible tokens + mask tokens -> pixels of every patch."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.embed_dim, cfg.decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed(cfg.grid_size, cfg.decoder_embed_dim),
                             persistent=False)
        self.blocks = _blocks(cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads, cfg.mlp_ratio,
                              cfg.fused_attn)
        self.norm = nn.LayerNorm(cfg.decoder_embed_dim, eps=1e-6)
        self.pred = nn.Linear(cfg.decoder_embed_dim, cfg.patch_dim)

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent (N, 1 + K, D_enc), ids_restore (N, L) -> pred (N, L, p*p*C)."""
        x = self.embed(latent)  # (N, 1 + K, D)
        N, L = ids_restore.shape
        if x.shape[1] < L + 1:  # append mask tokens, then unshuffle into patch order
            D = x.shape[-1]
            mask_tokens = self.mask_token.expand(N, L + 1 - x.shape[1], -1)
            x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)  # (N, L, D) in shuffled order
            x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, D))
            x = torch.cat([x[:, :1], x_], dim=1)  # (N, 1 + L, D)
        x = x + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.pred(x[:, 1:])  # drop CLS: (N, L, p*p*C)


def reconstruction_target(imgs: torch.Tensor, patch_size: int, norm_pix: bool) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, p*p*C): the patches' pixels, or with ``norm_pix`` every patch
    normalised to zero mean and unit variance on its own (He et al.'s best target)."""
    target = patchify(imgs, patch_size)
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    return target


@dataclass
class MAEOutput:
    loss: torch.Tensor         # scalar: MSE on masked patches
    pred: torch.Tensor         # (N, L, p*p*C) in target space (normalised pixels if norm_pix_loss)
    mask: torch.Tensor         # (N, L), 1 = masked
    ids_restore: torch.Tensor  # (N, L)
    mask_ratio: float


class MaskedAutoencoder(nn.Module):
    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = MAEEncoder(cfg)
        self.decoder = MAEDecoder(cfg)
        self.apply(_init_weights)
        w = self.encoder.patch_embed.proj.weight  # init the patch projection like a linear layer
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        for token in (self.encoder.cls_token, self.decoder.mask_token, self.encoder.mask_token):
            if token is not None:
                nn.init.normal_(token, std=0.02)

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """Reconstruction target, (N, L, p*p*C): pixels, or per-patch normalised pixels."""
        return reconstruction_target(imgs, self.cfg.patch_size, self.cfg.norm_pix_loss)

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over masked patches of the per-patch MSE. With nothing masked (ratio 0), the mean
        over all patches."""
        loss = ((pred - self.target(imgs)) ** 2).mean(dim=-1)  # (N, L)
        denom = mask.sum()
        # torch.where, not `if denom == 0`: no host-device sync, so a GPU step can be one CUDA graph
        return torch.where(denom > 0, (loss * mask).sum() / denom.clamp(min=1), loss.mean())

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75, sampling: str = "random",
                generator: torch.Generator | None = None, masking: Masking | None = None) -> MAEOutput:
        """Mask, encode, decode, score. ``masking`` overrides sampling (for fixed-mask figures/tests)."""
        check_mask_ratio(mask_ratio)
        if imgs.shape[1:] != (self.cfg.in_chans, self.cfg.img_size, self.cfg.img_size):
            raise ValueError(f"expected images (N, {self.cfg.in_chans}, {self.cfg.img_size}, "
                             f"{self.cfg.img_size}), got {tuple(imgs.shape)}")
        if masking is None:
            masking = sample_mask(imgs.shape[0], self.cfg.grid_size, mask_ratio, sampling, generator,
                                  device=imgs.device)
        latent = self.encoder.forward_masked(imgs, masking)
        pred = self.decoder(latent, masking.ids_restore)
        loss = self.forward_loss(imgs, pred, masking.mask)
        return MAEOutput(loss, pred, masking.mask, masking.ids_restore, mask_ratio)
