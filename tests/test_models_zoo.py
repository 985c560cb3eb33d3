import json

import pytest
import torch

from mae_study.models import MAE_CONFIGS, MAEEncoder, ModelSpec, build_model, load_backbone, mae_config, num_trainable

TINY_VIT = dict(arch="vit_tiny_patch16_224", img_size=32, patch_size=8, kwargs={"depth": 2})
SMALL_RESNET = dict(arch="resnet18", img_size=32, small_stem=True)
MAE_CI = dict(arch="ci_16", img_size=16)
DEPTH = {"vit": 2, "resnet": 4, "mae": MAE_CONFIGS["ci_16"].depth}  # stages that partial-k counts
ARCHS = {"vit": TINY_VIT, "resnet": SMALL_RESNET, "mae": MAE_CI}


def _build(kind: str, num_classes: int = 10, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return build_model(ModelSpec(num_classes=num_classes, **{**ARCHS[kind], **kw}))


def _trained(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("arch, millions", [("deit_small_patch16_224", 22.0), ("resnet50", 25.6)])
def test_parameter_counts_match_the_papers(arch, millions):
    model = build_model(ModelSpec(arch, num_classes=1000, img_size=224))  # construction only
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(millions * 1e6, rel=0.01)


def test_output_shapes_at_32_px():
    imgs = torch.randn(2, 3, 32, 32)
    vit = build_model(ModelSpec("vit_tiny_patch16_224", 10, 32, patch_size=4, kwargs={"depth": 1}))
    assert vit(imgs).shape == (2, 10)
    assert vit.forward_features(imgs).shape[1] == 1 + (32 // 4) ** 2  # CLS + L tokens
    resnet = _build("resnet").eval()
    features = resnet.forward_features(imgs[:1])
    assert features.shape[-2:] == (4, 4)  # stride 1 stem: 32 / 8
    assert resnet.forward_head(features).shape == (1, 10)
    plain = build_model(ModelSpec("resnet18", 10, 32)).eval()
    assert plain.forward_features(imgs[:1]).shape[-2:] == (1, 1)  # ImageNet stem: 32 / 32
    assert _build("mae")(torch.randn(2, 3, 16, 16)).shape == (2, 10)


@pytest.mark.parametrize("kind", ["vit", "resnet", "mae"])
@pytest.mark.parametrize("mode", ["full", "linear", "partial-1", "partial-2"])
def test_modes_train_exactly_the_named_parts(kind, mode):
    model = _build(kind, mode=mode)
    names = {n for n, _ in model.named_parameters()}
    head, final = {"vit": ("head.", ("norm.",)), "resnet": ("fc.", ()),
                   "mae": ("head.", ("encoder.norm.",))}[kind]
    stage = {"vit": "blocks.{}.", "resnet": "layer{}.", "mae": "encoder.blocks.{}."}[kind]
    first = 1 if kind == "resnet" else 0  # ResNet stages are layer1..layer4
    if mode == "full":
        expected = names
    else:
        k = 0 if mode == "linear" else int(mode.split("-")[1])
        last = tuple(stage.format(first + i) for i in range(DEPTH[kind] - k, DEPTH[kind]))
        expected = {n for n in names if n.startswith((head,) + last + (final if k else ()))}
    assert _trained(model) == expected
    assert num_trainable(model) == sum(p.numel() for n, p in model.named_parameters() if n in expected)


def test_frozen_resnet_stages_keep_their_statistics():
    model = _build("resnet", mode="partial-1").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model(torch.randn(2, 3, 16, 16))
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"layer4"}  # running statistics move only in the trained stage


@pytest.mark.parametrize("kind, mode", [("resnet", "partial-5"), ("vit", "partial-3"), ("mae", "partial-3")])
def test_mode_beyond_the_architecture_is_an_error(kind, mode):
    with pytest.raises(ValueError, match=rf"mode.*k <= {DEPTH[kind]}"):
        _build(kind, mode=mode)


def test_weights_from_a_local_file(tmp_path):
    source = _build("vit", seed=1)
    path = tmp_path / "vit.pt"
    torch.save(source.state_dict(), path)
    same = _build("vit", weights=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key
    other = _build("vit", num_classes=7, weights=str(path))
    assert other.head.weight.shape == (7, 192)  # fresh head for other classes ...
    assert torch.equal(other.blocks[1].attn.qkv.weight, source.blocks[1].attn.qkv.weight)  # ... same body
    larger = _build("vit", num_classes=7, img_size=64, weights=str(path))
    assert larger.pos_embed.shape[1] == 1 + (64 // 8) ** 2  # resampled by timm
    assert torch.equal(larger.pos_embed[:, 0], source.pos_embed[:, 0])  # the CLS slot is kept


def test_small_stem_weights_load_strictly(tmp_path):
    source = _build("resnet", seed=1)
    torch.save(source.state_dict(), tmp_path / "r.pt")
    model = _build("resnet", num_classes=5, mode="linear", weights=str(tmp_path / "r.pt"))
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)


@pytest.mark.parametrize("kwargs, match", [({"depth": 2, "embed_dim": 96, "num_heads": 3}, "size mismatch"),
                                           ({"depth": 3}, "blocks.2")])
@pytest.mark.parametrize("num_classes", [10, 7])  # strict load by timm, or head dropped (non-strict)
def test_weights_that_do_not_fit_are_an_error(tmp_path, kwargs, match, num_classes):
    torch.save(_build("vit").state_dict(), tmp_path / "vit.pt")
    with pytest.raises(ValueError, match=rf"weights .*vit.pt.*{match}"):
        _build("vit", num_classes=num_classes, kwargs=kwargs, weights=str(tmp_path / "vit.pt"))


def test_weights_under_other_names_are_an_error(tmp_path):
    state = {f"backbone.{k}": v for k, v in _build("vit").state_dict().items()}
    torch.save(state, tmp_path / "dino.pt")
    with pytest.raises(ValueError, match="weights .* leave .* at initialisation"):
        _build("vit", num_classes=7, weights=str(tmp_path / "dino.pt"))


def test_mae_weights_are_an_encoder_state_dict(tmp_path):
    torch.manual_seed(1)
    encoder = MAEEncoder(mae_config("ci_16"))
    torch.save(encoder.state_dict(), tmp_path / "encoder.pt")
    model = _build("mae", weights=str(tmp_path / "encoder.pt"))
    assert torch.equal(model.encoder.blocks[0].attn.qkv.weight, encoder.blocks[0].attn.qkv.weight)
    torch.save(MAEEncoder(mae_config("ci_16", embed_dim=64)).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(ValueError, match="weights .*wide.pt.*shapes"):
        _build("mae", weights=str(tmp_path / "wide.pt"))


@pytest.mark.parametrize("kind", ["vit", "resnet", "mae"])
def test_load_backbone_leaves_only_the_head_fresh(kind):
    source = _build(kind, num_classes=5, seed=1)
    size = 16 if kind == "resnet" else ARCHS[kind]["img_size"]
    source(torch.randn(2, 3, size, size))  # move BatchNorm statistics
    model = _build(kind, num_classes=10, mode="linear")  # another head, frozen BatchNorms
    fresh = load_backbone(model, source)
    head = {"vit": ("head.",), "resnet": ("fc.",), "mae": ("head.", "head_norm.")}[kind]
    assert "fc.weight" in fresh or "head.weight" in fresh
    assert all(k.startswith(head) for k in fresh)
    src = source.state_dict()
    for key, value in model.state_dict().items():
        if key not in fresh and not key.endswith("num_batches_tracked"):
            assert torch.equal(value, src[key]), key


def test_load_backbone_of_another_architecture_is_an_error():
    with pytest.raises(ValueError, match=r"state_dict .*blocks\.2"):
        load_backbone(_build("vit", kwargs={"depth": 3}), _build("vit"))


def test_spec_round_trips_through_json():
    spec = ModelSpec(num_classes=10, mode="partial-1", **TINY_VIT)
    assert spec.kwargs == (("depth", 2),)
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("fields, name", [
    (dict(arch="deit_smal_patch16_224", img_size=32), r"arch .*deit_small_patch16_224"),  # close match
    (dict(arch="vit_base_patch16_224.nope", img_size=224), r"arch .*tag.*\.dino"),
    (dict(arch="tiny32", img_size=32), r"arch .*tiny_32"),
    (dict(arch="convnext_tiny", img_size=32), "arch"),
    (dict(arch="vit_tiny_patch16_224", img_size=32, patch_size=5), "patch_size 5"),
    (dict(arch="resnet18", img_size=32, patch_size=4), "patch_size"),
    (dict(arch="vit_tiny_patch16_224", img_size=32, small_stem=True), "small_stem"),
    (dict(arch="ci_16", img_size=16, small_stem=True), "small_stem"),
    (dict(arch="resnet18", img_size=32, mode="half"), "mode"),
    (dict(arch="resnet18", img_size=32, pool="cls"), "pool"),
    (dict(arch="resnet18", img_size=0), "img_size"),
])
def test_bad_spec_is_an_error(fields, name):
    with pytest.raises(ValueError, match=name):
        ModelSpec(num_classes=10, **fields)


@pytest.mark.parametrize("fields, name", [
    (dict(arch="vit_tiny_patch16_224", img_size=40, kwargs={"depth": 1}), "patch_size 16"),  # the default patch
    (dict(arch="vit_tiny_patch16_224", img_size=32, patch_size=8, kwargs={"deep": 2}), "kwargs"),
    (dict(arch="resnet18", img_size=32, weights="/no/such/file.pt"), "weights.*/no/such/file.pt"),
])
def test_bad_build_is_an_error(fields, name):
    with pytest.raises(ValueError, match=name):
        build_model(ModelSpec(num_classes=10, **fields))


def test_unknown_spec_field_is_an_error():
    with pytest.raises(ValueError, match="depth"):
        ModelSpec.from_dict({"arch": "resnet18", "num_classes": 10, "img_size": 32, "depth": 2})
