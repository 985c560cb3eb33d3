"""The built-in settings: offline stand-ins for STL10, deterministic from a seed, at any image size.

Like STL10 each has a large unlabelled pre-training pool and a small labelled 10-class task. They are
registered by name in ``BUILTIN_SETTINGS`` and chosen with ``load_dataset("builtin", split, ...,
setting=name)`` (default ``"siblings-v1"``, which the committed results were made with):

- ``siblings-v1`` (this module, ``SiblingsSetting``): the original. Classes: 10 fixed IFS systems,
  fine-grained like STL10's cats and dogs: two parent systems (Anderson & Farrell sampling from the
  fixed ``TASK_SEED``, so the task is the same for every run seed), each perturbed five ways (every
  parameter times ``U(0.7, 1.3)``). Each image is drawn Single-Instance style: one map jittered, a
  random window (scale 0.75-1.33, shift 0.1), a random colour on a diamond-square background,
  sometimes blurred; no flips. ``unlabelled`` (default 20,000 images): half from the 10 classes, half
  from 90 distractor systems (as STL10's unlabelled images include other classes), labels -1;
  ``train`` (default 2,000) and ``test`` (default 4,000): balanced, labels 0..9. Too hard for the
  small ViTs at the ``cpu`` scale (a person cannot tell the siblings apart either).
- ``distinct-v2`` (``builtin_settings.DistinctSetting``): 10 visibly different systems under
  nuisance variation (position, scale, mirror, colour, background, clutter), pool 20x the 2,000
  labelled training images.

Every split has its own random stream ``(seed, split)``; sample ``i`` depends only on it.

How hard a task is (chance, a linear probe on raw pixels, a classifier trained from scratch) is
measured by the ``data_calibration`` experiment (``mae_study/chapters/ladder/calibration.py``) and
shown in the book's data chapter (``book/data.md``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from mae_study.data.base import ImageTensorDataset, channel_stats
from mae_study.data.builtin_settings import BuiltinSetting, DistinctSetting
from mae_study.data.catalog import check_image_size, check_num_samples, check_seed
from mae_study.data.fractals.cache import load_or_build
from mae_study.data.fractals.dataset import generate_all
from mae_study.data.fractals.ifs import make_system, max_singular_value
from mae_study.data.fractals.seeding import SPLIT_CODES, balanced_labels, check_choice, make_rng, sample_rng
from mae_study.data.fractals.single_instance import SingleInstanceConfig, generate_single_instance, sample_systems

TASK_SEED = 20220104  # fixes the 10 classes and the distractors, whatever the run seed
NUM_CLASSES = 10
NUM_DISTRACTORS = 90
BUILTIN_SPLITS = ("unlabelled", "train", "test")
DEFAULT_NUM_SAMPLES = {"unlabelled": 20_000, "train": 2_000, "test": 4_000}
STREAM_POOL = 201  # which system an unlabelled image shows
STREAM_CLASSES = 202  # the perturbations that make the classes
CLASS_NAMES = tuple(f"shape-{k}" for k in range(NUM_CLASSES))


def _task_fractal() -> SingleInstanceConfig:
    # Single-Instance's augmentation without flips and with a milder window (see the module docstring)
    return SingleInstanceConfig(jitter=(0.8, 1.1), window_scale=(0.75, 1.33), window_shift=0.1, flip_p=0.0,
                                style="study")


@dataclass(frozen=True)
class BuiltinConfig:
    """The built-in setting's generator."""

    image_size: int = 32
    num_families: int = 2  # the 10 classes are siblings: perturbations of this many parent systems
    class_spread: float = 0.3  # relative perturbation of every map parameter between siblings
    task_fraction: float = 0.5  # share of the unlabelled pool drawn from the 10 task classes
    fractal: SingleInstanceConfig = field(default_factory=_task_fractal)  # how each image is drawn


