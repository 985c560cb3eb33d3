# %% [markdown]
# # Experiment: the built-in data, and how hard its tasks are
#
# **Protocol.** Load the built-in STL10-shaped setting (an unlabelled pool, a 10-class task with
# train and test splits from separate seeds) and scikit-learn's handwritten digits; for each
# labelled task report chance, a linear probe on raw pixels, and the study's ViT classifier
# trained from scratch. Pre-trained fine-tuning is measured in the later chapters; a useful task
# sits well above chance and well below 100 %, leaving room to see what pre-training adds.

# %%
from mae_study.chapters.ladder.calibration import CALIBRATION, run_calibration
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line
from mae_study.report import tables as reporting
import pandas as pd

_before = set(globals())

# %% tags=["parameters"]
profile = None      # "ci", "cpu" (default) or "gpu"
image_size = None
data_seed = None

# %%
params = notebook_params(CALIBRATION, globals(), _before)
reporting.show_params(params)

# %%
rows = run_calibration(params)
pd.DataFrame(rows.values()).round(3)

# %%
for task, row in rows.items():
    print(task, result_line(row))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, prefixed
check_ci("01_data_calibration", prefixed(rows), params["profile"])

# %% [markdown]
# ## What to conclude
# If the pixel probe is near 100 %, the task is too easy to tell pre-trainings apart; if the
# scratch classifier is at chance, it is too hard for the profile's training budget.
