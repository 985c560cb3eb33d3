"""Named built-in settings: the original stays bit-identical, the new one is deterministic, STL10-shaped
(pool 20x the labelled split, balanced classes, separate split streams), and bad inputs fail early."""
import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from mae_study.data import builtin, load_dataset
from mae_study.data.builtin import (BUILTIN_SETTINGS, DEFAULT_SETTING, SiblingsSetting, builtin_maker, builtin_setting,
                                    load_builtin)
from mae_study.data.builtin_settings import BuiltinSetting, DistinctSetting, box_coverage, setting_systems
from mae_study.data.fractals.cache import config_hash


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_STUDY_CACHE", str(tmp_path / "cache"))


def digest(images, labels) -> str:
    images, labels = (x.numpy() if isinstance(x, torch.Tensor) else x for x in (images, labels))
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


# Produced by the code before settings existed (commit c9f53d1, `mae_study/data/builtin.py`):
#   d = load_builtin(split, 32, seed=0, num_samples=16, cache=False)
#   hashlib.sha256(d.images.numpy().tobytes() + d.labels.numpy().tobytes()).hexdigest()
# and `config_hash(d.info)`, the key of its cache file (so cached files and run records still match).
SIBLINGS_V1 = {
    "unlabelled": ("f2235e30dd3c37d76488139997fdf871f2260edba959fa1abea5305cf963aed1", "39be232428c6ea2f"),
    "train": ("1cf0d2f0dba89222b2ca131afea2d013d28d5c6032fab1ec6b7b6bffa411ec9a", "4e8c7f3f128bb281"),
    "test": ("eeee2c0ca413332d82424f1059c9f308050d2963763621a04e2f5042c0b4064a", "95d7319d9558824d"),
}
# The same code: builtin_maker("unlabelled", 32, seed=3)(np.array([12345, 19999])), hashed as above.
SIBLINGS_V1_FAR = "27850b505b54a8a4439d06c0b3101be4cf9f4c29536c879600af33e2a50d2539"


@pytest.mark.parametrize("split", list(SIBLINGS_V1))
@pytest.mark.parametrize("how", ["default", "by_name", "load_dataset"])
def test_siblings_v1_is_bit_identical_to_the_original(split, how):
    if how == "load_dataset":
        data = load_dataset("builtin", split, image_size=32, seed=0, num_samples=16, cache=False)
    else:
        kwargs = {} if how == "default" else {"setting": "siblings-v1"}
        data = load_builtin(split, 32, seed=0, num_samples=16, cache=False, **kwargs)
    assert (digest(data.images, data.labels), config_hash(data.info)) == SIBLINGS_V1[split]


def test_siblings_v1_far_indices_and_the_default():
    assert DEFAULT_SETTING == "siblings-v1" and builtin_setting() == SiblingsSetting()
    assert digest(*builtin_maker("unlabelled", 32, seed=3)(np.array([12345, 19999]))) == SIBLINGS_V1_FAR


def test_distinct_is_deterministic_and_seeds_and_splits_differ():
    def images(split="train", seed=0, size=24):
        return load_builtin(split, size, seed=seed, num_samples=10, cache=False, setting="distinct-v2").images
    first = images()
    assert torch.equal(first, images())
    assert not torch.equal(first, images(seed=1))
    assert not torch.equal(first, images("test")) and not torch.equal(first, images("unlabelled"))


def test_distinct_sample_alone_equals_sample_in_batch():
    for split in ("unlabelled", "train"):
        make = builtin_maker(split, 24, seed=2, setting="distinct-v2")
        images, labels = make(np.arange(8))
        alone, label = make(np.array([5]))
        assert np.array_equal(alone[0], images[5]) and label[0] == labels[5]


@pytest.mark.parametrize("name", list(BUILTIN_SETTINGS))
def test_splits_shapes_and_labels(name):
    setting = builtin_setting(name)
    pool = load_builtin("unlabelled", 20, seed=0, num_samples=6, cache=False, setting=name)
    assert pool.images.shape == (6, 3, 20, 20) and pool.num_classes == 0 and torch.all(pool.labels == -1)
    for split in ("train", "test"):
        data = load_builtin(split, 20, seed=0, num_samples=3 * setting.num_classes, cache=False, setting=name)
        assert data.num_classes == setting.num_classes == len(data.class_names)
        assert torch.equal(torch.bincount(data.labels, minlength=10), torch.full((10,), 3))  # balanced


@pytest.mark.parametrize("split", ["train", "test"])
def test_distinct_default_splits_are_balanced(split):
    setting = BUILTIN_SETTINGS["distinct-v2"]
    labels = builtin_maker(split, 8, seed=0, setting=setting).main_systems(np.arange(setting.split_size(split, None)))
    counts = np.bincount(labels, minlength=setting.num_classes)
    assert len(counts) == setting.num_classes and np.all(counts == counts[0])


