# %% [markdown]
# # Experiment: the two teachers of the multi-teacher distillation paper
#
# **Protocol.** Pre-train a contrastive teacher (DINO: student and EMA teacher, multi-crop views,
# centring and sharpening) and a masked-image teacher (MAE, mask ratio 75 %) of the same ViT
# shape on the built-in unlabelled pool (profile `paper`: timm's `vit_base_patch16_224.dino` and
# `.mae` from local files), measure how far each one's heads attend (the paper's Figure 1) and which
# head Attention Confidence picks, then adapt each to the labelled task by full fine-tuning, a
# linear probe and Partial-1 (the paper's Table 1). E.g.
# `papermill notebooks/08_kd_teachers.ipynb out.ipynb -p profile cpu -p seed 0`. Finished runs are
# read back; a run that needs a teacher's weights (not committed) recomputes them first.

# %%
from mae_study.chapters.kd import figures as kd_figures, tables as kd_tables
from mae_study.chapters.kd.plan import KD_TEACHERS_NOTEBOOK
from mae_study.chapters.kd.adapt import adapt_params, run_adapt
from mae_study.chapters.kd.attention import KD_ATTENTION, run_attention
from mae_study.chapters.kd.teachers import KD_DINO_TEACHER, KD_MAE_TEACHER, run_dino_teacher, run_mae_teacher
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line

_before = set(globals())

# %% tags=["parameters"]
profile = None      # "ci", "cpu" (default), "gpu" or "paper"
seed = None         # the teachers' pre-training seed
modes = None        # adaptation modes, a list of "full", "linear", "partial-1" (default all three)
adapt_seed = None   # the adaptations' seed

# %%
params = notebook_params(KD_TEACHERS_NOTEBOOK, globals(), _before)
P = params["profile"]
teachers = {"dino": run_dino_teacher(KD_DINO_TEACHER.resolve(P, seed=params["seed"])),
            "mae": run_mae_teacher(KD_MAE_TEACHER.resolve(P, seed=params["seed"]))}
teachers

# %% [markdown]
# ## How far the teachers look (the paper's Figure 1)
# Attention distance in pixels, per layer: the CLS token dropped and the rows renormalised, pixel
# distance between patch centres weighted by attention (Park et al., ICLR 2023). The paper expects
# the contrastive teacher to attend more globally in the deep layers.

# %%
attention = {t: run_attention(KD_ATTENTION.resolve(P, teacher=t, teacher_run=r.name)) for t, r in teachers.items()}
kd_figures.figure1(P);

# %%
kd_tables.heads_table(P)

# %% [markdown]
# ## Adaptation (the paper's Table 1)
# Test accuracy in % (mean over the last epochs) and trainable parameters, beside the paper's.

# %%
adapted = [run_adapt(adapt_params(P, t, mode, params["adapt_seed"], teacher_run=r.name))
           for t, r in teachers.items() for mode in params["modes"]]
kd_tables.table1(P).round(2)

# %%
for run in [*teachers.values(), *adapted]:
    print(run.name, result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci, prefixed
check_ci("08_kd_teachers", prefixed({r.name: r.read("final.json") for r in [*teachers.values(), *adapted]}), params["profile"])

# %% [markdown]
# ## What to conclude
# One pre-training per teacher: the attention distances are those of these two models. The paper's
# claim for Table 1 is that Partial-1 of the masked-image teacher nearly matches full fine-tuning
# at a fraction of the trainable parameters, while its linear probe lags far behind; the chapter
# (`book/kd.md`) judges it over adaptation seeds.
