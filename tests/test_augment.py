"""Augmentations: shapes, ranges, determinism for a seed, and a process's rows drawn as in one process."""
import random

import numpy as np
import pytest
import torch

from mae_study.data.base import ImageTensorDataset
from mae_study.train.augment import Flip, Mixup, MultiCrop, RandomResizedCrop, crop_boxes
from mae_study.train.batch import BatchMaker, Draws, prepare


def _images(n=8, side=16):
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _draws(seed, n=8, rows=None):
    return Draws(torch.Generator().manual_seed(seed), n, rows)


def test_flip_is_todays_prepare():
    """`Flip` draws one uniform per image of the global batch, as `prepare` always did."""
    images = _images()
    flips = torch.rand(8, generator=torch.Generator().manual_seed(3)) < 0.5
    expected = images.clone()
    expected[flips] = expected[flips].flip(-1)
    assert torch.equal(Flip()(images, _draws(3))[0], expected)
    data = ImageTensorDataset(images, torch.zeros(8, dtype=torch.long), 1, "tiny", "train")
    imgs, _ = prepare(data, torch.arange(8), "cpu", torch.Generator().manual_seed(3))
    assert torch.equal(imgs, data.normalize(expected))


def test_crop_boxes_lie_inside_the_image_with_areas_in_scale():
    boxes = crop_boxes(_draws(0, 500), 32, 24, (0.2, 0.6), (3 / 4, 4 / 3))  # (500, 4) top, left, h, w
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 32).all() and (left + w <= 24).all()
    area = (h * w).double() / (32 * 24)
    assert area.min() > 0.15 and area.max() < 0.7  # the scale range, up to the rounding of sides
    assert len(set(map(tuple, boxes.tolist()))) > 400  # boxes differ between images


def test_impossible_scale_falls_back_to_the_centre_crop():
    boxes = crop_boxes(_draws(0, 4), 16, 16, (1.0, 1.0), (2.0, 3.0))  # a full-area box of ratio >= 2 never fits
    assert boxes.tolist() == [[4, 0, 8, 16]] * 4  # the centre box of ratio 2


@pytest.mark.parametrize("augment", [RandomResizedCrop(), RandomResizedCrop(12, color_jitter=0.4),
                                     RandomResizedCrop(rand_augment="rand-m9-mstd0.5-inc1"),
                                     MultiCrop(num_local=3, color_jitter=0.4)])
def test_deterministic_for_a_seed_different_across_seeds_and_rows_as_in_one_process(augment):
    images = _images()
    a, b, c = augment(images, _draws(1)), augment(images, _draws(1)), augment(images, _draws(2))
    assert len(a) == augment.num_views and all(v.dtype == torch.uint8 for v in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    part = augment(images[4:], _draws(1, rows=slice(4, 8)))  # a second process's rows
    assert all(torch.equal(x[4:], y) for x, y in zip(a, part))


def test_multicrop_views_global_first_at_dino_sizes():
    views = MultiCrop(num_local=4, global_size=32, local_size=12)(_images(2, 40), _draws(0, 2))
    assert [tuple(v.shape[-2:]) for v in views] == [(32, 32)] * 2 + [(12, 12)] * 4
    assert MultiCrop().global_scale == (0.4, 1.0) and MultiCrop().local_scale == (0.05, 0.4)
    default = MultiCrop(num_local=1)(_images(2, 224), _draws(0, 2))
    assert [v.shape[-1] for v in default] == [224, 224, 96]


def test_rand_augment_leaves_the_global_random_state_alone():
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    RandomResizedCrop(rand_augment="rand-m9-mstd0.5-inc1")(_images(), _draws(0))
    Mixup()([torch.randn(8, 3, 16, 16)], torch.arange(8) % 4, "class", 4, torch.Generator().manual_seed(0))
    assert (random.random(), np.random.rand()) == expected


def test_mixup_soft_targets_deterministic_and_rows_as_in_one_process():
    images, labels = _images(), torch.arange(8) % 4
    data = ImageTensorDataset(images, labels, 4, "tiny", "train")
    idx = torch.arange(8)

    def make(rows, seed=0):
        m = BatchMaker(None, Mixup(prob=1.0), data.mean, data.std, 4, 8, rows)
        return m(idx, images, labels, torch.Generator().manual_seed(seed))

    one, again, other = make(None), make(None), make(None, seed=1)
    assert one.target_kind == "soft" and one.labels.shape == (8, 4)
    assert torch.allclose(one.labels.sum(1), torch.ones(8))
    assert torch.equal(one.imgs, again.imgs) and torch.equal(one.labels, again.labels)
    assert not torch.equal(one.imgs, other.imgs)
    two = make(slice(4, 8))  # a process loads the whole batch (Mixup pairs i with 7 - i), keeps its rows
    assert torch.equal(two.imgs, one.imgs[4:]) and torch.equal(two.labels, one.labels[4:])
    assert torch.equal(two.indices, idx[4:])


def test_mixup_of_multi_hot_targets_stays_multi_label():
    targets = (torch.rand(8, 5, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    _, mixed, kind = Mixup(label_smoothing=0.0)([torch.randn(8, 3, 8, 8)], targets, "multi_hot", 5,
                                                torch.Generator().manual_seed(0))
    assert kind == "multi_hot" and mixed.shape == (8, 5) and (mixed >= 0).all() and (mixed <= 1).all()


@pytest.mark.parametrize("make, match", [(lambda: RandomResizedCrop(scale=(0.5, 0.2)), "scale must be"),
                                         (lambda: RandomResizedCrop(size=0), "size must be"),
                                         (lambda: RandomResizedCrop(color_jitter=2.0), "color_jitter must be"),
                                         (lambda: RandomResizedCrop(rand_augment="m9"), "rand_augment must be"),
                                         (lambda: MultiCrop(num_local=-1), "num_local must be"),
                                         (lambda: MultiCrop(local_scale=(0.0, 1.5)), "scale must be"),
                                         (lambda: Mixup(mixup_alpha=0, cutmix_alpha=0), "mixup_alpha"),
                                         (lambda: Mixup(label_smoothing=1.5), "label_smoothing")])
def test_bad_augment_parameters_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
