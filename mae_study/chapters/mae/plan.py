"""The MAE chapter's experiment: notebook 02's pre-training (`run_pretrain`), its parameters per profile."""
from __future__ import annotations

from mae_study.runs.params import Experiment
from mae_study.runs.pretrain import check_pretrain, pretrain_defaults, pretrain_naming

MAE_PRETRAIN = Experiment("mae_pretrain", pretrain_defaults(
    cpu={"num_epochs": 12, "recon_epochs": [0, 3, 7], "data_setting": "distinct-v2"}), check_pretrain,
    naming=pretrain_naming)
"""One MAE pre-training (notebook 02); runs under ``data/results/<profile>/mae_pretrain/``."""


def default_runs(profile: str):
    """The notebook's default run at ``profile`` as a one-row `load_runs` table (the chapter's
    exercises make other runs beside it, shown only with their answers)."""
    from mae_study.runs.results import load_runs
    from mae_study.runs.skeleton import auto_run_name
    name = auto_run_name(MAE_PRETRAIN.resolve(profile))
    runs = load_runs(MAE_PRETRAIN.name, profile)
    return runs[runs["run"] == name].reset_index(drop=True) if len(runs) else runs
