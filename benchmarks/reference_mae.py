"""The speed reference: an MAE built the way the original code (facebookresearch/mae,
models_mae.py) builds it, for `bench_pretrain.py` to time the study's model against.

Its parts are the original's: timm ``Block``s with timm's default attention (fused
``scaled_dot_product_attention`` in current timm), a convolutional patch embedding, masking by
argsort of per-patch noise and ``gather``, fp32, eager. Two deliberate differences, both so that
the study's model and this one can be fed *the same* masks and compared number for number:

  * the noise that decides the mask is an argument (the original draws it inside with
    ``torch.rand``, from the global random state);
  * the number of kept patches uses the study's rounding (`mae_study.masking.num_visible`,
    half up) where the original floors; the two differ only when L * (1 - mask_ratio) is not
    an integer (0.2 and 0.95 of 256 patches).

`copy_study_weights` loads a study model's weights, so both compute the same function.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block

from mae_study.masking import num_visible, patchify
from mae_study.models.mae import MAEConfig, sincos_pos_embed


class ReferenceMAE(nn.Module):
    """Encoder over the visible patches + CLS, decoder over all patches, loss on masked ones."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        self.cfg = cfg
        norm = partial(nn.LayerNorm, eps=1e-6)
        D, Dd = cfg.embed_dim, cfg.decoder_embed_dim
        # encoder
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, D)  # a stride-p conv
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(sincos_pos_embed(cfg.grid_size, D), requires_grad=False)
        self.blocks = nn.ModuleList([Block(D, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True, norm_layer=norm)
                                     for _ in range(cfg.depth)])
        self.norm = norm(D)
        # decoder
        self.decoder_embed = nn.Linear(D, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = nn.Parameter(sincos_pos_embed(cfg.grid_size, Dd), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(Dd, cfg.decoder_num_heads, cfg.mlp_ratio, qkv_bias=True,
                                                   norm_layer=norm) for _ in range(cfg.decoder_depth)])
        self.decoder_norm = norm(Dd)
        self.decoder_pred = nn.Linear(Dd, cfg.patch_dim)

    def random_masking(self, x: torch.Tensor, mask_ratio: float, noise: torch.Tensor):
        """Keep the patches with the lowest noise. x: (N, L, D); noise: (N, L).
        Returns the kept tokens (N, K, D), mask (N, L) with 0 keep / 1 remove, ids_restore (N, L)."""
        N, L, D = x.shape
        len_keep = num_visible(L, mask_ratio)
        ids_shuffle = torch.argsort(noise, dim=1)          # ascending: the first len_keep are kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones(N, L, device=x.device)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, 1, ids_restore)          # back to patch order
        return x_kept, mask, ids_restore

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float, noise: torch.Tensor):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:]  # (N, L, D)
        x, mask, ids_restore = self.random_masking(x, mask_ratio, noise)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)                      # (N, 1 + K, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(x)                           # (N, 1 + K, Dd)
        N, L = ids_restore.shape
        mask_tokens = self.mask_token.repeat(N, L + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)      # shuffled order: [visible, masked]
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]  # (N, L, p*p*C), CLS dropped

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        target = patchify(imgs, self.cfg.patch_size)
        if self.cfg.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)          # (N, L): per-patch MSE
        return (loss * mask).sum() / mask.sum()             # mean over removed patches

    def forward(self, imgs: torch.Tensor, mask_ratio: float, noise: torch.Tensor):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def copy_study_weights(reference: ReferenceMAE, study: nn.Module) -> ReferenceMAE:
    """Load a `MaskedAutoencoder`'s weights into ``reference`` (same config), name by name."""
    renames = [("encoder.blocks.", "blocks."), ("encoder.norm.", "norm."), ("encoder.", ""),
               ("decoder.blocks.", "decoder_blocks."), ("decoder.norm.", "decoder_norm."),
               ("decoder.embed.", "decoder_embed."), ("decoder.pred.", "decoder_pred."), ("decoder.", "")]
    state = {}
    for name, value in study.state_dict().items():
        for old, new in renames:
            if name.startswith(old):
                name = new + name[len(old):]
                break
        state[name] = value
    state["pos_embed"] = study.encoder.pos_embed.clone()
    state["decoder_pos_embed"] = study.decoder.pos_embed.clone()
    reference.load_state_dict(state, strict=True)
    return reference
