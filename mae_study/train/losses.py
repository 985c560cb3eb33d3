"""Losses that plug into the engine: ``loss_fn(model, batch, ctx) -> (loss, metrics)``.

``batch`` is a `mae_study.train.batch.Batch` (``batch.imgs``, ``batch.views``, ``batch.labels``,
``batch.target_kind``), ``ctx`` a `StepContext`. A loss class may declare ``target_kinds``, the
targets it can learn from; `fit` checks the data against it before training.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from timm.utils import unwrap_model  # the model inside DDP / torch.compile wrappers

from mae_study.masking import check_sampling
from mae_study.train.batch import Batch, StepContext, check_target_kind
from mae_study.train.evaluation import top1_hit
from mae_study.train.schedules import Schedule


@dataclass(frozen=True)
class MAELoss:
    """MAE pre-training: the mask ratio comes from ``schedule`` at the current training position
    and is recorded with every step (``mask_ratio``), so a run logs the ratio it really used."""

    schedule: Schedule
    sampling: str = "random"

    def __post_init__(self):
        check_sampling(self.sampling)

    def __call__(self, model, batch: Batch, ctx: StepContext):
        imgs = batch.imgs  # (b, C, H, W)
        mask_ratio = self.schedule(ctx.position)
        # Masks are drawn for the whole global batch and cut to this process's rows, so several
        # processes (torchrun) use exactly the masks one process would.
        grid = unwrap_model(model).cfg.grid_size
        masking = ctx.sample_mask(len(imgs), grid, mask_ratio, self.sampling, device=imgs.device)
        out = model(imgs, mask_ratio=mask_ratio, masking=masking)
        return out.loss, {"mask_ratio": mask_ratio}


@dataclass(frozen=True)
class CrossEntropyLoss:
    """Single-label cross-entropy and batch accuracy: the loss of fine-tuning and supervised
    training. Takes class ids, or soft targets (class probabilities, after Mixup); (N, K) multi-hot
    targets are refused (``F.cross_entropy`` would silently read them as probabilities)."""

    target_kinds: ClassVar[tuple[str, ...]] = ("class", "soft")

    def __call__(self, model, batch: Batch, ctx: StepContext):
        check_target_kind("classification_loss (cross-entropy)", batch.target_kind, self.target_kinds)
        logits = model(batch.imgs)  # (b, K)
        loss = F.cross_entropy(logits, batch.labels)
        classes = batch.labels if batch.target_kind == "class" else batch.labels.argmax(-1)
        return loss, {"train_accuracy": (logits.argmax(-1) == classes).float().mean().item()}


@dataclass(frozen=True)
class MultiLabelLoss:
    """Binary cross-entropy with logits over the K classes of (N, K) multi-hot targets.

    Args:
        pos_weight: weight of the positive terms. "per_image": K / (positives of the image), as
            Anderson & Farrell's Multi-Instance pre-training, so an image's few positives weigh as
            much as its many negatives; a number: that weight for every positive; None: 1.
    """

    pos_weight: str | float | None = "per_image"
    target_kinds: ClassVar[tuple[str, ...]] = ("multi_hot",)

    def __post_init__(self):
        if not (self.pos_weight is None or self.pos_weight == "per_image"
                or (isinstance(self.pos_weight, (int, float)) and self.pos_weight > 0)):
            raise ValueError(f"pos_weight must be 'per_image', a number > 0 or None, got {self.pos_weight!r}")

    def weights(self, targets: torch.Tensor) -> torch.Tensor | None:
        """(N, K) positive weights for ``targets`` (N, K), or None."""
        if self.pos_weight is None:
            return None
        if self.pos_weight == "per_image":
            # the targets' mass, not a count of non-zeros: equal for hard multi-hot targets, and
            # label smoothing (every entry > 0) does not turn every class into a positive
            positives = targets.sum(1, keepdim=True).clamp_min(1)  # (N, 1)
            return (targets.shape[1] / positives).to(targets.dtype).expand_as(targets)
        return torch.full_like(targets, float(self.pos_weight))

    def __call__(self, model, batch: Batch, ctx: StepContext):
        check_target_kind("multilabel_loss (binary cross-entropy)", batch.target_kind, self.target_kinds)
        logits = model(batch.imgs)  # (b, K)
        targets = batch.labels.to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.weights(targets))
        return loss, {"train_accuracy": top1_hit(logits, targets).float().mean().item()}


classification_loss = CrossEntropyLoss()
multilabel_loss = MultiLabelLoss()
