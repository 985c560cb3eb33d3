"""How hard is a downstream task? Chance, a linear probe on raw pixels, and a classifier trained
from scratch, so that comparisons between pre-trainings can be read against a floor and headroom."""
from __future__ import annotations

import time

import torch

from mae_study.data import load_dataset
from mae_study.data.builtin import linear_probe_accuracy
from mae_study.runs.finetune import finetune_defaults, run_finetune
from mae_study.runs.params import Experiment, check_profile
from mae_study.runs.results import RunDir, load_runs, provenance
from mae_study.runs.skeleton import changed_params, execute_run, params_tag

EXPERIMENT = "data_calibration"
TASKS = ("builtin", "digits")


def check_calibration(p: dict) -> None:
    for task in p["tasks"]:
        if task not in TASKS:
            raise ValueError(f"tasks may contain {TASKS}, got {task!r}")


CALIBRATION = Experiment(EXPERIMENT, {
    profile: {"tasks": list(TASKS), "image_size": ft["image_size"], "num_train": ft["num_train"],
              "num_test": ft["num_test"], "data_seed": 0, "scratch_epochs": ft["num_epochs"]}
    for profile, ft in finetune_defaults().items() if profile != "paper"}, check_calibration)


def calibration_run_name(p, task: str) -> str:
    """``builtin``; with any parameter other than ``tasks`` changed, ``builtin_p<digest>``."""
    changed = changed_params(p, ("tasks",))
    return task + (f"_p{params_tag(changed)}" if changed else "")


def run_calibration(p, progress: bool = True) -> dict[str, dict]:
    """One run per task: chance, pixel probe, and a from-scratch classifier (a fine-tuning run)."""
    check_calibration(p)
    rows = {}
    for task in p["tasks"]:
        name = calibration_run_name(p, task)
        run = execute_run(p, lambda run: _calibrate(p, task, run, progress), EXPERIMENT, name)
        rows[task] = run.read("final.json")
    return rows


def _calibrate(p, task: str, run: RunDir, progress: bool) -> None:
    t0 = time.perf_counter()
    size = p["image_size"]
    n_train = p["num_train"] if task == "builtin" else None  # digits: its whole 1,000-image split
    n_test = p["num_test"] if task == "builtin" else None
    train = load_dataset(task, "train", image_size=size, seed=p["data_seed"], num_samples=n_train)
    test = load_dataset(task, "test", image_size=size, seed=p["data_seed"], num_samples=n_test)
    counts = torch.bincount(test.labels, minlength=test.num_classes)
    ft_params = {**finetune_defaults()[p["profile"]], "profile": p["profile"], "pretrained": "scratch",
                 "dataset": task, "image_size": size, "num_train": len(train), "num_test": len(test),
                 "num_epochs": p["scratch_epochs"], "data_seed": p["data_seed"]}
    scratch = run_finetune(ft_params, EXPERIMENT + "_scratch", run_name=run.name, progress=progress)
    final = {"task": task, "num_classes": train.num_classes, "num_train": len(train), "num_test": len(test),
             "image_size": size, "chance": 1.0 / train.num_classes,
             "majority_class": float(counts.max() / counts.sum()),
             "pixel_linear_probe": linear_probe_accuracy(train, test),
             "scratch_vit": scratch.read("final.json")["test_accuracy_last_k"],
             "scratch_epochs": p["scratch_epochs"]}
    run.write_config({"params": p, "task": task, "data_info": train.info})
    device = scratch.read("provenance.json")["hardware"]["device"]  # where the from-scratch classifier trained
    run.finish(final, provenance(p["profile"], {"data_seed": p["data_seed"]}, device, time.perf_counter() - t0))


def floor_note(profile: str, task: str = "builtin") -> str:
    """One sentence for the book: the pixel probe's and the from-scratch ViT's accuracy on ``task``
    at ``profile``, read from the calibration run; empty when that run does not exist."""
    runs = load_runs(EXPERIMENT, check_profile(profile))
    row = runs[runs["run"] == task] if len(runs) else runs
    if not len(row):
        return ""
    r = row.iloc[0]
    return (f" For scale: on this task a logistic regression on raw pixels reaches "
            f"{100 * r['final.pixel_linear_probe']:.1f} % and the same ViT trained from scratch "
            f"{100 * r['final.scratch_vit']:.1f} % (data chapter; {int(r['final.num_train']):,} "
            f"training images, {int(r['final.scratch_epochs'])} epochs).")
