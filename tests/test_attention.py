import pytest
import torch

from mae_study.masking import sample_mask
from mae_study.models import (MAEEncoder, ModelSpec, attention_maps, build_model, forward_with_attention,
                              mae_config, recording_attention)


def _vit():
    torch.manual_seed(0)
    return build_model(ModelSpec("vit_tiny_patch16_224", 10, 32, patch_size=8, kwargs={"depth": 2})).eval()


def _mae_encoder():
    torch.manual_seed(0)
    return MAEEncoder(mae_config("ci_16")).eval()


MODELS = {"vit": (_vit, 32, 8), "mae": (_mae_encoder, 16, 4)}  # builder, img_size, patch_size


def _reference(blocks, x):
    """softmax(q k^T / sqrt(d)) by hand from each block's qkv weights, on the block's normed input."""
    maps = []
    for blk in blocks:
        h = blk.norm1(x)  # (N, T, D)
        N, T, D = h.shape
        H = blk.attn.num_heads
        W, b = blk.attn.qkv.weight, blk.attn.qkv.bias
        q = torch.nn.functional.linear(h, W[:D], b[:D]).view(N, T, H, D // H).transpose(1, 2)
        k = torch.nn.functional.linear(h, W[D:2 * D], b[D:2 * D]).view(N, T, H, D // H).transpose(1, 2)
        maps.append(torch.softmax(q @ k.transpose(-2, -1) / (D // H) ** 0.5, dim=-1))
        x = blk(x)
    return maps


def _tokens(model, imgs):
    if isinstance(model, MAEEncoder):
        return model.with_cls(model.embed(imgs))
    return model.norm_pre(model._pos_embed(model.patch_embed(imgs)))


@pytest.mark.parametrize("kind", MODELS)
def test_maps_equal_a_recomputation_from_q_and_k(kind):
    build, size, patch = MODELS[kind]
    model, imgs = build(), torch.randn(2, 3, size, size)
    maps = attention_maps(model, imgs)
    with torch.no_grad():
        expected = _reference(model.blocks, _tokens(model, imgs))
    T = 1 + (size // patch) ** 2  # CLS + L
    assert len(maps) == len(model.blocks)
    for got, want, blk in zip(maps, expected, model.blocks):
        assert got.shape == (2, blk.attn.num_heads, T, T)
        assert torch.allclose(got, want, atol=1e-5)
        assert torch.allclose(got.sum(-1), torch.ones(2, blk.attn.num_heads, T), atol=1e-5)


def test_maps_times_values_give_the_fused_attention_output():
    model, imgs = _vit(), torch.randn(2, 3, 32, 32)
    blk = model.blocks[0]
    h = blk.norm1(_tokens(model, imgs)).detach()
    with recording_attention(model, [0]) as maps:
        out = blk.attn(h)  # fused path
    N, T, D = h.shape
    v = blk.attn.qkv(h)[..., 2 * D:].view(N, T, blk.attn.num_heads, -1).transpose(1, 2)
    plain = blk.attn.proj((maps[0] @ v).transpose(1, 2).reshape(N, T, D))
    assert torch.allclose(out, plain, atol=1e-5)


def test_layers_pick_blocks_in_the_order_asked():
    model, imgs = _vit(), torch.randn(2, 3, 32, 32)
    every = attention_maps(model, imgs)
    last, first = attention_maps(model, imgs, layers=[-1, 0])
    assert torch.equal(last, every[-1]) and torch.equal(first, every[0])


def test_grad_maps_backpropagate_into_q_and_k_only():
    model, imgs = _vit().train(), torch.randn(2, 3, 32, 32)
    assert not attention_maps(model, imgs)[0].requires_grad
    maps = attention_maps(model, imgs, layers=[-1], grad=True)
    maps[0][:, :, 0, 1:].pow(2).sum().backward()  # e.g. a loss on the CLS row
    grad, D = model.blocks[-1].attn.qkv.weight.grad, model.embed_dim
    assert grad[:2 * D].abs().sum() > 0  # q and k rows
    assert torch.equal(grad[2 * D:], torch.zeros_like(grad[2 * D:]))  # the maps do not depend on v


def test_forward_with_attention_leaves_the_model_unchanged():
    model, imgs = _vit(), torch.randn(2, 3, 32, 32)
    before = model(imgs)
    logits, maps = forward_with_attention(model, imgs, layers=[1])
    assert torch.equal(logits, before) and len(maps) == 1
    assert torch.equal(model(imgs), before)
    for blk in model.blocks:  # hooks removed
        assert not blk.attn._forward_pre_hooks and not blk.attn.qkv._forward_hooks


def test_recording_a_masked_mae_forward():
    model, imgs = _mae_encoder(), torch.randn(2, 3, 16, 16)
    masking = sample_mask(2, 4, 0.75, "random", torch.Generator().manual_seed(0))
    with torch.no_grad(), recording_attention(model, [0]) as maps:
        model.forward_masked(imgs, masking)
    K = masking.ids_keep.shape[1]
    assert maps[0].shape == (2, model.cfg.num_heads, 1 + K, 1 + K)


@pytest.mark.parametrize("layers", [[2], [-3], 0, [0.5]])
def test_bad_layers_are_an_error(layers):
    with pytest.raises(ValueError, match="layers"):
        attention_maps(_vit(), torch.randn(1, 3, 32, 32), layers=layers)


def test_a_model_without_attention_blocks_is_an_error():
    resnet = build_model(ModelSpec("resnet18", 10, 32, small_stem=True))
    with pytest.raises(ValueError, match="model must be"):
        attention_maps(resnet, torch.randn(1, 3, 32, 32))
