# %% [markdown]
# # Experiment: pre-train a DeiT or a ResNet on fractals (Umekawa, Kagamikawa and Maeda)
#
# **Protocol.** One pre-training run of the paper's comparison: a randomly initialised `model`
# (`"deit"` or `"resnet"`, the profile's sizes) learns to classify the fractal set `dataset`
# (`"fractaldb"`, `"fractal_single"` or `"fractal_multi"`), generated on the fly (new images every
# epoch for Single- and Multi-Instance, as Anderson & Farrell) or from the generator cache
# (`data_source="cache"`), never from image files. Multi-Instance images hold several fractals: the
# targets are multi-hot, the loss is BCE with `pos_weight = classes / positives`, the held-out metric
# mAP. Fractals are drawn at `render_size` and area-averaged down to `image_size`; `nuisance` is
# `"full"` (Anderson & Farrell's noise backgrounds, wide windows, blur, 1-5 fractals) or `"reduced"`
# (black backgrounds, narrow windows, no blur, 1-3 larger fractals: the cpu profile's). The recipe is the
# profile's main one (the study's base recipe, AdamW with warm-up and cosine, at ci, cpu and gpu;
# Anderson & Farrell's SGD one-cycle, as the paper, at `paper`); `recipe="deit"` is DeiT's own (the
# paper's open question (a)), `patch_size` twice the profile's its open question (b). E.g.
# `papermill notebooks/11_synthetic_pretrain.ipynb out.ipynb -p profile cpu -p model resnet -p dataset fractal_multi`
# (named `resnet_multi_s0`). `python -m mae_study.sweep synthetic --profile cpu` runs the chapter's whole grid.

# %%
from mae_study.report import tables as reporting
from mae_study.chapters.synthetic import tables as synthetic_tables
from mae_study.chapters.synthetic.pretrain import SYNTHETIC_PRETRAIN, run_synthetic_pretrain
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None      # "ci", "cpu" (default), "gpu" or "paper"
model = None        # "deit" or "resnet"
dataset = None      # "fractaldb", "fractal_single" or "fractal_multi"
recipe = None       # None (the profile's main one), "base", "anderson_farrell" (the paper's) or "deit" ((a))
patch_size = None   # DeiT only; twice the profile's patch is open question (b)
nuisance = None     # Single-/Multi-Instance: None (the profile's), "full" or "reduced"
data_source = None  # "stream" (on the fly) or "cache"
seed = None

# %%
params = notebook_params(SYNTHETIC_PRETRAIN, globals(), _before)
reporting.show_params(params)

# %%
run = run_synthetic_pretrain(params)
run

# %% [markdown]
# ## Learning curves
# Training loss, and accuracy on held-out images of the same set (top-1; for Multi-Instance the
# mAP over classes), after every epoch.

# %%
history = run.read("metrics.csv").assign(run=run.name)
reporting.plot_loss_curves(history, y="train_loss");

# %%
reporting.plot_loss_curves(history, y="eval_mAP" if "eval_mAP" in history else "eval_top1");

# %% [markdown]
# ## Where the time went
# Images per second of the generator (measured in this process) and of training (end to end, the
# generator included when images are made on the fly): a generator share above one half means the
# generator, not the model, limits the run.

# %%
synthetic_tables.speeds(run.read("final.json"), params["data_source"])

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("11_synthetic_pretrain", run.read("final.json"), params["profile"])

# %% [markdown]
# ## What to conclude
# Pre-training accuracy is not the paper's measure: what counts is how well the model does after
# fine-tuning on a downstream task (`12_synthetic_finetune`), against the same model trained from
# scratch, over seeds (`13_synthetic_sweep`).
