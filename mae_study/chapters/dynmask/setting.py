"""What differs between the dynamic mask-ratio paper's protocol and the study's runs of a profile,
and what the paper's protocol would cost on a measured machine."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from mae_study.chapters.dynmask.plan import (DYNMASK_FINETUNE, DYNMASK_PRETRAIN, FINETUNE, GRIDS, PRETRAIN,
                                             finetune_entries)
from mae_study.models import mae_config
from mae_study.paths import REPO_ROOT
from mae_study.report.page import reference
from mae_study.runs import base
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_runs


def setting(profile: str) -> dict:
    """The study's protocol at ``profile``, read back from the runs' files, beside the paper's
    (its Table 2 and its grid of ratios and trials), under ``"paper"``.

    Keys: pretrain_images, finetune_images, test_images (None without fine-tuning runs),
    image_size, patch_size, embed_dim, depth, pretrain_epochs, stage_epochs (five equal stages),
    final_ratios, pretrain_trials, finetune_trials, average_last; ``paper`` holds
    pretrain_images, finetune_images, pretrain_epochs, base_lr and optimizer (as the paper
    writes them), final_ratios, pretrain_trials, finetune_trials and average_last."""
    pre = load_runs(PRETRAIN, check_profile(profile)).iloc[0]
    evals = base.load_with_base(FINETUNE, profile, finetune_entries(profile), base.FINETUNE)
    ft = evals.iloc[0] if not evals.empty else None
    grid, paper_grid = GRIDS[profile], GRIDS["paper"]
    paper = reference("dynmask_table2_training").set_index("parameter")["pretrain"]
    paper_ft = reference("dynmask_table2_training").set_index("parameter")["finetune"]
    return {
        "pretrain_images": int(pre["config.data.num_images"]),
        "finetune_images": int(ft["config.data.num_train"]) if ft is not None else None,
        "test_images": int(ft["config.data.num_test"]) if ft is not None else None,
        "image_size": int(pre["config.model.img_size"]), "patch_size": int(pre["config.model.patch_size"]),
        "embed_dim": int(pre["config.model.embed_dim"]), "depth": int(pre["config.model.depth"]),
        "pretrain_epochs": int(pre["config.train.num_epochs"]),
        "stage_epochs": int(pre["config.train.num_epochs"]) / 5,
        "final_ratios": list(grid.final_ratios), "pretrain_trials": len(grid.pretrain_seeds),
        "finetune_trials": len(grid.finetune_seeds),
        "average_last": int(ft["final.average_last"]) if ft is not None else None,
        "paper": {"pretrain_images": int(paper["train_images"]), "finetune_images": int(paper_ft["train_images"]),
                  "pretrain_epochs": int(paper["epochs"]), "base_lr": paper["base_lr"], "optimizer": paper["optimizer"],
                  "final_ratios": list(paper_grid.final_ratios), "pretrain_trials": len(paper_grid.pretrain_seeds),
                  "finetune_trials": len(paper_grid.finetune_seeds),
                  "average_last": DYNMASK_FINETUNE.defaults["paper"]["average_last"]},
    }


def lr_schedules() -> str:
    """The pre-training learning-rate schedule of every profile, profiles that share one grouped,
    as a phrase for the book (from `DYNMASK_PRETRAIN`'s defaults)."""
    groups: dict[tuple, list[str]] = {}
    for profile, defaults in DYNMASK_PRETRAIN.defaults.items():
        key = (defaults["lr"], defaults["lr_schedule"], defaults["warmup_epochs"])
        groups.setdefault(key, []).append(f"`{profile}`")
    parts = []
    for (lr, schedule, warmup), profiles in groups.items():
        how = f"a constant {lr:g}" if schedule == "constant" else f"{lr:g} with a {schedule} decay"
        if warmup:
            how += f" after a {warmup:g}-epoch warm-up"
        parts.append(f"{' and '.join(profiles)}: {how}")
    return "; ".join(parts)


BENCHMARK = REPO_ROOT / "benchmarks" / "results" / "pretrain_cpu-2core.json"
"""The pre-training throughput `benchmarks/bench_pretrain.py` measured for the paper's model."""


def pretrain_time_estimate(profile: str = "paper", benchmark: Path = BENCHMARK) -> pd.DataFrame:
    """How long one pre-training of ``profile`` would take at the throughput measured in a
    ``benchmarks/bench_pretrain.py`` result file: per mask ratio it measured, the study's images/s
    and ``num_images * num_epochs / images_per_s`` in days. The file's model and batch size must be
    the profile's (a ValueError otherwise)."""
    p = DYNMASK_PRETRAIN.defaults[check_profile(profile)]
    bench = json.loads(Path(benchmark).read_text())
    model = asdict(mae_config(p["model"], img_size=p["image_size"]))
    differ = {k: (v, model[k]) for k, v in bench["config"].items() if k in model and model[k] != v}
    if differ or bench["batch_size"] != p["batch_size"]:
        raise ValueError(f"{benchmark} measured another model or batch than profile {profile!r}'s: "
                         f"{differ or {'batch_size': (bench['batch_size'], p['batch_size'])}}")
    images = p["num_images"] * p["num_epochs"]
    rows = [{"mask ratio": float(r), "images_per_s": m["models"]["a_study"]["images_per_s"],
             "days": images / m["models"]["a_study"]["images_per_s"] / 86400}
            for r, m in bench["ratios"].items()]
    return pd.DataFrame(rows).assign(device=bench["device"], num_images=p["num_images"], num_epochs=p["num_epochs"],
                                     file=Path(benchmark).name)
