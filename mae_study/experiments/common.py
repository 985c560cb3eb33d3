"""What every experiment needs: devices, seeds, the pre-training data split, run names."""
from __future__ import annotations

import hashlib
import json

import torch

from ..results import RunDir, to_jsonable

PRETRAIN_SPLIT = {"builtin": "unlabelled", "stl10": "unlabelled"}  # other sets pre-train on "train"


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; a clear error for an unavailable device."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is available; use 'cpu' or 'auto'")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def seeds_for(seed: int) -> dict[str, int]:
    """Separate seeds for initialisation, data order, augmentation and masks, from one run seed."""
    return {"init_seed": seed, "data_seed": 1000 + seed, "aug_seed": 2000 + seed, "mask_seed": 3000 + seed}


def ratio_tag(ratio: float) -> str:
    return f"r{round(ratio * 100):02d}"


def check_run_params(run: RunDir, p: dict) -> None:
    """A run folder that already exists must have been made with the parameters ``p``: otherwise
    a rerun with other parameters would silently return (or resume) a different configuration."""
    if not run.file("config.json").exists():
        return
    stored = run.read("config.json").get("params", {})
    now = json.loads(json.dumps(to_jsonable(p)))
    # A parameter added later (absent from an older run) counts as its default, None.
    diff = {k: (stored.get(k), now.get(k)) for k in sorted(set(stored) | set(now)) if stored.get(k) != now.get(k)}
    if diff:
        shown = "; ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"run {run.name!r} at {run.path} was made with other parameters ({shown}); "
                         f"give this configuration another run name, or delete that folder to redo it")


def params_tag(value) -> str:
    """A short, stable tag of a parameter value (for run names of explicit schedules)."""
    return hashlib.sha1(json.dumps(to_jsonable(value), sort_keys=True).encode()).hexdigest()[:8]
