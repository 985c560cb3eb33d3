"""Hata, Tadamura and Samura's dynamic mask-ratio curriculum: pre-training with a static vs a dynamically rising mask ratio, then fine-tuning.

The protocol (paper profile): 6 final ratios x {static, dynamic} x 3 pre-training trials, each
fine-tuned twice; accuracy = test accuracy averaged over the final 10 epochs. Smaller profiles
keep its shape (five equal stages, the same stage ratios, both methods, several trials) on fewer
ratios, smaller images, a smaller model and fewer epochs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mae_study.runs import rungs
from mae_study.runs.finetune import check_finetune, finetune_defaults, finetune_naming, run_finetune
from mae_study.runs.params import Experiment, Params, check_profile
from mae_study.runs.pretrain import check_pretrain, pretrain_defaults, pretrain_naming, run_pretrain
from mae_study.runs.skeleton import auto_run_name

PRETRAIN = "dynmask_pretrain"
FINETUNE = "dynmask_finetune"

# cpu: the recalibrated built-in setting (`distinct-v2`, see the data chapter): a pool of 9,000
# unlabelled images, 5 epochs (one per stage of the schedule, 45,000 image-steps), then 8
# fine-tuning epochs on 2,000 labelled images (1,000 test); sized so the chapter's 18 pre-trainings
# and 21 fine-tunings take under half an hour on 2 cores. 2,000 labelled images rather than more
# pre-training: with 500 (the recipe committed first on `distinct-v2`) a ViT from scratch fell
# below the raw-pixel probe and no condition rose 3 SE above scratch. Before (`siblings-v1`,
# committed until 2026-12): a 3,000-image pool, 10 epochs, 2,000 labelled images, 10 fine-tuning epochs.
CPU_SETTING = "distinct-v2"
DYNMASK_PRETRAIN = Experiment(PRETRAIN, pretrain_defaults(
    ci={"num_epochs": 5, "recon_epochs": []},
    cpu={"data_setting": CPU_SETTING, "num_images": 9_000, "num_epochs": 5, "batch_size": 64, "lr": 1.5e-3,
         "recon_epochs": []},
), check_pretrain, naming=pretrain_naming)

DYNMASK_FINETUNE = Experiment(FINETUNE, finetune_defaults(
    cpu={"data_setting": CPU_SETTING, "num_train": 2000, "num_test": 1000, "num_epochs": 8, "average_last": 3},
), check_finetune, naming=finetune_naming)


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


GRIDS = {
    "ci": DynmaskGrid((0.75, 0.95), ("static", "dynamic"), (0,), (0,), ("full",)),
    "cpu": DynmaskGrid((0.75, 0.85, 0.95), ("static", "dynamic"), (0, 1, 2), (0,), ("full",),
                       scratch_seeds=(0, 1, 2)),
    "gpu": DynmaskGrid((0.75, 0.85, 0.95), ("static", "dynamic"), (0,), (0,), ("full",)),
    "paper": DynmaskGrid((0.70, 0.75, 0.80, 0.85, 0.90, 0.95), ("static", "dynamic"), (0, 1, 2), (0, 1),
                         ("full",)),
}


def pretrain_runs(profile: str) -> list[tuple[str, dict]]:
    """(run name, overrides) of every pre-training run of the grid."""
    g = GRIDS[check_profile(profile)]
    changes = [{"method": m, "final_mask_ratio": r, "seed": s}
               for r in g.final_ratios for m in g.methods for s in g.pretrain_seeds]
    return [(auto_run_name(DYNMASK_PRETRAIN.resolve(profile, **c)), c) for c in changes]


def finetune_runs(profile: str) -> list[tuple[str, dict]]:
    """(run name, overrides) of every fine-tuning run: each pre-trained encoder (and scratch)."""
    g = GRIDS[check_profile(profile)]
    changes = [{"pretrained": src, "mode": mode, "seed": s}
               for src, _ in pretrain_runs(profile) for mode in g.modes for s in g.finetune_seeds]
    if g.scratch:
        changes += [{"pretrained": "scratch", "mode": mode, "seed": s}
                    for mode in g.modes for s in (g.scratch_seeds or g.finetune_seeds)]
    return [(auto_run_name(DYNMASK_FINETUNE.resolve(profile, **c)), c) for c in changes]


def plan(profile: str) -> list[tuple[str, str, Params, Callable]]:
    """(experiment, run name, parameters, run function) of every run of the chapter, in order:
    pre-trainings, the task's pixel probe, fine-tunings."""
    pre = [(PRETRAIN, name, DYNMASK_PRETRAIN.resolve(profile, **o), run_pretrain) for name, o in pretrain_runs(profile)]
    tunes = [(FINETUNE, name, DYNMASK_FINETUNE.resolve(profile, **o), run_finetune)
             for name, o in finetune_runs(profile)]
    return pre + rungs.probe_entries([p for _, _, p, _ in tunes]) + tunes


DYNMASK_SWEEP = Experiment("dynmask_sweep", {profile: {} for profile in GRIDS})
"""Notebook 05's parameters: only ``profile``."""
