"""The multi-teacher distillation chapter's two teachers: a contrastive one (DINO) and a
masked-image one (MAE), pre-trained by the study on the built-in unlabelled pool, or (profile
``paper``) timm's ``vit_base_patch16_224.dino`` / ``.mae`` read from local files.

Both teachers are timm ViTs of one shape, so the chapter compares training methods, not models.
The MAE teacher is pre-trained by `mae_study.runs.pretrain.run_pretrain`; its encoder is a timm ViT's body
under the same names, plus the fixed sin-cos position embedding that timm keeps as a parameter
(`mae_to_timm`, as MAE's own fine-tuning loads it). The DINO teacher is trained through `fit` as
`dino` describes. Weights (``teacher.pt``, the MAE run's ``encoder.pt``) are not committed;
`Teacher.backbone_state` recomputes them from a run's stored parameters when they are missing.

    dino = run_dino_teacher(KD_DINO_TEACHER.resolve("cpu"))          # dino_s0
    t = load_teacher("cpu", "dino", "dino_s0")                       # result files only
    model = t.classifier(num_classes=10, mode="partial-1")           # pre-trained body, fresh head
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from mae_study.chapters.kd.dino import SHAPE, dino_spec, dino_train, dino_train_config
from mae_study.models import MAE_CONFIGS, MAEConfig, ModelSpec, build_model, load_backbone, mae_config
from mae_study.models.mae import sincos_pos_embed
from mae_study.paths import data_root
from mae_study.runs.common import check_data_setting, ratio_tag, seeds_for
from mae_study.runs.params import Experiment
from mae_study.runs.pretrain import PretrainSpec, check_pretrain, finished_pretraining, pretrain_defaults, run_pretrain
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import auto_run_name, execute_run, finished_run, recompute_weights

DINO, MAE = "dino", "mae"
TEACHERS = (DINO, MAE)
TIMM_VIT = "vit_small_patch16_224"  # the timm constructor of the teachers' shape (its sizes set by kwargs)

TEACHER_MODEL = {"ci": "ci_16", "cpu": "dynmask_cpu_32", "gpu": "kd_vit_small_96",
                 "paper": "mae_vit_base_patch16_dec512d8b"}  # per profile, the MAE config of the teachers' shape
# The built-in data's setting every run of the chapter uses below the paper profile: the
# recalibrated one (see the data chapter), on which a small ViT learns and pre-training pays.
DATA_SETTING = "distinct-v2"
PAPER_WEIGHTS = {DINO: ("vit_base_patch16_224.dino", "timm/vit_base_patch16_224.dino/model.safetensors"),
                 MAE: ("vit_base_patch16_224.mae", "timm/vit_base_patch16_224.mae/model.safetensors")}


def shape_of(model: str) -> dict:
    """The teachers' shape at a profile, from the MAE config ``model``."""
    cfg = MAE_CONFIGS[model]
    return {"image_size": cfg.img_size, "patch_size": cfg.patch_size, **{k: getattr(cfg, k) for k in SHAPE}}


def weights_path(weights: str) -> Path:
    """A weights file as given: absolute, or relative to the data root (``MAE_STUDY_DATA_ROOT``)."""
    path = Path(weights)
    return path if path.is_absolute() else data_root() / path


def _import_body(p, run: RunDir, spec: ModelSpec) -> None:
    """A teacher that is not trained here: timm's weights from a local file, checked by loading them."""
    t0 = time.perf_counter()
    path = weights_path(p["weights"])
    if not path.is_file():
        raise ValueError(f"weights: no file {path}; place timm's file there (the Hugging Face repository "
                         f"timm/{p['arch']}) or set MAE_STUDY_DATA_ROOT")
    model = build_model(replace(spec, weights=str(path)))  # a clear error if the file does not fit the shape
    run.write_config({"params": p, "teacher": spec.to_dict(), "weights_file": p["weights"]})
    head = sum(q.numel() for q in model.get_classifier().parameters())
    final = {"imported": True, "backbone_params": sum(q.numel() for q in model.parameters()) - head}
    run.finish(final, provenance(p["profile"], seeds_for(p["seed"]), "cpu", time.perf_counter() - t0))


