"""Fine-tune (or linear-probe, or Partial-k) a pre-trained MAE encoder, or train it from scratch.

The classifier is the MAE encoder on every patch plus a linear head (`MAEClassifier`). Hata,
Tadamura and Samura report test accuracy averaged over the final 10 epochs; `average_last` sets
how many.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

import torch

from mae_study.models import MAEClassifier, MAEEncoder, MAEConfig
from mae_study.models.classifier import parse_mode
from mae_study.models.flops import classifier_forward_flops
from mae_study.runs.common import (accuracy_summary, averaged_accuracy, check_data_setting, check_lengths, data_spec,
                     data_record, resolve_device, seeds_for)
from mae_study.runs.pretrain import finished_pretraining
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import auto_run_name, execute_run
from mae_study.train.engine import TrainConfig, classification_loss, fit


def check_finetune(p: dict) -> None:
    check_data_setting(p)
    check_lengths(p)
    if p["pool"] not in ("cls", "mean"):
        raise ValueError(f"pool must be 'cls' or 'mean', got {p['pool']!r}")
    parse_mode(p["mode"], 10**6)  # the depth bound is checked once the encoder is known
    build_train_config(p, "cpu")  # lr, schedule, speed options: a clear error before any compute


def build_train_config(p: dict, device: str) -> TrainConfig:
    s = seeds_for(p["seed"])
    return TrainConfig(num_epochs=p["num_epochs"], batch_size=p["batch_size"], lr=p["lr"],
                       warmup_epochs=p["warmup_epochs"], lr_schedule=p["lr_schedule"],
                       weight_decay=p["weight_decay"], data_seed=s["data_seed"], aug_seed=s["aug_seed"],
                       mask_seed=s["mask_seed"], device=device, amp_dtype=p["amp_dtype"], compile=p["compile"])


# How to make a pre-training run of each experiment that fine-tunings name in ``pretrained``.
MAKE_PRETRAINING = {
    "dynmask_pretrain": "papermill notebooks/03_dynmask_pretrain.ipynb out.ipynb -p profile {profile} "
                        "-p method <static|dynamic> -p final_mask_ratio <ratio> -p seed <seed>, "
                        "or python -m mae_study.sweep dynmask --profile {profile}",
    "mae_ablation_pretrain": "papermill notebooks/06_mae_ablation_pretrain.ipynb out.ipynb -p profile {profile} ..., "
                             "or python -m mae_study.sweep mae_ablations --profile {profile}",
    "mae_pretrain": "papermill notebooks/02_mae_pretrain.ipynb out.ipynb -p profile {profile} ...",
}


def pretrained_run(p: Mapping) -> RunDir | None:
    """The pre-training run named by ``p["pretrained"]`` ("scratch" for none), with its weights."""
    if p["pretrained"] == "scratch":
        return None
    how = MAKE_PRETRAINING.get(p["pretrain_experiment"], "its experiment's notebook").format(profile=p["profile"])
    return finished_pretraining(p["profile"], p["pretrain_experiment"], p["pretrained"], how)


def build_encoder(p: dict, source: RunDir | None) -> MAEEncoder:
    """The pre-trained encoder, or a freshly initialised one of the same shape for ``scratch``."""
    if source is None:
        from mae_study.models import MaskedAutoencoder, mae_config
        torch.manual_seed(seeds_for(p["seed"])["init_seed"])
        return MaskedAutoencoder(mae_config(p["scratch_model"], img_size=p["image_size"])).encoder
    cfg = MAEConfig(**source.read("config.json")["model"])
    encoder = MAEEncoder(cfg)
    encoder.load_state_dict(torch.load(source.file("encoder.pt"), map_location="cpu", weights_only=True))
    return encoder


def finetune_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``dynamic_r85_s0__full_ft0``: the pre-trained run, the mode and the seed."""
    return f"{p['pretrained']}__{p['mode']}_ft{p['seed']}", ("pretrained", "mode", "seed")


def default_run_name(p) -> str:
    return auto_run_name(p)