def perturb_system(system: np.ndarray, rng: np.random.Generator, spread: float, tries: int = 20) -> np.ndarray:
    """Every parameter times ``U(1 - spread, 1 + spread)``, redrawn until every map's largest singular
    value is at most 1 (the system itself after ``tries`` failures)."""
    for _ in range(tries):
        params = system[:, :6] * (1 + spread * (2 * rng.random(system[:, :6].shape) - 1))
        if all(max_singular_value(*m[:4].tolist()) <= 1.0 for m in params):
            return make_system(params)
    return system


def task_systems(config: BuiltinConfig = BuiltinConfig()) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The 10 class systems (class k is a perturbation of parent ``k % num_families``) and the
    ``NUM_DISTRACTORS`` distractor systems, all fixed by ``TASK_SEED``."""
    parents = sample_systems(config.num_families, TASK_SEED, style="study")
    classes = [perturb_system(parents[k % config.num_families], make_rng(TASK_SEED, STREAM_CLASSES, k),
                              config.class_spread) for k in range(NUM_CLASSES)]
    distractors = sample_systems(config.num_families + NUM_DISTRACTORS, TASK_SEED, style="study")[config.num_families:]
    return classes, distractors


@dataclass
class BuiltinMaker:
    """Samples of one split: ``make(indices) -> (images (B, 3, S, S) uint8, labels (B,))``."""

    split: str
    key: tuple
    config: BuiltinConfig

    def __post_init__(self) -> None:
        classes, distractors = task_systems(self.config)
        self.systems = classes + distractors

    def system_ids(self, indices: np.ndarray) -> np.ndarray:
        """Which system each image shows: balanced classes, or (unlabelled) a class with probability
        ``task_fraction``, else a distractor."""
        if self.split != "unlabelled":
            return balanced_labels(indices, NUM_CLASSES, self.key)
        ids = np.empty(len(indices), dtype=np.int64)
        for b, i in enumerate(indices):
            u = sample_rng((*self.key, STREAM_POOL), i).random(2)
            ids[b] = (int(u[1] * NUM_CLASSES) if u[0] < self.config.task_fraction
                      else NUM_CLASSES + int(u[1] * NUM_DISTRACTORS))
        return ids

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = self.system_ids(indices)
        fractal = replace(self.config.fractal, image_size=self.config.image_size)
        images = generate_single_instance(self.systems, ids, self.key, indices, fractal)
        return images, (np.full(len(ids), -1, dtype=np.int64) if self.split == "unlabelled" else ids)


@dataclass(frozen=True)
class SiblingsSetting(BuiltinSetting):
    """``siblings-v1``, the original setting (module docstring): 20,000 / 2,000 / 4,000 images by
    default; any labelled split up to the pool's size (the ``gpu`` profile asks 5,000)."""

    num_unlabelled: int = DEFAULT_NUM_SAMPLES["unlabelled"]
    num_train: int = DEFAULT_NUM_SAMPLES["train"]
    num_test: int = DEFAULT_NUM_SAMPLES["test"]
    min_pool_ratio: float = 1.0
    num_classes: int = NUM_CLASSES

    def maker(self, split: str, image_size: int, seed: int) -> BuiltinMaker:
        return BuiltinMaker(split, (int(seed), SPLIT_CODES[split]), BuiltinConfig(image_size))

    def cache_config(self, image_size: int) -> dict:
        # exactly what the original loader recorded, so its cached files and run records still match
        # (its records predate the fractal's ``style`` field: they were drawn in the study style)
        generator = asdict(BuiltinConfig(image_size))
        if generator["fractal"].pop("style") != "study":
            raise ValueError("siblings-v1 is drawn in the study style; its fractal config says otherwise")
        return {"task_seed": TASK_SEED, "generator": generator}


DEFAULT_SETTING = "siblings-v1"  # what ``load_dataset("builtin", ...)`` gives without ``setting=``
BUILTIN_SETTINGS: dict[str, BuiltinSetting] = {
    "siblings-v1": SiblingsSetting(),  # the original: 10 sibling classes of 2 parents (fine-grained)
    "distinct-v2": DistinctSetting(),  # 10 distinct shapes under nuisance variation, pool 20x train
}