# ---------------------------------------------------------------------------------------------
# DINO
# ---------------------------------------------------------------------------------------------

def check_dino(p: dict) -> None:
    check_data_setting(p)
    for key in ("num_epochs", "batch_size", "num_images", "out_dim", "hidden_dim", "bottleneck_dim"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    if p["weights"] is None:
        dino_spec(p)  # shape, patch size vs image size
        if p["local_size"] % p["patch_size"]:
            raise ValueError(f"local_size {p['local_size']} must be a multiple of patch_size {p['patch_size']}")
        dino_train_config(p, "cpu")  # crops, lr, speed options
    if not 0 <= p["teacher_momentum"] <= 1:
        raise ValueError(f"teacher_momentum must be in [0, 1], got {p['teacher_momentum']}")
    if (p["knn_train"] is None) != (p["knn_test"] is None) or any(
            p[k] is not None and (not isinstance(p[k], int) or p[k] < 1) for k in ("knn_train", "knn_test")):
        raise ValueError(f"knn_train and knn_test must both be None (no health check) or ints >= 1, got "
                         f"{p['knn_train']!r} and {p['knn_test']!r}")


def run_dino_teacher(p, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
                     root: Path | None = None) -> RunDir:
    """Pre-train (or, with ``weights``, import) the DINO teacher; reads back a finished run."""
    check_dino(p)
    if p["weights"]:
        return execute_run(p, lambda run: _import_body(p, run, dino_spec(p)), experiment, run_name, root)
    return execute_run(p, lambda run: dino_train(p, run, progress), experiment, run_name, root)


def _dino_defaults() -> dict[str, dict]:
    base = {"arch": TIMM_VIT, "weights": None, "dataset": "builtin", "data_setting": DATA_SETTING,
            "num_images": 1500, "data_seed": 0,
            "num_epochs": 10, "batch_size": 64, "lr": 5e-4, "warmup_epochs": 1.0, "weight_decay": 0.04,
            "clip_grad": 3.0, "num_local": 2, "local_size": 16, "global_scale": [0.4, 1.0],
            "local_scale": [0.05, 0.4], "color_jitter": 0.4, "out_dim": 1024, "hidden_dim": 256,
            "bottleneck_dim": 64, "teacher_temp": 0.04, "warmup_teacher_temp": 0.04,
            "warmup_teacher_temp_epochs": 0, "student_temp": 0.1, "center_momentum": 0.9,
            "teacher_momentum": 0.99, "freeze_last_layer": 1, "seed": 0, "device": "cpu", "amp_dtype": None,
            "compile": None,
            # None: as the committed runs (the engine's betas (0.9, 0.95), a constant weight decay, no
            # health check); DINO's own: betas (0.9, 0.999), weight decay 0.04 -> 0.4, and `kd.health`
            # on knn_train / knn_test labelled images
            "betas": None, "weight_decay_end": None, "knn_train": None, "knn_test": None}
    return {
        "ci": {**base, **shape_of("ci_16"), "num_images": 128, "num_epochs": 2, "batch_size": 32, "local_size": 8,
               "out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "teacher_momentum": 0.9},
        # cpu: 4,000 images x 10 epochs (1,500 x 10 until 2026-12).
        "cpu": {**base, **shape_of(TEACHER_MODEL["cpu"]), "num_images": 4000},
        # DINO's ViT-S recipe (lr 5e-4 x batch / 256, 10 warm-up epochs, 8 local crops at 96/224 of
        # the side, K = 65536, teacher temperature 0.04 -> 0.07, momentum 0.996 -> 1) at 96 px.
        "gpu": {**base, **shape_of(TEACHER_MODEL["gpu"]), "num_images": 20_000, "num_epochs": 100,
                "batch_size": 256, "warmup_epochs": 10.0, "num_local": 8, "local_size": 40, "out_dim": 65536,
                "hidden_dim": 2048, "bottleneck_dim": 256, "warmup_teacher_temp_epochs": 30, "teacher_temp": 0.07,
                "teacher_momentum": 0.996, "device": "auto"},
        "paper": {**base, "arch": PAPER_WEIGHTS[DINO][0], "weights": PAPER_WEIGHTS[DINO][1], "image_size": 224,
                  "patch_size": 16, "embed_dim": 768, "depth": 12, "num_heads": 12, "device": "auto"},
    }


def dino_naming(p) -> tuple[str, tuple[str, ...]]:
    """``dino_s0``; ``dino_file_s0`` for imported weights."""
    return f"dino_{'file_' if p['weights'] else ''}s{p['seed']}", ("seed",)


KD_DINO_TEACHER = Experiment("kd_dino_teacher", _dino_defaults(), check_dino, naming=dino_naming)
"""The contrastive teacher: ``dino_s0`` (``dino_file_s0``: imported weights)."""


# ---------------------------------------------------------------------------------------------
# MAE
# ---------------------------------------------------------------------------------------------

def mae_spec(cfg: MAEConfig, arch: str = TIMM_VIT) -> ModelSpec:
    """A timm ViT of the MAE encoder's shape (``num_classes`` a placeholder)."""
    return ModelSpec(arch, 1, cfg.img_size, cfg.patch_size, kwargs={k: getattr(cfg, k) for k in SHAPE})


def check_mae_teacher(p: dict) -> PretrainSpec:
    """The pre-training's checks (its `PretrainSpec` is returned, kept as ``Params.spec``) and the
    imported teacher's."""
    spec = check_pretrain(p)
    if (p["weights"] is None) != (p["arch"] is None):
        raise ValueError(f"arch and weights go together (a timm name and its local file) or are both None; "
                         f"got arch={p['arch']!r}, weights={p['weights']!r}")
    if p["weights"] is None and p["encoder_mask_token"]:
        raise ValueError("encoder_mask_token=True gives the encoder a tensor a ViT teacher does not have")
    return spec


def run_mae_teacher(p, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
                    root: Path | None = None) -> RunDir:
    """Pre-train the MAE teacher with `run_pretrain` (or, with ``weights``, import timm's)."""
    if not isinstance(getattr(p, "spec", None), PretrainSpec):
        check_mae_teacher(p)  # plain parameters (a recomputation from stored ones): checked here
    if p["weights"]:
        spec = mae_spec(mae_config(p["model"], img_size=p["image_size"]), p["arch"])
        return execute_run(p, lambda run: _import_body(p, run, spec), experiment, run_name, root)
    return run_pretrain(p, experiment, run_name, progress=progress, root=root)


def _mae_defaults() -> dict[str, dict]:
    extra = {"weights": None, "arch": None}
    profiles = pretrain_defaults(
        ci={"model": TEACHER_MODEL["ci"], "num_epochs": 2, "recon_epochs": []},
        # cpu: the data chapter's ladder recipe (a pool of 40,000, 3 epochs: 120,000 image-steps), the
        # one measured to give features above the raw-pixel probe (until 2026-12: 2,000 x 15 epochs).
        cpu={"model": TEACHER_MODEL["cpu"], "num_images": 40_000, "num_epochs": 3, "recon_epochs": []},
        # He et al.'s recipe (base lr 1.5e-4 x batch / 256, cosine, normalised-pixel target) at 96 px.
        gpu={"model": TEACHER_MODEL["gpu"], "num_images": 20_000, "num_epochs": 100, "batch_size": 256,
             "lr": 1.5e-4, "warmup_epochs": 10.0, "lr_schedule": "cosine", "norm_pix_loss": True,
             "recon_epochs": []},
        paper={"model": TEACHER_MODEL["paper"], "image_size": 224, "recon_epochs": []})
    profiles = {k: {**v, **extra, "data_setting": DATA_SETTING if k != "paper" else None} for k, v in profiles.items()}
    profiles["paper"].update(arch=PAPER_WEIGHTS[MAE][0], weights=PAPER_WEIGHTS[MAE][1])
    return profiles


def mae_naming(p) -> tuple[str, tuple[str, ...]]:
    """``mae_r75_s0`` (final mask ratio, seed); ``mae_file_s0`` for imported weights."""
    if p["weights"]:
        return f"mae_file_s{p['seed']}", ("seed",)
    return f"mae_{ratio_tag(p['final_mask_ratio'])}_s{p['seed']}", ("final_mask_ratio", "seed")


KD_MAE_TEACHER = Experiment("kd_mae_teacher", _mae_defaults(), check_mae_teacher, naming=mae_naming)
"""The masked-image teacher: ``mae_r75_s0`` (``mae_file_s0``: imported weights)."""

EXPERIMENTS = {DINO: KD_DINO_TEACHER, MAE: KD_MAE_TEACHER}
RUNNERS: dict[str, Callable] = {DINO: run_dino_teacher, MAE: run_mae_teacher}
HOW_TO_MAKE = ("papermill notebooks/08_kd_teachers.ipynb out.ipynb -p profile {profile}, "
               "or python -m mae_study.sweep kd --profile {profile}")


# ---------------------------------------------------------------------------------------------
# A finished teacher, as later runs use it
# ---------------------------------------------------------------------------------------------

def mae_to_timm(encoder_state: dict, cfg: MAEConfig) -> dict:
    """An `MAEEncoder` state dict as a timm ViT's: the same tensors under the same names, plus the
    fixed sin-cos position embedding (CLS slot zeros), which timm keeps as a parameter."""
    return {**encoder_state, "pos_embed": sincos_pos_embed(cfg.grid_size, cfg.embed_dim)}


def default_teacher_run(profile: str, teacher: str, seed: int = 0) -> str:
    return auto_run_name(EXPERIMENTS[teacher].resolve(profile, seed=seed))


@dataclass(frozen=True)
class Teacher:
    """A finished teacher run: its kind, folder and backbone spec (``num_classes`` a placeholder)."""

    kind: str
    run: RunDir
    spec: ModelSpec
    weights_file: str | None = None  # timm's file (imported teachers), else the run's own weights

    @property
    def grid(self) -> int:
        return self.spec.img_size // self.spec.patch_size

    @property
    def num_heads(self) -> int:
        return dict(self.spec.kwargs)["num_heads"]

    def classifier(self, num_classes: int, mode: str) -> nn.Module:
        """The teacher as a classifier of ``num_classes`` (a fresh head) in ``mode``."""
        spec = replace(self.spec, num_classes=num_classes, mode=mode)
        if self.weights_file is not None:
            return build_model(replace(spec, weights=str(weights_path(self.weights_file))))
        model = build_model(spec)
        load_backbone(model, self.backbone_state())
        return model

    def backbone_state(self) -> dict:
        """The backbone's tensors under timm's names (weights recomputed first when missing)."""
        if self.kind == DINO:
            ensure_weights(self.run, "teacher.pt", KD_DINO_TEACHER, run_dino_teacher)
            return torch.load(self.run.file("teacher.pt"), map_location="cpu", weights_only=True)
        run = finished_pretraining(self.run.profile, self.run.experiment, self.run.name,
                                   HOW_TO_MAKE.format(profile=self.run.profile))
        cfg = MAEConfig(**run.read("config.json")["model"])
        return mae_to_timm(torch.load(run.file("encoder.pt"), map_location="cpu", weights_only=True), cfg)


def load_teacher(profile: str, teacher: str, name: str) -> Teacher:
    """The finished teacher run ``name`` (result files only; weights are read when needed)."""
    if teacher not in TEACHERS:
        raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")
    experiment = EXPERIMENTS[teacher].name
    run = finished_run(profile, experiment, name, f"{teacher} teacher run {name!r}", HOW_TO_MAKE.format(profile=profile))
    config = run.read("config.json")
    if "teacher" in config:  # DINO runs and imported teachers
        spec = ModelSpec.from_dict(config["teacher"])
        return Teacher(teacher, run, spec, config.get("weights_file"))
    return Teacher(teacher, run, mae_spec(MAEConfig(**config["model"])))  # an MAE pre-training: its encoder


def ensure_weights(run: RunDir, file: str, experiment: Experiment, runner: Callable, progress: bool = True) -> None:
    """Recompute ``file`` of a finished run whose weights are not there, from its stored parameters."""
    if run.file(file).exists():
        return
    stored = run.read("config.json")["params"]
    p = experiment.resolve(run.profile, **{k: v for k, v in stored.items() if k in experiment.defaults[run.profile]})
    recompute_weights(run, (file,), p, runner, progress)
