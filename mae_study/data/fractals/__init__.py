"""Fractal pre-training data: FractalDB (Kataoka et al.) and Single-/Multi-Instance (Anderson & Farrell).

Modules, one idea each: ``seeding`` (per-sample random streams), ``ifs`` (sampling systems, the
batched chaos game), ``render`` (points -> images), ``torch_ifs`` (the same on a GPU),
``background``, ``colour``, ``compose``, the generators ``fractaldb``, ``single_instance``,
``multi_instance``, and ``loaders`` (``load_fractal``, cached; ``fractal_stream``, on the fly).
The straightforward baseline the benchmark and tests compare against is
``benchmarks/fractal_reference.py`` (not part of the study).
"""
from mae_study.data.fractals.fractaldb import (FractalDBConfig, category_instances, published_categories,
                                               search_categories, weight_patterns)
from mae_study.data.fractals.loaders import NAMES, fractal_maker, fractal_stream, load_fractal
from mae_study.data.fractals.multi_instance import MultiInstanceConfig
from mae_study.data.fractals.single_instance import SingleInstanceConfig, sample_systems

__all__ = ["load_fractal", "fractal_stream", "fractal_maker", "NAMES", "FractalDBConfig", "SingleInstanceConfig",
           "MultiInstanceConfig", "published_categories", "search_categories", "weight_patterns",
           "category_instances", "sample_systems"]
