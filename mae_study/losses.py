"""Losses that plug into the engine: ``loss_fn(model, imgs, labels, ctx) -> (loss, metrics)``."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from timm.utils import unwrap_model  # the model inside DDP / torch.compile wrappers
from .engine import StepContext
from .masking import check_sampling
from .schedules import Schedule


@dataclass(frozen=True)
class MAELoss:
    """MAE pre-training: the mask ratio comes from ``schedule`` at the current training position
    and is recorded with every step (``mask_ratio``), so a run logs the ratio it really used."""

    schedule: Schedule
    sampling: str = "random"

    def __post_init__(self):
        check_sampling(self.sampling)

    def __call__(self, model, imgs: torch.Tensor, labels: torch.Tensor, ctx: StepContext):
        mask_ratio = self.schedule(ctx.position)
        # Masks are drawn for the whole global batch and cut to this process's rows, so several
        # processes (torchrun) use exactly the masks one process would.
        grid = unwrap_model(model).cfg.grid_size
        masking = ctx.sample_mask(len(imgs), grid, mask_ratio, self.sampling, device=imgs.device)
        out = model(imgs, mask_ratio=mask_ratio, masking=masking)
        return out.loss, {"mask_ratio": mask_ratio}
