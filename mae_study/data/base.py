"""The one in-memory image data set type every loader returns.

All data sets of the study (built-in synthetic, fractal, digits, STL10, CIFAR) are small enough
at the study's scales to sit in memory as one uint8 tensor, which makes batching a single
index operation and keeps data order fully determined by one ``torch.Generator``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch.utils.data import Dataset


@dataclass
class ImageTensorDataset(Dataset):
    """Images and labels held as tensors.

    Args:
        images: (N, C, H, W) uint8.
        labels: (N,) int64 class indices, (N, K) float multi-hot targets, or (N,) filled with -1
            for unlabelled data.
        num_classes: number of classes (0 when unlabelled).
        name: data set name, e.g. ``"builtin"``.
        split: split name, e.g. ``"train"``.
        mean, std: per-channel statistics of ``images / 255`` used to normalise model inputs.
        class_names: optional readable class names.
        info: free-form provenance (seed, generator settings) recorded with runs.
    """

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str
    split: str
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)
    class_names: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")
        if len(self.mean) != self.images.shape[1] or len(self.std) != self.images.shape[1]:
            raise ValueError("mean and std need one value per channel")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def in_chans(self) -> int:
        return self.images.shape[1]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float32 normalised with this set's mean and std."""
        x = images.float().div_(255.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def subset(self, n: int) -> "ImageTensorDataset":
        """The first ``n`` samples (data sets are already in random order when generated)."""
        return replace(self, images=self.images[:n], labels=self.labels[:n], info=dict(self.info))


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1]."""
    x = images.float().div(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)
