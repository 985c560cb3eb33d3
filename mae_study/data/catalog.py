"""The data sets the study knows (name -> splits, default size, what it is) and the argument checks
every loader shares. The loaders import these from here, so that the data package's
``load_dataset``, which imports the loaders, is imported by none of them.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass


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
