"""MAE pre-training as a run: parameters -> `PretrainSpec` -> `fit` -> run folder.

The parameters are resolved and checked once, at the boundary (a notebook's parameters cell, a
sweep's plan): `check_pretrain` builds the run's `PretrainSpec` (model, schedule, train and data
configs), which `Params.spec` keeps and `run_pretrain` trains from. Used by the MAE, data,
ablations, dynamic-masking and distillation chapters; the notebooks call `run_pretrain` and render
what it wrote.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from mae_study.masking import check_mask_ratio, check_sampling, sample_mask, unpatchify
from mae_study.models import MAEConfig, MaskedAutoencoder, mae_config
from mae_study.models.flops import mae_forward_flops, train_step_flops
from mae_study.runs.common import PRETRAIN_SPLIT, DataSpec, data_spec, ratio_tag, resolve_device, seeds_for
from mae_study.runs.params import Experiment, Params
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import auto_run_name, execute_run, finished_run, recompute_weights
from mae_study.train.engine import TrainConfig, fit
from mae_study.train.losses import MAELoss
from mae_study.train.schedules import ConstantSchedule, Schedule, StageSchedule, dynmask_stages, schedule_to_dict

METHODS = ("static", "dynamic")


@dataclass(frozen=True)
class PretrainSpec:
    """One MAE pre-training, resolved and checked once: what `run_pretrain` trains from."""

    model: MAEConfig       # the MAE (patch size vs image size, widths vs heads checked)
    schedule: Schedule     # the mask ratio over training (static: constant; dynamic: stages)
    train: TrainConfig     # epochs, batch, optimiser, seeds (``device`` is the run's, set when it starts)
    data: DataSpec         # the unlabelled pool, its built-in setting explicit
    sampling: str          # how masks are drawn ("random", "block", "grid")


def check_pretrain(p: Mapping) -> PretrainSpec:
    """Domain checks of pre-training parameters (types were checked against the defaults), by
    building the run's `PretrainSpec`, which is returned."""
    if p["method"] not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {p['method']!r}")
    check_mask_ratio(p["final_mask_ratio"], "final_mask_ratio")
    check_sampling(p["sampling"])
    if p["schedule"] is not None:
        StageSchedule(tuple(tuple(s) for s in p["schedule"]))  # raises a clear error
    for key in ("num_epochs", "batch_size", "num_images", "image_size"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    return PretrainSpec(model=build_model_config(p),  # patch size vs image size, widths vs heads
                        schedule=build_schedule(p),  # no dynamic ratio without stages, no changing 'static'
                        train=build_train_config(p, "cpu"),  # the run's device is set when it starts
                        data=data_spec(p), sampling=p["sampling"])


def pretrain_spec(p: Mapping) -> PretrainSpec:
    """The spec of ``p``: the one built when ``p`` was resolved, else built (and checked) now."""
    return p.spec if isinstance(p, Params) and isinstance(p.spec, PretrainSpec) else check_pretrain(p)


def build_model_config(p: dict):
    overrides = {k: p[k] for k in ("decoder_depth", "decoder_embed_dim", "decoder_num_heads",
                                   "norm_pix_loss", "encoder_mask_token", "fused_attn") if p.get(k) is not None}
    return mae_config(p["model"], img_size=p["image_size"], **overrides)


def build_schedule(p: dict):
    """static: the final ratio from the start; dynamic: the paper's Table 3 stages (or an explicit list)."""
    if p["schedule"] is not None:
        schedule = StageSchedule(tuple(tuple(s) for s in p["schedule"]))
        if p["method"] == "static" and len({r for _, r in schedule.stages}) > 1:
            raise ValueError("method='static' cannot take a schedule with changing ratios; use method='dynamic'")
        return schedule
    if p["method"] == "static":
        return ConstantSchedule(p["final_mask_ratio"])
    return dynmask_stages(p["final_mask_ratio"], p["num_epochs"])


def pretrain_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``dynamic_r85_s0``: method, final ratio and seed (any other change adds a digest)."""
    return f"{p['method']}_{ratio_tag(p['final_mask_ratio'])}_s{p['seed']}", ("method", "final_mask_ratio", "seed")


def default_run_name(p) -> str:
    """The run name `run_pretrain` uses without an explicit one (see `skeleton.auto_run_name`)."""
    return auto_run_name(p)


def build_train_config(p: dict, device: str) -> TrainConfig:
    s = seeds_for(p["seed"])
    return TrainConfig(num_epochs=p["num_epochs"], batch_size=p["batch_size"], lr=p["lr"],
                       warmup_epochs=p["warmup_epochs"], lr_schedule=p["lr_schedule"],
                       weight_decay=p["weight_decay"], data_seed=s["data_seed"], aug_seed=s["aug_seed"],
                       mask_seed=s["mask_seed"], device=device, amp_dtype=p.get("amp_dtype"),
                       compile=p.get("compile"))


def snapshot_reconstructions(model: MaskedAutoencoder, imgs: torch.Tensor, mean, std, mask_ratio: float,
                             sampling: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Masked input, prediction with visible patches pasted back, and original, as uint8 (n, H, W, C).

    With a normalised-pixel target the prediction is mapped back to pixels with each *original*
    patch's mean and variance, as He et al. do for their figures.
    """
    model.eval()
    cfg = model.cfg
    with torch.no_grad():
        masking = sample_mask(len(imgs), cfg.grid_size, mask_ratio, sampling,
                              torch.Generator().manual_seed(seed), device=imgs.device)
        out = model(imgs, mask_ratio, masking=masking)
        pred = out.pred
        if cfg.norm_pix_loss:
            from mae_study.masking import patchify
            target = patchify(imgs, cfg.patch_size)
            pred = pred * (target.var(-1, keepdim=True) + 1e-6) ** 0.5 + target.mean(-1, keepdim=True)
        m = out.mask.unsqueeze(-1).expand(-1, -1, cfg.patch_dim)  # (n, L, p*p*C)
        m = unpatchify(m, cfg.patch_size, cfg.in_chans)
        recon = unpatchify(pred, cfg.patch_size, cfg.in_chans)
        pasted = imgs * (1 - m) + recon * m
    model.train()

    def to_uint8(x):
        x = x.cpu() * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    hidden = m.permute(0, 2, 3, 1).cpu().numpy().astype(bool)  # (n, H, W, C)
    masked_img = to_uint8(imgs)
    masked_img[hidden] = 128  # masked patches shown grey
    return {"masked": masked_img, "pasted": to_uint8(pasted), "original": to_uint8(imgs),
            "mask": m[:, 0].cpu().numpy().astype(np.uint8)}


def run_pretrain(p: Mapping, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
                 stop_after_epoch: int | None = None, root: Path | None = None) -> RunDir:
    """Pre-train an MAE with resolved parameters ``p``; resumes or reads back a run already
    started or finished (`skeleton.execute_run`). ``experiment`` defaults to ``p``'s own."""
    spec = pretrain_spec(p)
    return execute_run(p, lambda run: _pretrain(p, spec, run, progress, stop_after_epoch), experiment, run_name,
                       root)


def _pretrain(p: Mapping, spec: PretrainSpec, run: RunDir, progress: bool, stop_after_epoch: int | None) -> None:
    device = resolve_device(p["device"])
    model_cfg, schedule = spec.model, spec.schedule
    train_cfg = replace(spec.train, device=device)
    data = spec.data.load(PRETRAIN_SPLIT.get(spec.data.dataset, "train"), p["num_images"])
    config = {"params": p, "model": asdict(model_cfg), "train": asdict(train_cfg),
              "schedule": schedule_to_dict(schedule), "sampling": spec.sampling, "seeds": seeds_for(p["seed"]),
              "data": {"name": data.name, "split": data.split, "num_images": len(data),
                       "image_size": data.image_size, "info": data.info}}
    run.write_config(config)
    torch.manual_seed(seeds_for(p["seed"])["init_seed"])
    model = MaskedAutoencoder(model_cfg)
    show = data.normalize(data.images[: p["num_recon_images"]]).to(device)
    snapshots = set(p["recon_epochs"])

    def on_epoch_end(m, epoch):
        if epoch in snapshots or epoch == p["num_epochs"] - 1:
            snap = snapshot_reconstructions(m, show, data.mean, data.std, schedule(epoch + 0.999), spec.sampling)
            run.save(f"recon_e{epoch:03d}.pt", {"epoch": epoch, **snap})

    t0 = time.perf_counter()
    result = fit(model, MAELoss(schedule, spec.sampling), data, train_cfg, run=run, on_epoch_end=on_epoch_end,
                 progress=progress, desc=run.name, stop_after_epoch=stop_after_epoch)
    if len(result["history"]) < p["num_epochs"]:
        return  # stopped early on purpose: not finished
    steps = result["steps"]
    ratios = [s["mask_ratio"] for s in steps]
    flops_per_step = [train_step_flops(model_cfg, r) * p["batch_size"] for r in ratios]
    enc_per_step = [3 * mae_forward_flops(model_cfg, r)["encoder"] * p["batch_size"] for r in ratios]
    last = result["history"][-1]
    final = {"final_loss": last["train_loss"], "final_mask_ratio": ratios[-1],
             "mean_mask_ratio": float(np.mean(ratios)), "num_steps": len(steps),
             "train_tflops": sum(flops_per_step) / 1e12, "encoder_train_tflops": sum(enc_per_step) / 1e12,
             "wall_time_s": result["wall_time_s"]}
    run.save("encoder.pt", model.encoder.state_dict())
    run.finish(final, provenance(p["profile"], seeds_for(p["seed"]), device, result["wall_time_s"],
                                 flops={"train_tflops": final["train_tflops"],
                                        "encoder_train_tflops": final["encoder_train_tflops"],
                                        "forward_gflops_per_image_final_ratio":
                                            mae_forward_flops(model_cfg, ratios[-1])["total"] / 1e9},
                                 wall_time_this_session_s=time.perf_counter() - t0))


def finished_pretraining(profile: str, experiment: str, name: str, how_to_make: str) -> RunDir:
    """The finished pre-training run ``name`` with its encoder weights, for a fine-tuning.

    Weights are not committed (only result files are), so on a fresh clone a finished run may
    have none: they are then recomputed from the run's own stored parameters (same seeds, same
    data: the same weights up to float rounding), and the recomputed final loss is compared with
    the committed one. A run that does not exist is an error that says how to make it.
    """
    run = finished_run(profile, experiment, name, f"pretrained={name!r}",
                       f"{how_to_make} (or pretrained='scratch' for random initialisation)")
    if not run.file("encoder.pt").exists():
        recreate_weights(run)
    return run


def recreate_weights(run: RunDir, progress: bool = True) -> None:
    """Recompute the encoder weights of a finished pre-training whose weights are missing."""
    stored = run.read("config.json")["params"]
    p = {**pretrain_defaults()[stored["profile"]], **stored}  # parameters added since take their defaults
    recompute_weights(run, ("encoder.pt",), p, run_pretrain, progress)


def pretrain_defaults(**changes) -> dict[str, dict]:
    """Default pre-training parameters per profile; ``changes[profile]`` overrides some."""
    base = {"model": "dynmask_cpu_32", "dataset": "builtin", "image_size": 32, "num_images": 4000,
            "data_seed": 0, "data_setting": None, "method": "static", "final_mask_ratio": 0.75, "schedule": None, "sampling": "random",
            "num_epochs": 10, "batch_size": 64, "lr": 1.5e-3, "warmup_epochs": 1.0, "lr_schedule": "cosine",
            "weight_decay": 0.05, "seed": 0, "device": "cpu", "decoder_depth": None, "decoder_embed_dim": None,
            "decoder_num_heads": None, "norm_pix_loss": None, "encoder_mask_token": None,
            "recon_epochs": [0], "num_recon_images": 6,
            # Speed options (`TrainConfig`, `MAEConfig`), all opt-in: "bfloat16" autocast (not the
            # same arithmetic), a torch.compile mode ("reduce-overhead": CUDA graphs), plain attention.
            "amp_dtype": None, "compile": None, "fused_attn": None}
    profiles = {
        "ci": {**base, "model": "ci_16", "image_size": 16, "num_images": 128, "num_epochs": 2, "batch_size": 32,
               "recon_epochs": [0], "num_recon_images": 4},
        "cpu": dict(base),
        # Hata, Tadamura and Samura's Table 1 model and Table 2 schedule on the built-in data at 96 px.
        "gpu": {**base, "model": "dynmask_stl10", "image_size": 96, "num_images": 100_000, "num_epochs": 100,
                "batch_size": 50, "lr": 1e-3, "warmup_epochs": 0.0, "lr_schedule": "constant",
                "device": "auto", "recon_epochs": [0, 19, 39, 59, 79]},
        # Hata, Tadamura and Samura's setting exactly: STL10's 100,000 unlabelled images.
        "paper": {**base, "model": "dynmask_stl10", "dataset": "stl10", "image_size": 96, "num_images": 100_000,
                  "num_epochs": 100, "batch_size": 50, "lr": 1e-3, "warmup_epochs": 0.0,
                  "lr_schedule": "constant", "device": "auto", "recon_epochs": [0, 19, 39, 59, 79]},
    }
    for profile, change in changes.items():
        profiles[profile].update(change)
    return profiles

