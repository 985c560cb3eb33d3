"""The one data interface the chapters use: ``load_dataset(name, split, ...)``.

Every loader returns an ``ImageTensorDataset`` (uint8 images (N, C, H, W), labels, mean/std,
provenance in ``info``). Arguments are checked here, before anything is read or generated.

    >>> ds = load_dataset("digits", "train", image_size=32, seed=0)
    >>> ds.images.shape
    torch.Size([1000, 3, 32, 32])
"""
from __future__ import annotations

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.data.catalog import (DATASETS, FRACTALS, DatasetSpec, check_args, check_image_size, check_num_samples,
                                    check_seed, is_int)
from mae_study.data.real import DatasetNotFoundError


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
        from mae_study.data.builtin import load_builtin  # imported only when asked for

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
           "check_args", "check_image_size", "check_num_samples", "check_seed", "is_int", "load_dataset"]
