# %% [markdown]
# # Sweep: every run behind He et al.'s ablation tables
#
# **Protocol.** For each table (mask ratio, decoder depth, decoder width, mask token in the
# encoder, mask sampling, reconstruction target) the pre-training runs of every arm and seed, a
# full fine-tuning and a linear probe of each, and (with the mask-token table) the timing of a
# training step with and without mask tokens. Runs are named by configuration, so a run shared
# by several tables (the baseline) is made once; finished runs are skipped and an interrupted
# run resumes. The same as `python -m mae_study.sweep mae_ablations --profile cpu`, or
# `mae_ablation_<table>` for one table.

# %%
import pandas as pd
from mae_study.experiments import ablations
from mae_study.experiments import ablations_analysis as A
from mae_study.params import Experiment, notebook_params
from mae_study.sweep import run_sweep

_before = set(globals())

# %% tags=["parameters"]
profile = None   # "ci", "cpu" (default), "gpu" or "paper"
tables = None    # a list of table names (see below); None: all of them

# %%
params = notebook_params(Experiment("mae_ablation_sweep", {p: {"tables": list(ablations.TABLES)} for p in ablations.GRIDS},
                                    lambda p: [ablations.check_table(t) for t in p["tables"]]), globals(), _before)
grids = ablations.GRIDS[params["profile"]]
pd.DataFrame([{"table": t, "varies": ", ".join(g.vary), "arms": len(g.values), "seeds": len(g.pretrain_seeds),
               "modes": ", ".join(g.modes)} for t, g in grids.items() if t in params["tables"]])

# %%
sweeps = (["mae_ablations"] if set(params["tables"]) == set(ablations.TABLES)
          else [f"mae_ablation_{t}" for t in params["tables"]])
status = pd.concat([pd.DataFrame(run_sweep(s, params["profile"])) for s in sweeps]).drop_duplicates("run", keep="first")
status.groupby(["experiment", "status"]).size()

# %% [markdown]
# ## Summary
# Test accuracy in %, mean and standard deviation over pre-training seeds, fine-tuned and
# linear-probed, beside the paper's numbers where the seeds give them; and the paper's claims
# with this profile's verdicts. The chapter (`book/mae_ablations.md`) shows the tables one by one.

# %%
summary = A.summary(params["profile"])
summary[summary["table"].isin(params["tables"])].round(2)

# %%
pd.set_option("display.max_colwidth", 160)
A.claims(params["profile"])
