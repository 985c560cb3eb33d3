"""scikit-learn's handwritten digits: a real labelled image set that needs no download.

``sklearn.datasets.load_digits`` ships 1,797 grey 8x8 images (values 0..16) of the digits 0-9 inside
the scikit-learn package (the test set of the UCI "Optical Recognition of Handwritten Digits" data).
It is the study's second built-in downstream task, so synthetic-to-real transfer can be shown offline.
The images are scaled to 0..255, upsampled (bilinear) to ``image_size`` and, by default, the grey
channel is replicated to 3 channels so that the same models (built for RGB) apply unchanged.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.data.real import resize_images, seeded_subset

NUM_IMAGES = 1797
DEFAULT_TEST_SIZE = 797  # leaves 1,000 training images
SPLITS = ("train", "test")


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images as (N, 8, 8) float in 0..16 and labels (N,) (read once, never modified)."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

    bunch = load_digits()
    return bunch.images, bunch.target


def digits_split_indices(seed: int = 0, test_size: int = DEFAULT_TEST_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, test) indices into the 1,797 images; deterministic for a seed."""
    from sklearn.model_selection import train_test_split

    _, labels = _digits_arrays()
    return train_test_split(np.arange(len(labels)), test_size=test_size, stratify=labels,
                            random_state=seed, shuffle=True)


def _to_images(grey: np.ndarray, image_size: int, in_chans: int) -> torch.Tensor:
    """(N, 8, 8) values 0..16 -> (N, in_chans, S, S) uint8 0..255."""
    x = torch.from_numpy(np.rint(grey * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)  # (N, 1, 8, 8)
    x = resize_images(x, image_size)  # (N, 1, S, S)
    return x.expand(-1, in_chans, -1, -1).contiguous()


def load_digits(
    split: str,
    image_size: int = 32,
    seed: int = 0,
    num_samples: int | None = None,
    in_chans: int = 3,
    test_size: int = DEFAULT_TEST_SIZE,
) -> ImageTensorDataset:
    """The digits task as an ``ImageTensorDataset``.

    Args:
        split: ``"train"`` (1,000 images by default) or ``"test"`` (797).
        image_size: side of the upsampled images.
        seed: seed of the stratified train/test split (and of the ``num_samples`` pick).
        num_samples: keep the first n of a seeded permutation of the split.
        in_chans: channels; the grey image is replicated into each (3 by default, like RGB).
        test_size: images in the test split.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not a digits split; allowed: {list(SPLITS)}")
    if not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int, got {in_chans!r}")
    if not 0 < test_size < NUM_IMAGES:
        raise ValueError(f"test_size must be in 1..{NUM_IMAGES - 1}, got {test_size!r}")
    grey, target = _digits_arrays()
    train_idx, test_idx = digits_split_indices(seed, test_size)
    idx = train_idx if split == "train" else test_idx

    keep = seeded_subset(len(idx), num_samples, seed)
    if keep is not None:
        idx = idx[keep.numpy()]
    images = _to_images(grey[idx], image_size, in_chans)
    # One mean/std for both splits, from the training split, so train and test are normalised alike.
    mean, std = channel_stats(_to_images(grey[train_idx], image_size, in_chans))
    return ImageTensorDataset(
        images, torch.from_numpy(target[idx].astype(np.int64)), 10, "digits", split, mean, std,
        tuple(str(d) for d in range(10)),
        info={"source": "sklearn.datasets.load_digits", "seed": seed, "test_size": test_size,
              "image_size": image_size, "in_chans": in_chans, "num_samples": num_samples,
              "native_size": 8, "channels": "grey replicated" if in_chans > 1 else "grey"},
    )
