# %% [markdown]
# # Sweep: every run behind the dynamic-mask-ratio chapter
#
# **Protocol.** All pre-training runs (final ratios x static/dynamic x trials) of Hata, Tadamura
# and Samura's comparison and their fine-tuning runs at one profile, in order; finished runs are
# skipped and an interrupted run resumes from its last checkpoint. The same as
# `python -m mae_study.sweep dynmask --profile cpu`.

# %%
import pandas as pd
from mae_study.chapters.dynmask import plan as dynmask, tables as dynmask_tables
from mae_study.runs.params import notebook_params
from mae_study.sweep import in_progress, run_sweep

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"

# %%
params = notebook_params(dynmask.DYNMASK_SWEEP, globals(), _before)
dynmask.GRIDS[params["profile"]]

# %%
# A sweep committed part-way (`data/results/<profile>/_sweeps/in_progress.json`) is listed, not
# resumed: `make book` runs this notebook and must not compute for hours. Resume it with
# `python -m mae_study.sweep dynmask --profile cpu`.
status = pd.DataFrame(run_sweep("dynmask", params["profile"],
                             dry_run="dynmask" in in_progress(params["profile"])))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# Final-epoch reconstruction loss (pre-training) and fine-tuned test accuracy (a fraction), mean
# and spread over trials. The chapter (`book/dynmask.md`) turns these into the paper's tables and
# figures.

# %%
summary = dynmask_tables.summary(params["profile"])
summary.round(4)

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, frame_values
check_ci("05_dynmask_sweep", frame_values(summary, ["method", "final_mask_ratio"]), params["profile"])
