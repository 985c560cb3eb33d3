"""Generated data sets cached on disk, keyed by a hash of everything that made them.

A set is saved once under ``cache_root() / "generated"`` as a ``.pt`` file named
``<name>-<split>-<size>px-<hash>.pt`` (the hash covers the generator's config and
``GENERATOR_VERSION``) and reloaded from there; the write is atomic (temporary file, then rename).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path
from typing import Callable

import torch

from mae_study.data.base import ImageTensorDataset
from mae_study.paths import cache_root
from mae_study.runs.results import save_torch  # atomic: temporary file, fsync, rename
from mae_study.train.distributed import is_main_process

GENERATOR_VERSION = 2  # bump when a generator's output changes for the same config


def config_hash(config: dict) -> str:
    """16 hex digits of SHA-1 over the config (JSON, sorted keys) and ``GENERATOR_VERSION``."""
    text = json.dumps({"config": config, "version": GENERATOR_VERSION}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cache_path(name: str, split: str, image_size: int, config: dict) -> Path:
    """Where the set made by ``config`` is cached."""
    return cache_root() / "generated" / f"{name}-{split}-{image_size}px-{config_hash(config)}.pt"


def load_or_build(name: str, split: str, image_size: int, config: dict,
                  build: Callable[[], ImageTensorDataset], cache: bool = True) -> ImageTensorDataset:
    """The cached set for ``config`` if there is one, else ``build()`` (saved when ``cache``, by the
    main process only: under several processes the others build the same set in memory, since a
    rank > 0 writes no file)."""
    path = cache_path(name, split, image_size, config)
    if cache and path.exists():
        return ImageTensorDataset(**torch.load(path, weights_only=True))
    data = build()
    if cache and is_main_process():
        save_torch(path, {f.name: getattr(data, f.name) for f in fields(data)})
    return data
