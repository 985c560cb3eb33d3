# %% [markdown]
# # Experiment: MAE pre-training with a static or a dynamic mask ratio (Hata, Tadamura and Samura)
#
# **Protocol.** One pre-training run of the paper's comparison. `method="static"` masks
# `final_mask_ratio` of the patches from the first epoch; `method="dynamic"` raises the ratio in
# five equal stages (the paper's Table 3), ending at `final_mask_ratio`; or pass an explicit
# `schedule=[[0, 0.2], [4, 0.5], ...]`. The run records the ratio used at every step.
# `python -m mae_study.sweep dynmask --profile cpu` runs the chapter's whole grid. One run, e.g.
# `papermill notebooks/03_dynmask_pretrain.ipynb out.ipynb -p profile cpu -p method dynamic -p final_mask_ratio 0.9`
# (named `dynamic_r90_s0`; a changed setting beyond method, ratio and seed adds a digest to the name).

# %%
from mae_study.chapters.dynmask.plan import DYNMASK_PRETRAIN, pretrain_location
from mae_study.runs.pretrain import run_pretrain
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line
from mae_study.report import tables as reporting

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None            # "ci", "cpu" (default), "gpu" or "paper"
method = None             # "static" or "dynamic"
final_mask_ratio = None   # one of 0.70, 0.75, ..., 0.95 for the paper's dynamic stages
schedule = None           # or an explicit [[start_epoch, ratio], ...]
seed = None

# %%
params = notebook_params(DYNMASK_PRETRAIN, globals(), _before)
reporting.show_params(params)

# %% [markdown]
# A run with exactly the base recipe's parameters (static 75 % at `cpu`) is the base pre-training
# itself, run once for every chapter: it is read back from the data chapter's folder.

# %%
experiment, name = pretrain_location(params)
run = run_pretrain(params, experiment, run_name=name)
run

# %% [markdown]
# ## The mask ratio actually used, and the loss
# The loss of a dynamic run jumps up at every stage start: the task gets harder.

# %%
steps = run.read("steps.csv")
reporting.plot_ratio_and_loss(steps);

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("03_dynmask_pretrain", run.read("final.json"), params["profile"])

# %% [markdown]
# ## What to conclude
# One run says little; the chapter compares the static and dynamic methods over trials and ratios
# (`05_dynmask_sweep`). The final-epoch loss here is one entry of Table 4.
