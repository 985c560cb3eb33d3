"""What every named built-in setting shares (``BuiltinSetting``), and the ``distinct-v2`` setting.

A setting fixes the task (its classes, how images are drawn) and the size of each split. The
registry of names is ``builtin.BUILTIN_SETTINGS``; ``siblings-v1`` (the original setting) lives in
``builtin``, ``distinct-v2`` here.

``distinct-v2``: classes a person can tell apart, nuisance variation that raw pixels cannot use.

- classes: 10 distinct IFS systems (Anderson & Farrell sampling from the fixed ``task_seed``, kept
  only if their shape is neither a thin curve nor a filled blob, see ``select_systems``); the
  distractors are further systems from the same search;
- each image: a diamond-square background, 0..2 small *clutter* fractals (distractor systems), and
  on top one large fractal (the class), each jittered Single-Instance style, mirrored half the time
  (rotation is available, off by default), scaled (aspect kept), placed at random, in a random
  colour; sometimes blurred. Position, scale, mirror and colour change from image to image, so a
  linear model on raw pixels has little to hold on to, while the shape stays the same (mirroring
  costs a ViT nothing: its training already flips images horizontally);
- ``unlabelled`` (40,000): the main fractal is a task class with probability ``task_fraction``, else
  one of the distractor systems (as STL10's pool holds other classes too), labels -1;
- ``train`` (2,000, at most ``num_unlabelled / min_pool_ratio``) and ``test`` (2,000): balanced.

First calibration at 32 px with the ``dynmask_cpu_32`` ViT and 30 epochs of fine-tuning (one
training seed per rung so far): chance 10 %, logistic regression on raw pixels 21 %, ViT from
scratch 31 %, MAE pre-trained on the pool (120k image-steps) then fine-tuned 55 %.

Every split has its own random stream ``(seed, split)``; sample ``i`` depends only on it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mae_study.data.fractals.background import background_params, render_backgrounds
from mae_study.data.fractals.colour import colours_from_uniforms
from mae_study.data.fractals.compose import compose_multi
from mae_study.data.fractals.ifs import fixed_point, iterate, jitter_system, num_points, sample_sigma_system
from mae_study.data.fractals.render import render_counts
from mae_study.data.fractals.seeding import SPLIT_CODES, balanced_labels, draw_seed, make_rng, sample_rng

BUILTIN_SPLITS = ("unlabelled", "train", "test")
STREAM_CANDIDATES = 203  # the systems that the class and distractor search looks at


@dataclass(frozen=True)
class BuiltinSetting:
    """Split sizes of a built-in setting (subclasses add how images are drawn).

    ``num_samples`` of a labelled training split may not exceed ``max_train``: the setting is a
    few-labels regime, its pool ``min_pool_ratio`` times the labelled split or more.
    """

    num_unlabelled: int = 20_000  # images of the unlabelled pool (``num_samples=None``; more may be asked)
    num_train: int = 1_000  # labelled training images (``num_samples=None``)
    num_test: int = 2_000  # labelled test images (``num_samples=None``; more may be asked)
    min_pool_ratio: float = 20.0  # the pool is at least this many times the labelled train split
    num_classes: int = 10  # classes of the labelled task

    def __post_init__(self) -> None:
        for name in ("num_unlabelled", "num_train", "num_test", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}; allowed: an int >= 1")
        if not self.min_pool_ratio >= 1:
            raise ValueError(f"min_pool_ratio={self.min_pool_ratio!r}; allowed: a number >= 1")
        if self.num_unlabelled < self.min_pool_ratio * self.num_train:
            raise ValueError(f"num_unlabelled={self.num_unlabelled}: the pool must hold at least min_pool_ratio="
                             f"{self.min_pool_ratio:g} x num_train={self.num_train} = "
                             f"{self.min_pool_ratio * self.num_train:g} images")

    @property
    def max_train(self) -> int:
        """The largest labelled training split this setting hands out."""
        return int(self.num_unlabelled // self.min_pool_ratio)

    def split_size(self, split: str, num_samples: int | None) -> int:
        """``num_samples``, or the split's default when None; ``ValueError`` when a training split
        would be larger than ``max_train``."""
        n = {"unlabelled": self.num_unlabelled, "train": self.num_train, "test": self.num_test}[split]
        n = n if num_samples is None else int(num_samples)
        if split == "train" and n > self.max_train:
            raise ValueError(f"num_samples={n} for split 'train': this setting hands out at most {self.max_train:,} "
                             f"labelled training images (its pool of {self.num_unlabelled:,} is at least "
                             f"{self.min_pool_ratio:g}x that); use a setting with a larger num_unlabelled")
        return n

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(f"shape-{k}" for k in range(self.num_classes))


# ---- distinct-v2 ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DistinctSetting(BuiltinSetting):
    """Distinct class systems under nuisance variation (see the module docstring)."""

    num_unlabelled: int = 40_000
    num_train: int = 2_000
    num_test: int = 2_000
    task_seed: int = 20260415  # fixes the classes and the distractors, whatever the run seed
    num_distractors: int = 190  # other systems: the pool's other classes, and the clutter
    task_fraction: float = 0.5  # share of the pool whose main fractal is a task class
    coverage: tuple[float, float] = (0.2, 0.55)  # a class system's filled share of its box (see select_systems)
    object_size: tuple[float, float] = (0.55, 0.95)  # main fractal's longer side / image side
    rotation: float = 0.0  # rotation uniform in +-this many degrees (off: it hurts a ViT from scratch as
    # much as the pixel probe, at 1,000 labels: 45 degrees gave 17 % vs 20 %, chance 10 %)
    mirror_p: float = 0.5  # probability of a mirror image
    max_clutter: int = 2  # 0..max_clutter clutter fractals per image, uniformly
    clutter_size: tuple[float, float] = (0.2, 0.45)  # clutter's longer side / image side
    jitter: tuple[float, float] = (0.9, 1.05)  # one map's parameters times U(lo, hi), per fractal
    points_per_pixel: float = 2.0  # chaos-game points per image pixel, per fractal
    blur_p: float = 0.5  # probability of the 3x3 Gaussian blur
    blur_sigma: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("object_size", "clutter_size", "coverage", "jitter", "blur_sigma"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name}={getattr(self, name)!r}; allowed: 0 < low <= high")
        for name in ("task_fraction", "mirror_p", "blur_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)!r}; allowed: a number in [0, 1]")
        if self.max_clutter < 0 or self.num_distractors < 1:
            raise ValueError(f"max_clutter={self.max_clutter}, num_distractors={self.num_distractors}; allowed: "
                             ">= 0 and >= 1")

    def maker(self, split: str, image_size: int, seed: int) -> "DistinctMaker":
        return DistinctMaker(split, (int(seed), SPLIT_CODES[split]), image_size, self)

    def cache_config(self, image_size: int) -> dict:
        from dataclasses import asdict
        return {"generator": asdict(self)}


def box_coverage(system: np.ndarray, size: int = 32, num: int = 4096, seed: int = 0) -> float:
    """Share of the pixels of a system's square bounding box (``size`` px) that its attractor hits."""
    points = iterate([system], np.array([seed], dtype=np.uint64), num, fixed_point(system)[None])[0]
    points = points[np.isfinite(points).all(1)]
    if len(points) < num // 2:
        return 0.0  # diverges
    lo, hi = points.min(0), points.max(0)
    side = max(float((hi - lo).max()), 1e-12)
    cells = np.minimum(((points - lo) / side * size).astype(np.int64), size - 1)
    return len(np.unique(cells[:, 0] * size + cells[:, 1])) / float(size * size)


