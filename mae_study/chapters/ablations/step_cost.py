"""The cost of mask tokens in the encoder (He et al.'s Table 1c): a measured training step of
the same MAE with and without them, through the one training engine, beside the analytic FLOPs."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from tqdm.auto import tqdm

from mae_study.data import load_dataset
from mae_study.masking import check_mask_ratio, check_sampling, num_visible
from mae_study.models import MaskedAutoencoder, mae_config
from mae_study.models.flops import mae_forward_flops, train_step_flops
from mae_study.runs.common import PRETRAIN_SPLIT, resolve_device, seeds_for
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import execute_run
from mae_study.train.engine import TrainConfig, fit
from mae_study.train.losses import MAELoss
from mae_study.train.schedules import ConstantSchedule

STEP_COST = "mae_step_cost"


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


def _step_cost_naming(p) -> tuple[str, tuple[str, ...]]:
    return p["model"], ("model",)


MAE_STEP_COST = Experiment(STEP_COST, _step_cost_defaults(), check_step_cost, naming=_step_cost_naming)
"""One training-step timing of an encoder with and without mask tokens (``model``, ``batch_size``)."""

# (run name, parameter changes) of the step-cost runs per profile: the study's ablation model and
# Hata et al.'s STL10 model (Table 1); the latter at batch 16 on the CPU to keep the sweep short
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
    return execute_run(p, lambda run: _step_cost(p, run, progress), experiment, run_name)


def _step_cost(p, run: RunDir, progress: bool) -> None:
    device = resolve_device(p["device"])
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


def step_cost_plan(profile: str) -> list[tuple]:
    """(experiment, run name, parameters, run function) of the step timings at ``profile``."""
    return [(STEP_COST, name, MAE_STEP_COST.resolve(profile, **changes), run_step_cost)
            for name, changes in STEP_COST_RUNS[profile]]
