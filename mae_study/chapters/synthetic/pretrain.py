"""Synthetic pre-training as a run (Umekawa, Kagamikawa and Maeda, "Training Transformers with
artificially generated images"): a DeiT or a ResNet (`synthetic_setting.MODELS`), randomly
initialised, trained to classify FractalDB, Single-Instance or Multi-Instance fractals, fed on the
fly or from the generator cache, with Anderson & Farrell's recipe or DeiT's own. Multi-Instance
targets are multi-hot: the loss is BCE with ``pos_weight = classes / positives`` and the held-out
metric mAP. Every epoch records the loss and the held-out top-1 (and mAP); the run records the
generator's and the training's images/s, so a reader sees which one limits it.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from mae_study.chapters.synthetic.setting import (DATA_SOURCES, LOSSES, MAIN_NUISANCE, SET_TAGS, check_setting,
                                                  derive_setting, forward_flops, model_spec, train_config, variant_tag)
from mae_study.data import DATASETS, FRACTALS, load_dataset
from mae_study.data.fractals import fractal_maker, fractal_stream
from mae_study.data.fractals.loaders import check_render_size
from mae_study.data.fractals.nuisance import NUISANCE_SETS, NUISANCES
from mae_study.models import build_model, num_trainable
from mae_study.runs.common import resolve_device, seeds_for
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import execute_run, recompute_weights
from mae_study.train.engine import classification_loss, evaluate, fit, multilabel_loss
from mae_study.train.loaders import StreamedData, stream_stats

PRETRAIN = "synthetic_pretrain"


def pretrain_defaults() -> dict[str, dict]:
    """Per profile every parameter's default; the model and recipe fields (None) are derived.
    ``data_seed`` None: the run's ``seed``, so each trial draws its own fractal systems (classes).
    ``render_size``: fractals drawn at this size and area-averaged to ``image_size`` (None: drawn at
    ``image_size``; at 32 px a directly drawn fractal is a few blocky 3x3 patches). ``nuisance`` None:
    the profile's generator setting for Single-/Multi-Instance (`setting.MAIN_NUISANCE`)."""
    base = {"model": "deit", "arch": None, "patch_size": None, "arch_kwargs": None, "small_stem": None,
            "dataset": "fractal_single", "num_classes": 32, "num_images": 12_000, "num_eval": 1024, "image_size": 32,
            "render_size": 96, "nuisance": None,
            "data_source": "stream", "fresh_images": None, "num_workers": 0, "data_seed": None,
            "recipe": None, "loss": None, "num_epochs": 10, "batch_size": 64, "lr": None,
            "weight_decay": None, "warmup_epochs": None, "seed": 0, "device": "cpu", "amp_dtype": None,
            "compile": None}
    return {
        "ci": {**base, "num_classes": 4, "num_images": 64, "num_eval": 32, "image_size": 16, "render_size": 32,
               "num_epochs": 2, "batch_size": 32},
        # 32 classes x 12,000 images an epoch (new ones every epoch), 10 epochs: 120,000 image-steps, the
        # base MAE pre-training's budget (16 x 2,048 x 6 until 2026-12 left Single-Instance at chance).
        "cpu": dict(base),
        # 100 classes x 20,000 images an epoch (new ones every epoch), 20 epochs.
        "gpu": {**base, "num_classes": 100, "num_images": 20_000, "num_eval": 2000, "num_epochs": 20,
                "device": "auto"},
        # The paper: ~1 M images (1,000 classes x 1,000), 90 epochs, batch 64, 224 px.
        "paper": {**base, "num_classes": 1000, "num_images": 1_000_000, "num_eval": 10_000, "image_size": 224,
                  "render_size": None,
                  "num_epochs": 90, "batch_size": 64, "num_workers": 8, "device": "auto"},
    }


def derive_pretrain(p: dict, given: frozenset) -> dict:
    p = derive_setting(p, "pretrain")
    if p["nuisance"] is None and p["dataset"] in NUISANCE_SETS:
        p["nuisance"] = MAIN_NUISANCE[p["profile"]]
    if p["data_seed"] is None:  # each trial its own fractal systems
        p["data_seed"] = p["seed"]
    if p["dataset"] not in FRACTALS and "render_size" not in given:
        p["render_size"] = None  # a natural set is read, not drawn
    if p["loss"] is None:
        p["loss"] = "bce" if p["dataset"] == "fractal_multi" else "ce"
    if p["fresh_images"] is None:  # A&F draw new images every epoch; FractalDB is a fixed set
        p["fresh_images"] = p["data_source"] == "stream" and p["dataset"] in FRACTALS and p["dataset"] != "fractaldb"
    return p


