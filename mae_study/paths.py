"""Where the study keeps things.

Every path is resolved here, from the package's own location, so that a notebook run by
papermill (in the caller's folder), by nbval or by Jupyter Book (in the notebook's folder)
finds the same files. Each root can be moved with an environment variable.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("MAE_STUDY_ROOT", Path(__file__).resolve().parents[1]))


def data_root() -> Path:
    """Folder holding real data sets (STL10, CIFAR); env ``MAE_STUDY_DATA_ROOT`` overrides."""
    return Path(os.environ.get("MAE_STUDY_DATA_ROOT", REPO_ROOT / "data" / "datasets"))


def cache_root() -> Path:
    """Folder for generated data caches; env ``MAE_STUDY_CACHE`` overrides."""
    return Path(os.environ.get("MAE_STUDY_CACHE", REPO_ROOT / "data" / "cache"))


def results_root() -> Path:
    """Folder that runs write into and the book reads from; env ``MAE_STUDY_RESULTS`` overrides."""
    return Path(os.environ.get("MAE_STUDY_RESULTS", REPO_ROOT / "data" / "results"))


def reference_root() -> Path:
    """The published numbers of the source papers (copied from shared/reference)."""
    return REPO_ROOT / "data" / "reference"
