"""The student: a ViT-Tiny-like network trained on the labelled task alone, or distilled from one
or both teachers (the paper's Eq. 1-4, `mae_study.train.kd.MultiTeacherKDLoss` through `fit`).

    p = KD_STUDENT.resolve("cpu")                       # the paper's method: both_1stage_attn_s0
    p = KD_STUDENT.resolve("cpu", teachers="mae", stages="two", attention=False)   # the KD baseline
    run = run_student(p)

``stages="one"`` (the paper's method): the teachers' pre-trained bodies with fresh heads, their
``teacher_mode`` part (Partial-1) training with the student on CE_S + CE_CL + CE_MIM + L_KD + L_Attn,
all three networks one `KDModels` (one module for DDP; ``models(imgs)`` is the student, so
evaluation measures the student). ``stages="two"`` (the paper's KD baseline): teachers adapted first
by a `kd_adapt` run (``teacher_mode``, default full fine-tuning), then frozen.

Which teacher head is distilled (``head``): "max", Attention Confidence measured once before
training on the first ``head_images`` training images (the paper picks heads by AC and does not say
on which images or how often); "max_per_step", re-measured on every step's images (the step's
rank's images under several processes, so refused there); "random", one head drawn from the run's
seed; "mean", the mean map over heads; or an index. Every check that needs a teacher run (that
it exists, its token grid, its number of heads) runs before any compute.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from mae_study.chapters.kd.adapt import KD_ADAPT, check_labelled, labelled_data, labelled_train_config, run_adapt
from mae_study.chapters.kd.teachers import (DATA_SETTING, DINO, HOW_TO_MAKE, MAE, Teacher, default_teacher_run,
                                            ensure_weights, load_teacher)
from mae_study.models import ModelSpec, attention_maps, build_model, num_trainable
from mae_study.runs.common import accuracy_summary, averaged_accuracy, data_record, resolve_device, seeds_for
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, find_runs, provenance
from mae_study.runs.skeleton import auto_run_name, execute_run
from mae_study.train.distributed import get_world_size
from mae_study.train.engine import classification_loss, evaluate, fit
from mae_study.train.kd import KDModels, MultiTeacherKDLoss, attention_confidence, check_fraction, select_head

TEACHER_SETS = {"none": (), "dino": (DINO,), "mae": (MAE,), "both": (DINO, MAE)}
ROLE = {DINO: "cl", MAE: "mim"}  # `KDModels`' names: the contrastive and the masked-image teacher
STAGES = ("one", "two")
HEADS = ("max", "max_per_step", "random", "mean")
TAGS = {"l1": "l1", "l2": "l2", "head": "head", "temperature": "T", "teacher_mode": "tm", "include_cls": "cls",
        "attn_layer": "layer"}  # ablation parameters a run name shows when they differ from the setting's default


def student_spec(p: Mapping, num_classes: int) -> ModelSpec:
    return ModelSpec(p["student_arch"], num_classes, p["image_size"], p["patch_size"],
                     kwargs={k: p[k] for k in ("embed_dim", "depth", "num_heads")})


def check_student(p: dict) -> None:
    if p["teachers"] not in TEACHER_SETS:
        raise ValueError(f"teachers must be one of {list(TEACHER_SETS)}, got {p['teachers']!r}")
    if p["stages"] not in STAGES:
        raise ValueError(f"stages must be one of {STAGES}, got {p['stages']!r}")
    l1, l2 = check_fraction("l1", p["l1"]), check_fraction("l2", p["l2"])
    if not p["temperature"] > 0:
        raise ValueError(f"temperature must be > 0, got {p['temperature']!r}")
    head = p["head"]
    if not (head in HEADS or (isinstance(head, int) and not isinstance(head, bool) and head >= 0)):
        raise ValueError(f"head must be one of {HEADS} or a head index >= 0, got {head!r}")
    heads = p["student_heads"]
    if (len(heads) != 2 or heads[0] == heads[1]
            or not all(isinstance(h, int) and 0 <= h < p["num_heads"] for h in heads)):
        raise ValueError(f"student_heads must be two different heads of the student's {p['num_heads']} "
                         f"(0 to {p['num_heads'] - 1}), got {heads!r}")
    if not re.fullmatch(r"full|linear|partial-\d+", str(p["teacher_mode"])):
        raise ValueError(f"teacher_mode must be 'full', 'linear' or 'partial-k', got {p['teacher_mode']!r}")
    used = TEACHER_SETS[p["teachers"]]
    only = {(DINO,): (1.0, "DINO"), (MAE,): (0.0, "MAE")}.get(used)
    if only and (l1 != only[0] or (p["attention"] and l2 != only[0])):
        raise ValueError(f"teachers={p['teachers']!r}: only the {only[1]} terms exist, so l1 (and l2 with "
                         f"attention) must be {only[0]}; got l1={l1}, l2={l2}")
    if not used and p["attention"]:
        raise ValueError("attention=True needs a teacher; teachers='none' trains the student alone")
    for key in ("head_images", "num_heads", "depth", "embed_dim"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    if p["teacher_lr_scale"] < 0:
        raise ValueError(f"teacher_lr_scale must be >= 0, got {p['teacher_lr_scale']}")
    student_spec(p, 1)  # patch size vs image size
    if p["embed_dim"] % p["num_heads"]:
        raise ValueError(f"embed_dim {p['embed_dim']} must be divisible by num_heads {p['num_heads']}")
    check_labelled(p)


def student_derive(p: dict, given: frozenset) -> dict:
    """What the teachers set implies, for the parameters the caller did not set: the profile's
    teacher runs of the teachers used (None for the others), the teachers' adaptation (Partial-1
    in one stage, full fine-tuning before two stages: the paper's KD baseline), l1 and l2 of a single
    teacher (1 for DINO, 0 for MAE), no attention without teachers, and head "max"."""
    p = dict(p)
    used = TEACHER_SETS.get(p["teachers"], ())
    for kind in (DINO, MAE):
        if f"{kind}_teacher" not in given:
            p[f"{kind}_teacher"] = default_teacher_run(p["profile"], kind) if kind in used else None
    if "teacher_mode" not in given:
        p["teacher_mode"] = "full" if p["stages"] == "two" else "partial-1"
    only = {(DINO,): 1.0, (MAE,): 0.0}.get(used)
    for key in ("l1", "l2"):
        if only is not None and key not in given:
            p[key] = only
    if not used and "attention" not in given:
        p["attention"] = False
    if p["head"] is None:
        p["head"] = "max"
    return p


def student_naming(p) -> tuple[str, tuple[str, ...]]:
    """``both_1stage_attn_s0``, ``mae_2stage_s0``, ``none_s0``; an ablation value that differs
    from its setting's default is shown too (``both_1stage_attn_l2_1_s0``)."""
    parts, shown = [p["teachers"]], ["teachers", "seed"]
    if p["teachers"] != "none":
        parts += [f"{1 + STAGES.index(p['stages'])}stage"] + (["attn"] if p["attention"] else [])
        shown += ["stages", "attention"]
        reference = p.experiment.resolve(p.profile, **{k: p[k] for k in shown})
        for key, tag in TAGS.items():
            if p[key] != reference[key]:
                parts.append(f"{tag}_{p[key]:g}" if isinstance(p[key], float) else f"{tag}_{p[key]}")
                shown.append(key)
    return "_".join(parts + [f"s{p['seed']}"]), tuple(shown)


