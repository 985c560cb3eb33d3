"""What a loss function receives at every step: the batch and the step context.

    loss_fn(model, batch, ctx) -> (loss, {"name": float, ...})

``batch.views`` holds one or more normalised views of this process's images (``batch.imgs`` is
the first); ``batch.labels`` are int class ids, (N, K) multi-hot floats or, after Mixup, soft
targets, as ``batch.target_kind`` says. Every random draw (flips, crops, masks) is made for the
whole *global* batch from a per-epoch generator and then cut to this process's rows, so several
processes draw exactly what one process draws (see `Draws` and `StepContext.sample_mask`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from mae_study.masking import Masking, sample_mask
from mae_study.train.augment import Draws, Flip  # noqa: F401 (Draws: read here too)

TARGET_KINDS = ("class", "multi_hot", "soft")


def target_kind_of(labels: torch.Tensor) -> str:
    """"class" for (N,) integer ids, "multi_hot" for (N, K) floats; a ValueError otherwise."""
    if labels.ndim == 1 and not labels.is_floating_point():
        return "class"
    if labels.ndim == 2 and labels.is_floating_point():
        return "multi_hot"
    raise ValueError(f"labels must be (N,) integer class ids or (N, K) float multi-hot targets, "
                     f"got {tuple(labels.shape)} {labels.dtype}")


def check_target_kind(loss_name: str, kind: str, accepted: tuple[str, ...]) -> None:
    """Raise a ValueError naming the loss when it cannot learn from targets of ``kind``."""
    if kind not in accepted:
        hint = " (use multilabel_loss for (N, K) multi-hot targets)" if kind == "multi_hot" else ""
        raise ValueError(f"{loss_name} takes targets of kind {list(accepted)}, but the data give "
                         f"{kind!r} targets{hint}")


@dataclass
class Batch:
    """This process's rows of one global batch.

    Args:
        views: normalised float views, each (b, C, h, w); several for multi-crop methods.
        labels: (b,) int64 class ids, or (b, K) float multi-hot / soft targets.
        target_kind: "class", "multi_hot" or "soft" (class probabilities, after Mixup).
        indices: (b,) the data set indices of the rows.
    """

    views: list[torch.Tensor]
    labels: torch.Tensor
    target_kind: str
    indices: torch.Tensor

    @property
    def imgs(self) -> torch.Tensor:
        return self.views[0]  # (b, C, H, W)

    def __len__(self) -> int:
        return len(self.labels)


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 (x / 255 - mean) / std (the arithmetic of
    `ImageTensorDataset.normalize`, so both give the same bits)."""
    x = images.float().div_(255.0)
    mean_t = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


@dataclass
class BatchMaker:
    """Turns a process's uint8 images of one global batch into a `Batch`: augment (per image,
    draws for the global batch), normalise, mix (Mixup/CutMix on the batch), move to ``device``.

    Mixup pairs image i with image B - 1 - i of the global batch, so with ``mixup`` every process
    loads the whole global batch (``load_rows`` is None) and keeps its ``rows`` after mixing.
    """

    augment: object | None          # an `augment.Augment`, or None: the images as they are
    mixup: object | None            # an `augment.Mixup`, or None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    batch_size: int                 # images in the global batch
    rows: slice | None = None       # this process's rows of it; None: all (one process)
    device: torch.device | str = "cpu"

    @property
    def load_rows(self) -> slice | None:
        """The rows of each global batch this process must load."""
        return self.rows if self.mixup is None else None

    def __call__(self, indices: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                 generator: torch.Generator | None) -> Batch:
        """``indices``, ``images`` (uint8 (b, C, H, W)) and ``labels``: the ``load_rows`` of the batch."""
        kind = target_kind_of(labels)
        draws = Draws(generator, self.batch_size, self.load_rows)
        views = self.augment(images, draws) if self.augment is not None else [images]
        views = [normalize(v, self.mean, self.std) for v in views]
        if self.mixup is not None:
            views, labels, kind = self.mixup(views, labels, kind, self.num_classes, generator)
            if self.rows is not None:
                views, labels, indices = [v[self.rows] for v in views], labels[self.rows], indices[self.rows]
        return Batch([v.to(self.device, non_blocking=True) for v in views],
                     labels.to(self.device, non_blocking=True), kind, indices)


def prepare(data, idx: torch.Tensor, device, hflip_gen: torch.Generator | None, rows: slice | None = None):
    """uint8 images of ``idx[rows]`` -> normalised float (B, C, H, W) on device, flipped at random
    (flips drawn for all of ``idx``), and their labels: one `Flip` batch of an in-memory set."""
    make = BatchMaker(Flip() if hflip_gen is not None else None, None, data.mean, data.std, data.num_classes,
                      len(idx), rows, device)
    part = idx if rows is None else idx[rows]
    batch = make(part, data.images[part], data.labels[part], hflip_gen)
    return batch.imgs, batch.labels


@dataclass
class StepContext:
    """What a loss function may need to know about the current step."""

    epoch: int            # 0-based epoch
    step: int             # global optimisation step
    position: float       # epoch + fraction of it done: what schedules are functions of
    generator: torch.Generator  # the mask generator (CPU), seeded per epoch
    extra: dict = field(default_factory=dict)
    global_batch_size: int | None = None  # images in the whole (all-rank) batch of this step
    batch_slice: slice | None = None      # this rank's rows of it; None: all (one process)
    modules: dict[str, nn.Module] = field(default_factory=dict)  # fit's extra_modules, as trained
                                          # (wrapped in DDP / compiled like the model the loss gets)

    def sample_mask(self, num_images: int, grid: int, mask_ratio: float, sampling: str = "random",
                    device=None) -> Masking:
        """Masks for this rank's ``num_images`` images: drawn from ``generator`` for the whole
        global batch, then cut to ``batch_slice``, so several processes draw exactly the masks
        one process would (and one process exactly what `sample_mask` draws for its batch)."""
        masking = sample_mask(self.global_batch_size or num_images, grid, mask_ratio, sampling, self.generator,
                              device=device)
        if self.batch_slice is None:
            return masking
        rows = self.batch_slice
        if rows.stop - rows.start != num_images:
            raise ValueError(f"batch_slice {rows} does not hold the {num_images} images of this rank")
        return Masking(masking.ids_keep[rows], masking.ids_restore[rows], masking.mask[rows])
