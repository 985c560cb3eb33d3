import math

import pytest
import torch

from mae_study.models import ModelSpec, attention_maps, build_model
from mae_study.train.kd import (attention_confidence, attention_distance, head_attention,
                          mean_attention_distance_per_layer, patch_distances, select_head)


def _random_maps(seed, n=2, h=3, t=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, h, t, t, generator=g).mul(3).softmax(-1)


def _with_cls(patch_map, cls_weight=0.0):
    """(H, L, L) patch attention -> (1, H, 1 + L, 1 + L) with a uniform CLS query row and
    ``cls_weight`` of every patch query's weight on the CLS key."""
    H, L, _ = patch_map.shape
    attn = torch.zeros(1, H, L + 1, L + 1)
    attn[0, :, 0] = 1 / (L + 1)
    attn[0, :, 1:, 0] = cls_weight
    attn[0, :, 1:, 1:] = (1 - cls_weight) * patch_map
    return attn


def test_confidence_of_one_hot_maps_is_one_and_of_uniform_maps_one_over_keys():
    T = 5
    one_hot = torch.eye(T)[torch.tensor([1, 2, 3, 4, 1])].expand(2, 3, T, T)  # every query onto a patch
    assert torch.allclose(attention_confidence(one_hot, include_cls=True), torch.ones(3))
    assert torch.allclose(attention_confidence(one_hot, include_cls=False), torch.ones(3))
    uniform = torch.full((2, 3, T, T), 1 / T)
    assert torch.allclose(attention_confidence(uniform, include_cls=True), torch.full((3,), 1 / T))
    assert torch.allclose(attention_confidence(uniform, include_cls=False), torch.full((3,), 1 / (T - 1)))


def test_confidence_is_the_max_over_keys_averaged_over_queries_then_images():
    attn = _random_maps(0)
    assert torch.allclose(attention_confidence(attn), attn.max(-1).values.mean(-1).mean(0))
    sharp, flat = torch.eye(4).expand(1, 2, 4, 4), torch.full((1, 2, 4, 4), 0.25)
    both = torch.cat([sharp, flat])  # image 0 confident (1), image 1 uniform (1/4)
    assert torch.allclose(attention_confidence(both), torch.full((2,), (1 + 0.25) / 2))


def test_select_head_max_random_mean_and_fixed():
    conf = torch.tensor([0.2, 0.9, 0.4])
    assert select_head(conf, "max") == 1
    draws = [select_head(conf, "random", torch.Generator().manual_seed(s)) for s in range(20)]
    assert draws == [select_head(conf, "random", torch.Generator().manual_seed(s)) for s in range(20)]
    assert set(draws) == {0, 1, 2}
    assert select_head(conf, "mean") == "mean"
    assert select_head(conf, 2) == 2
    with pytest.raises(ValueError, match="3 heads"):
        select_head(conf, 3)
    with pytest.raises(ValueError, match="strategy"):
        select_head(conf, "best")


def test_head_attention_picks_a_head_or_the_mean_and_refuses_missing_heads():
    attn = _random_maps(1)
    assert torch.equal(head_attention(attn, 2), attn[:, 2])
    assert torch.allclose(head_attention(attn, "mean"), attn.mean(1))
    with pytest.raises(ValueError, match="3 heads"):
        head_attention(attn, 5)


def _horizontal_neighbour(gh=2, gw=2):
    """Every patch attends only to the next patch of its row (the last column to the previous one)."""
    L = gh * gw
    attn = torch.zeros(L, L)
    for i in range(L):
        r, c = divmod(i, gw)
        attn[i, r * gw + (c + 1 if c + 1 < gw else c - 1)] = 1.0
    return attn


@pytest.mark.parametrize("cls_weight", [0.0, 0.5])
def test_attention_distance_of_hand_made_maps(cls_weight):
    p = 16
    maps = torch.stack([torch.eye(4),                 # self: 0
                        _horizontal_neighbour(),      # right / left neighbour: one patch
                        torch.eye(4).flip(0),         # the diagonal opposite: sqrt(2) patches
                        torch.full((4, 4), 0.25)])    # uniform: (0 + 1 + 1 + sqrt 2) / 4 patches
    got = attention_distance(_with_cls(maps, cls_weight), grid_size=2, patch_size=p)
    want = torch.tensor([0.0, p, math.sqrt(2) * p, (2 + math.sqrt(2)) / 4 * p], dtype=got.dtype)
    assert torch.allclose(got, want)


def test_attention_distance_on_a_rectangular_grid_without_cls():
    attn = torch.zeros(1, 1, 3, 3)
    attn[0, 0, :, 2] = 1.0  # (1, 3) grid: every query onto the last patch
    got = attention_distance(attn, grid_size=(1, 3), patch_size=8)
    assert torch.allclose(got, torch.tensor([(16 + 8 + 0) / 3], dtype=got.dtype))
    assert torch.allclose(patch_distances((2, 3), 1)[0, 5], torch.tensor(math.sqrt(5), dtype=torch.float64))
    with pytest.raises(ValueError, match="fewer than"):
        attention_distance(attn, grid_size=2, patch_size=8)


def test_mean_attention_distance_per_layer_infers_the_grid_and_keeps_heads():
    local = _with_cls(torch.stack([torch.eye(4), _horizontal_neighbour()]))  # (1, 2, 5, 5)
    far = _with_cls(torch.stack([torch.eye(4).flip(0)] * 2))
    got = mean_attention_distance_per_layer([local, far], patch_size=4)
    assert got.shape == (2, 2)
    assert torch.allclose(got, torch.tensor([[0.0, 4.0], [4 * math.sqrt(2)] * 2], dtype=got.dtype))
    with pytest.raises(ValueError, match="square grid"):
        mean_attention_distance_per_layer([torch.full((1, 1, 6, 6), 1 / 6)])


def test_attention_distance_of_a_real_vit_is_within_the_image():
    torch.manual_seed(0)
    vit = build_model(ModelSpec("vit_tiny_patch16_224", 4, 32, patch_size=8, kwargs={"depth": 2})).eval()
    maps = attention_maps(vit, torch.randn(2, 3, 32, 32))
    mad = mean_attention_distance_per_layer(maps, patch_size=8)
    assert mad.shape == (2, 3)
    assert (mad >= 0).all() and (mad <= 8 * 3 * math.sqrt(2)).all()
