"""The built-in STL10-shaped setting: splits, labels, determinism, per-sample seeding, argument checks,
the cache, and the raw-pixel probe."""
import numpy as np
import pytest
import torch

from mae_study.data import builtin
from mae_study.data.builtin import (NUM_CLASSES, NUM_DISTRACTORS, BuiltinConfig, BuiltinMaker, builtin_maker,
                                    linear_probe_accuracy, load_builtin, task_systems)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_STUDY_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("size", [32, 40])
def test_splits_shapes_and_labels(size):
    unlabelled = load_builtin("unlabelled", size, seed=0, num_samples=12, cache=False)
    assert unlabelled.images.shape == (12, 3, size, size) and unlabelled.images.dtype == torch.uint8
    assert unlabelled.num_classes == 0 and torch.all(unlabelled.labels == -1)
    train = load_builtin("train", size, seed=0, num_samples=20, cache=False)
    assert train.num_classes == 10 and len(train.class_names) == 10 and train.labels.dtype == torch.int64
    assert torch.equal(torch.bincount(train.labels, minlength=10), torch.full((10,), 2))  # balanced


def test_deterministic_and_seeds_differ():
    a = load_builtin("train", 32, seed=0, num_samples=8, cache=False)
    b = load_builtin("train", 32, seed=0, num_samples=8, cache=False)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, load_builtin("train", 32, seed=1, num_samples=8, cache=False).images)
    assert not torch.equal(a.images, load_builtin("test", 32, seed=0, num_samples=8, cache=False).images)


def test_sample_alone_equals_sample_in_batch():
    for split in ("unlabelled", "train"):
        make = BuiltinMaker(split, (0, 7), BuiltinConfig(32))
        images, labels = make(np.arange(6))
        alone, label = make(np.array([4]))
        assert np.array_equal(alone[0], images[4]) and label[0] == labels[4]


def test_task_is_fixed_and_pool_mixes_in_distractors():
    classes, distractors = task_systems()
    assert len(classes) == NUM_CLASSES and len(distractors) == NUM_DISTRACTORS
    assert all(np.array_equal(x, y) for x, y in zip(classes, task_systems()[0]))
    ids = BuiltinMaker("unlabelled", (0, 3), BuiltinConfig(32)).system_ids(np.arange(400))
    task_share = (ids < NUM_CLASSES).mean()
    assert 0.4 < task_share < 0.6 and ids.max() < NUM_CLASSES + NUM_DISTRACTORS


def test_builtin_maker_is_what_load_builtin_generates():
    images, labels = builtin_maker("test", 32, seed=1)(np.arange(5))
    data = load_builtin("test", 32, seed=1, num_samples=5, cache=False)
    assert np.array_equal(images, data.images.numpy()) and np.array_equal(labels, data.labels.numpy())


def test_bad_split_raises():
    with pytest.raises(ValueError, match="split=.*'test'.*'train'.*'unlabelled'"):
        load_builtin("validation", 32, 0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(seed=-1), r"seed=-1; allowed: an int >= 0"),
    (dict(seed=0.5), r"seed=0.5; allowed: an int >= 0"),
    (dict(image_size=0), r"image_size=0; allowed for 'builtin': an int >= 1"),
    (dict(num_samples=0), r"num_samples=0; allowed: an int >= 1"),
])
def test_bad_arguments_raise_clearly(kwargs, message):
    args = {"split": "train", "image_size": 32, "seed": 0, "num_samples": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        load_builtin(**args, cache=False)


def test_cache_round_trip(tmp_path, monkeypatch):
    first = load_builtin("test", 32, seed=0, num_samples=6)
    assert len(list((tmp_path / "cache" / "generated").glob("builtin-test-32px-*.pt"))) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again instead of read from the cache")

    monkeypatch.setattr(builtin, "generate_all", no_generation)
    second = load_builtin("test", 32, seed=0, num_samples=6)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert first.info == second.info and first.mean == second.mean
    with pytest.raises(AssertionError, match="generated again"):  # another config is not in the cache
        load_builtin("test", 32, seed=1, num_samples=6)


def test_raw_pixel_probe_is_above_chance_and_below_perfect():
    train = load_builtin("train", 16, seed=0, num_samples=300, cache=False)  # small: fast
    test = load_builtin("test", 16, seed=0, num_samples=300, cache=False)
    assert 1.5 / NUM_CLASSES < linear_probe_accuracy(train, test) < 0.8
