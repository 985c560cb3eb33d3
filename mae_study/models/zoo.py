"""Every classifier of the study by name, from a small spec that a run saves with its config.

    spec = ModelSpec("deit_small_patch16_224", num_classes=10, img_size=32, patch_size=4)
    model = build_model(spec)               # forward(imgs (N, C, H, W)) -> logits (N, num_classes)
    run.write_config({"model": spec.to_dict(), ...})
    model = build_model(ModelSpec.from_dict(config["model"]))

`arch` is an MAE encoder configuration (`MAE_CONFIGS`; the classifier is `MAEClassifier`), a
timm ViT/DeiT (``vit_tiny_patch16_224``, ``vit_base_patch16_224.dino``, ...) or a timm ResNet
(``resnet18``, ``resnet50``, ...). Fine-tuning modes and backbone loading are in `adapt.py`.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn as nn
from timm.models import load_state_dict as timm_load_state_dict
from timm.models.vision_transformer import checkpoint_filter_fn

from mae_study.models.adapt import apply_mode, head_keys, head_names, load_matching
from mae_study.models.classifier import MAEClassifier
from mae_study.models.mae import MAE_CONFIGS, MAEEncoder, mae_config

# timm modules whose models this study builds, by family
TIMM_FAMILIES = {"vit": ("vision_transformer", "deit"), "resnet": ("resnet",)}
POOLS = {"vit": {"cls": "token", "mean": "avg"}, "resnet": {"mean": "avg"}}  # ours -> timm's global_pool


@dataclass(frozen=True)
class ModelSpec:
    arch: str                      # MAE_CONFIGS name, or a timm ViT/DeiT/ResNet name (with optional .tag)
    num_classes: int               # outputs of the head
    img_size: int                  # square input side, pixels
    patch_size: int | None = None  # transformer patch side; None = the architecture's own
    in_chans: int = 3              # input channels
    small_stem: bool = False       # ResNet only: 3x3 stride-1 conv, no max-pool (the CIFAR stem)
    pool: str | None = None        # "cls" or "mean" (transformers), "mean" (ResNets); None = own default
    mode: str = "full"             # "full", "linear" or "partial-k" (see `adapt.apply_mode`)
    weights: str | None = None     # local file of pre-trained weights (timm's names; MAE: encoder.pt)
    kwargs: tuple = ()             # more constructor arguments as (name, value) pairs, e.g. (("depth", 2),);
                                   # a dict is accepted and stored sorted

    def __post_init__(self) -> None:
        if isinstance(self.kwargs, Mapping):
            object.__setattr__(self, "kwargs", tuple(sorted(self.kwargs.items())))
        object.__setattr__(self, "kwargs", tuple(tuple(kv) for kv in self.kwargs))
        if any(len(kv) != 2 or not isinstance(kv[0], str) for kv in self.kwargs):
            raise ValueError(f"kwargs must be (name, value) pairs or a dict, got {self.kwargs!r}")
        for name in ("num_classes", "img_size", "in_chans") + (("patch_size",) if self.patch_size is not None else ()):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.patch_size is not None and self.img_size % self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} does not divide img_size {self.img_size}; "
                             f"allowed: a divisor of {self.img_size}")
        if not isinstance(self.small_stem, bool):
            raise ValueError(f"small_stem must be True or False, got {self.small_stem!r}")
        if not re.fullmatch(r"full|linear|partial-\d+", str(self.mode)):
            raise ValueError(f"mode must be 'full', 'linear' or 'partial-k', got {self.mode!r}")
        fam = family(self.arch)
        if self.small_stem and fam != "resnet":
            raise ValueError(f"small_stem=True is for ResNets only; arch {self.arch!r} is a {fam} model")
        if self.patch_size is not None and fam == "resnet":
            raise ValueError(f"patch_size must be None for the ResNet {self.arch!r}, got {self.patch_size}")
        allowed = ("cls", "mean") if fam in ("mae", "vit") else ("mean",)
        if self.pool is not None and self.pool not in allowed:
            raise ValueError(f"pool must be None or one of {allowed} for {self.arch!r}, got {self.pool!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: kwargs as a dict."""
        return {**asdict(self), "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """Inverse of `to_dict` (also after a JSON round trip)."""
        names = {f.name for f in fields(cls)}
        if set(d) - names:
            raise ValueError(f"unknown ModelSpec fields {sorted(set(d) - names)}; allowed: {sorted(names)}")
        return cls(**d)


def family(arch: str) -> str:
    """"mae", "vit" or "resnet"; a ValueError naming `arch` with close matches for anything else."""
    if arch in MAE_CONFIGS:
        return "mae"
    if timm.is_model(arch):
        fam = next((f for f, mods in TIMM_FAMILIES.items() if timm.models.is_model_in_modules(arch, mods)), None)
        if fam is None:
            raise ValueError(f"arch {arch!r} is a timm model but not a ViT/DeiT or ResNet "
                             f"(timm modules {sum(TIMM_FAMILIES.values(), ())}), nor an MAE config")
        try:
            timm.models.get_pretrained_cfg(arch)  # an unknown .tag raises here
        except RuntimeError:
            tags = timm.list_models(arch.split(".")[0], include_tags=True)
            raise ValueError(f"arch {arch!r}: unknown pretrained tag; allowed: {tags}") from None
        return fam
    known = list(MAE_CONFIGS) + [n for mods in TIMM_FAMILIES.values() for tags in (False, True)
                                 for n in timm.list_models(module=list(mods), include_tags=tags)]
    close = difflib.get_close_matches(arch, known, n=6)
    raise ValueError(f"unknown arch {arch!r}; close matches: {close}; MAE configs: {sorted(MAE_CONFIGS)}")


def build_model(spec: ModelSpec) -> nn.Module:
    """The classifier of `spec`, with its fine-tuning `mode` applied.

    With `weights`, a timm model is built by timm from that file
    (``pretrained_cfg_overlay=dict(file=...)``), which adapts the checkpoint to the spec: the head
    is loaded when its classes equal `num_classes`, else left fresh; a ViT's position embedding
    (and patch embedding) are resampled (bicubic) when `img_size` (or `patch_size`) differs from
    the checkpoint's. Every other backbone tensor must come from the file (checked: timm would
    silently skip keys under other names). With `small_stem`, a pre-trained 7x7 stem is replaced
    and starts fresh; a small-stem file (one of ours) is loaded strictly. For an MAE config,
    `weights` is an `MAEEncoder` state dict (a pre-training run's ``encoder.pt``).
    """
    fam = family(spec.arch)
    if spec.weights is not None and not Path(spec.weights).is_file():
        raise ValueError(f"weights: no such file {spec.weights!r}")
    model = _build_mae(spec) if fam == "mae" else _build_timm(spec, fam)
    return apply_mode(model, spec.mode)


def _build_mae(spec: ModelSpec) -> MAEClassifier:
    patch = {"patch_size": spec.patch_size} if spec.patch_size is not None else {}
    cfg = mae_config(spec.arch, img_size=spec.img_size, in_chans=spec.in_chans, **patch, **dict(spec.kwargs))
    encoder = MAEEncoder(cfg)
    if spec.weights is not None:
        load_matching(encoder, _read_weights(spec.weights), name=f"weights {spec.weights!r}")
    return MAEClassifier(encoder, spec.num_classes, pool=spec.pool or "cls", mode=spec.mode)


def _build_timm(spec: ModelSpec, fam: str) -> nn.Module:
    state = _read_weights(spec.weights) if spec.weights is not None else None
    if state is not None and spec.small_stem and state.get("conv1.weight", torch.empty(0)).shape[-1:] == (3,):
        # a small-stem checkpoint (one of ours), which timm would load into its 7x7 stem
        model = _build_timm(replace(spec, weights=None), fam)
        same_head = state.get("fc.weight", torch.empty(0)).shape[:1] == (spec.num_classes,)
        load_matching(model, state, name=f"weights {spec.weights!r}", skip=() if same_head else head_names(model))
        return model
    model = _create(spec, fam, state)
    if fam == "vit" and spec.img_size % model.patch_embed.patch_size[0]:
        raise ValueError(f"patch_size {model.patch_embed.patch_size[0]} (the default of {spec.arch!r}) does "
                         f"not divide img_size {spec.img_size}; allowed: a divisor of {spec.img_size}")
    if state is not None:
        _check_covered(model, state, spec.weights, fam)
    if spec.small_stem:
        _small_stem(model, spec.in_chans)
    return model


def _create(spec: ModelSpec, fam: str, state: dict[str, torch.Tensor] | None) -> nn.Module:
    """timm.create_model, with timm loading `state`'s file; errors as ValueErrors naming the field."""
    args: dict[str, Any] = dict(num_classes=spec.num_classes, in_chans=spec.in_chans)
    if fam == "vit":
        args["img_size"] = spec.img_size
        if spec.patch_size is not None:
            args["patch_size"] = spec.patch_size
    if spec.pool is not None:
        args["global_pool"] = POOLS[fam][spec.pool]
    if state is not None:
        overlay: dict[str, Any] = dict(file=str(spec.weights))
        head = getattr(timm.models.get_pretrained_cfg(spec.arch), "classifier", None) or "head"
        head = head[0] if isinstance(head, (tuple, list)) else head  # DeiT-distilled: (head, head_dist)
        if f"{head}.weight" in state:  # the file's classes, so timm keeps its head when they equal ours
            overlay["num_classes"] = state[f"{head}.weight"].shape[0]
        args.update(pretrained=True, pretrained_cfg_overlay=overlay)
    try:
        return timm.create_model(spec.arch, **args, **dict(spec.kwargs))
    except TypeError as e:  # an argument the constructor does not take
        raise ValueError(f"kwargs {dict(spec.kwargs)} not accepted by {spec.arch!r}: {e}") from None
    except RuntimeError as e:  # torch's load_state_dict: "size mismatch for blocks.0...: copying ..."
        if state is None:
            raise
        lines = [s.strip() for s in str(e).splitlines() if "mismatch" in s or "key" in s.lower()]
        raise ValueError(f"weights {spec.weights!r} do not fit {spec.arch!r}: {(lines or [str(e)])[:6]}") from None


def _read_weights(path: str) -> dict[str, torch.Tensor]:
    try:  # timm's own reader: EMA weights first, 'module.' prefixes removed
        return timm_load_state_dict(str(path))
    except Exception as e:  # not a checkpoint torch can read
        raise ValueError(f"weights {path!r} could not be read: {e}") from None


def _check_covered(model: nn.Module, state: dict[str, torch.Tensor], path: str, fam: str) -> None:
    """timm loads a file non-strictly when it drops the head: make sure the backbone did load (a
    checkpoint under other key names, e.g. ``backbone.`` or ``teacher.``, would load nothing)."""
    if fam == "vit":
        state = checkpoint_filter_fn(state, model, adapt_layer_scale=True)  # the name changes timm makes
    fresh_ok = head_keys(model) | {k for k in model.state_dict() if k.startswith("fc_norm.")}
    missing = [k for k in model.state_dict() if k not in state and k not in fresh_ok
               and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"weights {path!r} leave {len(missing)} backbone tensors at initialisation, "
                         f"e.g. {missing[:4]}; the file's keys start {list(state)[:4]}; expected timm's names")


def _small_stem(model: nn.Module, in_chans: int) -> None:
    """The usual CIFAR stem: a 3x3 stride-1 conv, no max-pool, so 32 px keeps 4x4 at the last stage."""
    width = model.bn1.num_features
    model.conv1 = nn.Conv2d(in_chans, width, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # as timm's ResNet
    model.maxpool = nn.Identity()
