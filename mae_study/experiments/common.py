"""What every experiment needs: devices, seeds, the pre-training data split, ratio tags in run names."""
from __future__ import annotations

import torch

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
