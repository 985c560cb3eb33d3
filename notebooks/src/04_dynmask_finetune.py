# %% [markdown]
# # Experiment: fine-tune a pre-trained encoder on the labelled task (Hata, Tadamura and Samura)
#
# **Protocol.** Take the encoder of a finished pre-training run (`pretrained`, a run name of
# `dynmask_pretrain` at the same profile, or `"scratch"` for a random initialisation), add a linear
# head, train on the labelled split and report test accuracy averaged over the final
# `average_last` epochs. `mode` is `"full"` (the paper's setting), `"linear"` or `"partial-k"`.
# E.g. `papermill notebooks/04_dynmask_finetune.ipynb out.ipynb -p pretrained dynamic_r90_s0 -p mode linear`
# (after the pre-training run `dynamic_r90_s0` exists). A finished fine-tuning is read back from its
# result files; a new one needs the pre-trained encoder's weights, which are not committed: when
# they are missing, they are recomputed from the pre-training run's stored parameters first.

# %%
from mae_study.chapters.dynmask.plan import DYNMASK_FINETUNE
from mae_study.runs.finetune import run_finetune
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line
from mae_study.report import tables as reporting

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None      # "ci", "cpu" (default), "gpu" or "paper"
pretrained = None   # e.g. "dynamic_r85_s0", or "scratch"
mode = None         # "full", "linear" or "partial-k"
seed = None

# %%
params = notebook_params(DYNMASK_FINETUNE, globals(), _before)
reporting.show_params(params)

# %%
run = run_finetune(params)
run

# %%
history = run.read("metrics.csv")
reporting.plot_loss_curves(history.assign(run=run.name), y="test_accuracy");

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("04_dynmask_finetune", run.read("final.json"), params["profile"])

# %% [markdown]
# ## What to conclude
# Compare with the `scratch` baseline at the same profile: pre-training helps only if the
# fine-tuned accuracy beats a randomly initialised encoder trained the same way.
