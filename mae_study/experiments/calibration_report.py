"""The data chapter's ladder of the built-in downstream tasks: chance, a linear probe on raw
pixels and a ViT trained from scratch (from the calibration runs), and on the built-in task the
best accuracy an MAE pre-training reached in the dynamic mask-ratio chapter. All accuracies are
fractions of the test set (0-1)."""
from __future__ import annotations

import pandas as pd

from ..params import check_profile
from ..results import load_runs
from .calibration import EXPERIMENT
from .dynmask_tables import best_finetuned_accuracy

COLUMNS = {"final.task": "task", "final.num_train": "train images", "final.num_test": "test images",
           "final.image_size": "image size", "final.chance": "chance",
           "final.pixel_linear_probe": "linear probe on pixels", "final.scratch_vit": "ViT from scratch"}
BEST_PRETRAINED = "best MAE pre-trained + fine-tuned (dynmask chapter)"


def calibration_table(profile: str) -> pd.DataFrame:
    """One row per calibrated task (`COLUMNS`); the built-in task's row also gets the best mean
    accuracy of a pre-trained, fine-tuned encoder of the dynamic mask-ratio chapter
    (`dynmask_tables.best_finetuned_accuracy`), a column left out when that chapter has no
    fine-tuning runs at this profile."""
    table = load_runs(EXPERIMENT, check_profile(profile))[list(COLUMNS)].rename(columns=COLUMNS)
    best = best_finetuned_accuracy(profile)
    if best is not None:
        table.loc[table["task"] == "builtin", BEST_PRETRAINED] = best
    return table
