import pytest
import torch

from mae_study.masking import (SAMPLINGS, bayer_order, num_visible, patchify, sample_mask,
                               unpatchify)


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("grid", [4, 7, 8, 16])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.75, 0.9, 0.95])
def test_exact_kept_count_and_unshuffle(sampling, grid, ratio):
    N, L = 5, grid * grid
    g = torch.Generator().manual_seed(1)
    m = sample_mask(N, grid, ratio, sampling, g)
    K = num_visible(L, ratio)
    assert m.ids_keep.shape == (N, K)
    assert torch.all(m.mask.sum(1) == L - K)
    # the kept ids are exactly the unmasked positions
    for n in range(N):
        assert set(m.ids_keep[n].tolist()) == set(torch.nonzero(m.mask[n] == 0).flatten().tolist())
    # ids_restore unshuffles: [visible, masked] sequence back into patch order
    x = torch.arange(L).float().expand(N, L)
    ids_shuffle = torch.argsort(m.ids_restore, dim=1)
    shuffled = torch.gather(x, 1, ids_shuffle)
    assert torch.equal(torch.gather(shuffled, 1, m.ids_restore), x)
    assert torch.equal(shuffled[:, :K].sort(1).values, m.ids_keep.float().sort(1).values)


def test_rounding_is_half_up_and_at_least_one():
    assert num_visible(64, 0.75) == 16
    assert num_visible(10, 0.75) == 3      # 2.5 rounds up
    assert num_visible(16, 0.99) == 1      # never zero visible
    assert num_visible(256, 0.9) == 26     # 25.6 -> 26


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "0.5", None])
def test_bad_mask_ratio_rejected(bad):
    with pytest.raises(ValueError, match="mask_ratio"):
        sample_mask(2, 4, bad)


def test_unknown_sampling_rejected():
    with pytest.raises(ValueError, match="sampling must be one of"):
        sample_mask(2, 4, 0.5, "checkerboard")


def test_random_masking_is_deterministic_for_a_generator_and_differs_across_seeds():
    a = sample_mask(4, 8, 0.75, "random", torch.Generator().manual_seed(3)).mask
    b = sample_mask(4, 8, 0.75, "random", torch.Generator().manual_seed(3)).mask
    c = sample_mask(4, 8, 0.75, "random", torch.Generator().manual_seed(4)).mask
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # per-sample masks


def test_grid_at_75_percent_keeps_one_of_every_2x2():
    m = sample_mask(1, 8, 0.75, "grid").mask.view(8, 8)
    for i in range(0, 8, 2):
        for j in range(0, 8, 2):
            assert m[i:i + 2, j:j + 2].sum() == 3
    assert sorted(bayer_order(4).tolist()) == list(range(16))


def test_block_masks_are_contiguous_more_than_random():
    """Block masking should put masked patches next to masked patches far more often."""
    def neighbour_agreement(mask):
        m = mask.view(-1, 16, 16)
        return ((m[:, 1:] == m[:, :-1]).float().mean() + (m[:, :, 1:] == m[:, :, :-1]).float().mean()) / 2
    g = torch.Generator().manual_seed(0)
    block = sample_mask(8, 16, 0.5, "block", g).mask
    rand = sample_mask(8, 16, 0.5, "random", g).mask
    assert neighbour_agreement(block) > neighbour_agreement(rand) + 0.15


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_patchify_roundtrip_any_channels(channels):
    imgs = torch.randn(2, channels, 12, 12)
    p = patchify(imgs, 4)
    assert p.shape == (2, 9, 16 * channels)
    assert torch.equal(unpatchify(p, 4, channels), imgs)
    # patch 1 (row 0, col 1) holds the pixels of columns 4..7
    assert torch.equal(p[0, 1].view(4, 4, channels).permute(2, 0, 1), imgs[0, :, 0:4, 4:8])


def test_patch_size_must_divide_image():
    with pytest.raises(ValueError, match="patch_size 5 must divide"):
        patchify(torch.randn(1, 3, 12, 12), 5)
