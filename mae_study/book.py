"""Helpers for the book's pages: which profile's results a build shows, and the paper's numbers."""
from __future__ import annotations

import os

import pandas as pd

from .params import check_profile
from .paths import reference_root
from .results import find_runs


def book_profile() -> str:
    """The profile whose results the book renders: ``MAE_STUDY_BOOK_PROFILE``, default ``cpu``."""
    return check_profile(os.environ.get("MAE_STUDY_BOOK_PROFILE", "cpu"))


def profiles_with_results(experiment: str) -> list[str]:
    """Profiles (in the order ci, cpu, gpu, paper) that have finished runs of ``experiment``."""
    from .params import PROFILES
    return [p for p in PROFILES if find_runs(experiment, p)]


def require_runs(experiment: str, profile: str) -> None:
    """A clear error (which fails the build) when a page's results are missing."""
    if not find_runs(experiment, profile):
        raise FileNotFoundError(
            f"no finished runs of {experiment!r} at profile {profile!r} under data/results/{profile}/; "
            f"run `make run-notebooks PROFILE={profile}` (or `make book`) first")


def reference(name: str) -> pd.DataFrame:
    """A published table from ``data/reference/<name>.csv``."""
    return pd.read_csv(reference_root() / f"{name}.csv")
