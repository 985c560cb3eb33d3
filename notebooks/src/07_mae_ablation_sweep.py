# %% [markdown]
# # Sweep: every run behind He et al.'s ablation tables
#
# **Protocol.** For each table (mask ratio, decoder depth, decoder width, mask token in the
# encoder, mask sampling, reconstruction target) the pre-training runs of every arm and seed, a
# full fine-tuning and a linear probe of each, and (with the mask-token table) the timing of a
# training step with and without mask tokens. Runs are named by configuration, so a run shared
# by several tables (the baseline) is made once; finished runs are skipped and an interrupted
# run resumes. The same as `python -m mae_study.sweep mae_ablations --profile cpu`, or
# `mae_ablation_<table>` for one table.

# %%
import pandas as pd
from mae_study.chapters.ablations import claims as ablation_claims, tables as ablation_tables
from mae_study.chapters.ablations.plan import MAE_ABLATION_SWEEP, grids_table
from mae_study.runs.params import notebook_params
from mae_study.sweep import in_progress, run_sweep

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"
tables = None    # a list of table names (see below); None: all of them

# %%
params = notebook_params(MAE_ABLATION_SWEEP, globals(), _before)
grids_table(params["profile"], params["tables"])

# %%
# A sweep committed part-way (`data/results/<profile>/_sweeps/in_progress.json`) is listed, not
# resumed: `make book` runs this notebook and must not compute for hours. Resume it with
# `python -m mae_study.sweep mae_ablations --profile cpu`.
status = pd.DataFrame(run_sweep("mae_ablations", params["profile"], tables=params["tables"],
                             dry_run="mae_ablations" in in_progress(params["profile"])))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# Test accuracy in %, mean and standard deviation over pre-training seeds, fine-tuned and
# linear-probed, beside the paper's numbers where they are transcribed; and the paper's claims
# with this profile's verdicts. The chapter (`book/mae_ablations.md`) shows the tables one by one.

# %%
summary = ablation_tables.summary(params["profile"])
summary = summary[summary["table"].isin(params["tables"])]
summary.round(2)

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, frame_values
check_ci("07_mae_ablation_sweep", frame_values(summary, ["table", "arm"]), params["profile"], percent=True)

# %%
pd.set_option("display.max_colwidth", 160)
ablation_claims.claims(params["profile"])
