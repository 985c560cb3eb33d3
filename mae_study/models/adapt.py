"""Fine-tuning modes and backbone loading, alike for MAE classifiers, timm ViTs and ResNets.

A classifier is seen as stages (transformer blocks, or ResNet stages ``layer1..layer4``), a final
norm after them (transformers) and a head. ``partial-k`` trains the head, the last k stages and
the final norm; ``linear`` the head only; ``full`` everything. The names follow
`classifier.parse_mode`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn
from timm.layers import freeze_batch_norm_2d
from timm.models import ResNet, VisionTransformer

from mae_study.models.classifier import MAEClassifier, parse_mode


@dataclass
class Parts:
    stages: list[nn.Module]  # in forward order: blocks, or ResNet stages
    final: list[nn.Module]   # trained with any stage: final norm (and fc_norm / attention pool)
    head: list[nn.Module]    # always trained; left fresh by `load_backbone`


def parts(model: nn.Module) -> Parts:
    """The parts of a classifier built by `build_model`."""
    if isinstance(model, MAEClassifier):
        return Parts(list(model.encoder.blocks), [model.encoder.norm], [model.head, model.head_norm])
    if isinstance(model, VisionTransformer):
        head = model.get_classifier()  # DeiT-distilled: (head, head_dist)
        final = [m for m in (model.norm, model.fc_norm, getattr(model, "attn_pool", None)) if m is not None]
        return Parts(list(model.blocks), final, list(head) if isinstance(head, tuple) else [head])
    if isinstance(model, ResNet):
        return Parts([model.layer1, model.layer2, model.layer3, model.layer4], [], [model.fc])
    raise ValueError(f"model must be an MAEClassifier, a timm VisionTransformer or a timm ResNet, "
                     f"got {type(model).__name__}")


def apply_mode(model: nn.Module, mode: str) -> nn.Module:
    """Freeze all but what `mode` trains, in place; returns `model`.

    Args:
        model: a freshly built classifier (`build_model` calls this with `ModelSpec.mode`).
        mode: "full", "linear" or "partial-k", k in 0..number of stages (blocks for transformers,
            4 stages for ResNets).

    Frozen ResNet parts get timm's FrozenBatchNorm2d, so their statistics stay fixed in train mode
    too. An `MAEClassifier` takes its mode at construction (its linear probe adds a BatchNorm);
    asking it for another mode is an error.
    """
    p = parts(model)
    k = parse_mode(mode, len(p.stages))
    if isinstance(model, MAEClassifier):
        if mode != model.mode:
            raise ValueError(f"mode {mode!r} differs from the MAEClassifier's own {model.mode!r}; "
                             f"build it with ModelSpec(mode={mode!r})")
        return model
    model.requires_grad_(mode == "full")
    if mode != "full":
        trained = p.head + (p.stages[len(p.stages) - k:] + p.final if k else [])
        for module in trained:
            module.requires_grad_(True)
    if isinstance(model, ResNet):
        for name, child in list(model.named_children()):
            if not any(q.requires_grad for q in child.parameters()):
                setattr(model, name, freeze_batch_norm_2d(child))
    return model


def num_trainable(model: nn.Module) -> int:
    """Parameters that the optimiser will update."""
    return sum(q.numel() for q in model.parameters() if q.requires_grad)


def head_names(model: nn.Module) -> tuple[str, ...]:
    """Module names of the head, e.g. ("head", "head_norm") or ("fc",)."""
    ids = {id(m) for m in parts(model).head}
    return tuple(name for name, m in model.named_modules() if id(m) in ids)


def head_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the head."""
    return {k for k in model.state_dict() if k.startswith(tuple(f"{n}." for n in head_names(model)))}


def load_matching(module: nn.Module, state_dict: Mapping[str, torch.Tensor], name: str = "state_dict",
                  skip: tuple[str, ...] = ()) -> None:
    """Load every tensor of `module` from `state_dict`, except under the module names `skip` (on
    either side); any missing, unexpected or differently shaped tensor is a ValueError naming
    `name` and the keys."""
    def kept(key: str) -> bool:  # num_batches_tracked: BatchNorm bookkeeping, absent when frozen
        return not key.startswith(tuple(f"{s}." for s in skip)) and not key.endswith("num_batches_tracked")
    own = {k: v for k, v in module.state_dict().items() if kept(k)}
    src = {k: v for k, v in state_dict.items() if kept(k)}
    missing = sorted(set(own) - set(src))
    unexpected = sorted(set(src) - set(own))
    shapes = [f"{k}: {tuple(src[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
              if k in src and src[k].shape != v.shape]
    if missing or unexpected or shapes:
        raise ValueError(f"{name} does not match {type(module).__name__}: missing {missing[:6]}, "
                         f"unexpected {unexpected[:6]}, shapes (given != expected) {shapes[:6]}")
    module.load_state_dict(src, strict=False)


def load_backbone(model: nn.Module, state_dict: Mapping[str, torch.Tensor] | nn.Module) -> list[str]:
    """Load every backbone tensor from a classifier of the same architecture (a state dict or the
    model itself); returns the keys left at initialisation: the head's.

    Args:
        model: the classifier to fill (built by `build_model`, any mode).
        state_dict: a pre-trained classifier of the same `arch` (its head may have other classes).
    """
    if isinstance(state_dict, nn.Module):
        state_dict = state_dict.state_dict()
    load_matching(model, state_dict, name="state_dict", skip=head_names(model))
    return sorted(head_keys(model))
