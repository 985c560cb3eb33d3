"""The synthetic pre-training chapter's setting, shared by its pre-training and fine-tuning runs:
the models of each profile (`MODELS`), the two recipes (`RECIPES`, built into a `TrainConfig` by
`train_config`): the study's base recipe (the main one at ci, cpu and gpu), Anderson & Farrell's, which
Umekawa, Kagamikawa and Maeda use for both models (the main one at `paper`, a named arm elsewhere), and
DeiT's own (Touvron et al.), the paper's open question (a); and how a model's FLOPs are counted.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from timm.models import VisionTransformer
from torch.utils.flop_counter import FlopCounterMode

from mae_study.models import ModelSpec
from mae_study.models.flops import block_flops
from mae_study.models.zoo import family
from mae_study.runs.common import seeds_for
from mae_study.train.augment import Mixup, RandomResizedCrop
from mae_study.train.engine import TrainConfig

FAMILIES = {"deit": "vit", "resnet": "resnet"}  # the chapter's model -> its family in `models.zoo`
SET_TAGS = {"fractaldb": "fdb", "fractal_single": "single", "fractal_multi": "multi"}  # in run names
RECIPE_NAMES = ("base", "anderson_farrell", "deit")
RECIPE_TAGS = {"base": "_baserecipe", "anderson_farrell": "_afrecipe", "deit": "_deitrecipe"}  # in run names
# The recipe every main arm uses, pre-training and fine-tuning alike. Anderson & Farrell's SGD one-cycle
# (peak 0.015, x10 on the head) made the ViT's fine-tuning diverge at the lr peak at cpu (loss 2.4 -> 4.6,
# then ln 10: chance in every arm); the study's base recipe (AdamW, warm-up, cosine) learns with both models.
MAIN_RECIPE = {"ci": "base", "cpu": "base", "gpu": "base", "paper": "anderson_farrell"}
# How much Single-/Multi-Instance images vary beyond their class (`mae_study.data.fractals.nuisance`).
# At cpu, Anderson & Farrell's full variation (noise backgrounds, wide windows, blur, up to 5 fractals of
# 15-60 % of a 32 px side) left the DeiT's Single-Instance pre-training at 5.5 % held-out top-1 and both
# models' Multi-Instance mAP at the positives' prevalence in 120,000 image-steps (`_superseded`).
MAIN_NUISANCE = {"ci": "full", "cpu": "reduced", "gpu": "full", "paper": "full"}
NUISANCE_TAGS = {"full": "_fullnuisance", "reduced": "_reducednuisance"}  # in run names, where not the main one
LOSSES = ("ce", "bce")
DATA_SOURCES = ("stream", "cache")
# DeiT's RandAugment (Touvron et al.: "rand-m9-mstd0.5-inc1") with its magnitude capped at 9: at the
# cap of 10, PosterizeIncreasing keeps 0 bits, which current Pillow refuses (old Pillow drew black).
DEIT_RAND_AUGMENT = "rand-m9-mstd0.5-inc1-mmax9"


def _deit(arch: str, patch: int, **kwargs) -> dict:
    return {"arch": arch, "patch_size": patch, "small_stem": False, "arch_kwargs": kwargs}


def _resnet(arch: str, small_stem: bool, **kwargs) -> dict:
    return {"arch": arch, "patch_size": None, "small_stem": small_stem, "arch_kwargs": kwargs}


MODELS = {
    # ci: the smallest models that run every code path.
    "ci": {"deit": _deit("deit_tiny_patch16_224", 4, depth=1, embed_dim=24, num_heads=2),
           "resnet": _resnet("resnet18", True, layers=[1, 1, 1, 1], channels=[8, 16, 32, 64], stem_width=8)},
    # cpu: the base MAE encoder's shape (depth 4, width 96, 4 heads, MLP ratio 4; `dynmask_cpu_32`), patch 4
    # at 32 px (64 tokens, as 224 px / 16 gives 196); a ResNet-10 at a quarter of ResNet-18's width with
    # the 3x3 stride-1 CIFAR stem. Both 0.3-0.5 M parameters, alike as DeiT-S and ResNet-50 are (22 / 26 M).
    "cpu": {"deit": _deit("deit_tiny_patch16_224", 4, depth=4, embed_dim=96, num_heads=4),
            "resnet": _resnet("resnet18", True, layers=[1, 1, 1, 1], channels=[16, 32, 64, 128], stem_width=16)},
    # gpu: the paper's two architectures at CIFAR's 32 px (DeiT-S with patch 4; ResNet-50 with the CIFAR stem).
    "gpu": {"deit": _deit("deit_small_patch16_224", 4), "resnet": _resnet("resnet50", True)},
    # paper: DeiT(small_patch16_224) and ResNet50 at 224 px.
    "paper": {"deit": _deit("deit_small_patch16_224", 16), "resnet": _resnet("resnet50", False)},
}

RECIPES = {
    # The study's base recipe (`mae_study.runs.base`): AdamW (0.9, 0.999), a 1-epoch warm-up, cosine,
    # clipping at norm 1; no augmentation in pre-training (the generators flip and jitter), flips in fine-tuning.
    "base": {"pretrain": {"lr": 1e-3, "weight_decay": 0.05}, "finetune": {"lr": 1e-3, "weight_decay": 0.05}},
    # Anderson & Farrell (the paper: "学習条件は Anderson らのものと統一"): SGD, momentum 0.9, one-cycle.
    "anderson_farrell": {"pretrain": {"lr": 0.1, "weight_decay": 1e-4},
                         "finetune": {"lr": 0.015, "weight_decay": 5e-5}},
    # DeiT's own (Touvron et al.; Nakashima et al. for fractals): AdamW, cosine with warm-up, RandAugment,
    # Mixup 0.8 / CutMix 1.0, label smoothing 0.1; the same for fine-tuning.
    "deit": {"pretrain": {"lr": 5e-4, "weight_decay": 0.05}, "finetune": {"lr": 5e-4, "weight_decay": 0.05}},
}


def derive_setting(p: dict, phase: str) -> dict:
    """Fill what the profile's model (`MODELS`) and the recipe (`RECIPES`) fix, where not given. An
    explicit ``arch`` keeps its own patch size and constructor unless they are given too."""
    if p["model"] not in FAMILIES:
        raise ValueError(f"model must be one of {list(FAMILIES)}, got {p['model']!r}")
    if p["recipe"] is None:
        p = {**p, "recipe": MAIN_RECIPE[p["profile"]]}
    if p["recipe"] not in RECIPE_NAMES:
        raise ValueError(f"recipe must be one of {RECIPE_NAMES} (None: the profile's main one), got {p['recipe']!r}")
    model = dict(MODELS[p["profile"]][p["model"]])
    if p["arch"] is not None:
        model.update(arch=p["arch"], patch_size=None, arch_kwargs={})
    filled = {k: v for k, v in model.items() if p[k] is None}
    recipe = {k: v for k, v in RECIPES[p["recipe"]][phase].items() if p[k] is None}
    if p["warmup_epochs"] is None:  # DeiT: 5 of its 300 epochs; base: 1 epoch; one-cycle rises on its own
        recipe["warmup_epochs"] = {"deit": round(min(5.0, 0.1 * p["num_epochs"]), 3),
                                   "base": round(min(1.0, 0.1 * p["num_epochs"]), 3)}.get(p["recipe"], 0.0)
    return {**p, **filled, **recipe}


def check_setting(p: Mapping) -> None:
    """The model and the training numbers (errors name the parameter)."""
    for key in ("num_epochs", "batch_size", "image_size"):
        if not isinstance(p[key], int) or p[key] < 1:
            raise ValueError(f"{key} must be an int >= 1, got {p[key]!r}")
    if p["patch_size"] is not None and not isinstance(p["patch_size"], int):
        raise ValueError(f"patch_size must be an int or None, got {p['patch_size']!r}")
    if not isinstance(p["arch_kwargs"], Mapping):
        raise ValueError(f"arch_kwargs must be a dict of constructor arguments, got {p['arch_kwargs']!r}")
    spec = model_spec(p, num_classes=1)  # unknown timm model, patch vs image size, stem vs family
    if family(spec.arch) != FAMILIES[p["model"]]:
        raise ValueError(f"arch {p['arch']!r} is a {family(spec.arch)} model, not a {p['model']} "
                         f"({FAMILIES[p['model']]}) model; pass model='deit' for a ViT/DeiT, 'resnet' for a ResNet")


def model_spec(p: Mapping, num_classes: int) -> ModelSpec:
    """The classifier of a run: the chapter's model with ``num_classes`` outputs."""
    return ModelSpec(p["arch"], num_classes, p["image_size"], patch_size=p["patch_size"],
                     small_stem=p["small_stem"], kwargs=dict(p["arch_kwargs"]))


