"""Hata, Tadamura and Samura's dynamic mask-ratio curriculum: pre-training with a static vs a dynamically rising mask ratio, then fine-tuning.

The protocol (paper profile): 6 final ratios x {static, dynamic} x 3 pre-training trials, each
fine-tuned twice; accuracy = test accuracy averaged over the final 10 epochs. Smaller profiles
keep its shape (five equal stages, the same stage ratios, both methods, several trials) on fewer
ratios, smaller images, a smaller model and fewer epochs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from mae_study.runs import base, rungs
from mae_study.runs.finetune import check_finetune, finetune_defaults, finetune_naming, run_finetune
from mae_study.runs.params import Experiment, Params, check_profile
from mae_study.runs.pretrain import check_pretrain, pretrain_defaults, pretrain_naming, run_pretrain
from mae_study.runs.skeleton import auto_run_name

PRETRAIN = "dynmask_pretrain"
FINETUNE = "dynmask_finetune"

# cpu: the base recipe (`mae_study.runs.base`): the pool of 40,000 `distinct-v2` images, 3 epochs
# (120,000 image-steps; the five stages of the schedule change every 0.6 epoch), then fine-tuning and
# a linear probe for 30 epochs on 2,000 labelled images. Static 75 % is the base pre-training itself,
# run once under the data chapter's experiment. Before (until 2026-12): a 9,000-image pool, 5 epochs,
# 8 fine-tuning epochs, where the ViT from scratch stayed below the pixel probe.
CPU_SETTING = base.SETTING


def _naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``dynamic_r85_s1_d1``: method, final ratio, seed, and the data seed when not 0."""
    name, shown = pretrain_naming(p)
    return name + (f"_d{p['data_seed']}" if p["data_seed"] else ""), shown + ("data_seed",)


def _ft_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``dynamic_r85_s1_d1__linear_ft1_d1``: the encoder, the mode, the seed, the data seed when not 0."""
    name, shown = finetune_naming(p)
    return name + (f"_d{p['data_seed']}" if p["data_seed"] else ""), shown + ("data_seed",)


DYNMASK_PRETRAIN = Experiment(PRETRAIN, pretrain_defaults(
    ci={"num_epochs": 5, "recon_epochs": []},
    cpu=dict(base.CPU_PRETRAIN),
), check_pretrain, naming=_naming)

DYNMASK_FINETUNE = Experiment(FINETUNE, finetune_defaults(
    # the default encoder: one the `cpu` grid trains itself (its static 75 % is the base run)
    cpu={"data_setting": CPU_SETTING, **base.CPU_FINETUNE, "pretrained": "dynamic_r75_s0"},
), check_finetune, derive=base.linear_probe_defaults, naming=_ft_naming)


@dataclass(frozen=True)
class DynmaskGrid:
    """The runs behind the chapter at one profile."""

    final_ratios: tuple[float, ...]
    methods: tuple[str, ...]
    pretrain_seeds: tuple[int, ...]
    finetune_seeds: tuple[int, ...]
    modes: tuple[str, ...]
    scratch: bool = True  # also fine-tune randomly initialised encoders (the no-pre-training baseline)
    scratch_seeds: tuple[int, ...] | None = None  # the scratch runs' seeds (None: ``finetune_seeds``)
    # As the base recipe: trial s draws its own data (data_seed = s) and is evaluated once, with seed s
    # (``finetune_seeds`` unused); scratch likewise, one run per trial.
    trial_data: bool = False


GRIDS = {
    "ci": DynmaskGrid((0.75, 0.95), ("static", "dynamic"), (0,), (0,), ("full",)),
    "cpu": DynmaskGrid((0.75, 0.85, 0.95), ("static", "dynamic"), (0, 1, 2), (0,), base.MODES, trial_data=True),
    "gpu": DynmaskGrid((0.75, 0.85, 0.95), ("static", "dynamic"), (0,), (0,), ("full",)),
    "paper": DynmaskGrid((0.70, 0.75, 0.80, 0.85, 0.90, 0.95), ("static", "dynamic"), (0, 1, 2), (0, 1),
                         ("full",)),
}


def _pretrain_changes(g: DynmaskGrid) -> list[dict]:
    return [{"method": m, "final_mask_ratio": r, "seed": s, **({"data_seed": s} if g.trial_data else {})}
            for r in g.final_ratios for m in g.methods for s in g.pretrain_seeds]


def pretrain_entries(profile: str) -> list[tuple[str, str, Params, Callable]]:
    """(experiment, run name, parameters, run function) of every pre-training of the grid; an arm
    with exactly the base recipe's parameters is the base run (`mae_study.runs.base.shared_pretrain`)."""
    out = []
    for c in _pretrain_changes(GRIDS[check_profile(profile)]):
        p = DYNMASK_PRETRAIN.resolve(profile, **c)
        experiment, name = pretrain_location(p)
        out.append((experiment, name, base.base_pretrain(profile, p.seed) if experiment == base.PRETRAIN else p,
                    run_pretrain))
    return out


