"""The three fractal data sets behind one call: ``load_fractal`` (generated once, cached) and
``fractal_stream`` (generated on the fly, new images per epoch).

Defaults at CPU scale: 100 classes (FractalDB: the first 100 published FractalDB-1k categories),
10,000 train and 2,000 test images. The class systems depend on ``seed`` only; the images of a
split on ``(seed, split, epoch)``, so train and test never share a random stream.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.data.catalog import FRACTALS, check_image_size, check_num_samples, check_seed, is_int
from mae_study.data.fractals.cache import load_or_build
from mae_study.data.fractals.dataset import Downsampled, OnTheFlyDataset, generate_all
from mae_study.data.fractals.fractaldb import FractalDBConfig, generate_fractaldb, num_published, published_categories
from mae_study.data.fractals.multi_instance import build_cache, generate_multi_instance
from mae_study.data.fractals.nuisance import generator_config
from mae_study.data.fractals.seeding import SPLIT_CODES, balanced_labels, check_choice
from mae_study.data.fractals.single_instance import generate_single_instance, sample_systems

NAMES = FRACTALS  # defined once, in the data catalogue
FRACTAL_SPLITS = ("train", "test")
DEFAULT_NUM_CLASSES = 100
DEFAULT_NUM_SAMPLES = {"train": 10_000, "test": 2_000}


@dataclass
class FractalDBMaker:
    """Samples of FractalDB: balanced labels, instances of the given categories."""

    categories: list
    key: tuple
    config: FractalDBConfig

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = balanced_labels(indices, len(self.categories), self.key)
        return generate_fractaldb(self.categories, labels, self.key, indices, self.config), labels


@dataclass
class SingleInstanceMaker:
    """Samples of Single-Instance: balanced labels, one system per image."""

    systems: list
    key: tuple
    config: SingleInstanceConfig

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = balanced_labels(indices, len(self.systems), self.key)
        return generate_single_instance(self.systems, labels, self.key, indices, self.config), labels


@dataclass
class MultiInstanceMaker:
    """Samples of Multi-Instance from a prebuilt cache; labels are (B, K) multi-hot."""

    cache: np.ndarray
    cache_labels: np.ndarray
    num_classes: int
    key: tuple
    config: MultiInstanceConfig

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return generate_multi_instance(self.cache, self.cache_labels, self.num_classes, self.key, indices,
                                       self.config)


def max_classes(name: str) -> int | None:
    """The most classes fractal set ``name`` has (None: no limit)."""
    return num_published() if name == "fractaldb" else None


def check_fractal_args(name: str, split: str, image_size: int, seed: int, num_classes: int, epoch: int = 0) -> None:
    """Raise ``ValueError`` naming the bad parameter, its value and what is allowed."""
    check_choice("name", name, NAMES)
    check_choice("split", split, FRACTAL_SPLITS)
    check_image_size(name, image_size)
    check_seed(seed)
    check_seed(epoch, "epoch")
    check_num_classes(name, num_classes)


def check_render_size(image_size: int, render_size: int | None) -> None:
    """Raise ``ValueError`` unless ``render_size`` is None or a multiple >= 2x of ``image_size``."""
    if render_size is not None and (not is_int(render_size) or render_size < 2 * image_size
                                    or render_size % image_size):
        raise ValueError(f"render_size={render_size!r}; allowed: None (render at image_size={image_size}) or a "
                         f"multiple of image_size of at least {2 * image_size}")


def check_num_classes(name: str, num_classes: int) -> None:
    """Raise ``ValueError`` unless ``num_classes`` is an int from 1 to ``max_classes(name)``."""
    most = max_classes(name)
    if not is_int(num_classes) or num_classes < 1 or (most is not None and num_classes > most):
        allowed = f"an int from 1 to {most}" if most is not None else "an int >= 1"
        raise ValueError(f"num_classes={num_classes!r}; allowed for {name!r}: {allowed}")


def fractal_maker(name: str, split: str, image_size: int, seed: int, num_classes: int = DEFAULT_NUM_CLASSES,
                  epoch: int = 0, render_size: int | None = None, nuisance: str = "full"):
    """The maker (``make(indices) -> (images, labels)``) of one split of one fractal set; with
    ``render_size`` (a multiple of ``image_size``) drawn at that size and area-averaged down (`Downsampled`);
    ``nuisance``: Anderson & Farrell's variation ("full") or less of it ("reduced", see `nuisance`)."""
    check_fractal_args(name, split, image_size, seed, num_classes, epoch)
    check_render_size(image_size, render_size)
    config = generator_config(name, image_size if render_size is None else render_size, nuisance)
    if render_size is not None:
        return Downsampled(fractal_maker(name, split, render_size, seed, num_classes, epoch, nuisance=nuisance),
                           render_size // image_size)
    key = (int(seed), SPLIT_CODES[split], int(epoch))
    if name == "fractaldb":
        return FractalDBMaker(published_categories(num_classes), key, config)
    if name == "fractal_single":
        return SingleInstanceMaker(sample_systems(num_classes, seed, config.style), key, config)
    systems = sample_systems(num_classes, seed, config.fractal.style)
    cache, cache_labels = build_cache(systems, key, config)
    return MultiInstanceMaker(cache, cache_labels, num_classes, key, config)


def load_fractal(name: str, split: str, image_size: int, seed: int, num_samples: int | None = None,
                 num_classes: int | None = None, cache: bool = True, render_size: int | None = None,
                 nuisance: str = "full") -> ImageTensorDataset:
    """One split of a fractal data set, generated (in parallel, deterministically) or read from the cache.

    Args:
        name: ``"fractaldb"``, ``"fractal_single"`` or ``"fractal_multi"``.
        split: ``"train"`` or ``"test"``.
        image_size: side in pixels (FractalDB at least 3, for its 3x3 patches).
        seed: defines the classes and, with the split, every image.
        num_samples: images (default 10,000 train, 2,000 test).
        num_classes: classes (default 100; FractalDB at most the 1,000 published categories).
        cache: read from / write to ``cache_root()``.
        render_size: draw at this size (a multiple of ``image_size``) and area-average down; None:
            draw at ``image_size``.
        nuisance: ``"full"`` (Anderson & Farrell's backgrounds, windows, blur) or ``"reduced"`` (`nuisance`).
    Returns:
        ``ImageTensorDataset`` with (N, 3, S, S) uint8 images; labels (N,) int64, or (N, K) float32
        multi-hot for ``fractal_multi``.
    """
    num_classes = DEFAULT_NUM_CLASSES if num_classes is None else num_classes
    check_fractal_args(name, split, image_size, seed, num_classes)
    check_num_samples(num_samples)
    check_render_size(image_size, render_size)
    num_classes = int(num_classes)
    num_samples = DEFAULT_NUM_SAMPLES[split] if num_samples is None else int(num_samples)
    generator = generator_config(name, image_size, nuisance)
    config = {"name": name, "split": split, "image_size": image_size, "seed": int(seed),
              "num_samples": num_samples, "num_classes": num_classes, "generator": asdict(generator),
              **({"render_size": render_size} if render_size is not None else {})}

    def build() -> ImageTensorDataset:
        make = fractal_maker(name, split, image_size, seed, num_classes, render_size=render_size, nuisance=nuisance)
        images, labels = generate_all(make, num_samples, desc=f"{name} {split}")
        mean, std = channel_stats(images)
        prefix = "fractaldb" if name == "fractaldb" else "ifs"
        return ImageTensorDataset(images, labels, num_classes, name, split, mean, std,
                                  tuple(f"{prefix}-{k:04d}" for k in range(num_classes)), config)

    return load_or_build(name, split, image_size, config, build, cache)


def fractal_stream(name: str, image_size: int, seed: int, num_samples: int, num_classes: int | None = None,
                   epoch: int = 0, split: str = "train", render_size: int | None = None,
                   nuisance: str = "full") -> OnTheFlyDataset:
    """A fractal set generated on the fly; pass a new ``epoch`` for new images (as the originals,
    which never repeat an image). Epoch 0 equals ``load_fractal``'s images."""
    check_num_samples(num_samples)
    num_classes = DEFAULT_NUM_CLASSES if num_classes is None else num_classes
    return OnTheFlyDataset(fractal_maker(name, split, image_size, seed, num_classes, epoch, render_size, nuisance),
                           num_samples)
