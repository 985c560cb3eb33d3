"""How far each pre-trained teacher's heads look (the paper's Figure 1) and which head Attention
Confidence picks, measured on held-out images.

    run = run_attention(KD_ATTENTION.resolve("cpu", teacher="dino"))   # dino_s0
    run.read("distance.csv")     # image, layer, head, distance_px  (one row per image, layer and head)
    run.read("confidence.csv")   # layer, head, confidence          (mean over the images)
    run.read("attention_examples.pt")   # example images and the AC-chosen heads' maps

Distance is Park et al.'s (ICLR 2023): the CLS row and column dropped, rows renormalised, pixels
between patch centres weighted by attention, averaged over queries (`mae_study.train.kd.attention_distance`);
here kept per image, so the figure can show the spread over images. Confidence is Voita et al.'s
(`mae_study.train.kd.attention_confidence`, with the CLS token as the model computes it unless ``include_cls`` is
False). The teachers are analysed as pre-trained (no adaptation), as Park et al. analyse them.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mae_study.chapters.kd.teachers import DATA_SETTING, TEACHERS, default_teacher_run, load_teacher
from mae_study.models import attention_maps
from mae_study.runs.common import check_data_setting, data_spec, resolve_device
from mae_study.runs.params import Experiment
from mae_study.runs.results import RunDir, provenance, write_csv
from mae_study.runs.skeleton import execute_run
from mae_study.train.kd import attention_confidence, attention_distance, select_head


def distances_per_image(maps: torch.Tensor, grid: int, patch_size: int) -> torch.Tensor:
    """(N, H) attention distance of every image and head from one layer's (N, H, T, T) maps:
    `attention_distance` averages over images and keeps heads, so the (image, head) pairs are
    passed as the heads of one image."""
    N, H, T, _ = maps.shape
    return attention_distance(maps.reshape(1, N * H, T, T), grid, patch_size).reshape(N, H)


def check_attention(p: dict) -> None:
    check_data_setting(p)
    if p["teacher"] not in TEACHERS:
        raise ValueError(f"teacher must be one of {TEACHERS}, got {p['teacher']!r}")
    for key in ("num_images", "batch_size"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    if not 0 <= p["num_examples"] <= p["num_images"]:
        raise ValueError(f"num_examples must be in [0, num_images={p['num_images']}], got {p['num_examples']}")


def attention_derive(p: dict, given: frozenset) -> dict:
    if p["teacher_run"] is None and p["teacher"] in TEACHERS:
        p = {**p, "teacher_run": default_teacher_run(p["profile"], p["teacher"])}
    return p


def run_attention(p, experiment: str | None = None, run_name: str | None = None, progress: bool = True,
                  root: Path | None = None) -> RunDir:
    """Measure one teacher's attention; a missing teacher run is an error before any compute."""
    check_attention(p)
    teacher = load_teacher(p["profile"], p["teacher"], p["teacher_run"])
    if teacher.spec.img_size != p["image_size"]:
        raise ValueError(f"image_size={p['image_size']} but teacher run {p['teacher_run']!r} takes "
                         f"{teacher.spec.img_size} px images")
    return execute_run(p, lambda run: _measure(p, run, teacher), experiment, run_name, root)


def _measure(p: Mapping, run: RunDir, teacher) -> None:
    t0 = time.perf_counter()
    device = resolve_device(p["device"])
    data = data_spec(p).load(p["split"], p["num_images"])
    model = teacher.classifier(1, "full").to(device).eval()  # the backbone; the head is never used
    grid, patch = teacher.grid, teacher.spec.patch_size
    distance, conf_sum, examples = [], 0.0, None
    for start in range(0, len(data), p["batch_size"]):
        imgs = data.normalize(data.images[start:start + p["batch_size"]]).to(device)  # (n, C, H, W)
        maps = attention_maps(model, imgs)  # per layer (n, heads, T, T)
        distance.append(torch.stack([distances_per_image(m, grid, patch) for m in maps], 1).cpu())  # (n, layers, H)
        conf_sum = conf_sum + torch.stack([attention_confidence(m, p["include_cls"]) for m in maps]).cpu() * len(imgs)
        if examples is None:
            examples = [m[: p["num_examples"]].cpu() for m in maps]
    distance = torch.cat(distance).numpy()  # (N, layers, H)
    confidence = (conf_sum / len(data)).numpy()  # (layers, H)
    N, layers, H = distance.shape
    chosen = [select_head(torch.from_numpy(c), "max") for c in confidence]  # per layer
    idx = np.indices(distance.shape).reshape(3, -1)
    write_csv(run.file("distance.csv"), pd.DataFrame({"image": idx[0], "layer": idx[1], "head": idx[2],
                                                      "distance_px": distance.reshape(-1)}))
    write_csv(run.file("confidence.csv"), pd.DataFrame({"layer": np.repeat(np.arange(layers), H),
                                                        "head": np.tile(np.arange(H), layers),
                                                        "confidence": confidence.reshape(-1)}))
    run.save("attention_examples.pt", {
        "images": data.images[: p["num_examples"]].permute(0, 2, 3, 1).numpy(),  # (n, H, W, C) uint8
        "chosen_heads": chosen, "grid": grid, "patch_size": patch,
        "maps": np.stack([m[:, h].half().numpy() for m, h in zip(examples, chosen)], 1)})  # (n, layers, T, T)
    run.write_config({"params": p, "teacher": teacher.spec.to_dict(),
                      "teacher_from": f"{teacher.run.experiment}/{teacher.run.name}",
                      "data": {"name": data.name, "split": data.split, "num_images": len(data), "info": data.info}})
    per_layer = distance.mean((0, 2))  # (layers,): mean over images and heads
    final = {"num_images": N, "num_layers": layers, "num_heads": H, "chosen_head_last_layer": chosen[-1],
             "distance_first_layer_px": float(per_layer[0]), "distance_last_layer_px": float(per_layer[-1]),
             "distance_mean_px": float(per_layer.mean()),
             "confidence_chosen_last_layer": float(confidence[-1, chosen[-1]])}
    wall = time.perf_counter() - t0
    run.finish({**final, "wall_time_s": wall}, provenance(p["profile"], {"data_seed": p["data_seed"]}, device, wall))


def _defaults() -> dict[str, dict]:
    base = {"teacher": "mae", "teacher_run": None, "dataset": "builtin", "data_setting": DATA_SETTING,
            "split": "test", "image_size": 32,
            "num_images": 300, "data_seed": 0, "batch_size": 100, "num_examples": 4, "include_cls": True,
            "device": "cpu"}
    return {"ci": {**base, "image_size": 16, "num_images": 32, "batch_size": 16},
            "cpu": dict(base),
            "gpu": {**base, "image_size": 96, "num_images": 2000, "device": "auto"},
            "paper": {**base, "dataset": "cifar100", "data_setting": None, "image_size": 224, "num_images": 2000,
                      "device": "auto"}}


KD_ATTENTION = Experiment("kd_attention", _defaults(), check_attention, derive=attention_derive,
                          naming=lambda p: (p["teacher_run"], ("teacher", "teacher_run")))
"""One teacher's attention distance per layer and head, and its Attention Confidence."""
