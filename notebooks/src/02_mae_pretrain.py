# %% [markdown]
# # Experiment: pre-train a masked autoencoder and watch it learn to reconstruct
#
# **Protocol.** Pre-train an MAE (random masking, MSE on the masked patches only) on the
# unlabelled pool of the built-in data set, save reconstructions of the same images with the same
# mask at a few points of training, and record everything in `data/results/<profile>/mae_pretrain/`.
#
# Rerun with other parameters, e.g.
# `papermill notebooks/02_mae_pretrain.ipynb out.ipynb -p profile cpu -p final_mask_ratio 0.9 -p num_epochs 20`.
# Every parameter left at `None` takes the profile's default; an unknown name is an error. The run
# is named by its parameters (`static_r90_s0_p<digest of the other changes>`), so a rerun with the
# same parameters reads the finished run back and one with other parameters gets its own folder.

# %%
from mae_study.chapters.mae.plan import MAE_PRETRAIN
from mae_study.runs.pretrain import run_pretrain
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line
from mae_study.chapters.mae import figures as mae_figures
from mae_study.report import tables as reporting

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None             # "ci", "cpu" (default), "gpu" or "paper"
final_mask_ratio = None    # fraction of patches hidden, in [0, 1)
sampling = None            # "random", "block" or "grid"
num_epochs = None
norm_pix_loss = None       # True: per-patch normalised pixel target
seed = None

# %%
params = notebook_params(MAE_PRETRAIN, globals(), _before)
reporting.show_params(params)

# %% [markdown]
# ## Run
# A finished run is not redone; an interrupted one resumes from its last checkpoint.

# %%
run = run_pretrain(params)
run

# %% [markdown]
# ## Results
# Per-epoch training loss (MSE on masked patches), the mask ratio used and throughput:

# %%
run.read("metrics.csv").round(4)

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("02_mae_pretrain", run.read("final.json"), params["profile"])

# %%
reporting.plot_loss_curves(run.read("metrics.csv").assign(run=run.name));

# %% [markdown]
# Reconstructions of the same images under the same mask after several epochs: each row shows
# the masked input, the prediction with the visible patches pasted back, and the original.

# %%
mae_figures.plot_reconstructions(run);

# %% [markdown]
# ## What to conclude
# The loss falls as the decoder learns to fill in masked patches from the visible ones; the
# reconstructions sharpen from a blur of average colour towards the shapes of the originals.
# At the `ci` profile the numbers mean nothing: it only checks that every step runs.