def train_config(p: Mapping, phase: str, device: str, multi_hot: bool, head: tuple[str, ...] = ()) -> TrainConfig:
    """The recipe of ``p["recipe"]`` for ``phase`` ("pretrain" or "finetune") as a `TrainConfig`.

    Base: AdamW (0.9, 0.999), cosine to 1e-5 after ``warmup_epochs``, gradients clipped at norm 1,
    no augmentation in pre-training (the generators flip and jitter; cached FractalDB is flipped), a
    flip in fine-tuning. Anderson & Farrell: SGD (momentum 0.9), one-cycle (10 % rising), no augmentation in
    pre-training (the generators flip and jitter), fine-tuning with a 10x learning rate on the head
    (``head``: its module names) and their affine augmentation approximated by a square crop of
    69-100 % of the area (a zoom of 1-1.2) and a flip. DeiT: AdamW (0.9, 0.999), cosine to 1e-5
    after ``warmup_epochs``, random-resized crop, flip, RandAugment, Mixup/CutMix with label
    smoothing 0.1 (none on multi-hot targets: smoothing would make every class a positive of the
    BCE's pos_weight)."""
    s = seeds_for(p["seed"])
    common = dict(num_epochs=p["num_epochs"], batch_size=p["batch_size"], lr=p["lr"], weight_decay=p["weight_decay"],
                  data_seed=s["data_seed"], aug_seed=s["aug_seed"], mask_seed=s["mask_seed"], device=device,
                  amp_dtype=p["amp_dtype"], compile=p["compile"])
    if p["recipe"] == "base":
        return TrainConfig(**common, optimizer="adamw", betas=(0.9, 0.999), lr_schedule="cosine",
                           warmup_epochs=p["warmup_epochs"], min_lr=min(1e-5, p["lr"]), clip_grad=1.0,
                           hflip=phase == "finetune")
    if p["recipe"] == "deit":
        return TrainConfig(**common, optimizer="adamw", betas=(0.9, 0.999), lr_schedule="cosine",
                           warmup_epochs=p["warmup_epochs"], min_lr=min(1e-5, p["lr"]),
                           augment=RandomResizedCrop(rand_augment=DEIT_RAND_AUGMENT),
                           mixup=Mixup(0.8, 1.0, label_smoothing=0.0 if multi_hot else 0.1))
    if phase == "pretrain":
        return TrainConfig(**common, optimizer="sgd", momentum=0.9, lr_schedule="onecycle", onecycle_pct_start=0.1,
                           warmup_epochs=p["warmup_epochs"], hflip=False)
    return TrainConfig(**common, optimizer="sgd", momentum=0.9, lr_schedule="onecycle", onecycle_pct_start=0.1,
                       warmup_epochs=p["warmup_epochs"], lr_scale=tuple((f"{h}.", 10.0) for h in head),
                       augment=RandomResizedCrop(scale=(0.69, 1.0), ratio=(1.0, 1.0)))


