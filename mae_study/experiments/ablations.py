"""He et al.'s ablations (Table 1 and Figure 5 of the MAE paper), reproduced at small scale.

Six tables, each changing one thing about a baseline pre-training (mask ratio 75 %, random
sampling, pixel target, the model's own decoder, no mask token in the encoder):

    mask_ratio     10 ... 90 %
    decoder_depth  decoder blocks
    decoder_width  decoder width (the paper's 128 ... 1024 for a 1024-wide encoder, scaled where
                   the decoder's heads allow; see `GRIDS`)
    mask_token     mask tokens in the encoder, or not (accuracy; step cost in `run_step_cost`)
    sampling       random / block / grid, at 75 % and 50 %
    target         pixel vs per-patch normalised pixel

Every pre-trained encoder is evaluated twice: full fine-tuning and a linear probe. Runs are
named by their configuration (`pretrain_name`), not by table, so the baseline run, which belongs
to several tables, is trained once. `plan` lists every run of some tables at one profile for
`mae_study.sweep`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import load_dataset
from ..engine import TrainConfig, fit
from ..flops import mae_forward_flops, train_step_flops
from ..losses import MAELoss
from ..masking import check_mask_ratio, check_sampling, num_visible
from ..models import MaskedAutoencoder, mae_config
from ..params import Experiment, check_profile
from ..results import RunDir, provenance
from ..schedules import ConstantSchedule
from .common import PRETRAIN_SPLIT, ratio_tag, resolve_device, seeds_for
from .finetune import check_finetune, finetune_defaults, run_finetune
from .pretrain import build_model_config, check_pretrain, pretrain_defaults, run_pretrain

PRETRAIN = "mae_ablation_pretrain"
FINETUNE = "mae_ablation_finetune"
STEP_COST = "mae_step_cost"
TABLES = ("mask_ratio", "decoder_depth", "decoder_width", "mask_token", "sampling", "target")
MODES = ("full", "linear")

# The decoder settings the model config fixes unless a run changes them: run names and configs
# always carry the resolved values, so "decoder_depth=None" and "decoder_depth=2" are one run.
_MODEL_FIELDS = ("decoder_depth", "decoder_embed_dim", "decoder_num_heads", "norm_pix_loss", "encoder_mask_token")

MAE_ABLATION_PRETRAIN = Experiment(PRETRAIN, pretrain_defaults(
    ci={"num_epochs": 2, "recon_epochs": []},
    # Shrunk to keep the whole sweep (30 pre-trainings, 64 evaluations) short on 2 CPU cores
    # (the chapter reports its measured wall time): fewer images and epochs than the dynmask runs.
    cpu={"num_images": 2000, "num_epochs": 4, "batch_size": 64, "recon_epochs": []},
    gpu={"num_images": 20_000, "num_epochs": 50, "recon_epochs": []},
    paper={"num_images": 100_000, "num_epochs": 100, "recon_epochs": []},
), check_pretrain)
"""Pre-training of every arm; the final epoch's reconstructions are saved (`recon_e*.pt`)."""


def canonical(p: dict) -> dict:
    """Resolved pre-training parameters with the model's decoder and target settings filled in,
    so that one configuration has one parameter dict and one run name however it was asked for."""
    cfg = build_model_config(p)
    return {**p, **{k: getattr(cfg, k) for k in _MODEL_FIELDS}}


def pretrain_name(p: dict) -> str:
    """A run's name from its configuration, e.g. ``r75_block_npix_dec4x96_enctok_s1``."""
    cfg = build_model_config(p)
    return (f"{ratio_tag(p['final_mask_ratio'])}_{p['sampling']}_{'npix' if cfg.norm_pix_loss else 'pix'}"
            f"_dec{cfg.decoder_depth}x{cfg.decoder_embed_dim}{'_enctok' if cfg.encoder_mask_token else ''}"
            f"_s{p['seed']}")


def pretrain_params(profile: str, arm: dict, seed: int) -> dict:
    return canonical(MAE_ABLATION_PRETRAIN.resolve(profile, **arm, seed=seed))


def _finetune_changes() -> dict[str, dict]:
    """Per profile: evaluate the baseline run (seed 0) by default, and the evaluation's length."""
    changes = {"ci": {}, "cpu": {"num_train": 1000, "num_test": 1000, "num_epochs": 4, "average_last": 2},
               "gpu": {"num_epochs": 50, "average_last": 5}, "paper": {"num_epochs": 50, "average_last": 5}}
    return {profile: {"pretrain_experiment": PRETRAIN, "pretrained": pretrain_name(pretrain_params(profile, {}, 0)),
                      **change} for profile, change in changes.items()}


