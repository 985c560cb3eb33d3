# %% [markdown]
# # Experiment: one arm of He et al.'s MAE ablations
#
# **Protocol.** Pre-train an MAE with one setting changed from the baseline (mask ratio 75 %,
# random sampling, pixel target, the model's own decoder, no mask tokens in the encoder), then
# evaluate its encoder twice on the built-in 10-class task: full fine-tuning and a linear probe.
# The run is named by its configuration (`r75_random_pix_dec2x96_s0`; a change the name does not
# show adds a digest), so a run the ablation sweep already made is read back, not redone. `python -m mae_study.sweep mae_ablations --profile cpu` runs every arm of every table.
#
# Rerun one arm, e.g.
# `papermill notebooks/06_mae_ablation_pretrain.ipynb out.ipynb -p profile cpu -p decoder_depth 4`.

# %%
import pandas as pd
from mae_study.chapters.ablations.plan import MAE_ABLATION_PRETRAIN, evaluation_entries, pretrain_entry
from mae_study.runs.finetune import run_finetune
from mae_study.runs.pretrain import run_pretrain
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line
from mae_study.chapters.mae import figures as mae_figures
from mae_study.report import tables as reporting

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the ablated ones.
profile = None             # "ci", "cpu" (default), "gpu" or "paper"
final_mask_ratio = None    # fraction of patches hidden, in [0, 1)
sampling = None            # "random", "block" or "grid"
decoder_depth = None       # decoder blocks
decoder_embed_dim = None   # decoder width (divisible by decoder_num_heads and by 4)
norm_pix_loss = None       # True: per-patch normalised pixel target
encoder_mask_token = None  # True: the encoder also gets mask tokens (sees every position)
seed = None

# %%
params = notebook_params(MAE_ABLATION_PRETRAIN, globals(), _before)
reporting.show_params(params)

# %% [markdown]
# ## Pre-training
# A finished run is not redone; an interrupted one resumes from its last checkpoint. The baseline
# arm with the base recipe's parameters (at `cpu`) is the base pre-training itself, run once for
# every chapter and read back from the data chapter's folder.

# %%
experiment, name, run_params, _ = pretrain_entry(params)
run = run_pretrain(run_params, experiment, run_name=name)
run

# %%
reporting.plot_loss_curves(run.read("metrics.csv").assign(run=run.name));

# %% [markdown]
# The final epoch's reconstructions (masked input, prediction with the visible patches pasted
# back, original):

# %%
mae_figures.plot_reconstructions(run);

# %% [markdown]
# ## Evaluation: full fine-tuning and a linear probe
# Test accuracy, averaged over the final epochs, of a linear head on the encoder trained with all
# weights (`full`) or with the encoder frozen (`linear`, with a larger learning rate).

# %%
evals = {mode: run_finetune(p, experiment, run_name=name)
         for mode, (experiment, name, p, _) in evaluation_entries(params).items()}
pd.DataFrame({mode: r.read("final.json") for mode, r in evals.items()}).T

# %%
for r in [run, *evals.values()]:
    print(r.name, result_line(r.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, prefixed
check_ci("06_mae_ablation_pretrain", prefixed({r.name: r.read("final.json") for r in [run, *evals.values()]}), params["profile"])

# %% [markdown]
# ## What to conclude
# One arm and one seed say little: the chapter (`book/mae_ablations.md`) sets every arm beside the
# others over several seeds and beside the paper. At the `ci` profile the numbers mean nothing.
