"""The data chapter's first ladder of the built-in downstream tasks: chance, a linear probe on raw
pixels and a ViT trained from scratch (from the calibration runs, on the setting they name). All
accuracies are fractions of the test set (0-1). The recalibrated setting's ladder, with MAE
pre-training and spread over seeds, is `tables`."""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.ladder.calibration import EXPERIMENT, TASKS
from mae_study.data.builtin import DEFAULT_SETTING
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_runs

COLUMNS = {"final.task": "task", "final.num_train": "train images", "final.num_test": "test images",
           "final.image_size": "image size", "final.chance": "chance",
           "final.pixel_linear_probe": "linear probe on pixels", "final.scratch_vit": "ViT from scratch"}


def calibration_table(profile: str) -> pd.DataFrame:
    """One row per calibrated task (`COLUMNS`), with the built-in setting it used ("-" for a
    task without settings). The calibration runs name none: they used the default setting. Runs
    with other parameters (an exercise's, named ``<task>_p<digest>``) are not the calibration."""
    runs = load_runs(EXPERIMENT, check_profile(profile))
    runs = runs[runs["run"].isin(TASKS)].reset_index(drop=True) if len(runs) else runs
    table = runs[list(COLUMNS)].rename(columns=COLUMNS)
    setting = runs.get("config.params.data_setting", pd.Series([None] * len(runs), index=runs.index))
    table.insert(1, "setting", [(s if isinstance(s, str) else DEFAULT_SETTING) if t == "builtin" else "-"
                                for s, t in zip(setting, table["task"])])
    return table