def pretrain_location(p: Params) -> tuple[str, str]:
    """(experiment, run name) where the pre-training ``p`` is stored: the base run when ``p`` has
    exactly the base recipe's parameters (`mae_study.runs.base.shared_pretrain`), else this chapter's."""
    return base.shared_pretrain(p) or (PRETRAIN, auto_run_name(p))


def pretrain_runs(profile: str) -> list[tuple[str, dict]]:
    """(run name, overrides) of every pre-training run of the grid."""
    g = GRIDS[check_profile(profile)]
    return [(auto_run_name(DYNMASK_PRETRAIN.resolve(profile, **c)), c) for c in _pretrain_changes(g)]


def finetune_entries(profile: str) -> list[tuple[str, str, Params, Callable]]:
    """(experiment, run name, parameters, run function) of every evaluation: each pre-trained
    encoder (and scratch) in each mode; the base encoder's and scratch's are the base runs when the
    recipe is the base's (`mae_study.runs.base.shared_finetune`)."""
    g = GRIDS[check_profile(profile)]
    out = []
    for experiment, name, pre, _ in pretrain_entries(profile):
        shared_from = name if experiment == base.PRETRAIN else None
        seeds = (pre["seed"],) if g.trial_data else g.finetune_seeds
        for mode in g.modes:
            for s in seeds:
                out.append(_evaluation(profile, g, name, mode, s, pre["data_seed"], shared_from))
    if g.scratch:
        for mode in g.modes[:1]:  # a random encoder's linear probe is no rung
            for s in (g.pretrain_seeds if g.trial_data else (g.scratch_seeds or g.finetune_seeds)):
                out.append(_evaluation(profile, g, "scratch", mode, s, s if g.trial_data else None, "scratch"))
    return out


def _evaluation(profile, g, pretrained, mode, seed, data_seed, shared_from):
    changes = {"pretrained": pretrained, "mode": mode, "seed": seed, **({"data_seed": data_seed} if g.trial_data else {})}
    p = DYNMASK_FINETUNE.resolve(profile, **changes)
    shared = base.shared_finetune(p, shared_from) if shared_from else None
    if shared:
        return (*shared, base.base_finetune(profile, shared_from, mode, seed), run_finetune)
    return FINETUNE, auto_run_name(p), p, run_finetune


def finetune_runs(profile: str) -> list[tuple[str, dict]]:
    """(run name, parameters) of every evaluation of the grid, shared ones included."""
    return [(name, p) for _, name, p, _ in finetune_entries(profile)]


def plan(profile: str) -> list[tuple[str, str, Params, Callable]]:
    """(experiment, run name, parameters, run function) of every run of the chapter, in order:
    pre-trainings, the task's pixel probes, evaluations (base runs listed where shared)."""
    tunes = finetune_entries(profile)
    return pretrain_entries(profile) + rungs.probe_entries([p for _, _, p, _ in tunes]) + tunes


DYNMASK_SWEEP = Experiment("dynmask_sweep", {profile: {} for profile in GRIDS})
"""Notebook 05's parameters: only ``profile``."""
