"""How much a Single- or Multi-Instance image varies beyond its class: the generator settings behind
``nuisance``.

``"full"``: Anderson & Farrell's (every default of `SingleInstanceConfig` / `MultiInstanceConfig`): a
diamond-square noise background, a window of 0.5-2x the fractal's box per axis shifted by up to 0.2,
a blur on half the images, and (Multi-Instance) 1-5 fractals of 15-60 % of the image side.

``"reduced"``: the same classes, chaos game, jitter, flips and colours, without the nuisances that a
32 px image cannot carry: a black background, a window of 0.8-1.25x shifted by up to 0.1, no blur,
and 1-3 fractals of 30-70 % of the side. At cpu scale (32 px, 32 classes, 120,000 image-steps) the
full setting left the DeiT's Single-Instance pre-training at 5.5 % held-out top-1 and both models'
Multi-Instance mAP at the positives' prevalence; the reduced one is the cpu profile's, named in run
names where it differs from a profile's main setting (`synthetic.setting.NUISANCE_TAGS`).
FractalDB has no such nuisances: it is drawn alike under either value.
"""
from __future__ import annotations

from dataclasses import replace

from mae_study.data.fractals.fractaldb import FractalDBConfig
from mae_study.data.fractals.multi_instance import MultiInstanceConfig
from mae_study.data.fractals.seeding import check_choice
from mae_study.data.fractals.single_instance import SingleInstanceConfig

NUISANCES = ("full", "reduced")
NUISANCE_SETS = ("fractal_single", "fractal_multi")  # the sets with nuisances to set


def single_config(image_size: int, nuisance: str = "full") -> SingleInstanceConfig:
    """Single-Instance's generator setting under ``nuisance``."""
    check_choice("nuisance", nuisance, NUISANCES)
    config = SingleInstanceConfig(image_size)
    if nuisance == "full":
        return config
    return replace(config, background=False, window_scale=(0.8, 1.25), window_shift=0.1, blur_p=0.0)


def multi_config(image_size: int, nuisance: str = "full") -> MultiInstanceConfig:
    """Multi-Instance's generator setting under ``nuisance`` (its cache rendered as Single-Instance's)."""
    check_choice("nuisance", nuisance, NUISANCES)
    config = MultiInstanceConfig(image_size)
    if nuisance == "full":
        return config
    return replace(config, max_fractals=3, size_range=(0.3, 0.7), blur_p=0.0,
                   fractal=single_config(image_size, nuisance))


def generator_config(name: str, image_size: int, nuisance: str = "full"):
    """The generator setting of fractal set ``name`` (FractalDB: the same under either ``nuisance``)."""
    check_choice("nuisance", nuisance, NUISANCES)
    if name == "fractaldb":
        return FractalDBConfig(image_size)
    return (single_config if name == "fractal_single" else multi_config)(image_size, nuisance)


def describe(nuisance: str, image_size: int = 32) -> str:
    """``nuisance`` in words, read from its generator settings (nothing typed)."""
    single, multi = single_config(image_size, nuisance), multi_config(image_size, nuisance)
    lo, hi = single.window_scale
    (a, b), blur = multi.size_range, f"blur on {single.blur_p:.0%} of images" if single.blur_p else "no blur"
    return (f"{'noise' if single.background else 'black'} backgrounds, a window of {lo:g}-{hi:g}x the fractal "
            f"shifted by up to {single.window_shift:g}, {blur}, Multi-Instance with 1-{multi.max_fractals} fractals "
            f"of {a:.0%}-{b:.0%} of the side")
