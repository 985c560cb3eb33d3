"""Single-Instance (Anderson & Farrell): one jittered, randomly windowed fractal per image.

Per image: jitter one map of the class's system, run the chaos game, render through a random
window and a random 3x3 patch (``render.render_counts``), flip, colour, paste on a diamond-square
background, maybe blur. Label = the system's index.

Its details follow the original code (``style="original"``: background colouring, one jitter
factor per map, singular values, binning; see ``style``); the built-in setting draws with
``style="study"``. Departures from the original code, on purpose:
- every random choice of sample ``i`` comes from its own generator ``make_rng(*key, i)`` (the
  original shared one generator across data-loader workers);
- ``points_per_pixel * size^2`` points (2 per pixel by default: 2,048 at 32 px, 18,432 at 96 px)
  instead of 100,000 at every size, from 32 chains with a 20-point burn-in;
- a patch that came out all zero (p = 1/512) gets its centre cell, so no image is blank;
- every image is rendered fresh: the original's later release can serve about half the images
  from a 512-entry queue of earlier renders under an extra random affine and flips, to save
  generator time (this generator is fast enough without; the chapter shows generator and
  training images/s side by side).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mae_study.data.fractals.background import background_params, render_backgrounds
from mae_study.data.fractals.colour import colours_from_uniforms
from mae_study.data.fractals.compose import compose_single
from mae_study.data.fractals.ifs import fixed_point, iterate, jitter_system, num_points, sample_sigma_system
from mae_study.data.fractals.render import render_counts
from mae_study.data.fractals.seeding import STREAM_SYSTEMS, draw_seed, make_rng, sample_rng
from mae_study.data.fractals.style import check_style


@dataclass(frozen=True)
class SingleInstanceConfig:
    """How Single-Instance images are drawn."""

    image_size: int = 32
    points_per_pixel: float = 2.0  # chaos-game points per image pixel (the original: 100,000 at any size)
    num_chains: int = 32  # independent chains per image
    burn_in: int = 20  # points dropped at the start of each chain
    jitter: tuple[float, float] = (0.8, 1.1)  # factor range for one map's six parameters
    window_scale: tuple[float, float] = (0.5, 2.0)  # window size per axis, relative to the bounding box
    window_shift: float = 0.2  # max shift of the window centre, as a fraction of the box
    flip_p: float = 0.5  # probability of each of transpose, vertical and horizontal flip
    blur_p: float = 0.5  # probability of the 3x3 Gaussian blur
    blur_sigma: tuple[float, float] = (0.5, 1.0)
    background: bool = True  # diamond-square background (else black)
    style: str = "original"  # "original": details as Anderson & Farrell's code; "study": the built-in setting's

    def __post_init__(self) -> None:
        check_style(self.style)


def sample_systems(num_systems: int, seed: int, style: str = "original") -> list[np.ndarray]:
    """The classes: system ``k`` is ``sample_sigma_system`` under ``(seed, k)``, so the first K
    systems are the same whatever the number asked for."""
    return [sample_sigma_system(make_rng(seed, STREAM_SYSTEMS, k), style=style) for k in range(num_systems)]


class Fractals(NamedTuple):
    """The random choices that make a batch of gray fractals."""

    systems: list  # B jittered systems, each (M, 7)
    seeds: np.ndarray  # (B,) uint64 chaos-game seeds
    starts: np.ndarray  # (B, 2) fixed points of the first maps
    scales: np.ndarray  # (B, 2) window scale per axis
    shifts: np.ndarray  # (B, 2) window centre shift per axis
    patches: np.ndarray  # (B, 9) float32 binary 3x3 patches


class Looks(NamedTuple):
    """The random choices that turn a batch of gray fractals into finished images."""

    flips: np.ndarray  # (B, 3) bool transpose, vertical, horizontal
    colours: np.ndarray  # (B, 3) hue offset, saturation, value
    background_seeds: np.ndarray  # (B,) uint64
    decays: np.ndarray  # (B,) background noise decay
    ranges: np.ndarray  # (B, 6) background HSV ranges
    blur_sigmas: np.ndarray  # (B,) 0 for no blur


# Each sample's random numbers come from its own generator, in a fixed order (one call per group);
# turning them into parameters is vectorised over the batch.

def draw_fractals(rngs: list[np.random.Generator], systems: list[np.ndarray], config: SingleInstanceConfig,
                  window: bool = True, jitter: bool = True) -> Fractals:
    """Draw jitter, chaos-game seed, window and patch of each fractal (``window=False``: the bounding
    box, as Multi-Instance's cache; ``jitter=False``: the systems as they are)."""
    jittered = [jitter_system(system, rng, *config.jitter, style=config.style) if jitter else system
                for system, rng in zip(systems, rngs)]
    seeds = np.array([draw_seed(rng) for rng in rngs], dtype=np.uint64)
    u = np.stack([rng.random(13) for rng in rngs])  # (B, 13): window scale (2), shift (2), patch (9)
    lo, hi = config.window_scale
    scales = lo + (hi - lo) * u[:, 0:2] if window else np.ones((len(rngs), 2))
    shifts = config.window_shift * (2 * u[:, 2:4] - 1) if window else np.zeros((len(rngs), 2))
    patches = (u[:, 4:] < 0.5).astype(np.float32)
    patches[~patches.any(1), 4] = 1.0  # an all-zero patch would draw nothing: keep its centre
    return Fractals(jittered, seeds, np.stack([fixed_point(s) for s in jittered]), scales, shifts, patches)


def draw_looks(rngs: list[np.random.Generator], config: SingleInstanceConfig) -> Looks:
    """Draw flips, colour, background and blur of each image."""
    seeds = np.array([draw_seed(rng) for rng in rngs], dtype=np.uint64)
    u = np.stack([rng.random(15) for rng in rngs])  # (B, 15): flips (3), colour (3), background (7), blur (2)
    decays, ranges = background_params(u[:, 6:13], config.style)
    lo, hi = config.blur_sigma
    blur = np.where(u[:, 13] < config.blur_p, lo + (hi - lo) * u[:, 14], 0.0)
    return Looks(u[:, :3] < config.flip_p, colours_from_uniforms(u[:, 3:6]), seeds, decays, ranges, blur)


def render_gray(fractals: Fractals, size: int, config: SingleInstanceConfig) -> np.ndarray:
    """Chaos game and rendering of a batch: (B, size, size) float32 in [0, 1]."""
    points = iterate(fractals.systems, fractals.seeds, num_points(size, config.points_per_pixel), fractals.starts,
                     config.num_chains, config.burn_in)  # (B, P, 2)
    return render_counts(points, fractals.scales, fractals.shifts, fractals.patches, size, config.style)


def finish(gray: np.ndarray, looks: Looks, config: SingleInstanceConfig) -> np.ndarray:
    """Flip, colour, paste on backgrounds, blur: (B, S, S) gray -> (B, 3, S, S) uint8."""
    size = gray.shape[-1]
    if config.background:
        backgrounds = render_backgrounds(looks.background_seeds, looks.decays, looks.ranges, size,
                                         config.style)  # (B, S, S, 3)
    else:
        backgrounds = np.zeros((len(gray), size, size, 3), dtype=np.float32)
    return compose_single(gray, looks.flips, looks.colours, backgrounds, looks.blur_sigmas)


def generate_single_instance(systems: list[np.ndarray], system_ids: np.ndarray, key: tuple[int, ...],
                             indices: np.ndarray, config: SingleInstanceConfig) -> np.ndarray:
    """Images ``indices`` of stream ``key``, image b showing system ``system_ids[b]``.

    Returns:
        (B, 3, S, S) uint8.
    """
    rngs = [sample_rng(key, i) for i in indices]
    fractals = draw_fractals(rngs, [systems[k] for k in system_ids], config)
    looks = draw_looks(rngs, config)
    return finish(render_gray(fractals, config.image_size, config), looks, config)
