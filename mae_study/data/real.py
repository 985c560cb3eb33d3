"""Real image data sets (STL10, CIFAR-10, CIFAR-100) read through torchvision.

torchvision does the finding, the checksum checks (MD5 of every file of the official release) and
the parsing; this module only takes its arrays (``.data`` with ``.labels`` or ``.targets``) into one
uint8 ``ImageTensorDataset``, without a per-image PIL loop. Files are read from ``data_root()`` (env
``MAE_STUDY_DATA_ROOT``, else ``data/datasets/``) or a ``root`` argument; torchvision downloads them
only when ``download=True`` or env ``MAE_STUDY_DOWNLOAD=1``. A missing or corrupt set raises
``DatasetNotFoundError`` saying which files were expected where and how to get them.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from mae_study.data.base import ImageTensorDataset
from mae_study.paths import data_root

DOWNLOAD_ENV = "MAE_STUDY_DOWNLOAD"


class DatasetNotFoundError(FileNotFoundError):
    """A real data set is missing or corrupt; the message says where it was looked for and how to get it."""


@dataclass(frozen=True)
class RealSource:
    """How one real data set is found, read and normalised.

    Args:
        title: readable name used in messages.
        tv_class: the torchvision data set class (its ``base_folder``, file lists and ``url`` are
            the single source of truth for what must be on disk).
        splits: the study's split name -> torchvision's split argument.
        image_size: native side length in pixels.
        num_classes: classes of the labelled splits.
        mean, std: published per-channel statistics of ``images / 255`` (see ``stats_source``).
        stats_source: where ``mean`` and ``std`` come from.
        archive_size: size of the official archive, for the error message.
    """

    title: str
    tv_class: type
    splits: dict
    image_size: int
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    stats_source: str
    archive_size: str


SOURCES: dict[str, RealSource] = {
    "stl10": RealSource(
        title="STL10", tv_class=torchvision.datasets.STL10,
        splits={"unlabelled": "unlabeled", "train": "train", "test": "test"},
        image_size=96, num_classes=10,
        mean=(0.4467, 0.4398, 0.4066), std=(0.2603, 0.2566, 0.2713),
        stats_source="STL10 train split, as commonly published", archive_size="2.6 GB"),
    "cifar10": RealSource(
        title="CIFAR-10", tv_class=torchvision.datasets.CIFAR10,
        splits={"train": True, "test": False},
        image_size=32, num_classes=10,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        stats_source="CIFAR-10 train split (per-pixel std)", archive_size="163 MB"),
    "cifar100": RealSource(
        title="CIFAR-100", tv_class=torchvision.datasets.CIFAR100,
        splits={"train": True, "test": False},
        image_size=32, num_classes=100,
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
        stats_source="CIFAR-100 train split (per-pixel std)", archive_size="161 MB"),
}

# What torchvision may raise on a missing, truncated or tampered file (or a failed download:
# URLError is an OSError). Anything else is a bug and is left to propagate.
_READ_ERRORS = (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError, KeyError)


# ----------------------------------------------------------------------------- files and messages

def expected_files(source: RealSource) -> list[str]:
    """The files torchvision reads, relative to its ``base_folder``."""
    cls = source.tv_class
    files = [name for name, _ in cls.train_list + cls.test_list]
    if hasattr(cls, "meta"):  # CIFAR: label names
        files.append(cls.meta["filename"])
    else:  # STL10: class names and the ten standard 1,000-image training folds
        files += [cls.class_names_file, cls.folds_list_file]
    return files


def not_found_message(source: RealSource, root: Path, reason: str) -> str:
    """A message naming the folder searched, the files expected there and how to get them."""
    cls = source.tv_class
    folder = root / cls.base_folder
    missing = [f for f in expected_files(source) if not (folder / f).is_file()]
    state = f"missing: {', '.join(missing)}" if missing else "all files present, but one failed a check"
    note = ""
    if cls is torchvision.datasets.STL10:
        note = "\n  (torchvision checks all five .bin files, unlabeled_X.bin included, whatever the split.)"
    return (
        f"{source.title} not found or corrupt under {root}\n"
        f"  reason: {reason}\n"
        f"  expected the folder {cls.base_folder}/ in {root} holding:\n"
        f"    {', '.join(expected_files(source))}\n"
        f"  {state}{note}\n"
        f"To get it, either:\n"
        f"  - download {cls.url} ({source.archive_size})\n"
        f"    and extract it in {root} (it unpacks to {cls.base_folder}/);\n"
        f"  - or set {DOWNLOAD_ENV}=1 (or pass download=True) on a machine with network access, "
        f"and torchvision downloads, checks and extracts it there;\n"
        f"  - or set MAE_STUDY_DATA_ROOT to a folder that already holds {cls.base_folder}/."
    )


def resolve_download(download: bool | None) -> bool:
    """An explicit argument wins; else download only when env ``MAE_STUDY_DOWNLOAD=1``."""
    if download is None:
        return os.environ.get(DOWNLOAD_ENV, "0").strip() == "1"
    return bool(download)


def open_torchvision(source: RealSource, root: Path, split: str, download: bool, **kwargs):
    """Construct the torchvision data set, turning any read failure into ``DatasetNotFoundError``."""
    tv_split = source.splits[split]
    split_arg = {"split": tv_split} if isinstance(tv_split, str) else {"train": tv_split}
    try:
        return source.tv_class(str(root), download=download, **split_arg, **kwargs)
    except _READ_ERRORS as err:
        reason = f"{type(err).__name__}: {err}"
        raise DatasetNotFoundError(not_found_message(source, root, reason)) from err


# ----------------------------------------------------------------------------- tensor helpers

def seeded_subset(n_total: int, num_samples: int | None, seed: int) -> torch.Tensor | None:
    """Indices of the first ``num_samples`` after a seeded permutation (None keeps all, in order)."""
    if num_samples is None:
        return None
    if num_samples > n_total:
        raise ValueError(f"num_samples={num_samples} but the split holds only {n_total} images")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=gen)[:num_samples]


def resize_images(images: torch.Tensor, image_size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) to (N, C, S, S): bilinear, antialiased, in chunks to bound memory."""
    if images.shape[-2:] == (image_size, image_size):
        return images
    out = torch.empty(*images.shape[:2], image_size, image_size, dtype=torch.uint8)
    for i in tqdm(range(0, len(images), chunk), desc="resize", disable=len(images) <= chunk, leave=False):
        out[i:i + chunk] = TF.resize(images[i:i + chunk], [image_size, image_size], antialias=True)
    return out