def select_systems(setting: DistinctSetting) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The classes and the distractors: candidates ``sample_sigma_system`` from ``(task_seed, k)``,
    k = 0, 1, ..., kept when their ``box_coverage`` lies in ``setting.coverage`` (a thin curve or a
    few dots is hard to see at 32 px, a filled blob has no shape); the first ``num_classes`` kept are
    the classes, the next ``num_distractors`` the distractors."""
    wanted = setting.num_classes + setting.num_distractors
    kept, k = [], 0
    lo, hi = setting.coverage
    while len(kept) < wanted:
        system = sample_sigma_system(make_rng(setting.task_seed, STREAM_CANDIDATES, k))
        if lo <= box_coverage(system) <= hi:
            kept.append(system)
        k += 1
        if k > 200 * wanted:
            raise ValueError(f"coverage={setting.coverage}: too few systems qualify; widen it")
    return kept[:setting.num_classes], kept[setting.num_classes:]


_SYSTEMS: dict[DistinctSetting, tuple] = {}  # the search takes a second: once per setting and process


def setting_systems(setting: DistinctSetting) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if setting not in _SYSTEMS:
        _SYSTEMS[setting] = select_systems(setting)
    return _SYSTEMS[setting]


def place_windows(points: np.ndarray, sizes: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``render_counts``' window (scale and shift relative to each cloud's box) that draws each cloud
    with its longer side ``sizes`` (fraction of the image side), aspect kept, its box centred at
    ``centres`` (fractions, x then y). (F, P, 2), (F,), (F, 2) -> scales (F, 2), shifts (F, 2)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cloud: drawn empty anyway
        lo = np.nanmin(points, axis=1).astype(np.float64)
        hi = np.nanmax(points, axis=1).astype(np.float64)
    extent = np.nan_to_num(np.maximum(hi - lo, 1e-12), nan=1.0)  # (F, 2), as the kernel computes it
    window = extent.max(1) / sizes  # square window side in the cloud's units
    scales = window[:, None] / extent
    shifts = window[:, None] * (0.5 - centres) / extent  # box centre lands at `centres` of the window
    return scales, shifts


def rotate(points: np.ndarray, angles: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Each cloud mirrored (x -> -x) where ``mirror``, then rotated by ``angles`` (radians)."""
    x = np.where(mirror[:, None], -points[..., 0], points[..., 0])
    y = points[..., 1]
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1).astype(np.float32)


