"""Verdicts of a chapter's earlier results, kept when its runs are recomputed on another setting.

When a chapter's sweep is rerun on a recalibrated setting, its old runs leave the results folder
(they stay in the repository's history at the commit named here), but their verdicts are kept in
``<results>/<profile>/_superseded/<chapter>_claims.csv`` with a provenance file beside it, so that
the page can say which verdicts changed (`verdict_changes`).

    python -m mae_study.chapters.archive dynmask --profile cpu --setting siblings-v1

archives the claims the chapter's committed runs give now (run it before removing them). The
chapter's claims are passed in: nothing here knows a chapter.
"""
from __future__ import annotations

import datetime
from collections.abc import Sequence

import pandas as pd

from mae_study.paths import results_root
from mae_study.runs.params import check_profile
from mae_study.runs.results import git_commit, read_json, write_csv, write_json

KEYS = {"dynmask": ("claim",), "mae_ablations": ("table", "claim", "metric"), "synthetic": ("claim",)}  # what names a claim


def check_chapter(chapter: str) -> str:
    if chapter not in KEYS:
        raise ValueError(f"chapter must be one of {sorted(KEYS)}, got {chapter!r}")
    return chapter


def _path(chapter: str, profile: str, suffix: str):
    return results_root() / profile / "_superseded" / f"{chapter}_claims.{suffix}"


def archive(chapter: str, profile: str, setting: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Writes ``frame``, the chapter's current claims (verdicts on its current runs), to ``_superseded``."""
    check_chapter(chapter)
    check_profile(profile)
    write_csv(_path(chapter, profile, "csv"), frame)
    write_json(_path(chapter, profile, "json"), {
        "chapter": chapter, "profile": profile, "data_setting": setting, "git_commit": git_commit(),
        "archived": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "what": "the chapter's claims and verdicts on its runs before they were recomputed; the runs "
                "themselves are in the repository's history at git_commit"})
    return frame


def archived(chapter: str, profile: str) -> tuple[pd.DataFrame, dict] | None:
    """The archived claims and their provenance, or None if the chapter has none."""
    if not _path(chapter, profile, "csv").exists():
        return None
    return pd.read_csv(_path(chapter, profile, "csv")), read_json(_path(chapter, profile, "json"))


def verdict_changes(now: pd.DataFrame, before: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per claim in either frame: the verdict before and now and whether it changed
    (a claim present in only one of them shows "-" for the other)."""
    keys = list(keys)
    merged = before[keys + ["verdict"]].merge(now[keys + ["verdict"]], on=keys, how="outer",
                                             suffixes=(" before", " now"), sort=False)
    merged = merged.fillna({"verdict before": "-", "verdict now": "-"})
    merged["changed"] = merged["verdict before"] != merged["verdict now"]
    return merged


def changes(chapter: str, profile: str, now: pd.DataFrame) -> tuple[pd.DataFrame, dict] | None:
    """`verdict_changes` of the chapter's claims ``now`` against its archived ones, with provenance."""
    old = archived(check_chapter(chapter), profile)
    if old is None:
        return None
    return verdict_changes(now, old[0], KEYS[chapter]), old[1]