def _arrays(source: RealSource, tv_ds) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's arrays as (N, C, H, W) uint8 and (N,) labels (-1 when unlabelled)."""
    if source.tv_class is torchvision.datasets.STL10:
        # STL10 .data is already (N, 3, 96, 96) (a transposed view of the column-major file);
        # its labels were shifted from 1..10 in the file to 0..9 by torchvision.
        return tv_ds.data, np.asarray(tv_ds.labels, dtype=np.int64)
    # CIFAR .data is (N, 32, 32, 3), channels last.
    return tv_ds.data.transpose(0, 3, 1, 2), np.asarray(tv_ds.targets, dtype=np.int64)


def _check_arrays(source: RealSource, root: Path, images: np.ndarray, labels: np.ndarray,
                  split: str) -> None:
    """Catch what torchvision does not: a label file that does not match its images."""
    size = source.image_size
    problem = ""
    if images.ndim != 4 or images.shape[1:] != (3, size, size):
        problem = f"images of shape {images.shape[1:]}, expected (3, {size}, {size})"
    elif len(labels) != len(images):
        problem = f"{len(labels)} labels for {len(images)} images"
    elif split != "unlabelled" and len(labels) and not 0 <= labels.min() <= labels.max() < source.num_classes:
        problem = f"labels outside 0..{source.num_classes - 1}"
    if problem:
        raise DatasetNotFoundError(not_found_message(source, root, problem))


# ----------------------------------------------------------------------------- the loader

def load_real(
    name: str,
    split: str,
    image_size: int | None = None,
    seed: int = 0,
    num_samples: int | None = None,
    root: str | Path | None = None,
    download: bool | None = None,
    **tv_kwargs,
) -> ImageTensorDataset:
    """Load STL10, CIFAR-10 or CIFAR-100 as one uint8 tensor data set.

    Args:
        name: ``"stl10"``, ``"cifar10"`` or ``"cifar100"``.
        split: ``"unlabelled"`` (STL10 only), ``"train"`` or ``"test"``.
        image_size: resize every image to this side (None keeps the native size).
        seed: seed of the permutation that picks ``num_samples`` images.
        num_samples: keep the first n images of a seeded permutation (None keeps all, in file order).
        root: folder holding the data set's folder; default ``data_root()``.
        download: let torchvision download it; None reads env ``MAE_STUDY_DOWNLOAD`` (``"1"``).
        tv_kwargs: passed to torchvision, e.g. ``folds=0`` for an STL10 standard training fold.
    """
    if name not in SOURCES:
        raise ValueError(f"name={name!r} is not a real data set; allowed: {sorted(SOURCES)}")
    source = SOURCES[name]
    if split not in source.splits:
        raise ValueError(f"split={split!r} is not a {source.title} split; allowed: {list(source.splits)}")
    root = Path(root) if root is not None else data_root()

    tv_ds = open_torchvision(source, root, split, resolve_download(download), **tv_kwargs)
    images_np, labels_np = _arrays(source, tv_ds)
    _check_arrays(source, root, images_np, labels_np, split)

    keep = seeded_subset(len(images_np), num_samples, seed)
    images, labels = torch.from_numpy(images_np), torch.from_numpy(labels_np)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    images = resize_images(images.contiguous(), image_size or source.image_size)

    # Published statistics, the same for every split (computing them would need 11 GB of floats
    # for the unlabelled STL10 pool, and a test split must not be normalised by its own statistics).
    unlabelled = split == "unlabelled"
    return ImageTensorDataset(
        images, labels.clone(), 0 if unlabelled else source.num_classes, name, split,
        source.mean, source.std,
        tuple(getattr(tv_ds, "classes", ())),
        info={"source": f"torchvision.datasets.{source.tv_class.__name__}", "root": str(root),
              "native_size": source.image_size, "image_size": images.shape[-1], "seed": seed,
              "num_samples": num_samples, "stats": source.stats_source,
              **{k: v for k, v in tv_kwargs.items() if v is not None}},
    )
