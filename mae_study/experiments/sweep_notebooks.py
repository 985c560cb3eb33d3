"""What the two sweep notebooks run: their parameters (`notebook_params` checks them before any
compute) and one call each that runs a chapter's sweep and returns its status table.

    notebooks/05_dynmask_sweep.ipynb        DYNMASK_SWEEP, run_dynmask_sweep
    notebooks/07_mae_ablation_sweep.ipynb   MAE_ABLATION_SWEEP, ablation_grids, run_ablation_sweep
"""
from __future__ import annotations

import pandas as pd

from mae_study.params import Experiment, check_profile
from mae_study.sweep import run_sweep
from mae_study.experiments import dynmask
from mae_study.experiments.ablations import GRIDS, TABLES, check_table

DYNMASK_SWEEP = Experiment("dynmask_sweep", {profile: {} for profile in dynmask.GRIDS})
"""Notebook 05's parameters: only ``profile``."""


def check_tables(p) -> None:
    for table in p["tables"]:
        check_table(table)


MAE_ABLATION_SWEEP = Experiment("mae_ablation_sweep", {profile: {"tables": list(TABLES)} for profile in GRIDS},
                                check_tables)
"""Notebook 07's parameters: ``profile`` and ``tables`` (a list of `ablations.TABLES`; default all)."""


def run_dynmask_sweep(profile: str, dry_run: bool = False) -> pd.DataFrame:
    """Every run of the dynamic mask-ratio chapter at ``profile``: one status row per run
    (``dry_run``: list them and their state, run nothing)."""
    return pd.DataFrame(run_sweep("dynmask", check_profile(profile), dry_run=dry_run))


def ablation_grids(profile: str, tables=TABLES) -> pd.DataFrame:
    """What each ablation table varies at ``profile``: its arms, seeds and evaluation modes."""
    grids = GRIDS[check_profile(profile)]
    return pd.DataFrame([{"table": table, "varies": ", ".join(grids[table].vary), "arms": len(grids[table].values),
                          "seeds": len(grids[table].pretrain_seeds), "modes": ", ".join(grids[table].modes)}
                         for table in TABLES if table in tables])


def run_ablation_sweep(profile: str, tables=TABLES, dry_run: bool = False) -> pd.DataFrame:
    """Every run of the ablation ``tables`` at ``profile``, each once: one status row per run (a
    run shared by several tables, such as the baseline, keeps the status of its first sweep;
    ``dry_run``: list them and their state, run nothing)."""
    tables = tuple(check_table(table) for table in tables)
    return pd.DataFrame(run_sweep("mae_ablations", check_profile(profile), dry_run=dry_run, tables=tables))
