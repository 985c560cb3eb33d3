"""Optimisers and learning-rate schedules of the engine, chosen by `TrainConfig` fields.

Optimisers: AdamW (``optimizer="adamw"``, MAE's and DeiT's) and SGD with momentum, optionally
Nesterov (``"sgd"``, ResNet recipes). Weight decay is decoupled in AdamW and an L2 term in SGD.

Schedules are pure functions of the training position (in epochs, a float), so a resumed run
continues exactly where it stopped:

- ``"cosine"``: linear warm-up from 0 to ``lr`` over ``warmup_epochs``, then cosine to ``min_lr``;
- ``"constant"``: warm-up, then ``lr``;
- ``"step"``: warm-up, then ``lr * lr_gamma ** (number of lr_milestones passed)``;
- ``"onecycle"``: torch's ``OneCycleLR`` shape (cosine annealing both ways): from
  ``lr / onecycle_div_factor`` up to ``lr`` at ``onecycle_pct_start`` of training, then down to
  ``lr / (onecycle_div_factor * onecycle_final_div_factor)``; it is its own warm-up.

Per-parameter learning-rate multipliers (``lr_scale``, e.g. ``(("head.", 10.0),)`` as Anderson &
Farrell's fine-tuning) are kept in each parameter group's ``"lr_scale"``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from timm.optim import param_groups_weight_decay

OPTIMIZERS = ("adamw", "sgd")
LR_SCHEDULES = ("cosine", "constant", "step", "onecycle")
NO_WEIGHT_DECAY = ("cls_token", "mask_token", "pos_embed")  # names timm's grouping exempts from decay


def lr_at(cfg, position: float) -> float:
    """Learning rate at training position ``position`` (in epochs) for the schedule of ``cfg``."""
    if cfg.lr_schedule == "onecycle":
        return _one_cycle(cfg, position)
    if position < cfg.warmup_epochs:
        return cfg.lr * position / cfg.warmup_epochs
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "step":
        return cfg.lr * cfg.lr_gamma ** sum(position >= m for m in cfg.lr_milestones)
    t = (position - cfg.warmup_epochs) / max(cfg.num_epochs - cfg.warmup_epochs, 1e-12)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


def weight_decay_at(cfg, position: float) -> float:
    """Weight decay at ``position`` (epochs): ``cfg.weight_decay``, or with ``cfg.weight_decay_end`` a
    half cosine from it to that over the whole training (DINO's schedule, no warm-up)."""
    if cfg.weight_decay_end is None:
        return cfg.weight_decay
    return _cos_anneal(cfg.weight_decay, cfg.weight_decay_end, min(position / cfg.num_epochs, 1.0))


def _cos_anneal(start: float, end: float, t: float) -> float:
    """From ``start`` at t = 0 to ``end`` at t = 1 along half a cosine (torch's ``_annealing_cos``)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * t) + 1)


def _one_cycle(cfg, position: float) -> float:
    initial = cfg.lr / cfg.onecycle_div_factor
    final = initial / cfg.onecycle_final_div_factor
    t = min(max(position / cfg.num_epochs, 0.0), 1.0)
    if t < cfg.onecycle_pct_start:
        return _cos_anneal(initial, cfg.lr, t / cfg.onecycle_pct_start)
    return _cos_anneal(cfg.lr, final, (t - cfg.onecycle_pct_start) / (1.0 - cfg.onecycle_pct_start))


def lr_scale_of(name: str, lr_scale: tuple[tuple[str, float], ...]) -> float:
    """The multiplier of the first ``(prefix, multiplier)`` whose prefix starts ``name``; else 1."""
    return next((m for prefix, m in lr_scale if name.startswith(prefix)), 1.0)


def param_groups(module: nn.Module, cfg, prefix: str = "") -> list[dict]:
    """Parameter groups of ``module``'s trainable parameters: weight decay as ``cfg`` says, then
    split by ``cfg.lr_scale`` (matched against ``prefix + name``)."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return []
    if cfg.decay_norm_and_bias:
        groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    else:  # timm's grouping: 1-D parameters (norms, biases) and tokens without weight decay
        groups = param_groups_weight_decay(module, cfg.weight_decay, no_weight_decay_list=NO_WEIGHT_DECAY)
    if not cfg.lr_scale:
        return groups
    names = {id(p): prefix + n for n, p in module.named_parameters()}
    split = []
    for group in groups:
        by_scale: dict[float, list] = {}
        for p in group["params"]:
            by_scale.setdefault(lr_scale_of(names[id(p)], cfg.lr_scale), []).append(p)
        split += [{**group, "params": ps, "lr_scale": s} for s, ps in by_scale.items()]
    return split


def make_optimizer(model: nn.Module, cfg, extra_modules: dict[str, nn.Module] | None = None
                   ) -> torch.optim.Optimizer:
    """The optimiser of ``cfg.optimizer`` over the trainable parameters of ``model`` and of each
    extra module (named ``"<name>.<parameter>"`` for ``lr_scale``)."""
    groups = param_groups(model, cfg)
    for name, module in (extra_modules or {}).items():
        groups += param_groups(module, cfg, prefix=f"{name}.")
    if not groups:
        raise ValueError("the model has no trainable parameters")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's learning rate: ``lr`` times the group's ``lr_scale`` (1 when absent)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"] if "lr_scale" in group else lr


def set_weight_decay(optimizer: torch.optim.Optimizer, weight_decay: float) -> None:
    """Every decayed group's weight decay (groups built without decay, e.g. norms and biases, keep 0)."""
    for group in optimizer.param_groups:
        if group.setdefault("decays", group["weight_decay"] > 0):
            group["weight_decay"] = weight_decay
