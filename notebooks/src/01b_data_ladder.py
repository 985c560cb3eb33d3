# %% [markdown]
# # Experiment: the calibration ladder of the recalibrated built-in setting
#
# **Protocol.** For the built-in setting `distinct-v2` (ten visibly different fractal classes with
# nuisance variation: position, scale, colour, mirroring, background, clutter; an unlabelled pool
# of 40,000 images, 20 times the 2,000 labelled ones) and for scikit-learn's handwritten digits,
# measure the rungs a useful task must climb, each over several seeds: chance, a logistic
# regression on raw pixels, the MAE chapter's ViT trained from scratch, and the same ViT
# pre-trained as an MAE on the pool then fine-tuned (and linear-probed). Every rung is an ordinary
# run of the study's runners; `python -m mae_study.sweep ladder --profile cpu` runs the same.

# %%
from mae_study.chapters.ladder.plan import LADDER_SWEEP
from mae_study.chapters.ladder.tables import ladder_checks, ladder_rows, ladder_table
from mae_study.runs.params import notebook_params
from mae_study.sweep import run_sweep
import pandas as pd

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default) or "gpu"

# %%
params = notebook_params(LADDER_SWEEP, globals(), _before)
status = pd.DataFrame(run_sweep("ladder", params["profile"]))
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## The rungs
# Test accuracy in %, mean, standard deviation and standard error over seeds.

# %%
table = ladder_table(ladder_rows(params["profile"]))
table.round(2)

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, frame_values
check_ci("01b_data_ladder", frame_values(table, ["task", "rung"]), params["profile"], percent=True)

# %% [markdown]
# ## The goals
# Each step beyond 3 standard errors; MAE fine-tuned at least 10 points above scratch; the MAE
# linear probe above the pixel probe; the best rung below 90 %.

# %%
ladder_checks(table).round(2)

# %% [markdown]
# ## What to conclude
# A setting whose ladder does not climb cannot tell pre-trainings apart: read every verdict of
# the book against these rungs. At the `ci` profile the numbers mean nothing.