def builtin_setting(setting: str | BuiltinSetting = DEFAULT_SETTING) -> BuiltinSetting:
    """A registered setting by name (or a setting object, returned as it is)."""
    if isinstance(setting, BuiltinSetting):
        return setting
    if setting not in BUILTIN_SETTINGS:
        raise ValueError(f"setting={setting!r} is not a built-in setting; allowed: {list(BUILTIN_SETTINGS)}")
    return BUILTIN_SETTINGS[setting]


def builtin_maker(split: str, image_size: int, seed: int, setting: str | BuiltinSetting = DEFAULT_SETTING):
    """The maker of one split at ``image_size`` for run seed ``seed`` (what ``load_builtin`` generates)."""
    check_choice("split", split, BUILTIN_SPLITS)
    check_image_size("builtin", image_size)
    check_seed(seed)
    return builtin_setting(setting).maker(split, image_size, seed)


def load_builtin(split: str, image_size: int, seed: int, num_samples: int | None = None,
                 cache: bool = True, setting: str | BuiltinSetting = DEFAULT_SETTING) -> ImageTensorDataset:
    """One split of a built-in setting, generated or read from the cache.

    Args:
        split: ``"unlabelled"``, ``"train"`` or ``"test"``.
        image_size: side in pixels (32 for the ``cpu`` profile, 96 for ``gpu``; any size works).
        seed: the run seed; with the split it fixes every image (the task's classes do not change).
        num_samples: images (default: the setting's split size, e.g. 20,000 / 2,000 / 4,000 for
            ``siblings-v1``); a training split may not exceed the setting's ``max_train``.
        cache: read from / write to ``cache_root()``.
        setting: a name of ``BUILTIN_SETTINGS`` (default ``"siblings-v1"``) or a ``BuiltinSetting``.
    Returns:
        ``ImageTensorDataset``, (N, 3, S, S) uint8; labels 0..9, or -1 with ``num_classes == 0`` for
        ``unlabelled``.
    """
    chosen = builtin_setting(setting)
    check_choice("split", split, BUILTIN_SPLITS)
    check_image_size("builtin", image_size)
    check_seed(seed)
    check_num_samples(num_samples)
    num_samples = chosen.split_size(split, num_samples)
    config = {"name": "builtin", "split": split, "image_size": image_size, "seed": int(seed),
              "num_samples": num_samples, **chosen.cache_config(image_size)}
    if chosen != BUILTIN_SETTINGS[DEFAULT_SETTING]:  # the original's records have no such key
        config["setting"] = next((n for n, s in BUILTIN_SETTINGS.items() if s == chosen), "custom")

    def build() -> ImageTensorDataset:
        make = chosen.maker(split, image_size, seed)
        images, labels = generate_all(make, num_samples, desc=f"builtin {split}")
        mean, std = channel_stats(images)
        labelled = split != "unlabelled"
        return ImageTensorDataset(images, labels, chosen.num_classes if labelled else 0, "builtin", split, mean,
                                  std, chosen.class_names if labelled else (), config)

    return load_or_build("builtin", split, image_size, config, build, cache)


def linear_probe_accuracy(train: ImageTensorDataset, test: ImageTensorDataset, C: float = 0.01,
                          max_iter: int = 300) -> float:
    """Test accuracy of logistic regression on standardised raw pixels, fitted on ``train``. The strong
    L2 penalty (``C = 0.01``) suits more pixels than images (3,072 features at 32 px)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x_train = train.images.reshape(len(train), -1).float().numpy() / 255
    x_test = test.images.reshape(len(test), -1).float().numpy() / 255
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(C=C, max_iter=max_iter).fit(scaler.transform(x_train), train.labels.numpy())
    return float((model.predict(scaler.transform(x_test)) == test.labels.numpy()).mean())

