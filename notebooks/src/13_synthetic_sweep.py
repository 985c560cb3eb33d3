# %% [markdown]
# # Sweep: every run behind the synthetic pre-training chapter
#
# **Protocol.** All pre-training runs of Umekawa, Kagamikawa and Maeda's comparison (DeiT and ResNet
# x FractalDB, Single-Instance and Multi-Instance x seeds, and the two open questions on
# Multi-Instance: DeiT with its own recipe, DeiT with patches twice as large), every fine-tuning of
# them on each downstream task, each model trained from scratch (also with Anderson & Farrell's
# fine-tuning, a named arm), and the base MAE runs the chapter compares with, at one profile, in order;
# finished runs are skipped and an interrupted run resumes from its last checkpoint. The same as
# `python -m mae_study.sweep synthetic --profile cpu`.

# %%
import pandas as pd
from mae_study.chapters.synthetic import (plan as synthetic, claims as synthetic_claims, tables as synthetic_tables,
                                          figures as synthetic_figures)
from mae_study.runs.params import notebook_params
from mae_study.sweep import in_progress, run_sweep

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"

# %%
params = notebook_params(synthetic.SYNTHETIC_SWEEP, globals(), _before)
synthetic.setting_table(params["profile"])

# %%
# A sweep committed part-way (`data/results/<profile>/_sweeps/in_progress.json`) is listed, not
# resumed: `make book` runs this notebook and must not compute for hours. Resume it with
# `python -m mae_study.sweep synthetic --profile cpu`.
status = pd.DataFrame(run_sweep("synthetic", params["profile"],
                             dry_run="synthetic" in in_progress(params["profile"])))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Figure 2 of the paper, from the study's runs
# Fine-tuned test accuracy (%) by pre-training set, model and task: mean, sd and number of trials
# (a trial is a pre-training run, or a model trained from scratch with one seed).

# %%
figure2 = synthetic_tables.figure2_table(params["profile"])
synthetic_figures.figure2(params["profile"]);

# %%
synthetic_claims.claims(params["profile"])

# %%
figure2.round(2)

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, frame_values
check_ci("13_synthetic_sweep", frame_values(figure2, ["downstream", "model", "pretrain_set"]), params["profile"], percent=True)
