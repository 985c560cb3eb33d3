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

from mae_study.runs.finetune import check_finetune, finetune_defaults, run_finetune
from mae_study.runs.params import Experiment, check_profile
from mae_study.runs.pretrain import check_pretrain, pretrain_defaults, run_pretrain
from mae_study.runs.probe import check_probe, run_pixel_probe
from mae_study.runs.skeleton import auto_run_name

PRETRAIN, FINETUNE, PROBE = "ladder_pretrain", "ladder_finetune", "ladder_pixel_probe"
TASKS = ("builtin", "digits")  # the built-in task, and scikit-learn's handwritten digits (real images)
SETTING = "distinct-v2"  # the built-in setting the book's chapters use (`mae_study.data.builtin`)
MODES = ("full", "linear")

# The MAE chapter's model (dynmask_cpu_32) and recipe. Pool 40,000 = 20 x the 2,000 labelled images.
_PRE = {"ci": {"model": "ci_16", "image_size": 16, "num_images": 400, "num_epochs": 1, "batch_size": 32,
               "recon_epochs": []},
        # The recipe of the exploration that chose the setting: 120,000 image-steps of pre-training
        # and 30 fine-tuning epochs (far fewer fine-tuning epochs leave the ViT from scratch below
        # the pixel probe).
        "cpu": {"num_images": 40_000, "num_epochs": 3, "batch_size": 64, "recon_epochs": []},
        "gpu": {"model": "dynmask_stl10", "image_size": 96, "num_images": 40_000, "num_epochs": 30, "batch_size": 50,
                "device": "auto", "recon_epochs": []}}
_FT = {"ci": {"image_size": 16, "scratch_model": "ci_16", "num_train": 100, "num_test": 100, "num_epochs": 2,
              "average_last": 1, "batch_size": 25},
       "cpu": {"num_train": 2000, "num_test": 2000, "num_epochs": 30, "average_last": 3},
       "gpu": {"image_size": 96, "scratch_model": "dynmask_stl10", "num_train": 2000, "num_test": 2000,
               "num_epochs": 50, "average_last": 5, "device": "auto"}}
SEEDS = {"ci": (0,), "cpu": (0, 1, 2), "gpu": (0, 1, 2)}
DIGITS = {"ci": (200, 100), "cpu": (1000, 797), "gpu": (1000, 797)}  # (train, test): all of digits' splits


def _pretrain_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return f"{p['data_setting']}_d{p['data_seed']}_s{p['seed']}", ("data_setting", "data_seed", "seed")


def _finetune_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return (f"{p['dataset']}__{p['pretrained']}__{p['mode']}_d{p['data_seed']}_ft{p['seed']}",
            ("dataset", "pretrained", "mode", "data_seed", "seed", "data_setting", "num_train", "num_test"))


def _linear_probe_defaults(p: dict, given: frozenset) -> dict:
    """A linear probe reads mean-pooled features with a larger learning rate (as the ablations'
    probe: a frozen encoder's linear head takes a far larger one), unless the caller sets them."""
    if p["mode"] == "linear":
        p = {**p, **{k: v for k, v in {"lr": 0.1, "pool": "mean"}.items() if k not in given}}
    return p


# The built-in setting is the pre-training's default; fine-tunings and probes name it per task
# (digits has none: a papermill-style None means "the default", so the default must be None there).
LADDER_PRETRAIN = Experiment(PRETRAIN, {k: v for k, v in pretrain_defaults(
    **{prof: {**c, "data_setting": SETTING} for prof, c in _PRE.items()}).items() if k in _PRE},
    check_pretrain, naming=_pretrain_naming)
LADDER_FINETUNE = Experiment(FINETUNE, {k: v for k, v in finetune_defaults(
    **{prof: {**c, "pretrain_experiment": PRETRAIN} for prof, c in _FT.items()}).items()
    if k in _FT}, check_finetune, derive=_linear_probe_defaults, naming=_finetune_naming)


def _probe_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return f"{p['dataset']}_d{p['data_seed']}", ("dataset", "data_seed", "data_setting", "num_train", "num_test")


LADDER_PROBE = Experiment(PROBE, {prof: {"dataset": "builtin", "data_setting": None, "image_size": c["image_size"],
                                         "num_train": c["num_train"], "num_test": c["num_test"], "data_seed": 0}
                                  for prof, c in ((q, LADDER_FINETUNE.defaults[q]) for q in _FT)},
                          check_probe, naming=_probe_naming)


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
