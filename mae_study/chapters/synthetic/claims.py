"""The claims of Umekawa, Kagamikawa and Maeda, "Training Transformers with artificially generated
images", and the two open questions of its Section 5, judged on the study's runs by the shared
rule of `mae_study.report.claims`.

`claims_from` is a pure function of the fine-tuning table (`synthetic_tables.finetune_table`), so it
is tested on made-up tables; `claims` applies it to the runs of one profile. Each trial is one
pre-training run (its accuracy on a task: the mean over its fine-tunings) or one model trained from
scratch. The paper states every ordering "on CIFAR-10 and on CIFAR-100": here each ordering must
hold on every downstream task the profile judges (`SyntheticGrid.judged_tasks`; every difference
counts, ``need="all"``).
Differences are in percentage points of test accuracy. A claim is "untestable" where a rung it
stands on failed (`rung_failures`): on each task and model it compares, the model from scratch
above the task's pixel probe, and each compared arm above scratch or the probe by more than its
spread; and every pre-training behind a compared arm healthy (`synthetic_tables.health_from`: held-out
top-1, or mAP on Multi-Instance, at least `HEALTH_MIN`): a fine-tuning of a pre-training that did not
learn its synthetic task says nothing about that task.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mae_study.chapters.synthetic.finetune import SYNTHETIC_FINETUNE
from mae_study.chapters.synthetic.plan import GRIDS
from mae_study.chapters.synthetic.tables import (MODEL_LABELS, SET_LABELS, accuracy_per_trial, finetune_table,
                                                 health_from, pretrain_table)
from mae_study.report.claims import Claim, claims_frame, difference, rung_failures
from mae_study.runs.rungs import probe_result

COLUMNS = {"claim": "claim", "verdict": "verdict", "paper": "paper", "measured": "evidence",
           "failed_rungs": "untestable because"}
"""The columns of the chapter's claims table (`Claim` field -> title)."""

SINGLE, MULTI, FDB = "fractal_single", "fractal_multi", "fractaldb"
BEST = {"resnet": MULTI, "deit": SINGLE}  # the paper's best synthetic set per model


def pretrain_failures(health: pd.DataFrame | None, model: str, pretrain_set: str, variant: str) -> dict[str, str]:
    """The failed health checks of an arm's pre-training runs (`health_from`), as `rung_failures`'
    ``health``: {"<run> pre-training": why}."""
    if health is None or health.empty:
        return {}
    mine = health[(health["model"] == model) & (health["pretrain_set"] == pretrain_set)
                  & (health["variant"] == variant) & ~health["healthy"].astype(bool)]
    return {f"{run} pre-training": why for run, why in mine[["run", "why"]].to_numpy()}


