"""The rungs of a chapter's downstream task, shown beside its results: how much room there was.

Every chapter evaluates its arms on a labelled task. Whether a difference between arms means
anything depends on where they sit between the task's floor and what a model without
pre-training already reaches, so each chapter page shows, beside its accuracies:

- **chance**: one over the number of classes;
- **pixel probe**: a logistic regression on standardised raw pixels of the very same labelled
  splits (`mae_study.runs.probe.run_pixel_probe`, a run of experiment `task_pixel_probe`, one per task);
- **scratch**: the chapter's own classifier trained from a random initialisation with the
  chapter's recipe (its scratch runs, mean and spread over seeds);

and then its best arm. `probe_entry` turns a chapter's fine-tuning parameters into the probe run
its sweep adds; `rungs_table` is a pure function of the accuracies, tested on made-up numbers.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mae_study.runs.params import Experiment
from mae_study.runs.probe import check_probe, run_pixel_probe
from mae_study.runs.results import RunDir
from mae_study.runs.skeleton import auto_run_name

PROBE = "task_pixel_probe"
MIN_GAIN_SE = 3.0  # a best row this many standard errors above scratch shows the recipe has room
_TASK_KEYS = ("dataset", "data_setting", "image_size", "num_train", "num_test", "data_seed")

def _naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    """e.g. ``builtin_distinct-v2_32px_500x1000_d0``; ``digits_32px_all_d0`` for a data set's own splits."""
    sizes = "all" if p["num_train"] is None and p["num_test"] is None else f"{p['num_train']}x{p['num_test']}"
    setting = f"_{p['data_setting']}" if p["data_setting"] else ""
    return f"{p['dataset']}{setting}_{p['image_size']}px_{sizes}_d{p['data_seed']}", _TASK_KEYS


# The fine-tunings' image size per profile (as the data chapter's ladder probe has it).
_IMAGE_SIZE = {"ci": 16, "cpu": 32, "gpu": 96}
TASK_PROBE = Experiment(PROBE, {prof: {"dataset": "builtin", "data_setting": None, "image_size": size,
                                       "num_train": None, "num_test": None, "data_seed": 0}
                               for prof, size in _IMAGE_SIZE.items()}, check_probe, naming=_naming)
"""A pixel probe of one chapter's labelled task (the ladder's probe, under its own folder; split
sizes None: the data set's own)."""


def probe_params(task: Mapping):
    """The pixel probe of the labelled task that the fine-tuning parameters ``task`` train and test
    on (same data set, built-in setting, image size, split sizes and data seed)."""
    return TASK_PROBE.resolve(task["profile"], **{k: task[k] for k in _TASK_KEYS})


def probe_entry(task: Mapping) -> tuple[str, str, Mapping, object]:
    """(experiment, run name, parameters, run function): the plan entry of ``task``'s pixel probe."""
    p = probe_params(task)
    return PROBE, auto_run_name(p), p, run_pixel_probe


def probe_entries(tasks: Sequence[Mapping]) -> list[tuple[str, str, Mapping, object]]:
    """One probe entry per distinct task among ``tasks`` (in first-seen order); none for a profile
    the probe does not have (the paper profile's real data sets, whose difficulty is known)."""
    out, seen = [], set()
    for task in tasks:
        if task["profile"] not in TASK_PROBE.defaults:
            continue
        entry = probe_entry(task)
        if entry[1] not in seen:
            seen.add(entry[1])
            out.append(entry)
    return out


def probe_result(task: Mapping) -> dict | None:
    """The finished probe's ``final.json`` for ``task`` (accuracy, chance), or None if not run."""
    if task["profile"] not in TASK_PROBE.defaults:
        return None
    _, name, p, _ = probe_entry(task)
    run = RunDir(p["profile"], PROBE, name)
    return run.read("final.json") if run.is_finished() else None


def mean_probe(tasks: Sequence[Mapping]) -> dict | None:
    """The pixel probe over several labelled tasks (e.g. one per trial's data seed): accuracy and
    chance averaged over the distinct tasks' finished probes, ``runs`` how many; None if none ran."""
    results, seen = [], set()
    for task in tasks:
        if task["profile"] not in TASK_PROBE.defaults:
            continue
        name = probe_entry(task)[1]
        if name not in seen:
            seen.add(name)
            result = probe_result(task)
            if result is not None:
                results.append(result)
    if not results:
        return None
    return {"accuracy": float(np.mean([r["accuracy"] for r in results])),
            "chance": float(np.mean([r["chance"] for r in results])), "runs": len(results)}


