"""How much room a downstream task leaves, measured as a ladder of rungs with spread over seeds:

    chance < logistic regression on raw pixels < the ViT from scratch < MAE pre-trained then fine-tuned

plus the MAE encoder's linear probe beside the pixel probe. A setting is only useful for the
book's comparisons if the ladder climbs, each step beyond its spread, and the best rung stays well
below 100 %. Seed ``s`` draws everything afresh (the pool, the labelled splits, initialisation and
data order: ``data_seed = seed``), so the spread of each rung includes the data's.

Each rung is an ordinary run of the study's runners (`run_pretrain`, `run_finetune`) or a
pixel-probe run, so the calibration uses exactly the MAE chapter's model and recipe.
"""
from __future__ import annotations

from collections.abc import Mapping

from mae_study.runs.base import BASE_FINETUNE, BASE_PRETRAIN, BASE_PROBE, FINETUNE, MODES, PRETRAIN, PROBE, SETTING
from mae_study.runs.finetune import run_finetune
from mae_study.runs.params import Experiment, check_profile
from mae_study.runs.pretrain import run_pretrain
from mae_study.runs.probe import run_pixel_probe
from mae_study.runs.skeleton import auto_run_name

TASKS = ("builtin", "digits")  # the built-in task, and scikit-learn's handwritten digits (real images)
SEEDS = {"ci": (0,), "cpu": (0, 1, 2), "gpu": (0, 1, 2)}
DIGITS = {"ci": (200, 100), "cpu": (1000, 797), "gpu": (1000, 797)}  # (train, test): all of digits' splits

# The ladder's runs are the base recipe's (`mae_study.runs.base`): every chapter's `cpu` runs build on them.
LADDER_PRETRAIN, LADDER_FINETUNE, LADDER_PROBE = BASE_PRETRAIN, BASE_FINETUNE, BASE_PROBE


def _task_changes(profile: str, task: str, seed: int) -> dict:
    if task == "builtin":
        return {"data_setting": SETTING, "data_seed": seed}
    n_train, n_test = DIGITS[profile]
    return {"dataset": task, "num_train": n_train, "num_test": n_test, "data_seed": 0}


def plan(profile: str) -> list[tuple[str, str, Mapping, object]]:
    """(experiment, run name, parameters, run function) of every rung of every seed and task: the
    pixel probes, the pre-trainings, then each task's scratch, fine-tuned and linear-probed runs."""
    check_profile(profile)
    if profile not in SEEDS:
        raise ValueError(f"the ladder has profiles {sorted(SEEDS)}, not {profile!r} (the paper profile uses "
                         "real data sets, whose difficulty is known)")
    out = []
    for task in TASKS:
        for seed in SEEDS[profile] if task == "builtin" else (0,):
            p = LADDER_PROBE.resolve(profile, **{k: v for k, v in _task_changes(profile, task, seed).items()
                                                 if k in LADDER_PROBE.names()})
            out.append((PROBE, auto_run_name(p), p, run_pixel_probe))
    pre = {}
    for seed in SEEDS[profile]:
        p = LADDER_PRETRAIN.resolve(profile, seed=seed, data_seed=seed)
        pre[seed] = auto_run_name(p)
        out.append((PRETRAIN, pre[seed], p, run_pretrain))
    for task in TASKS:
        for seed in SEEDS[profile]:
            for source, modes in (("scratch", ("full",)), (pre[seed], MODES)):
                for mode in modes:
                    p = LADDER_FINETUNE.resolve(profile, pretrained=source, mode=mode, seed=seed,
                                                **_task_changes(profile, task, seed))
                    out.append((FINETUNE, auto_run_name(p), p, run_finetune))
    return out


LADDER_SWEEP = Experiment("ladder_sweep", {profile: {} for profile in SEEDS})
"""The ladder notebook's parameters: only ``profile``."""
