# %% [markdown]
# # Experiment: the multi-teacher distillation paper's student, distilled from a contrastive and a masked-image teacher
#
# **Protocol.** Train the ViT-Tiny-like student on the labelled task: alone (`teachers="none"`),
# from one teacher (`"dino"`, `"mae"`) or from both (`"both"`, the default). The paper's method
# (the defaults): one stage, the teachers' Partial-1 parts learning the labels with the student,
# L = CE_S + CE_CL + CE_MIM + L_KD + L_Attn with l1 = 0.5 and l2 = 0 (only the masked-image
# teacher's attention, from the head Attention Confidence picks, into the student's second head).
# The paper's KD baseline: `stages="two"` (teachers fine-tuned first, then frozen),
# `attention=False`. E.g.
# `papermill notebooks/09_kd_student.ipynb out.ipynb -p profile cpu -p teachers mae -p stages two -p attention False`
# (after the teacher runs of `08_kd_teachers` exist; two stages also need their adaptations).

# %%
from mae_study.report import tables as reporting
from mae_study.chapters.kd.student import KD_STUDENT, run_student
from mae_study.runs.params import notebook_params
from mae_study.runs.results import result_line

_before = set(globals())

# %% tags=["parameters"]
# Every parameter of the table printed below can be passed; these are the usual ones.
profile = None       # "ci", "cpu" (default), "gpu" or "paper"
teachers = None      # "both" (default), "dino", "mae" or "none"
stages = None        # "one" (teachers adapted while the student learns) or "two" (adapted first)
attention = None     # distil the teachers' attention too (L_Attn)
l1 = None            # weight of the DINO teacher's outputs in L_KD (0.5)
l2 = None            # weight of the DINO teacher's attention in L_Attn (0: only MAE's)
head = None          # "max" (Attention Confidence), "max_per_step", "random", "mean" or an index
temperature = None   # KD temperature (1.0)
seed = None

# %%
params = notebook_params(KD_STUDENT, globals(), _before)
reporting.show_params(params)

# %%
run = run_student(params)
run

# %% [markdown]
# ## Training
# The loss terms per epoch (CE of the student and of each teacher, L_KD, L_Attn) and the
# student's test accuracy on the epochs that are averaged.

# %%
history = run.read("metrics.csv")
terms = [c for c in ("train_loss", "ce_student", "ce_cl", "ce_mim", "kd", "attn") if c in history]
reporting.plot_loss_curves(history.melt("epoch", terms, "term", "value"), y="value", hue="term");

# %%
print(result_line(run.read("final.json")))

# %%
# NBVAL_CHECK_OUTPUT
from mae_study.report.ci_check import check_ci
check_ci("09_kd_student", run.read("final.json"), params["profile"])

# %% [markdown]
# ## What to conclude
# One run says little: the chapter compares the student alone, KD from each teacher and from both
# over seeds (`10_kd_sweep`, `book/kd.md`), and varies what the paper fixes (l1, l2, the head,
# one stage or two, the temperature).