MAE_ABLATION_FINETUNE = Experiment(FINETUNE, finetune_defaults(**_finetune_changes()), check_finetune)
"""Full fine-tuning or linear probing of an ablation run's encoder (``pretrained``: its run name)."""

# A linear head on frozen features takes a far larger learning rate than a whole network (He et al.
# probe with base lr 0.1 under LARS and fine-tune with 1e-3); with AdamW on the `cpu` profile's
# short probe, 0.1 beat 0.03 and 0.01.
MODE_CHANGES = {"linear": {"lr": 0.1}}


def finetune_params(profile: str, pretrained: str, mode: str, seed: int = 0) -> dict:
    """The evaluation of one encoder in one mode, as the sweep and the notebooks run it."""
    return MAE_ABLATION_FINETUNE.resolve(profile, pretrained=pretrained, mode=mode, seed=seed,
                                         **MODE_CHANGES.get(mode, {}))


# ---------------------------------------------------------------------------------------------
# The grids
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """The arms of one ablation table at one profile.

    Args:
        vary: the pre-training parameter(s) the table changes.
        values: one tuple per arm, values in ``vary``'s order; everything else is the baseline.
        pretrain_seeds: pre-training trials per arm.
        finetune_seeds: evaluations per pre-trained encoder and mode.
        modes: how each encoder is evaluated ("full" fine-tuning, "linear" probe).
        scratch: also train the classifier from a random initialisation (no pre-training).
    """

    vary: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    pretrain_seeds: tuple[int, ...]
    finetune_seeds: tuple[int, ...] = (0,)
    modes: tuple[str, ...] = MODES
    scratch: bool = False

    def arms(self) -> list[dict]:
        return [dict(zip(self.vary, v)) for v in self.values]


def _grids(ratios, depths, widths, seeds) -> dict[str, Grid]:
    return {
        "mask_ratio": Grid(("final_mask_ratio",), tuple((r,) for r in ratios), seeds, scratch=True),
        "decoder_depth": Grid(("decoder_depth",), tuple((d,) for d in depths), seeds),
        "decoder_width": Grid(("decoder_embed_dim",), tuple((w,) for w in widths), seeds),
        "mask_token": Grid(("encoder_mask_token",), ((False,), (True,)), seeds),
        # The paper's Table 1f arms (random 75, block 50, block 75, grid 75) and random 50,
        # which the mask-ratio table also has, to tell "block is fine at 50 %" from "50 % is fine".
        "sampling": Grid(("sampling", "final_mask_ratio"),
                         (("random", 0.75), ("block", 0.5), ("block", 0.75), ("grid", 0.75), ("random", 0.5)), seeds),
        "target": Grid(("norm_pix_loss",), ((False,), (True,)), seeds),
    }


GRIDS: dict[str, dict[str, Grid]] = {
    # ci: two arms per table, one trial; every code path, numbers meaningless.
    "ci": _grids((0.5, 0.75), (1, 2), (16, 32), (0,)),
    # cpu: the decoder (96 wide, 4 heads) at 1/4, 1/2 and 1x the encoder's width (96).
    "cpu": _grids((0.1, 0.3, 0.5, 0.75, 0.9), (1, 2, 4, 8), (24, 48, 96), (0, 1)),
    # gpu / paper: seed 000's model (encoder 192 wide, decoder 8 x 192 with 16 heads) and the
    # paper's decoder depths. Widths: the paper's 256, 512, 768 and 1024 of its 1024-wide encoder
    # are 1/4, 1/2, 3/4 and 1x, here 48, 96, 144 and 192. Its narrowest, 128 (1/8), would be 24,
    # which the decoder's 16 heads (kept for every width, as the paper keeps its 16) do not
    # divide; the narrowest arm is 32 (1/6) instead and has no paper counterpart.
    "gpu": _grids((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9), (1, 2, 4, 8, 12), (32, 48, 96, 144, 192),
                  (0, 1)),
    "paper": _grids((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9), (1, 2, 4, 8, 12), (32, 48, 96, 144, 192),
                    (0, 1, 2)),
}


def check_table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")
    return table


