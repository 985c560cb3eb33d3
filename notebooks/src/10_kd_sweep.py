# %% [markdown]
# # Sweep: every run behind the multi-teacher distillation chapter
#
# **Protocol.** Both teachers' pre-training, their attention analysis, every adaptation (full,
# linear, Partial-1 over seeds), the students of the paper's Table 2 (alone, KD from DINO, from MAE,
# from both, over seeds) and the ablations the paper does not run, in that order; finished runs are
# skipped and an interrupted one resumes. The same as `python -m mae_study.sweep kd --profile cpu`.

# %%
import pandas as pd
from mae_study.chapters.kd import claims as kd_claims, tables as kd_tables
from mae_study.chapters.kd.plan import KD_SWEEP, plan_frame
from mae_study.runs.params import notebook_params
from mae_study.sweep import run_sweep

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"

# %%
params = notebook_params(KD_SWEEP, globals(), _before)
plan_frame(params["profile"]).groupby(["experiment", "arm"], sort=False).size()

# %%
status = pd.DataFrame(run_sweep("kd", params["profile"]))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# The student's test accuracy in % per row of the paper's Table 2 (mean and sd over seeds) beside
# the paper's, and the paper's claims with this profile's verdicts. The chapter (`book/kd.md`) shows
# every table and figure.

# %%
summary = kd_tables.table2(params["profile"]).round(2)
summary

# %%
kd_claims.claims(params["profile"])[["claim", "verdict"]]

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, frame_values
check_ci("10_kd_sweep", frame_values(summary, ["student"]), params["profile"], percent=True)