def run_finetune(p: Mapping, experiment: str | None = None, run_name: str | None = None,
                 progress: bool = True) -> RunDir:
    """Fine-tune with resolved parameters ``p``; reads back a finished run (no weights needed)."""
    check_finetune(p)
    return execute_run(p, lambda run: _finetune(p, run, progress), experiment, run_name)


def _finetune(p: Mapping, run: RunDir, progress: bool) -> None:
    device = resolve_device(p["device"])
    source = pretrained_run(p)  # a clear error before any compute if it does not exist
    encoder = build_encoder(p, source)
    if source is not None and encoder.cfg.img_size != p["image_size"]:
        raise ValueError(f"image_size={p['image_size']} but the pre-trained encoder takes {encoder.cfg.img_size}")
    parse_mode(p["mode"], encoder.cfg.depth)
    data = data_spec(p)
    train, test = data.load("train", p["num_train"]), data.load("test", p["num_test"])
    torch.manual_seed(seeds_for(p["seed"])["init_seed"] + 10_000)  # the head's initialisation
    model = MAEClassifier(encoder, train.num_classes, pool=p["pool"], mode=p["mode"])
    s = seeds_for(p["seed"])
    cfg = build_train_config(p, device)
    run.write_config({"params": p, "model": asdict(encoder.cfg), "train": asdict(cfg), "seeds": s,
                      "pretrained_from": str(source.path.relative_to(source.path.parents[2])) if source else None,
                      "trainable_params": model.num_trainable(),
                      "data": data_record(train, test)})
    result = fit(model, classification_loss, train, cfg, run=run, eval_fn=averaged_accuracy(test, p, device, progress),
                 progress=progress, desc=run.name)
    final = {**accuracy_summary(result["history"], p["average_last"]), "trainable_params": model.num_trainable(),
             "wall_time_s": result["wall_time_s"]}
    run.finish(final, provenance(p["profile"], s, device, result["wall_time_s"],
                                 flops={"forward_gflops_per_image": classifier_forward_flops(encoder.cfg) / 1e9}))
    run.remove(run.checkpoint.name)  # classifier weights are not needed again; keep result files only


def finetune_defaults(**changes) -> dict[str, dict]:
    base = {"pretrain_experiment": "dynmask_pretrain", "pretrained": "static_r75_s0", "scratch_model": "dynmask_cpu_32",
            "mode": "full", "pool": "cls", "dataset": "builtin", "image_size": 32, "num_train": 2000,
            "num_test": 2000, "data_seed": 0, "data_setting": None, "num_epochs": 10, "batch_size": 50, "lr": 1e-3,
            "warmup_epochs": 1.0, "lr_schedule": "cosine", "weight_decay": 0.05, "average_last": 3, "seed": 0,
            "device": "cpu", "amp_dtype": None, "compile": None}  # speed options, opt-in (see pretrain)
    profiles = {
        "ci": {**base, "image_size": 16, "scratch_model": "ci_16", "num_train": 100, "num_test": 100,
               "num_epochs": 2, "average_last": 1, "batch_size": 25, "pretrained": "static_r75_s0"},
        "cpu": dict(base),
        # Hata, Tadamura and Samura's Table 2: 5,000 labelled images, 8,000 test, 100 epochs, batch 50,
        # lr 1e-3, AdamW.
        "gpu": {**base, "image_size": 96, "scratch_model": "dynmask_stl10", "num_train": 5000, "num_test": 8000,
                "num_epochs": 100, "average_last": 10, "warmup_epochs": 0.0, "lr_schedule": "constant",
                "device": "auto"},
        "paper": {**base, "dataset": "stl10", "image_size": 96, "scratch_model": "dynmask_stl10",
                  "num_train": 5000, "num_test": 8000, "num_epochs": 100, "average_last": 10, "warmup_epochs": 0.0,
                  "lr_schedule": "constant", "device": "auto"},
    }
    for profile, change in changes.items():
        profiles[profile].update(change)
    return profiles