def claims_from(evals: pd.DataFrame, pixel_probes: dict[str, float] | None = None,
                health: pd.DataFrame | None = None, tasks: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The paper's claims and open questions, one row each (`COLUMNS`), judged on a fine-tuning
    table shaped like `finetune_table`, each task's pixel probe (a fraction; a task missing: not
    run) and the pre-trainings' health checks (`health_from`; None: not checked), on ``tasks`` (None:
    every task of the table). A comparison whose arms did not run is left out of its claim; a claim
    with none left is "inconclusive" ("not run")."""
    trials = accuracy_per_trial(evals)
    trials = trials if tasks is None else trials[trials["downstream"].isin(tasks)]
    tasks = sorted(trials["downstream"].unique())
    probes = pixel_probes or {}

    def acc(model: str, pretrain_set: str, task: str, variant: str = "main") -> np.ndarray:
        rows = trials[(trials["model"] == model) & (trials["pretrain_set"] == pretrain_set)
                      & (trials["downstream"] == task) & (trials["variant"] == variant)]
        return rows["accuracy"].to_numpy()

    def rungs(arms) -> list[str]:
        """`rung_failures` of the arms ``(model, set, task, variant)``, per (model, task, variant)."""
        failures = []
        for model, task, variant in dict.fromkeys((m, t, v) for m, _, t, v in arms):
            mine = {f"{MODEL_LABELS[m]} on {SET_LABELS.get(s, s)}, {t}" + ("" if v == "main" else f" ({v})"):
                    acc(m, s, t, v) / 100 for m, s, t, v in dict.fromkeys(arms) if (m, t, v) == (model, task, variant)
                    and s != "scratch"}
            scratch = acc(model, "scratch", task, variant)  # a variant without its own scratch: the main one
            scratch = scratch if len(scratch) else acc(model, "scratch", task)
            sick = {k: v for m, s, t, v_ in dict.fromkeys(arms) if (m, t, v_) == (model, task, variant)
                    and s != "scratch" for k, v in pretrain_failures(health, m, s, v_).items()}
            found = rung_failures(probes.get(task), scratch / 100, mine, health=sick)
            failures += [f if f.startswith(MODEL_LABELS[model]) else f"{MODEL_LABELS[model]}, {task}: {f}" for f in found]
        return list(dict.fromkeys(failures))

    def judged(claim, paper, comparisons, need="all"):
        """``comparisons``: (label, higher arm, lower arm), each arm ``(model, set, task, variant)``;
        those with an empty side are dropped."""
        ran = [(label, difference(higher=acc(*h), lower=acc(*lo)), h, lo) for label, h, lo in comparisons
               if len(acc(*h)) and len(acc(*lo))]
        measured = "; ".join(f"{label}: {d.format(1)}" for label, d, _, _ in ran) or "not run at this profile"
        failures = rungs([arm for _, _, h, lo in ran for arm in (h, lo)]) if ran else []
        return Claim.judged(claim, paper, measured, [d for _, d, _, _ in ran], need=need, failures=failures)

    rows = []
    for model in ("resnet", "deit"):
        rows.append(judged(
            f"{MODEL_LABELS[model]} pre-trained on Single-Instance and on Multi-Instance beats FractalDB on every task",
            "Figure 2, Section 3: higher accuracy than FractalDB on CIFAR-10 and CIFAR-100, for ResNet50 and DeiT",
            [(f"{SET_LABELS[s]} - FractalDB, {t}", (model, s, t, "main"), (model, FDB, t, "main"))
             for s in (SINGLE, MULTI) for t in tasks]))
    for model, best in BEST.items():
        rows.append(judged(
            f"the best synthetic set for {MODEL_LABELS[model]} is {SET_LABELS[best]}",
            f"Section 3: most effective for {'ResNet50' if model == 'resnet' else 'DeiT'}: {SET_LABELS[best]}, "
            "the same on CIFAR-10 and CIFAR-100",
            [(f"{SET_LABELS[best]} - {SET_LABELS[s]}, {t}", (model, best, t, "main"), (model, s, t, "main"))
             for s in (SINGLE, MULTI, FDB) if s != best for t in tasks]))
    rows.append(judged(
        "pre-trained on a synthetic set, DeiT is less accurate than the ResNet",
        "Section 4: with synthetic pre-training DeiT's accuracy was below ResNet50's",
        [(f"ResNet - DeiT, {SET_LABELS[s]}, {t}", ("resnet", s, t, "main"), ("deit", s, t, "main"))
         for s in (FDB, SINGLE, MULTI) for t in tasks]))
    natural = sorted(set(trials["pretrain_set"]) - {FDB, SINGLE, MULTI, "scratch"})
    if natural:
        rows.append(judged(
            "pre-trained on the natural set, DeiT is more accurate than the ResNet",
            "Section 4: pre-trained on ImageNet2012, DeiT's accuracy was above ResNet50's",
            [(f"DeiT - ResNet, {SET_LABELS.get(s, s)}, {t}", ("deit", s, t, "main"), ("resnet", s, t, "main"))
             for s in natural for t in tasks]))
    recipe_sets = sorted(set(trials.loc[trials["variant"] == "deit_recipe", "pretrain_set"]))
    rows.append(judged(
        "(a) pre-trained with its own recipe (Touvron et al.) instead of the main one, DeiT does better",
        "Sections 4-5: Anderson & Farrell's conditions, made for ResNet50, may not suit DeiT on fractals; "
        "to be tested with Touvron's code (open question, no result)",
        [(f"DeiT's recipe - main, {SET_LABELS[s]}, {t}", ("deit", s, t, "deit_recipe"), ("deit", s, t, "main"))
         for s in recipe_sets for t in tasks]))
    large = [("deit", s, t, v) for t in tasks for s in (MULTI, "scratch") for v in ("large_patch", "main")]
    rows.append(patch_claim(trials, tasks, acc, rungs([a for a in large if len(acc(*a))])))
    return claims_frame(rows, COLUMNS)


def patch_claim(trials: pd.DataFrame, tasks: list[str], acc, failures: list[str]) -> Claim:
    """(b): with patches twice as large, Multi-Instance pre-training helps DeiT more. The larger patch
    is also another model (fewer tokens), so the claimed difference is of the gains over each
    model's own scratch baseline: (MI - scratch) with large patches minus (MI - scratch) as usual."""
    diffs, parts = [], []
    for t in tasks:
        large = difference(higher=acc("deit", MULTI, t, "large_patch"), lower=acc("deit", "scratch", t, "large_patch"))
        usual = difference(higher=acc("deit", MULTI, t), lower=acc("deit", "scratch", t))
        if np.isnan(large.value) or np.isnan(usual.value):
            continue
        diffs.append(large - usual)
        parts.append(f"{t}: gain over scratch {large.format(1)} with large patches, {usual.format(1)} as usual, "
                     f"difference {diffs[-1].format(1)}")
    return Claim.judged(
        "(b) with patches twice as large, pre-training DeiT on Multi-Instance gains more over scratch",
        "Sections 4-5: splitting a Multi-Instance image (several labels) into patches may make it hard for DeiT; "
        "to be tested with DeiT small_patch32 (open question, no result)",
        "; ".join(parts) or "not run at this profile", diffs, failures=failures if diffs else [])


def claims(profile: str) -> pd.DataFrame:
    """Each claim of the paper with this profile's verdict and the numbers behind it."""
    probes = {task: probe_result(SYNTHETIC_FINETUNE.resolve(profile, dataset=task))
              for task in GRIDS[profile].downstream}
    pre = pretrain_table(profile)
    return claims_from(finetune_table(profile), {t: p["accuracy"] for t, p in probes.items() if p},
                       health_from(pre) if len(pre) else None, GRIDS[profile].judged_tasks)