def test_distinct_pool_is_20x_the_labelled_split_and_mixes_in_distractors():
    setting = BUILTIN_SETTINGS["distinct-v2"]
    assert setting.num_unlabelled >= 20 * setting.num_train and setting.max_train * 20 <= setting.num_unlabelled
    ids = builtin_maker("unlabelled", 8, seed=0, setting=setting).main_systems(np.arange(2000))
    task = ids < setting.num_classes
    assert abs(task.mean() - setting.task_fraction) < 0.05  # the task's classes and other systems
    assert len(np.unique(ids[task])) == setting.num_classes
    assert ids.max() < setting.num_classes + setting.num_distractors
    assert len(np.unique(ids[~task])) > setting.num_distractors // 2


def test_distinct_classes_are_fixed_distinct_and_visible():
    setting = BUILTIN_SETTINGS["distinct-v2"]
    classes, distractors = setting_systems(setting)
    assert len(classes) == setting.num_classes and len(distractors) == setting.num_distractors
    systems = classes + distractors
    assert all(not np.array_equal(a, b) for i, a in enumerate(systems) for b in systems[i + 1:])
    lo, hi = setting.coverage
    assert all(lo <= box_coverage(s) <= hi for s in classes)


def test_load_dataset_routes_the_setting_and_records_it():
    data = load_dataset("builtin", "train", image_size=16, seed=0, num_samples=10, setting="distinct-v2")
    assert data.info["setting"] == "distinct-v2" and data.info["generator"]["num_train"] == 2000
    assert "setting" not in load_dataset("builtin", "train", image_size=16, seed=0, num_samples=10).info


def test_distinct_cache_round_trip_is_separate_from_siblings(tmp_path, monkeypatch):
    first = load_builtin("test", 16, seed=0, num_samples=10, setting="distinct-v2")
    load_builtin("test", 16, seed=0, num_samples=10)  # siblings-v1: a file of its own
    assert len(list((tmp_path / "cache" / "generated").glob("builtin-test-16px-*.pt"))) == 2
    monkeypatch.setattr(builtin, "generate_all", lambda *a, **k: pytest.fail("generated instead of read"))
    second = load_builtin("test", 16, seed=0, num_samples=10, setting="distinct-v2")
    assert torch.equal(first.images, second.images) and first.info == second.info


def test_a_setting_object_can_be_passed():
    custom = replace(BUILTIN_SETTINGS["distinct-v2"], max_clutter=0)
    data = load_builtin("train", 16, seed=0, num_samples=10, cache=False, setting=custom)
    assert data.info["setting"] == "custom" and data.info["generator"]["max_clutter"] == 0


# ---- bad inputs: a clear ValueError naming the parameter, before anything is generated ---------------

@pytest.fixture
def no_generation(monkeypatch):
    monkeypatch.setattr(builtin, "generate_all", lambda *a, **k: pytest.fail("generated before checking"))


def test_unknown_setting_raises(no_generation):
    with pytest.raises(ValueError, match=r"setting='stl10-like' is not a built-in setting; allowed: \['siblings-v1'"):
        load_builtin("train", 32, 0, setting="stl10-like")
    with pytest.raises(ValueError, match="setting='nope'"):
        load_dataset("builtin", "train", image_size=32, setting="nope")


def test_labelled_split_larger_than_the_setting_allows_raises(no_generation):
    setting = BUILTIN_SETTINGS["distinct-v2"]
    too_many = setting.max_train + 1
    with pytest.raises(ValueError, match=rf"num_samples={too_many} for split 'train'.*at most {setting.max_train:,}"):
        load_builtin("train", 32, 0, num_samples=too_many, setting="distinct-v2")


def test_test_and_pool_splits_may_be_larger_than_their_defaults():
    small = replace(BUILTIN_SETTINGS["distinct-v2"], num_unlabelled=100, num_train=5, num_test=5)
    for split in ("test", "unlabelled"):  # more test or pool images than the defaults are fine
        assert len(load_builtin(split, 8, 0, num_samples=101, cache=False, setting=small)) == 101


@pytest.mark.parametrize("kwargs,message", [
    (dict(num_unlabelled=500, num_train=1000), r"num_unlabelled=500: the pool must hold at least"),
    (dict(num_unlabelled=10_000, num_train=1000), r"num_unlabelled=10000.*min_pool_ratio=20 x num_train=1000"),
    (dict(min_pool_ratio=0.5), r"min_pool_ratio=0.5; allowed: a number >= 1"),
    (dict(num_train=0), r"num_train=0; allowed: an int >= 1"),
    (dict(object_size=(0.9, 0.5)), r"object_size=\(0.9, 0.5\); allowed: 0 < low <= high"),
    (dict(task_fraction=1.5), r"task_fraction=1.5; allowed: a number in \[0, 1\]"),
])
def test_bad_setting_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DistinctSetting(**kwargs)


def test_the_pool_may_not_be_smaller_than_the_labelled_split_in_any_setting():
    with pytest.raises(ValueError, match="num_unlabelled=100"):
        BuiltinSetting(num_unlabelled=100, num_train=200, min_pool_ratio=1)
    with pytest.raises(ValueError, match="num_unlabelled=100"):
        SiblingsSetting(num_unlabelled=100)
