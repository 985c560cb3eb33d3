"""Fine-tuning of a synthetic pre-training run on a downstream task, or the same model from scratch.

Every backbone weight of the pre-trained classifier is loaded (`models.load_backbone`: a missing,
extra or differently shaped tensor is an error) and the head starts fresh for the downstream
classes; a pre-training run of another architecture than the one asked for is refused before
anything is computed. Accuracy is the test top-1 (a fraction), averaged over the final
``average_last`` epochs. Recipes as in pre-training (`synthetic_setting.train_config`): the profile's
main recipe (`MAIN_RECIPE`: the study's base recipe at ci, cpu and gpu, Anderson & Farrell's at
`paper`, as the paper does) for every arm, so that only the pre-training differs between them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import torch

from mae_study.chapters.synthetic.pretrain import PRETRAIN, recreate_weights
from mae_study.chapters.synthetic.setting import (MAIN_RECIPE, check_setting, derive_setting, forward_flops, model_spec,
                                                  train_config, variant_tag)
from mae_study.data import DATASETS, FRACTALS
from mae_study.models import build_model, load_backbone, num_trainable
from mae_study.models.adapt import head_names
from mae_study.runs.common import (accuracy_summary, averaged_accuracy, check_data_setting, data_record, data_spec,
                     resolve_device, seeds_for)
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import execute_run, finished_run
from mae_study.train.engine import classification_loss, fit

FINETUNE = "synthetic_finetune"
SPEC_FIELDS = ("arch", "img_size", "patch_size", "in_chans", "small_stem", "pool", "kwargs")  # what must match


def finetune_defaults() -> dict[str, dict]:
    """Per profile every parameter's default; model and recipe fields (None) are derived.
    ``num_train`` / ``num_test`` None: the downstream set's own split sizes."""
    base = {"pretrain_experiment": PRETRAIN, "pretrained": "deit_single_s0", "model": "deit", "arch": None,
            "patch_size": None, "arch_kwargs": None, "small_stem": None, "dataset": "builtin",
            "data_setting": None, "num_train": None, "num_test": None, "image_size": 32, "data_seed": 0,
            "recipe": None, "num_epochs": 30, "batch_size": 50, "lr": None, "weight_decay": None,
            "warmup_epochs": None, "average_last": 3, "seed": 0, "device": "cpu", "amp_dtype": None,
            "compile": None}
    return {
        "ci": {**base, "dataset": "digits", "num_train": 128, "num_test": 128, "image_size": 16, "num_epochs": 2,
               "batch_size": 32, "average_last": 1},
        # The base recipe's fine-tuning: 30 epochs, batch 50, the last 3 averaged (4-10 epochs with
        # Anderson & Farrell's recipe until 2026-12 left every model on the built-in task at chance).
        "cpu": dict(base),
        "gpu": {**base, "num_epochs": 30, "average_last": 3, "device": "auto"},
        # The paper: CIFAR-10/100 (50,000 / 10,000 images), 150 epochs, batch 64, 224 px.
        "paper": {**base, "dataset": "cifar10", "image_size": 224, "num_epochs": 150, "batch_size": 64, "average_last": 1,
                  "device": "auto"},
    }


# The built-in task's setting per profile, where a run does not name one: the recalibrated one.
BUILTIN_SETTING = {"cpu": "distinct-v2", "gpu": "distinct-v2"}
# (num_train, num_test) per profile and task where a run does not give them (None: the set's own
# split): the base recipe's 2,000 / 2,000 built-in images; 150 digits (15 per class), so that the
# digits task is not saturated (the whole training split put every model at 96-97 %).
TASK_SIZES = {"cpu": {"builtin": (2000, 2000), "digits": (150, None)},
              "gpu": {"builtin": (2000, 2000), "digits": (150, None)}}


def derive_finetune(p: dict, given: frozenset) -> dict:
    p = derive_setting(p, "finetune")
    if p["dataset"] == "builtin" and "data_setting" not in given:
        p = {**p, "data_setting": BUILTIN_SETTING.get(p["profile"])}
    sizes = TASK_SIZES.get(p["profile"], {}).get(p["dataset"])
    if sizes is not None:
        p = {**p, **{k: v for k, v in zip(("num_train", "num_test"), sizes) if k not in given}}
    return p


def check_finetune(p: Mapping) -> None:
    check_data_setting(p)
    if p["dataset"] not in DATASETS or p["dataset"] in FRACTALS:
        raise ValueError(f"dataset (the downstream task) must be a labelled set of "
                         f"{sorted(set(DATASETS) - set(FRACTALS))}, got {p['dataset']!r}")
    for key in ("num_train", "num_test"):
        if p[key] is not None and (not isinstance(p[key], int) or p[key] < 1):
            raise ValueError(f"{key} must be None (the set's own split) or an int >= 1, got {p[key]!r}")
    if not isinstance(p["average_last"], int) or not 1 <= p["average_last"] <= p["num_epochs"]:
        raise ValueError(f"average_last must be an int from 1 to num_epochs={p['num_epochs']}, "
                         f"got {p['average_last']!r}")
    if not isinstance(p["pretrained"], str) or not p["pretrained"]:
        raise ValueError(f"pretrained must be a run name of {p['pretrain_experiment']!r} or 'scratch', "
                         f"got {p['pretrained']!r}")
    check_setting(p)
    train_config(p, "finetune", "cpu", multi_hot=False)