def table_pretrain_runs(profile: str, table: str) -> list[tuple[str, dict, dict]]:
    """(run name, arm, parameters) of every pre-training run of one table."""
    grid = GRIDS[check_profile(profile)][check_table(table)]
    out = []
    for arm in grid.arms():
        for seed in grid.pretrain_seeds:
            p = pretrain_params(profile, arm, seed)
            out.append((pretrain_name(p), arm, p))
    return out


def finetune_name(pretrained: str, mode: str, seed: int) -> str:
    return f"{pretrained}__{mode}_ft{seed}"


def table_finetune_runs(profile: str, table: str) -> list[tuple[str, dict]]:
    """(run name, parameters) of every evaluation of one table, scratch baselines included."""
    grid = GRIDS[check_profile(profile)][check_table(table)]
    out = []
    for name, _, _ in table_pretrain_runs(profile, table):
        for mode in grid.modes:
            for s in grid.finetune_seeds:
                out.append((finetune_name(name, mode, s), finetune_params(profile, name, mode, s)))
    if grid.scratch:  # one random initialisation per pre-training seed, for the same spread
        for mode in grid.modes:
            for s in grid.pretrain_seeds:
                out.append((finetune_name("scratch", mode, s), finetune_params(profile, "scratch", mode, s)))
    return out


# ---------------------------------------------------------------------------------------------
# The cost of mask tokens in the encoder: a measured training step
# ---------------------------------------------------------------------------------------------