@dataclass(frozen=True)
class TeacherPlan:
    teacher: Teacher
    adapted: RunDir | None  # the `kd_adapt` run of a two-stage student


def plan_teachers(p: Mapping) -> dict[str, TeacherPlan]:
    """The teachers of a run by role ("cl", "mim"), checked against the student before compute:
    each run exists (and its adaptation, for two stages), takes the student's images, has the
    chosen head, and for attention KL sees the student's token grid."""
    plans, grid = {}, p["image_size"] // p["patch_size"]
    maps = {"cl": p["attention"] and p["l2"] > 0, "mim": p["attention"] and p["l2"] < 1}
    for kind in TEACHER_SETS[p["teachers"]]:
        t = load_teacher(p["profile"], kind, p[f"{kind}_teacher"])
        if t.spec.img_size != p["image_size"]:
            raise ValueError(f"image_size={p['image_size']} but {kind} teacher {t.run.name!r} takes "
                             f"{t.spec.img_size} px images")
        if maps[ROLE[kind]] and t.grid != grid:
            raise ValueError(f"attention KL needs one token grid: {kind} teacher {t.run.name!r} sees {t.grid} x "
                             f"{t.grid} patches ({t.spec.img_size} px / {t.spec.patch_size}), the student {grid} x "
                             f"{grid} (image_size {p['image_size']} / patch_size {p['patch_size']}); "
                             "set patch_size to match, or attention=False")
        if isinstance(p["head"], int) and p["head"] >= t.num_heads:
            raise ValueError(f"head {p['head']} does not exist: {kind} teacher {t.run.name!r} has {t.num_heads} "
                             f"heads (0 to {t.num_heads - 1})")
        adapted = None
        if p["stages"] == "two":
            q = KD_ADAPT.resolve(p["profile"], teacher=kind, teacher_run=t.run.name, mode=p["teacher_mode"],
                                 seed=p["adapt_seed"])
            adapted = RunDir(p["profile"], KD_ADAPT.name, auto_run_name(q))
            if not adapted.is_finished():
                have = [r.name for r in find_runs(KD_ADAPT.name, p["profile"])]
                raise ValueError(f"stages='two' needs the {p['teacher_mode']} adaptation of {t.run.name!r}: no "
                                 f"finished run {adapted.path}; finished kd_adapt runs: {have or 'none'}. Make "
                                 f"it with: {HOW_TO_MAKE.format(profile=p['profile'])}")
        plans[ROLE[kind]] = TeacherPlan(t, adapted)
    if p["head"] == "max_per_step" and get_world_size() > 1:
        raise ValueError("head='max_per_step' measures Attention Confidence on each process's part of the batch, "
                         "so several processes would pick other heads than one; use head='max'")
    return plans


