"""From a batch generator to data sets: all at once (then cached), or on the fly.

A *maker* is a picklable callable ``make(indices) -> (images (B, 3, S, S) uint8, labels)`` whose
sample ``i`` depends only on ``i`` (see ``seeding``), so batches can be cut anywhere and data-loader
workers can share it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

Maker = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def generate_all(make: Maker, num_samples: int, chunk: int = 512, desc: str | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``0..num_samples-1`` in chunks: (N, 3, S, S) uint8 and labels tensors."""
    images, labels = [], []
    for lo in tqdm(range(0, num_samples, chunk), desc=desc, disable=num_samples <= 4 * chunk, leave=False):
        x, y = make(np.arange(lo, min(lo + chunk, num_samples)))
        images.append(torch.from_numpy(x))
        labels.append(torch.from_numpy(np.asarray(y)))
    return torch.cat(images), torch.cat(labels)


class OnTheFlyDataset(Dataset):
    """Images generated when asked for. ``__getitems__`` lets a ``DataLoader`` fetch a whole batch
    with one call of the (batched, parallel) generator.

    Args:
        make: the maker.
        num_samples: length of the data set.
    """

    def __init__(self, make: Maker, num_samples: int) -> None:
        self.make, self.num_samples = make, num_samples

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, i: int):
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.make(np.asarray(indices, dtype=np.int64))
        images, labels = torch.from_numpy(images), torch.from_numpy(np.asarray(labels))
        return list(zip(images, labels))


class Downsampled:
    """A maker whose images are rendered ``factor`` times larger and area-averaged down: at 32 px
    a fractal drawn directly is a few blocky 3x3 patches; drawn at 96 px and averaged, its shape
    survives as shades (the originals render at 224 px or more). Picklable, as the maker it wraps.

    Args:
        make: the maker at the render size ``S * factor``.
        factor: an int >= 2; images come back (B, 3, S, S) uint8.
    """

    def __init__(self, make: Maker, factor: int) -> None:
        if not isinstance(factor, int) or factor < 2:
            raise ValueError(f"factor must be an int >= 2, got {factor!r}")
        self.make, self.factor = make, factor

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self.make(indices)  # (B, 3, S*f, S*f)
        b, c, big, _ = images.shape
        s, f = big // self.factor, self.factor
        small = images.reshape(b, c, s, f, s, f).astype(np.float32).mean(axis=(3, 5))  # (B, 3, S, S)
        return np.rint(small).astype(np.uint8), labels
