"""The batches of one epoch, from memory or from a data set generated on the fly.

`fit` and `evaluate` take either an in-memory ``ImageTensorDataset`` (a batch is one index
operation) or a `StreamedData`: any map-style data set whose items are ``(uint8 (C, H, W) image,
label)`` (e.g. ``fractal_stream``, a new set of images every epoch), read through a
``torch.utils.data.DataLoader``. Both follow the same order: `batches` draws the indices of the
global batches from the epoch's data generator, and each process loads only the rows it
computes. For the same images both paths give the same batches, bit for bit.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.train.batch import target_kind_of


@dataclass
class StreamedData:
    """A data set read through a DataLoader instead of held in memory.

    Args:
        dataset: a map-style data set of ``(uint8 (C, H, W), label)`` items (labels: int class
            ids or (K,) float multi-hot), or a function ``epoch -> such a data set`` for new
            images every epoch (``lambda e: fractal_stream(..., epoch=e)``); every epoch's set has
            the same length.
        mean, std: per-channel statistics of ``images / 255`` for normalising (see `stream_stats`).
        num_classes: classes of the labels (0: unlabelled).
        num_workers: DataLoader worker processes (0: load in this process).
        start_method: how workers start: "spawn" (default) or "forkserver"; not "fork", which
            kills a worker once numba's parallel (OpenMP) kernels, the fractal generators', ran here.
        name: data set name, for messages.
    """

    dataset: Dataset | Callable[[int], Dataset]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    num_workers: int = 0
    start_method: str = "spawn"
    name: str = "stream"
    _cached: tuple = field(default=(None, None), init=False, repr=False)  # (epoch, data set)

    def __post_init__(self):
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {self.num_workers!r}")
        if self.start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver', got {self.start_method!r}")
        if len(self.mean) != len(self.std):
            raise ValueError("mean and std need one value per channel")

    def dataset_at(self, epoch: int) -> Dataset:
        """The data set of ``epoch`` (the same one every epoch when ``dataset`` is not a function)."""
        if hasattr(self.dataset, "__getitem__"):
            return self.dataset
        if self._cached[0] != epoch:
            self._cached = (epoch, self.dataset(epoch))
        return self._cached[1]

    def __len__(self) -> int:
        return len(self.dataset_at(0))

    def target_kind(self) -> str:
        """"class" or "multi_hot", from the first item's label."""
        return target_kind_of(torch.as_tensor(self.dataset_at(0)[0][1]).unsqueeze(0))


Data = ImageTensorDataset | StreamedData


def data_target_kind(data: Data) -> str:
    return target_kind_of(data.labels) if isinstance(data, ImageTensorDataset) else data.target_kind()


def stream_stats(dataset: Dataset, num_samples: int = 512) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the first ``num_samples`` images of ``dataset``."""
    n = min(num_samples, len(dataset))
    return channel_stats(torch.stack([dataset[i][0] for i in range(n)]))


def batches(data: Data, batch_size: int, generator: torch.Generator | None, drop_last: bool) -> list[torch.Tensor]:
    """Index tensors of the batches of one epoch (shuffled when a generator is given)."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python's and numpy's generators of a worker from its
    torch seed (the loader's ``generator`` draws a base seed, worker k gets base + k), so a data
    set that draws from them gives the same images for the same epoch."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def load_batches(data: Data, order: list[torch.Tensor], rows: slice | None, generator: torch.Generator | None,
                 epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(indices (b,), uint8 images (b, C, H, W), labels) of ``rows`` (None: all) of each batch of ``order``.

    A `StreamedData` is read by a DataLoader over exactly these indices; its workers are seeded
    from ``generator`` (the epoch's data generator, after it drew the order)."""
    parts = [idx if rows is None else idx[rows] for idx in order]
    if isinstance(data, ImageTensorDataset):
        for idx in parts:
            yield idx, data.images[idx], data.labels[idx]
        return
    if generator is None:  # the loader draws its workers' base seed: never from torch's global generator
        generator = torch.Generator().manual_seed(0)
    loader = DataLoader(data.dataset_at(epoch), batch_sampler=[idx.tolist() for idx in parts],
                        num_workers=data.num_workers, worker_init_fn=seed_worker, generator=generator,
                        multiprocessing_context=data.start_method if data.num_workers else None)
    for idx, (images, labels) in zip(parts, loader):
        yield idx, images, torch.as_tensor(labels)
