# %% [markdown]
# # Experiment: fine-tune a fractal-pre-trained model on a downstream task (Umekawa, Kagamikawa and Maeda)
#
# **Protocol.** Take the classifier of a finished pre-training run (`pretrained`, a run name of
# `synthetic_pretrain` at the same profile, or `"scratch"` for a random initialisation of `model`),
# load every backbone weight, give it a fresh head for the task's classes and train it all on
# `dataset` with the profile's main recipe (the study's base recipe at ci, cpu and gpu: AdamW, warm-up,
# cosine, 30 epochs; Anderson & Farrell's SGD one-cycle with a 10x head learning rate, as the paper,
# at `paper`; `recipe="anderson_farrell"` elsewhere is a named arm); report test accuracy averaged
# over the final `average_last` epochs.
# `model` and `patch_size` must be the pre-training's: a run of another architecture is refused. E.g.
# `papermill notebooks/12_synthetic_finetune.ipynb out.ipynb -p pretrained resnet_multi_s0 -p model resnet -p dataset digits`
# (after the pre-training run `resnet_multi_s0` exists). A finished fine-tuning is read back from its
# result files; a new one needs the pre-trained weights, which are not committed: when they are
# missing, they are recomputed from the pre-training run's stored parameters first.

# %%
from mae_study.report import tables as reporting
from mae_study.chapters.synthetic.finetune import SYNTHETIC_FINETUNE, run_synthetic_finetune
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None      # "ci", "cpu" (default), "gpu" or "paper"
pretrained = None   # e.g. "deit_single_s0", or "scratch"
model = None        # "deit" or "resnet": the pre-training's
patch_size = None   # the pre-training's (DeiT)
dataset = None      # the downstream task, e.g. "builtin", "digits", "cifar10", "cifar100"
recipe = None       # None (the profile's main one), "base", "anderson_farrell" or "deit"
seed = None

# %%
params = notebook_params(SYNTHETIC_FINETUNE, globals(), _before)
reporting.show_params(params)

# %%
run = run_synthetic_finetune(params)
run

# %% [markdown]
# ## What was loaded
# The tensors left at initialisation: the head alone when fine-tuning from a pre-training.

# %%
run.read("config.json")["fresh_keys"]

# %%
history = run.read("metrics.csv").assign(run=run.name)
reporting.plot_loss_curves(history, y="train_loss");

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("12_synthetic_finetune", run.read("final.json"), params["profile"])

# %% [markdown]
# ## What to conclude
# One fine-tuning says little: compare it with the same model trained from scratch
# (`pretrained="scratch"`) and with the other pre-training sets, over seeds; the chapter does so
# (`13_synthetic_sweep`, `book/synthetic.md`).