def run_student(p, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
                root: Path | None = None) -> RunDir:
    """Train a student with resolved parameters ``p``; reads back a finished run."""
    check_student(p)
    plans = plan_teachers(p)
    return execute_run(p, lambda run: _train(p, run, plans, progress), experiment, run_name, root)


def build_teacher(p: Mapping, plan: TeacherPlan, num_classes: int) -> torch.nn.Module:
    """One stage: the pre-trained body, a fresh head, ``teacher_mode`` trainable. Two stages: the
    adapted classifier, frozen."""
    if plan.adapted is None:
        return plan.teacher.classifier(num_classes, p["teacher_mode"])
    ensure_weights(plan.adapted, "teacher_adapted.pt", KD_ADAPT, run_adapt)
    model = build_model(replace(plan.teacher.spec, num_classes=num_classes))
    model.load_state_dict(torch.load(plan.adapted.file("teacher_adapted.pt"), map_location="cpu",
                                     weights_only=True))
    return model.requires_grad_(False)


def choose_head(p: Mapping, role: str, model, imgs: torch.Tensor) -> tuple[int | str, list[float]]:
    """The head a teacher's map is distilled from (see the module's docstring) and its layer's
    Attention Confidence per head on ``imgs`` (recorded with the run)."""
    (maps,) = attention_maps(model, imgs, layers=[p["attn_layer"]])
    conf = attention_confidence(maps, p["include_cls"]).cpu()  # (H,)
    rng = torch.Generator().manual_seed(seeds_for(p["seed"])["init_seed"] + list(ROLE.values()).index(role))
    per_step = {"max_per_step": "max", "mean": "mean"}  # decided by the loss at every step
    return per_step.get(p["head"]) or select_head(conf, p["head"], rng), conf.tolist()