def task_rungs(task: Mapping | Sequence[Mapping], scratch: Sequence[float], arms: Mapping[str, Sequence[float]],
               baselines: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """`rungs_table` for the labelled task of fine-tuning parameters ``task``, chance and pixel
    probe read from its probe run (nan / "not run" when it has not run); for a list of tasks (one
    per trial's data), the probes' mean (`mean_probe`)."""
    probe = probe_result(task) if isinstance(task, Mapping) else mean_probe(task)
    return rungs_table(probe["chance"] if probe else math.nan, probe["accuracy"] if probe else None, scratch, arms,
                       baselines)


def _row(rung: str, values: Sequence[float], what: str) -> dict:
    v = np.asarray(values, dtype=float) * 100
    n = len(v)
    return {"rung": rung, "accuracy %": float(v.mean()) if n else math.nan,
            "sd": float(v.std(ddof=1)) if n > 1 else math.nan,
            "se": float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan, "runs": n, "what": what}


ARM = "this chapter's arm"


def rungs_table(chance: float, pixel_probe: float | None, scratch: Sequence[float],
                arms: Mapping[str, Sequence[float]],
                baselines: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """Chance, the pixel probe, scratch, any further ``baselines`` without pre-training, then
    each of ``arms`` (accuracies as fractions 0-1, one per run): mean %, sd, standard error and
    the number of runs; ``above scratch`` is each row's mean minus scratch's, in points."""
    rows = [_row("chance", [chance], "1 / number of classes"),
            _row("pixel probe", [] if pixel_probe is None else [pixel_probe],
                 "logistic regression on raw pixels, same splits" if pixel_probe is not None else "not run"),
            _row("scratch", scratch, "the chapter's classifier, random initialisation, same recipe")]
    rows += [_row(name, values, "another baseline without pre-training") for name, values in (baselines or {}).items()]
    rows += [_row(name, values, ARM) for name, values in arms.items()]
    table = pd.DataFrame(rows)
    base = table.loc[table["rung"] == "scratch", "accuracy %"].iloc[0]
    table["above scratch"] = table["accuracy %"] - base
    return table


def room_sentence(table: pd.DataFrame) -> str:
    """One sentence a page prints under its rungs: where scratch and the best arm sit between
    chance and the pixel probe."""
    t = table.set_index("rung")
    chance, pixels, scratch = (t.loc[r, "accuracy %"] for r in ("chance", "pixel probe", "scratch"))
    arms = t[t["what"] == ARM]
    if not len(arms) or arms["accuracy %"].isna().all():
        return "No arm of this chapter has finished yet."
    best = arms["accuracy %"].idxmax()
    b = arms.loc[best]
    pixel_part = (f"the pixel probe {pixels:.1f} %" if not math.isnan(pixels) else "no pixel probe")
    se = t.loc["scratch", "se"]
    text = (f"Chance is {chance:.1f} %, {pixel_part}, the classifier from scratch {scratch:.1f} %"
            f"{'' if math.isnan(se) else f' (± {se:.1f} SE)'}; the best of this chapter's rows, {best}, reaches "
            f"{b['accuracy %']:.1f} % ({b['above scratch']:+.1f} points over scratch).")
    gain_se = math.sqrt(b["se"] ** 2 + se ** 2)
    warnings = []
    if not math.isnan(pixels) and scratch <= pixels:
        warnings.append("the classifier from scratch does not even reach the pixel probe")
    if math.isnan(gain_se) or b["above scratch"] <= MIN_GAIN_SE * gain_se:
        warnings.append(f"no row is more than {MIN_GAIN_SE:g} standard errors above scratch")
    if warnings:
        text += (" **This recipe leaves too little room:** " + "; ".join(warnings) +
                 ", so this chapter's verdicts at this profile say little about the method (see the data "
                 "chapter for what the setting allows with a longer recipe).")
    return text
