"""The MAE encoder as a classifier backbone: full fine-tuning, linear probing, Partial-k."""
from __future__ import annotations

import re

import torch
import torch.nn as nn

from mae_study.models.mae import MAEEncoder

FINETUNE_MODES = ("full", "linear", "partial-k")


def parse_mode(mode: str, depth: int) -> int:
    """How many of the last encoder blocks are trained: full = all, linear = 0, partial-k = k."""
    if mode == "full":
        return depth
    if mode == "linear":
        return 0
    m = re.fullmatch(r"partial-(\d+)", mode)
    if m and 0 <= int(m.group(1)) <= depth:
        return int(m.group(1))
    raise ValueError(f"mode must be 'full', 'linear' or 'partial-k' with 0 <= k <= {depth}, got {mode!r}")


class MAEClassifier(nn.Module):
    """Encoder + pooling + linear head.

    Args:
        encoder: a (pre-trained) `MAEEncoder`.
        num_classes: outputs of the head.
        pool: "cls" (the CLS token) or "mean" (mean of patch tokens).
        mode: "full" (everything trains), "linear" (only the head; a parameter-free BatchNorm
            precedes it as in He et al.'s linear probe), or "partial-k" (head, last k blocks and
            the final norm train; Partial-1 is the adaptation used by the multi-teacher distillation paper).
    """

    def __init__(self, encoder: MAEEncoder, num_classes: int, pool: str = "cls", mode: str = "full"):
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        self.encoder, self.pool, self.mode = encoder, pool, mode
        dim = encoder.cfg.embed_dim
        self.trained_blocks = parse_mode(mode, encoder.cfg.depth)
        self.head_norm = nn.BatchNorm1d(dim, affine=False, eps=1e-6) if mode == "linear" else nn.Identity()
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.01 if mode == "linear" else 2e-5)
        nn.init.zeros_(self.head.bias)
        self._freeze()

    def _freeze(self) -> None:
        if self.mode == "full":
            return
        self.encoder.requires_grad_(False)
        depth = self.encoder.cfg.depth
        for block in list(self.encoder.blocks)[depth - self.trained_blocks:] if self.trained_blocks else []:
            block.requires_grad_(True)
        if self.trained_blocks:
            self.encoder.norm.requires_grad_(True)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.trained_blocks == 0:  # a frozen backbone stays in eval mode (no dropout, fixed stats)
            self.encoder.eval()
        return self

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward_features(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> pooled features (N, D)."""
        x = self.encoder.forward_features(imgs)  # (N, 1 + L, D)
        return x[:, 0] if self.pool == "cls" else x[:, 1:].mean(dim=1)

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_norm(self.forward_features(imgs)))  # (N, num_classes)