def forward_flops(model: torch.nn.Module, spec: ModelSpec) -> int:
    """Forward FLOPs of one image: analytic for a ViT (its fused attention is invisible to torch's
    counter on the CPU, see `mae_study.models.flops`), counted by `FlopCounterMode` for a ResNet."""
    if isinstance(model, VisionTransformer):
        d, patch = model.embed_dim, model.patch_embed.patch_size[0]
        tokens, L = model.patch_embed.num_patches + model.num_prefix_tokens, model.patch_embed.num_patches
        mlp_ratio = model.blocks[0].mlp.fc1.out_features / d
        return (2 * L * spec.in_chans * patch * patch * d + len(model.blocks) * block_flops(tokens, d, mlp_ratio)
                + 2 * d * spec.num_classes)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device  # after training, maybe a GPU
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, spec.in_chans, spec.img_size, spec.img_size, device=device))
    model.train(was_training)
    return int(counter.get_total_flops())


def variant_tag(p: Mapping) -> str:
    """What a run name adds for the open questions and named arms: ``_p8`` (a patch other than the
    profile's), ``_fullnuisance`` / ``_reducednuisance`` (a pre-training's generator setting other than the
    profile's main one), ``_deitrecipe`` / ``_afrecipe`` (a recipe other than the profile's main one)."""
    default = MODELS[p["profile"]][p["model"]]["patch_size"]
    patch = f"_p{p['patch_size']}" if p["patch_size"] not in (None, default) else ""
    nuisance = p.get("nuisance")  # None for FractalDB and natural sets
    looks = "" if nuisance in (None, MAIN_NUISANCE[p["profile"]]) else NUISANCE_TAGS[nuisance]
    return patch + looks + ("" if p["recipe"] == MAIN_RECIPE[p["profile"]] else RECIPE_TAGS[p["recipe"]])