def check_step_cost(p: dict) -> None:
    check_mask_ratio(p["mask_ratio"])
    check_sampling(p["sampling"])
    for key in ("batch_size", "steps_per_round", "rounds"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    mae_config(p["model"], img_size=p["image_size"])  # unknown model, patch size vs image size


def _step_cost_defaults() -> dict[str, dict]:
    base = {"model": "dynmask_cpu_32", "image_size": 32, "batch_size": 64, "mask_ratio": 0.75,
            "sampling": "random", "steps_per_round": 3, "rounds": 3, "dataset": "builtin", "data_seed": 0,
            "seed": 0, "device": "cpu"}
    return {"ci": {**base, "model": "ci_16", "image_size": 16, "batch_size": 8, "steps_per_round": 1, "rounds": 1},
            "cpu": dict(base),
            "gpu": {**base, "device": "auto", "rounds": 5, "steps_per_round": 10},
            "paper": {**base, "device": "auto", "rounds": 5, "steps_per_round": 10}}


MAE_STEP_COST = Experiment(STEP_COST, _step_cost_defaults(), check_step_cost)
"""One training-step timing of an encoder with and without mask tokens (``model``, ``batch_size``)."""

# (run name, parameter changes) of the step-cost runs per profile: the study's ablation model and
# seed 000's STL10 model (Table 1); the latter at batch 16 on the CPU to keep the sweep short
# (the FLOPs ratio is per image and does not depend on the batch).
STEP_COST_RUNS: dict[str, list[tuple[str, dict]]] = {
    "ci": [("ci_16", {}), ("dynmask_cpu_32", {"model": "dynmask_cpu_32", "image_size": 32})],
    "cpu": [("dynmask_cpu_32", {}),
            ("dynmask_stl10", {"model": "dynmask_stl10", "image_size": 96, "batch_size": 16,
                               "steps_per_round": 2, "rounds": 2})],
    "gpu": [("dynmask_cpu_32", {}), ("dynmask_stl10", {"model": "dynmask_stl10", "image_size": 96, "batch_size": 50})],
    "paper": [("dynmask_cpu_32", {}), ("dynmask_stl10", {"model": "dynmask_stl10", "image_size": 96, "batch_size": 50})],
}


def run_step_cost(p: dict, experiment: str = STEP_COST, run_name: str | None = None,
                  progress: bool = True) -> RunDir:
    """Time training steps of the same MAE with and without mask tokens in the encoder.

    Each arm trains for ``steps_per_round`` steps of the one training engine (`fit`, one epoch of
    ``batch_size * steps_per_round`` images) per round, arms alternating (order swapped every
    round) so that drift on a shared machine hits both; a first round warms up and is dropped.
    A step's time is ``batch_size / images_per_s`` of that epoch. Writes per-round times
    (``metrics.csv``), their medians, the mean and sd of the per-round ratio, and the analytic FLOPs
    of both arms.
    """
    check_step_cost(p)
    device = resolve_device(p["device"])
    run = RunDir(p["profile"], experiment, run_name or p["model"])
    if run.is_finished():
        return run
    arms = {"without": False, "with": True}
    cfgs = {arm: mae_config(p["model"], img_size=p["image_size"], encoder_mask_token=mt) for arm, mt in arms.items()}
    data = load_dataset(p["dataset"], PRETRAIN_SPLIT.get(p["dataset"], "train"), image_size=p["image_size"],
                        seed=p["data_seed"], num_samples=p["batch_size"] * p["steps_per_round"])
    s = seeds_for(p["seed"])
    train = TrainConfig(num_epochs=1, batch_size=p["batch_size"], lr=1e-4, hflip=False, data_seed=s["data_seed"],
                        mask_seed=s["mask_seed"], device=device)
    run.write_config({"params": p, "models": {a: asdict(c) for a, c in cfgs.items()}, "train": asdict(train),
                      "seeds": s, "data": {"name": data.name, "split": data.split, "num_images": len(data)}})
    torch.manual_seed(s["init_seed"])
    models = {arm: MaskedAutoencoder(cfg) for arm, cfg in cfgs.items()}
    loss = MAELoss(ConstantSchedule(p["mask_ratio"]), p["sampling"])
    rows, t0 = [], time.perf_counter()
    bar = tqdm(range(p["rounds"] + 1), desc=f"{run.name} step cost", leave=False, disable=not progress)
    for r in bar:  # round 0 warms up (allocator, kernels) and is not kept
        order = list(models) if r % 2 == 0 else list(models)[::-1]
        row = {"round": r}
        for arm in order:
            h = fit(models[arm], loss, data, train, progress=False)["history"][0]
            row[f"step_s_{arm}"] = p["batch_size"] / h["images_per_s"]
        row["wall_clock_ratio"] = row["step_s_with"] / row["step_s_without"]
        if r > 0:
            rows.append(row)
        bar.set_postfix(round=r, ratio=f"{row['wall_clock_ratio']:.2f}x")
    run.write_metrics(rows)
    ratios = np.array([row["wall_clock_ratio"] for row in rows])
    flops = {arm: mae_forward_flops(cfg, p["mask_ratio"]) for arm, cfg in cfgs.items()}
    L = cfgs["without"].num_patches
    final = {
        "step_s_without": float(np.median([row["step_s_without"] for row in rows])),
        "step_s_with": float(np.median([row["step_s_with"] for row in rows])),
        "wall_clock_ratio": float(ratios.mean()), "wall_clock_ratio_median": float(np.median(ratios)),
        "wall_clock_ratio_sd": float(ratios.std(ddof=1)) if len(ratios) > 1 else None, "rounds": len(rows),
        "flops_ratio": flops["with"]["total"] / flops["without"]["total"],
        "encoder_flops_ratio": flops["with"]["encoder"] / flops["without"]["encoder"],
        "train_gflops_per_image_without": train_step_flops(cfgs["without"], p["mask_ratio"]) / 1e9,
        "train_gflops_per_image_with": train_step_flops(cfgs["with"], p["mask_ratio"]) / 1e9,
        "encoder_tokens_without": num_visible(L, p["mask_ratio"]) + 1, "encoder_tokens_with": L + 1,
    }
    wall = time.perf_counter() - t0
    run.finish(final, provenance(p["profile"], s, device, wall,
                                 flops={k: v for k, v in final.items() if "flops" in k}))
    return run


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

def plan(profile: str, tables: tuple[str, ...] = TABLES) -> list[tuple[str, str, dict, Any]]:
    """(experiment, run name, parameters, run function) of every run of ``tables``, each run once:
    all pre-trainings, then all evaluations, then (with the mask-token table) the step timings."""
    check_profile(profile)
    tables = tuple(check_table(t) for t in tables)
    pre, ft = {}, {}
    for t in tables:
        for name, _, p in table_pretrain_runs(profile, t):
            if name in pre and pre[name] != p:  # the same name must mean the same configuration
                raise RuntimeError(f"run {name!r} is planned with two different configurations")
            pre[name] = p
        ft.update(dict(table_finetune_runs(profile, t)))
    out = [(PRETRAIN, name, p, run_pretrain) for name, p in pre.items()]
    out += [(FINETUNE, name, p, run_finetune) for name, p in ft.items()]
    if "mask_token" in tables:
        out += [(STEP_COST, name, MAE_STEP_COST.resolve(profile, **changes), run_step_cost)
                for name, changes in STEP_COST_RUNS[profile]]
    return out


def summary(profile: str):
    """Per table and arm: fine-tuning and linear-probe accuracy over trials (`ablations_analysis`)."""
    from .ablations_analysis import summary as _summary
    return _summary(profile)