def check_pretrain(p: Mapping) -> None:
    if p["dataset"] not in DATASETS:
        raise ValueError(f"dataset (the pre-training set) must be one of {FRACTALS} (or a labelled set of "
                         f"{sorted(set(DATASETS) - set(FRACTALS))}), got {p['dataset']!r}")
    if p["loss"] not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {p['loss']!r}")
    if (p["dataset"] == "fractal_multi") != (p["loss"] == "bce"):
        raise ValueError(f"loss={p['loss']!r} cannot learn {p['dataset']!r}: Multi-Instance targets are multi-hot "
                         "and need loss='bce' (BCE with pos_weight); single-label sets need loss='ce'")
    if p["data_source"] not in DATA_SOURCES:
        raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {p['data_source']!r}")
    if p["fresh_images"] and (p["data_source"] != "stream" or p["dataset"] not in FRACTALS):
        raise ValueError("fresh_images=True needs data_source='stream' and a fractal set")
    for key in ("num_classes", "num_images", "num_eval"):
        if not isinstance(p[key], int) or p[key] < 1:
            raise ValueError(f"{key} must be an int >= 1, got {p[key]!r}")
    if p["dataset"] in NUISANCE_SETS and p["nuisance"] not in NUISANCES:
        raise ValueError(f"nuisance must be one of {NUISANCES} (None: the profile's), got {p['nuisance']!r}")
    if p["dataset"] not in NUISANCE_SETS and p["nuisance"] is not None:
        raise ValueError(f"nuisance={p['nuisance']!r} is for {NUISANCE_SETS}; {p['dataset']!r} has no nuisances to "
                         "set: pass None")
    if p["dataset"] in FRACTALS:
        check_render_size(p["image_size"], p["render_size"])
    elif p["render_size"] is not None:
        raise ValueError(f"render_size={p['render_size']!r} is for the fractal sets; pass None for {p['dataset']!r}")
    if p["dataset"] in FRACTALS and p["num_images"] < p["batch_size"]:
        raise ValueError(f"num_images={p['num_images']} is fewer than batch_size={p['batch_size']}")
    check_setting(p)
    train_config(p, "pretrain", "cpu", multi_hot=p["loss"] == "bce")  # lr, wd, warm-up, mixup's even batch


