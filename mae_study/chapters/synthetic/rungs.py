"""The synthetic pre-training chapter's task rungs: for each downstream task and model, chance,
the pixel probe of that task, the model trained from scratch, and the model pre-trained on each
set (main recipe; one value per trial, `synthetic_tables.accuracy_per_trial`)."""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.synthetic.finetune import SYNTHETIC_FINETUNE
from mae_study.chapters.synthetic.plan import GRIDS
from mae_study.chapters.synthetic.tables import MODEL_LABELS, SET_LABELS, accuracy_per_trial, finetune_table
from mae_study.runs.params import check_profile
from mae_study.runs.rungs import task_rungs


def rungs(profile: str) -> pd.DataFrame:
    """`rungs.rungs_table` per (task, model), stacked with ``task`` and ``model`` columns first."""
    g = GRIDS[check_profile(profile)]
    evals = finetune_table(profile)
    trials = accuracy_per_trial(evals) if len(evals) else pd.DataFrame(
        columns=["downstream", "model", "variant", "pretrain_set", "trial", "accuracy"])
    trials = trials[trials["variant"] == "main"]
    frames = []
    for task in g.downstream:
        params = SYNTHETIC_FINETUNE.resolve(profile, dataset=task)
        for model in g.models:
            mine = trials[(trials["downstream"] == task) & (trials["model"] == model)]
            values = {s: (mine.loc[mine["pretrain_set"] == s, "accuracy"] / 100).tolist()
                      for s in dict.fromkeys(mine["pretrain_set"])}
            arms = {f"pre-trained on {SET_LABELS.get(s, s)}": v for s, v in values.items() if s != "scratch"}
            table = task_rungs(params, values.get("scratch", []), arms)
            table.insert(0, "model", MODEL_LABELS[model])
            table.insert(0, "task", task)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def unjudged_sentence(profile: str, table: pd.DataFrame) -> str:
    """Why the tasks the profile shows but does not judge (`SyntheticGrid.judged_tasks`) carry no
    claim, from its rungs ``table`` (`rungs`): each model's scratch against the task's pixel probe."""
    g = GRIDS[check_profile(profile)]
    parts = []
    for task in (t for t in g.downstream if t not in g.judged_tasks):
        here = table[table["task"] == task].set_index(["model", "rung"])["accuracy %"]
        models = list(dict.fromkeys(m for m, _ in here.index))
        scratch = {m: here[(m, "scratch")] for m in models if (m, "scratch") in here.index}
        probe = here.xs("pixel probe", level="rung").iloc[0] if len(models) else float("nan")
        failed = [m for m, v in scratch.items() if not v > probe]
        why = (f"its rungs fail ({', '.join(failed)} from scratch not above the pixel probe)" if failed
               else "although its rungs hold")
        parts.append(f"{task} is shown, not judged, {why}: the pixel probe reaches {probe:.1f} %, "
                     + ", ".join(f"{m} from scratch {v:.1f} %" for m, v in scratch.items()))
    return "; ".join(parts)