def _train(p, run: RunDir, plans: dict[str, TeacherPlan], progress: bool) -> None:
    device = resolve_device(p["device"])
    train, test = labelled_data(p)
    s = seeds_for(p["seed"])
    torch.manual_seed(s["init_seed"])
    student = build_model(student_spec(p, train.num_classes))
    teachers, heads, confidences = {}, {}, {}
    probe = train.normalize(train.images[: p["head_images"]])  # the images Attention Confidence sees
    for i, (role, plan) in enumerate(plans.items()):
        torch.manual_seed(s["init_seed"] + 10_000 + i)  # a one-stage teacher's fresh head
        teachers[role] = build_teacher(p, plan, train.num_classes).to(device)
        if p["attention"]:
            heads[role], confidences[role] = choose_head(p, role, teachers[role], probe.to(device))
    if teachers:
        model = KDModels(student, teachers.get("cl"), teachers.get("mim"), p["attn_layer"])
        loss = MultiTeacherKDLoss(p["l1"], p["l2"], p["temperature"], p["include_cls"], p["attention"],
                                  p["detach_teacher"], heads.get("cl", "max"), heads.get("mim", "max"),
                                  tuple(p["student_heads"]))
    else:
        model, loss = student, classification_loss
    scale = p["teacher_lr_scale"]
    cfg = labelled_train_config(p, device, clip_grad=p["clip_grad"],
                                lr_scale=(("cl.", scale), ("mim.", scale)) if scale != 1 else ())
    run.write_config({
        "params": p, "student": student_spec(p, train.num_classes).to_dict(), "train": cfg, "seeds": s,
        "teachers": {role: {"from": f"{t.teacher.run.experiment}/{t.teacher.run.name}",
                            "adapted_from": t.adapted.name if t.adapted else None, "spec": t.teacher.spec.to_dict(),
                            "trainable_params": num_trainable(teachers[role])} for role, t in plans.items()},
        "heads": heads, "attention_confidence": confidences, "student_params": num_trainable(student),
        "data": data_record(train, test)})
    result = fit(model, loss, train, cfg, run=run, progress=progress, desc=run.name,
                 eval_fn=averaged_accuracy(test, p, device, progress))
    history = result["history"]
    final = {**accuracy_summary(history, p["average_last"]), "student_params": num_trainable(student), "trainable_params": num_trainable(model),
             **{f"{k}_final": history[-1][k] for k in ("kd", "attn") if k in history[-1]},
             "wall_time_s": result["wall_time_s"]}
    for role, teacher in teachers.items():  # the teachers as the run left them (one stage: trained with it)
        final[f"{role}_test_accuracy"] = evaluate(teacher, test, device=device, progress=progress)["accuracy"]
    run.finish(final, provenance(p["profile"], s, device, result["wall_time_s"]))
    run.remove(run.checkpoint.name)


def _defaults() -> dict[str, dict]:
    base = {"teachers": "both", "stages": "one", "attention": True, "l1": 0.5, "l2": 0.0, "temperature": 1.0,
            "head": None, "include_cls": True, "attn_layer": -1, "student_heads": [0, 1], "detach_teacher": True,
            "head_images": 200, "teacher_mode": None, "dino_teacher": None, "mae_teacher": None, "adapt_seed": 0,
            "teacher_lr_scale": 1.0, "student_arch": "vit_tiny_patch16_224", "embed_dim": 48, "depth": 4,
            "num_heads": 3, "patch_size": 4, "dataset": "builtin", "data_setting": DATA_SETTING, "image_size": 32,
            "num_train": 1000,
            "num_test": 1000, "data_seed": 0, "num_epochs": 8, "batch_size": 50, "lr": 1e-3, "warmup_epochs": 1.0,
            "lr_schedule": "cosine", "weight_decay": 0.05, "clip_grad": None, "augment": "flip", "average_last": 2,
            "seed": 0, "device": "cpu", "amp_dtype": None, "compile": None}
    # DeiT-Ti's recipe (lr 5e-4 x batch / 512, 5 warm-up epochs, 300 epochs, its augmentation).
    deit = {"embed_dim": 192, "depth": 12, "num_heads": 3, "num_train": None, "num_test": None, "num_epochs": 300,
            "average_last": 10, "batch_size": 256, "lr": 2.5e-4, "warmup_epochs": 5.0, "augment": "deit",
            "head_images": 500, "device": "auto"}
    return {"ci": {**base, "embed_dim": 24, "depth": 2, "image_size": 16, "num_train": 100, "num_test": 100,
                   "num_epochs": 2, "average_last": 1, "batch_size": 20, "head_images": 20},
            "cpu": {**base, "num_train": 2000},  # 1,000 until 2026-12
            "gpu": {**base, **deit, "image_size": 96, "patch_size": 8},
            "paper": {**base, **deit, "dataset": "cifar100", "data_setting": None, "image_size": 224,
                      "patch_size": 16}}


KD_STUDENT = Experiment("kd_student", _defaults(), check_student, derive=student_derive, naming=student_naming)
"""A student alone or distilled (defaults: the paper's method, both teachers in one stage)."""