def finetune_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """``deit_single_s0__builtin_ft0``; from scratch ``scratch_deit__digits_ft1`` (``scratch_deit_p8__...``).
    The model is shown by the pre-training's name (a run of another model is refused)."""
    source = f"scratch_{p['model']}{variant_tag({**p, 'recipe': MAIN_RECIPE[p['profile']]})}" \
        if p["pretrained"] == "scratch" else p["pretrained"]
    recipe = variant_tag({**p, "patch_size": None})  # "_afrecipe" / "_deitrecipe": not the main recipe
    return f"{source}__{p['dataset']}{recipe}_ft{p['seed']}", ("pretrained", "model", "patch_size", "dataset",
                                                               "recipe", "seed")


SYNTHETIC_FINETUNE = Experiment(FINETUNE, finetune_defaults(), check_finetune, derive_finetune, finetune_naming)


def pretrained_source(p: Mapping) -> RunDir | None:
    """The finished pre-training run ``p["pretrained"]`` (None for "scratch"), after checking that
    it is the architecture asked for; its weights are recomputed when they are not committed."""
    if p["pretrained"] == "scratch":
        return None
    run = finished_run(p["profile"], p["pretrain_experiment"], p["pretrained"],
                       f"pretrained={p['pretrained']!r}",
                       f"papermill notebooks/11_synthetic_pretrain.ipynb out.ipynb -p profile {p['profile']} ..., "
                       f"or python -m mae_study.sweep synthetic --profile {p['profile']} (or pretrained='scratch')")
    check_same_architecture(p, run.read("config.json")["model"], run.name)
    if not run.file("model.pt").exists():
        recreate_weights(run)
    return run


def check_same_architecture(p: Mapping, source_spec: Mapping, name: str) -> None:
    """A ValueError naming every field in which the pre-trained model differs from the one asked for."""
    asked = model_spec(p, num_classes=1).to_dict()
    diff = {k: (source_spec.get(k), asked[k]) for k in SPEC_FIELDS if source_spec.get(k) != asked[k]}
    if diff:
        shown = "; ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"pretrained={name!r} is another architecture than the one asked for ({shown}); pass the "
                         f"run's model (model=..., patch_size=...) or fine-tune a run of this architecture")


def finetune_model(p: Mapping, num_classes: int, source: RunDir | None) -> tuple[torch.nn.Module, list[str] | str]:
    """The model to fine-tune and the state-dict keys left at initialisation: every backbone tensor
    loaded from ``source``'s ``model.pt`` and a fresh head of ``num_classes`` (only the head's keys
    are returned), or a model initialised from scratch ("all (from scratch)")."""
    torch.manual_seed(seeds_for(p["seed"])["init_seed"] + 10_000)  # the head's (and a scratch model's) initialisation
    model = build_model(model_spec(p, num_classes))
    if source is None:
        return model, "all (from scratch)"
    return model, load_backbone(model, torch.load(source.file("model.pt"), map_location="cpu", weights_only=True))


def run_synthetic_finetune(p: Mapping, experiment: str | None = None, run_name: str | None = None,
                           progress: bool = True) -> RunDir:
    """Fine-tune with resolved parameters ``p`` (`SYNTHETIC_FINETUNE`); reads back a finished run
    (no weights needed)."""
    check_finetune(p)
    return execute_run(p, lambda run: _finetune(p, run, progress), experiment, run_name)


def _finetune(p: Mapping, run: RunDir, progress: bool) -> None:
    device = resolve_device(p["device"])
    source = pretrained_source(p)  # a clear error before any compute
    data = data_spec(p)
    train, test = data.load("train", p["num_train"]), data.load("test", p["num_test"])
    test = replace(test, mean=train.mean, std=train.std)  # normalised as the training images
    if train.labels.ndim != 1:
        raise ValueError(f"dataset={p['dataset']!r} has multi-hot targets; fine-tuning takes single-label tasks")
    s = seeds_for(p["seed"])
    spec = model_spec(p, train.num_classes)
    model, fresh = finetune_model(p, train.num_classes, source)
    cfg = train_config(p, "finetune", device, multi_hot=False, head=head_names(model))
    run.write_config({"params": p, "model": spec.to_dict(), "train": cfg, "seeds": s,
                      "pretrained_from": f"{source.experiment}/{source.name}" if source else None,
                      "fresh_keys": fresh,
                      "trainable_params": num_trainable(model),
                      "data": data_record(train, test)})
    result = fit(model, classification_loss, train, cfg, run=run, eval_fn=averaged_accuracy(test, p, device),
                 progress=progress, desc=run.name)
    forward = forward_flops(model, spec)
    images = p["num_epochs"] * (len(train) // p["batch_size"]) * p["batch_size"]
    final = {**accuracy_summary(result["history"], p["average_last"]), "trainable_params": num_trainable(model), "train_tflops": 3 * forward * images / 1e12,
             "train_images_per_s": float(np.mean([h["images_per_s"] for h in result["history"]])),
             "wall_time_s": result["wall_time_s"]}
    flops = {"forward_gflops_per_image": forward / 1e9, "train_tflops": final["train_tflops"]}
    run.finish(final, provenance(p["profile"], s, device, result["wall_time_s"], flops=flops))
    run.remove(run.checkpoint.name)  # the fine-tuned weights are not needed again