def pretrain_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``deit_single_s0``; ``deit_multi_p8_s1`` or ``deit_multi_deitrecipe_s0`` for the open questions."""
    name = f"{p['model']}_{SET_TAGS.get(p['dataset'], p['dataset'])}{variant_tag(p)}_s{p['seed']}"
    return name, ("model", "dataset", "patch_size", "nuisance", "recipe", "seed")


SYNTHETIC_PRETRAIN = Experiment(PRETRAIN, pretrain_defaults(), check_pretrain, derive_pretrain, pretrain_naming)


def pretrain_data(p: Mapping):
    """(training data, held-out data): a fractal set on the fly (`StreamedData`, new images every
    epoch when ``fresh_images``) or from the generator cache; held-out images from the test split."""
    name, size, seed, k = p["dataset"], p["image_size"], p["data_seed"], p["num_classes"]
    if name not in FRACTALS:  # a natural labelled set (ImageNet where present)
        split = "test" if "test" in DATASETS[name].splits else DATASETS[name].splits[-1]
        train = load_dataset(name, "train", image_size=size, seed=seed, num_samples=p["num_images"])
        held_out = load_dataset(name, split, image_size=size, seed=seed, num_samples=p["num_eval"])
        return train, replace(held_out, mean=train.mean, std=train.std)
    render = {"render_size": p["render_size"], "nuisance": p["nuisance"] or "full"}
    held_out = load_dataset(name, "test", image_size=size, seed=seed, num_samples=p["num_eval"], num_classes=k,
                            **render)
    if p["data_source"] == "cache":
        train = load_dataset(name, "train", image_size=size, seed=seed, num_samples=p["num_images"], num_classes=k,
                             **render)
    else:
        make = partial(fractal_stream, name, size, seed, p["num_images"], k, **render)
        dataset = (lambda epoch: make(epoch=epoch)) if p["fresh_images"] else make(epoch=0)
        train = StreamedData(dataset, *stream_stats(make(epoch=0)), k, num_workers=p["num_workers"], name=name)
    return train, replace(held_out, mean=train.mean, std=train.std)  # normalised as the training images


def generator_speed(p: Mapping, count: int = 1024) -> dict:
    """Images/s of the generator in this process (after a warm-up call), and its set-up time."""
    if p["dataset"] not in FRACTALS:
        return {}
    t0 = time.perf_counter()
    make = fractal_maker(p["dataset"], "train", p["image_size"], p["data_seed"], p["num_classes"],
                         render_size=p["render_size"], nuisance=p["nuisance"] or "full")
    setup = time.perf_counter() - t0
    make(np.arange(64))  # compiled kernels loaded and warm
    count = min(count, p["num_images"])
    t1 = time.perf_counter()
    make(np.arange(64, 64 + count))
    return {"generator_images_per_s": count / (time.perf_counter() - t1), "generator_setup_seconds": setup}


def pretrain_loss(p: Mapping):
    """BCE with per-image pos_weight (classes / positives) for multi-hot targets, else cross-entropy."""
    return multilabel_loss if p["loss"] == "bce" else classification_loss


def run_synthetic_pretrain(p: Mapping, experiment: str | None = None, run_name: str | None = None,
                           progress: bool = True, stop_after_epoch: int | None = None,
                           root: Path | None = None) -> RunDir:
    """Pre-train with resolved parameters ``p`` (`SYNTHETIC_PRETRAIN`); resumes or reads back."""
    check_pretrain(p)
    return execute_run(p, lambda run: _pretrain(p, run, progress, stop_after_epoch), experiment, run_name, root)


def _pretrain(p: Mapping, run: RunDir, progress: bool, stop_after_epoch: int | None) -> None:
    device = resolve_device(p["device"])
    data, held_out = pretrain_data(p)
    multi_hot = p["loss"] == "bce"
    spec = model_spec(p, data.num_classes)
    torch.manual_seed(seeds_for(p["seed"])["init_seed"])
    model = build_model(spec)
    cfg = train_config(p, "pretrain", device, multi_hot)
    speed = generator_speed(p)
    run.write_config({"params": p, "model": spec.to_dict(), "train": cfg, "seeds": seeds_for(p["seed"]),
                      "num_params": num_trainable(model), "generator": speed,
                      "data": {"name": p["dataset"], "num_images": len(data), "num_eval": len(held_out),
                               "num_classes": data.num_classes, "source": p["data_source"],
                               "fresh_images": p["fresh_images"], "info": held_out.info}})

    def eval_fn(m, epoch):  # every epoch: top-1, and mAP for Multi-Instance
        r = evaluate(m, held_out, batch_size=256, device=device, progress=False)
        return {"eval_top1": r["accuracy"], "eval_loss": r["loss"], **({"eval_mAP": r["mAP"]} if "mAP" in r else {})}

    result = fit(model, pretrain_loss(p), data, cfg, run=run, eval_fn=eval_fn,
                 progress=progress, desc=run.name, stop_after_epoch=stop_after_epoch)
    if len(result["history"]) < p["num_epochs"]:
        return  # stopped early on purpose: not finished
    last, history = result["history"][-1], result["history"]
    forward = forward_flops(model, spec)
    images = p["num_epochs"] * (len(data) // p["batch_size"]) * p["batch_size"]
    final = {"final_loss": last["train_loss"], "eval_top1": last["eval_top1"], "images_seen": images,
             **({"eval_mAP": last["eval_mAP"]} if multi_hot else {}), "num_params": num_trainable(model),
             "train_images_per_s": float(np.mean([h["images_per_s"] for h in history])),
             "train_tflops": 3 * forward * images / 1e12, "wall_time_s": result["wall_time_s"], **speed}
    run.save("model.pt", model.state_dict())
    flops = {"forward_gflops_per_image": forward / 1e9, "train_tflops": final["train_tflops"]}
    run.finish(final, provenance(p["profile"], seeds_for(p["seed"]), device, result["wall_time_s"], flops=flops))
    run.remove(run.checkpoint.name)  # model.pt holds the weights


def recreate_weights(run: RunDir, progress: bool = True) -> None:
    """Recompute ``model.pt`` of a finished pre-training whose weights are not committed."""
    stored = {k: v for k, v in run.read("config.json")["params"].items() if k != "profile"}
    p = SYNTHETIC_PRETRAIN.resolve(run.profile, **{k: v for k, v in stored.items() if k in pretrain_defaults()["ci"]})
    recompute_weights(run, ("model.pt",), p, run_synthetic_pretrain, progress)
