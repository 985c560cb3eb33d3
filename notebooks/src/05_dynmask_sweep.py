# %% [markdown]
# # Sweep: every run behind the dynamic-mask-ratio chapter
#
# **Protocol.** All pre-training runs (final ratios x static/dynamic x trials) and their
# fine-tuning runs at one profile, in order; finished runs are skipped and an interrupted run
# resumes from its last checkpoint. The same as `python -m mae_study.sweep dynmask --profile cpu`.

# %%
import pandas as pd
from mae_study.experiments import dynmask
from mae_study.params import Experiment, notebook_params
from mae_study.results import load_runs
from mae_study.sweep import run_sweep
from mae_study import reporting

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"

# %%
params = notebook_params(Experiment("dynmask_sweep", {p: {} for p in dynmask.GRIDS}), globals(), _before)
grid = dynmask.GRIDS[params["profile"]]
grid

# %%
status = pd.DataFrame(run_sweep("dynmask", params["profile"]))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# Final-epoch reconstruction loss (pre-training) and fine-tuned test accuracy, mean and spread
# over trials. The chapter (`book/dynmask.md`) turns these into seed 000's tables and figures.

# %%
summary = dynmask.summary(params["profile"])
summary.round(4)
