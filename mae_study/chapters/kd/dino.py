"""The DINO teacher's training (Caron et al., ICCV 2021) through the study's one engine.

`fit` trains a `DINOPair` (student and EMA teacher, each a timm ViT backbone + `DINOHead`) with
`DINOObjective` on `MultiCrop` views: 2 global crops at the image's size and ``num_local`` local
crops (the ViT resamples its position embedding for them, ``dynamic_img_size``). `DINOTeacherEma`
moves the teacher after every step. The teacher's backbone is saved as ``teacher.pt``: what the
chapter distils from (DINO evaluates its teacher too).
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
import torch.nn as nn

from mae_study.models import ModelSpec, build_model
from mae_study.models.flops import block_flops
from mae_study.runs.common import PRETRAIN_SPLIT, data_spec, resolve_device, seeds_for
from mae_study.runs.results import RunDir, provenance
from mae_study.train.augment import MultiCrop
from mae_study.train.engine import TrainConfig, fit
from mae_study.train.hooks import CosineMomentum, Hook
from mae_study.train.kd import DINOHead, DINOLoss, DINOObjective, DINOPair, ema_update_

SHAPE = ("embed_dim", "depth", "num_heads")  # the ViT sizes a run's parameters set


class DINOTeacherEma(Hook):
    """DINO's teacher update after every step (``teacher <- m teacher + (1 - m) student``, m on a
    cosine from ``start`` to 1) and, in the first ``freeze_last_layer`` epochs, no step for the
    head's last layer (DINO drops its gradients). The teacher lives in the `DINOPair`, so the
    checkpoint holds it with the model."""

    def __init__(self, momentum: CosineMomentum, freeze_last_layer: int = 1):
        self.momentum, self.freeze_last_layer = momentum, freeze_last_layer

    def before_step(self, model: DINOPair, ctx) -> None:
        if ctx.epoch < self.freeze_last_layer:
            for q in model.student[1].last_layer.parameters():
                q.grad = None  # AdamW skips a parameter without gradient (no decay either), as DINO

    def after_step(self, model: DINOPair, ctx) -> None:
        ema_update_(model.teacher, model.student, self.momentum(ctx.position))


def dino_spec(p) -> ModelSpec:
    """The backbone as a classifier spec (its head is replaced: DINO's head is `DINOHead`)."""
    return ModelSpec(p["arch"], 1, p["image_size"], p["patch_size"], kwargs={k: p[k] for k in SHAPE})


def dino_train_config(p, device: str) -> TrainConfig:
    s = seeds_for(p["seed"])
    crops = MultiCrop(p["num_local"], None, p["local_size"], tuple(p["global_scale"]), tuple(p["local_scale"]),
                      p["color_jitter"])
    betas = {} if p.get("betas") is None else {"betas": tuple(p["betas"])}  # None: the engine's (0.9, 0.95)
    return TrainConfig(num_epochs=p["num_epochs"], batch_size=p["batch_size"], lr=p["lr"],
                       warmup_epochs=p["warmup_epochs"], lr_schedule="cosine", weight_decay=p["weight_decay"],
                       weight_decay_end=p.get("weight_decay_end"), **betas, clip_grad=p["clip_grad"], data_seed=s["data_seed"], aug_seed=s["aug_seed"],
                       mask_seed=s["mask_seed"], device=device, augment=crops, amp_dtype=p["amp_dtype"],
                       compile=p["compile"])


def vit_forward_flops(tokens: int, p) -> int:
    """Forward FLOPs per image of a ViT's blocks over ``tokens`` patches (+ CLS)."""
    return p["depth"] * block_flops(tokens + 1, p["embed_dim"])


def teacher_health(p, backbone: nn.Module, spec: ModelSpec) -> dict:
    """`kd.health.backbone_health` of ``backbone`` on ``knn_train`` / ``knn_test`` labelled images of the
    run's data setting, beside a backbone of the same shape initialised with the run's init seed."""
    from mae_study.chapters.kd.health import backbone_health
    labelled = data_spec(p)
    train, test = labelled.load("train", p["knn_train"]), labelled.load("test", p["knn_test"])
    torch.manual_seed(seeds_for(p["seed"])["init_seed"])
    fresh = build_model(replace(spec, kwargs={**dict(spec.kwargs), "dynamic_img_size": True}))
    fresh.reset_classifier(0)
    return backbone_health(backbone.cpu(), fresh, train, test, p["image_size"] // p["patch_size"], p["patch_size"])


def dino_train(p, run: RunDir, progress: bool) -> None:
    """The body of a DINO teacher run (`kd_teachers.run_dino_teacher`)."""
    device = resolve_device(p["device"])
    data = data_spec(p).load(PRETRAIN_SPLIT.get(p["dataset"], "train"), p["num_images"])
    cfg = dino_train_config(p, device)
    spec = dino_spec(p)
    run.write_config({"params": p, "teacher": spec.to_dict(), "train": cfg, "seeds": seeds_for(p["seed"]),
                      "data": {"name": data.name, "split": data.split, "num_images": len(data), "info": data.info}})
    torch.manual_seed(seeds_for(p["seed"])["init_seed"])
    backbone = build_model(replace(spec, kwargs={**dict(spec.kwargs), "dynamic_img_size": True}))  # local crops
    backbone.reset_classifier(0)  # (N, D) CLS features
    student = nn.Sequential(backbone, DINOHead(p["embed_dim"], p["out_dim"], p["hidden_dim"], p["bottleneck_dim"]))
    pair = DINOPair(student, copy.deepcopy(student))
    objective = DINOObjective(DINOLoss(p["out_dim"], p["teacher_temp"], p["warmup_teacher_temp"],
                                       p["warmup_teacher_temp_epochs"], p["student_temp"], p["center_momentum"]))
    hook = DINOTeacherEma(CosineMomentum(p["num_epochs"], start=p["teacher_momentum"]), p["freeze_last_layer"])
    result = fit(pair, objective, data, cfg, run=run, hooks=[hook], progress=progress, desc=run.name)
    grid, local = (p["image_size"] // p["patch_size"]) ** 2, (p["local_size"] // p["patch_size"]) ** 2
    per_image = 3 * (2 * vit_forward_flops(grid, p) + p["num_local"] * vit_forward_flops(local, p)) \
        + 2 * vit_forward_flops(grid, p)  # student forward + backward on every view, teacher on the global ones
    final = {"final_loss": result["history"][-1]["train_loss"], "num_steps": len(result["steps"]),
             "uniform_loss": math.log(p["out_dim"]),  # the loss of a teacher collapsed to uniform outputs
             "train_tflops": per_image * len(result["steps"]) * p["batch_size"] / 1e12,
             "wall_time_s": result["wall_time_s"]}
    if p.get("knn_train"):  # the health checks of `kd.health`, on the labelled task
        final["health"] = teacher_health(p, pair.teacher[0], spec)
    run.save("teacher.pt", pair.teacher[0].state_dict())  # the EMA teacher's backbone, as DINO evaluates it
    run.finish(final, provenance(p["profile"], seeds_for(p["seed"]), device, result["wall_time_s"],
                                 flops={"train_tflops": final["train_tflops"]}))
    run.remove(run.checkpoint.name)
