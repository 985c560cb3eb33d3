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
