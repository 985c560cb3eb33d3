"""Adapting a pre-trained teacher to the labelled task (the paper's Table 1): full fine-tuning,
a linear probe, or Partial-1 (the head and the last block, with the final norm, train).

    p = KD_ADAPT.resolve("cpu", teacher="mae", mode="partial-1")     # dino_s0 / mae_r75_s0 by default
    run = run_adapt(p)                                                # mae_r75_s0__partial-1_ft0

Accuracy is the test accuracy averaged over the last ``average_last`` epochs (a fraction);
``trainable_params`` counts what the optimiser updates. The adapted classifier is saved as
``teacher_adapted.pt`` (not committed): a two-stage student distils from it (`kd_student`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from mae_study.chapters.kd.teachers import DATA_SETTING, TEACHERS, default_teacher_run, load_teacher
from mae_study.models import num_trainable
from mae_study.runs.common import (accuracy_summary, averaged_accuracy, check_data_setting, check_lengths, data_spec,
                     data_record, resolve_device, seeds_for)
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import execute_run
from mae_study.train.augment import Flip, Mixup, RandomResizedCrop
from mae_study.train.engine import TrainConfig, classification_loss, fit

MODES = ("full", "linear", "partial-1")  # the paper's Table 1 rows
AUGMENTS = ("flip", "crop", "deit")
LINEAR_LR = 1e-2  # a linear head on frozen features takes a larger step than a network (see `adapt_derive`)


def augmentation(name: str):
    """(augment, mixup) of a labelled run: "flip" (random flips), "crop" (random resized crops
    and flips), "deit" (DeiT's: crops, RandAugment m9, Mixup 0.8 / CutMix 1.0, label smoothing 0.1)."""
    if name == "flip":
        return Flip(), None
    if name == "crop":
        return RandomResizedCrop(), None
    if name == "deit":
        return RandomResizedCrop(rand_augment="rand-m9-mstd0.5-inc1"), Mixup()
    raise ValueError(f"augment must be one of {AUGMENTS}, got {name!r}")


def labelled_train_config(p: Mapping, device: str, **changes) -> TrainConfig:
    """The `TrainConfig` of a labelled run (adaptation, student) from its parameters."""
    s = seeds_for(p["seed"])
    augment, mixup = augmentation(p["augment"])
    return TrainConfig(num_epochs=p["num_epochs"], batch_size=p["batch_size"], lr=p["lr"],
                       warmup_epochs=p["warmup_epochs"], lr_schedule=p["lr_schedule"],
                       weight_decay=p["weight_decay"], data_seed=s["data_seed"], aug_seed=s["aug_seed"],
                       mask_seed=s["mask_seed"], device=device, augment=augment, mixup=mixup,
                       amp_dtype=p["amp_dtype"], compile=p["compile"], **changes)


def check_labelled(p: Mapping) -> None:
    """Checks every labelled run shares: data, sizes, the averaged epochs, the training settings."""
    check_data_setting(p)
    check_lengths(p)
    labelled_train_config(p, "cpu")  # augment, lr, schedule, speed options


def labelled_data(p: Mapping):
    """(train, test) of a labelled run."""
    data = data_spec(p)
    return data.load("train", p["num_train"]), data.load("test", p["num_test"])


def check_adapt(p: dict) -> None:
    if p["teacher"] not in TEACHERS:
        raise ValueError(f"teacher must be one of {TEACHERS}, got {p['teacher']!r}")
    if not re.fullmatch(r"full|linear|partial-\d+", p["mode"]):
        raise ValueError(f"mode must be 'full', 'linear' or 'partial-k', got {p['mode']!r}")
    check_labelled(p)


def adapt_derive(p: dict, given: frozenset) -> dict:
    """The teacher run of the profile (``dino_s0`` / ``mae_r75_s0``) unless named, and a linear
    probe's own learning rate unless given (`LINEAR_LR`: AdamW on a head over frozen, normalised
    features; the full and Partial-1 runs share ``lr``)."""
    p = dict(p)
    if p["teacher_run"] is None and p["teacher"] in TEACHERS:
        p["teacher_run"] = default_teacher_run(p["profile"], p["teacher"])
    if p["mode"] == "linear" and "lr" not in given:
        p["lr"] = LINEAR_LR
    return p


def adapt_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``mae_r75_s0__partial-1_ft0``: the teacher run, the mode and the seed."""
    return f"{p['teacher_run']}__{p['mode']}_ft{p['seed']}", ("teacher", "teacher_run", "mode", "seed")


def run_adapt(p, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
              root: Path | None = None) -> RunDir:
    """Adapt a teacher with resolved parameters ``p``; a missing teacher run is an error before
    any compute; a finished run is read back."""
    check_adapt(p)
    teacher = load_teacher(p["profile"], p["teacher"], p["teacher_run"])
    if teacher.spec.img_size != p["image_size"]:
        raise ValueError(f"image_size={p['image_size']} but teacher run {p['teacher_run']!r} takes "
                         f"{teacher.spec.img_size} px images")
    return execute_run(p, lambda run: _adapt(p, run, teacher, progress), experiment, run_name, root)


def _adapt(p, run: RunDir, teacher, progress: bool) -> None:
    device = resolve_device(p["device"])
    train, test = labelled_data(p)
    torch.manual_seed(seeds_for(p["seed"])["init_seed"] + 10_000)  # the head's initialisation
    model = teacher.classifier(train.num_classes, p["mode"])
    cfg = labelled_train_config(p, device)
    run.write_config({"params": p, "teacher": teacher.spec.to_dict(), "train": cfg, "seeds": seeds_for(p["seed"]),
                      "teacher_from": f"{teacher.run.experiment}/{teacher.run.name}",
                      "trainable_params": num_trainable(model),
                      "total_params": sum(q.numel() for q in model.parameters()),
                      "data": data_record(train, test)})
    result = fit(model, classification_loss, train, cfg, run=run, progress=progress, desc=run.name,
                 eval_fn=averaged_accuracy(test, p, device, progress))
    final = {**accuracy_summary(result["history"], p["average_last"]), "trainable_params": num_trainable(model), "wall_time_s": result["wall_time_s"]}
    run.save("teacher_adapted.pt", model.state_dict())  # a two-stage student's teacher
    run.finish(final, provenance(p["profile"], seeds_for(p["seed"]), device, result["wall_time_s"]))
    run.remove(run.checkpoint.name)


def _defaults() -> dict[str, dict]:
    base = {"teacher": "mae", "teacher_run": None, "mode": "partial-1", "dataset": "builtin",
            "data_setting": DATA_SETTING, "image_size": 32,
            "num_train": 1000, "num_test": 1000, "data_seed": 0, "num_epochs": 8, "batch_size": 50, "lr": 1e-3,
            "warmup_epochs": 1.0, "lr_schedule": "cosine", "weight_decay": 0.05, "average_last": 2,
            "augment": "flip", "seed": 0, "device": "cpu", "amp_dtype": None, "compile": None}
    return {
        "ci": {**base, "image_size": 16, "num_train": 100, "num_test": 100, "num_epochs": 2, "average_last": 1,
               "batch_size": 25},
        "cpu": {**base, "num_train": 2000},  # 1,000 until 2026-12
        # MAE's fine-tuning length (100 epochs) and DeiT's augmentation, on all labelled images at 96 px.
        "gpu": {**base, "image_size": 96, "num_train": None, "num_test": None, "num_epochs": 100, "average_last": 5,
                "batch_size": 128, "warmup_epochs": 5.0, "augment": "deit", "device": "auto"},
        "paper": {**base, "dataset": "cifar100", "data_setting": None, "image_size": 224, "num_train": None,
                  "num_test": None, "num_epochs": 100, "average_last": 5, "batch_size": 256, "warmup_epochs": 5.0,
                  "augment": "deit", "device": "auto"},
    }


KD_ADAPT = Experiment("kd_adapt", _defaults(), check_adapt, derive=adapt_derive, naming=adapt_naming)
"""A teacher adapted by full fine-tuning, linear probing or Partial-1 (the paper's Table 1)."""


def adapt_params(profile: str, teacher: str, mode: str, seed: int = 0, teacher_run: str | None = None):
    return KD_ADAPT.resolve(profile, teacher=teacher, mode=mode, seed=seed, teacher_run=teacher_run)
