# %% [markdown]
# # Sweep: every run behind the multi-teacher distillation chapter (seed 002)
#
# **Protocol.** Both teachers' pre-training, their attention analysis, every adaptation (full,
# linear, Partial-1 over seeds), the students of the seed's Table 2 (alone, KD from DINO, from MAE,
# from both, over seeds) and the ablations the seed does not run, in that order; finished runs are
# skipped and an interrupted one resumes. The same as `python -m mae_study.sweep kd --profile cpu`.

# %%
from mae_study.experiments import kd_claims, kd_tables
from mae_study.experiments.kd import KD_SWEEP, plan_frame, run_kd_sweep
from mae_study.params import notebook_params

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"

# %%
params = notebook_params(KD_SWEEP, globals(), _before)
plan_frame(params["profile"]).groupby(["experiment", "arm"], sort=False).size()

# %%
status = run_kd_sweep(params["profile"])
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# The student's test accuracy in % per row of the seed's Table 2 (mean and sd over seeds) beside
# the seed's, and the seed's claims with this profile's verdicts. The chapter (`book/kd.md`) shows
# every table and figure.

# %%
summary = kd_tables.table2(params["profile"]).round(2)
summary

# %%
kd_claims.claims(params["profile"])[["claim", "verdict"]]

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.ci_check import check_ci, frame_values
check_ci("10_kd_sweep", frame_values(summary, ["student"]), params["profile"], percent=True)