@dataclass
class DistinctMaker:
    """Samples of one split of a ``DistinctSetting``: ``make(indices) -> (images, labels)``."""

    split: str
    key: tuple
    image_size: int
    setting: DistinctSetting

    def __post_init__(self) -> None:
        self.classes, self.distractors = setting_systems(self.setting)

    def main_systems(self, indices: np.ndarray, v: np.ndarray | None = None) -> np.ndarray:
        """Which system the main fractal of each image shows: the label (balanced) in ``train`` and
        ``test``; in ``unlabelled`` a class with probability ``task_fraction``, else a distractor
        (index ``num_classes + j``). ``v``: the images' first 12 uniforms (drawn here when None)."""
        st = self.setting
        if self.split != "unlabelled":
            return balanced_labels(indices, st.num_classes, self.key)
        if v is None:
            v = np.stack([sample_rng(self.key, i).random(12) for i in indices])
        pick = lambda n: np.minimum((v[:, 2] * n).astype(np.int64), n - 1)  # noqa: E731
        return np.where(v[:, 1] < st.task_fraction, pick(st.num_classes), st.num_classes + pick(st.num_distractors))

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        st, size = self.setting, self.image_size
        layers = st.max_clutter + 1  # clutter slots first (drawn below), the main fractal last
        rngs = [sample_rng(self.key, i) for i in indices]
        # every sample's random numbers in a fixed order: per image (12), per layer (18), seeds
        v = np.stack([rng.random(12) for rng in rngs])  # clutter count, pool pick (2), background (7), blur (2)
        u = np.stack([rng.random((layers, 18)) for rng in rngs])  # (B, J, 18), see `w` below
        seeds = np.array([[draw_seed(rng) for _ in range(layers + 1)] for rng in rngs], dtype=np.uint64)
        batch = len(indices)
        main = self.main_systems(indices, v)
        labels = np.full(batch, -1, dtype=np.int64) if self.split == "unlabelled" else main
        systems_all = self.classes + self.distractors
        counts = np.minimum((v[:, 0] * (st.max_clutter + 1)).astype(np.int64), st.max_clutter)
        ids = np.minimum((u[..., 0] * st.num_distractors).astype(np.int64), st.num_distractors - 1)
        ids = st.num_classes + ids  # clutter: distractor systems only
        ids[:, -1] = main
        used = np.arange(layers)[None, :] >= (st.max_clutter - counts)[:, None]  # (B, J): the last 1 + count
        rows, slots = np.nonzero(used)
        sizes_lo, sizes_hi = np.where(slots == layers - 1, st.object_size[0], st.clutter_size[0]), \
            np.where(slots == layers - 1, st.object_size[1], st.clutter_size[1])
        w = u[rows, slots]  # (F, 18): system, size, angle, mirror, centre (2), colour (3), patch (9)
        sizes = sizes_lo + (sizes_hi - sizes_lo) * w[:, 1]
        angles = np.deg2rad(st.rotation) * (2 * w[:, 2] - 1)
        mirror = w[:, 3] < st.mirror_p
        centres = sizes[:, None] / 2 + (1 - sizes[:, None]) * w[:, 4:6]  # the box inside the image
        patches = (w[:, 9:18] < 0.5).astype(np.float32)
        patches[~patches.any(1), 4] = 1.0
        fractals = [jitter_system(systems_all[ids[r, j]], rngs[r], *st.jitter) for r, j in zip(rows, slots)]
        starts = np.stack([fixed_point(s) for s in fractals])
        points = iterate(fractals, seeds[rows, slots], num_points(size, st.points_per_pixel), starts)
        points = rotate(points, angles, mirror)
        scales, shifts = place_windows(points, sizes, centres)
        gray = render_counts(points, scales, shifts, patches, size)  # (F, S, S)
        items = np.full((batch, layers), -1, dtype=np.int64)
        items[rows, slots] = np.arange(len(rows))
        colours = np.zeros((batch, layers, 3))
        colours[rows, slots] = colours_from_uniforms(w[:, 6:9])
        boxes = np.zeros((batch, layers, 3), dtype=np.int64)
        boxes[..., 2] = size  # each layer is already drawn at its place on the full image
        decays, ranges = background_params(v[:, 3:10])
        backgrounds = render_backgrounds(seeds[:, -1], decays, ranges, size)
        lo, hi = st.blur_sigma
        blur = np.where(v[:, 10] < st.blur_p, lo + (hi - lo) * v[:, 11], 0.0)
        flips = np.zeros((batch, layers, 3), dtype=bool)
        return compose_multi(gray, items, flips, colours, boxes, backgrounds, blur), labels
