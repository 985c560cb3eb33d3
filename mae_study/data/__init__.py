"""The one data interface the chapters use: ``load_dataset(name, split, ...)``.

Every loader returns an ``ImageTensorDataset`` (uint8 images (N, C, H, W), labels, mean/std,
provenance in ``info``). Arguments are checked here, before anything is read or generated.

    >>> ds = load_dataset("digits", "train", image_size=32, seed=0)
    >>> ds.images.shape
    torch.Size([1000, 3, 32, 32])
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.data.real import DatasetNotFoundError


@dataclass(frozen=True)
class DatasetSpec:
    """What ``load_dataset`` accepts for one name.

    Args:
        splits: allowed split names.
        image_size: side used when ``image_size=None`` (the native size of real sets).
        description: one line for tables and error messages.
        min_image_size: the smallest side the loader can make.
    """

    splits: tuple[str, ...]
    image_size: int
    description: str
    min_image_size: int = 1


_LABELLED = ("train", "test")
_STL10_LIKE = ("unlabelled", "train", "test")

DATASETS: dict[str, DatasetSpec] = {
    "builtin": DatasetSpec(_STL10_LIKE, 32, "the study's synthetic STL10-like setting: "
                                            "an unlabelled pool and a 10-class task, offline"),
    "stl10": DatasetSpec(_STL10_LIKE, 96, "STL10: 100,000 unlabelled, 5,000 train, 8,000 test, "
                                          "10 classes, 96x96 (torchvision)"),
    "cifar10": DatasetSpec(_LABELLED, 32, "CIFAR-10: 50,000 train, 10,000 test, 32x32 (torchvision)"),
    "cifar100": DatasetSpec(_LABELLED, 32, "CIFAR-100: 50,000 train, 10,000 test, 100 classes, "
                                           "32x32 (torchvision)"),
    "digits": DatasetSpec(_LABELLED, 32, "scikit-learn handwritten digits: 1,797 grey 8x8 images, "
                                         "upsampled, grey replicated to 3 channels, offline"),
    # FractalDB's 3x3 patches need a border of at least one pixel on each side: 1 + 1 + 1 pixels
    "fractaldb": DatasetSpec(_LABELLED, 32, "FractalDB (Kataoka et al.): IFS categories, generated", 3),
    "fractal_single": DatasetSpec(_LABELLED, 32, "Single-Instance fractals (Anderson & Farrell), generated"),
    "fractal_multi": DatasetSpec(_LABELLED, 32, "Multi-Instance fractals (Anderson & Farrell), "
                                                "multi-hot targets, generated"),
}

FRACTALS = ("fractaldb", "fractal_single", "fractal_multi")  # the generated fractal sets (``fractals.NAMES``)


def is_int(x: object) -> bool:
    """An integer (Python's or numpy's), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_image_size(name: str, image_size: int | None, none_ok: bool = False) -> None:
    """Raise ``ValueError`` unless ``image_size`` is an int the loader of ``name`` can make (or None
    when ``none_ok``, for the default size)."""
    spec = DATASETS[name]
    if image_size is None and none_ok:
        return
    if not is_int(image_size) or image_size < spec.min_image_size:
        default = f", or None for {spec.image_size}" if none_ok else ""
        raise ValueError(f"image_size={image_size!r}; allowed for {name!r}: an int >= {spec.min_image_size}{default}")


def check_seed(seed: int, param: str = "seed") -> None:
    """Raise ``ValueError`` unless ``seed`` is an int >= 0 (numpy's seeds are non-negative)."""
    if not is_int(seed) or seed < 0:
        raise ValueError(f"{param}={seed!r}; allowed: an int >= 0")


def check_num_samples(num_samples: int | None) -> None:
    """Raise ``ValueError`` unless ``num_samples`` is None (all) or an int >= 1."""
    if num_samples is not None and (not is_int(num_samples) or num_samples < 1):
        raise ValueError(f"num_samples={num_samples!r}; allowed: an int >= 1, or None for all")


def check_args(name: str, split: str, image_size: int | None, seed: int,
               num_samples: int | None) -> DatasetSpec:
    """Raise ``ValueError`` naming the bad parameter, its value and what is allowed."""
    if name not in DATASETS:
        raise ValueError(f"name={name!r} is not a data set; allowed: {list(DATASETS)}")
    spec = DATASETS[name]
    if split not in spec.splits:
        raise ValueError(f"split={split!r} is not a split of {name!r}; allowed: {list(spec.splits)}")
    check_image_size(name, image_size, none_ok=True)
    check_num_samples(num_samples)
    check_seed(seed)
    return spec


def load_dataset(
    name: str,
    split: str,
    image_size: int | None = None,
    seed: int = 0,
    num_samples: int | None = None,
    **kwargs,
) -> ImageTensorDataset:
    """Load any data set of the study.

    Args:
        name: a key of ``DATASETS``.
        split: one of ``DATASETS[name].splits``.
        image_size: side of the returned images; None gives ``DATASETS[name].image_size``.
        seed: seed of generation (built-in, fractals), of the digits split, and of the
            ``num_samples`` pick.
        num_samples: keep only this many images (the first of a seeded permutation for real sets).
        kwargs: passed to the loader, e.g. ``root``/``download`` (real sets), ``in_chans`` (digits).
    """
    spec = check_args(name, split, image_size, seed, num_samples)
    size = image_size if image_size is not None else spec.image_size
    args = dict(split=split, image_size=size, seed=seed, num_samples=num_samples, **kwargs)
    if name == "builtin":
        from mae_study.data.builtin import load_builtin  # written separately; imported only when asked for

        return load_builtin(**args)
    if name in FRACTALS:
        from mae_study.data.fractals import load_fractal

        return load_fractal(name, **args)
    if name == "digits":
        from mae_study.data.digits import load_digits

        return load_digits(**args)
    from mae_study.data.real import load_real

    return load_real(name, **args)


__all__ = ["DATASETS", "FRACTALS", "DatasetSpec", "DatasetNotFoundError", "ImageTensorDataset", "channel_stats",
           "check_args", "check_image_size", "check_num_samples", "check_seed", "load_dataset"]
