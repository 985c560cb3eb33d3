"""He et al.'s ablation claims, judged on the study's runs by the shared rule of `mae_study.report.claims`.

`claims_from` is a pure function of the tidy results table (`ablation_results.results`, accuracy
in %) and the step-cost table (`step_cost_report.step_cost_table`), so it is tested on made-up
numbers; `claims` applies it to the runs of one profile. Each claim is one row per evaluation mode
it concerns ("fine-tune", "linear probe", or "both", "FLOPs", "wall clock").

Where the paper's numbers are not transcribed, the paper's words are quoted as two explanations of
it give them: Zephyr, "[21.11] MAE", DOCSAID paper notes ("Zephyr's notes"), and Yoon Tae-young's
slides on He et al. 2022 ("Yoon's slides").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mae_study.chapters.ablations.plan import MODES, evaluation_tasks
from mae_study.chapters.ablations.results import (MODE_NAMES, SamplingArm, arm_label, encoder_width, paper_key,
                                                  paper_numbers, results, scratch_paper_numbers)
from mae_study.chapters.ablations.step_cost_report import step_cost_table
from mae_study.report.claims import (Claim, Difference, claims_frame, deterministic_verdict, difference, gated,
                                     rung_failures, standard_error_from_sd)
from mae_study.runs.rungs import mean_probe

COLUMNS = {"table": "table", "claim": "claim", "metric": "metric", "paper": "paper", "measured": "ours",
           "verdict": "verdict", "failed_rungs": "untestable because"}
METRIC_MODES = {"fine-tune": ("full",), "linear probe": ("linear",), "both": ("full", "linear")}
"""The evaluation modes an accuracy claim rests on, by its metric (FLOPs and wall clock: none)."""
"""The columns of the chapter's claims table (`Claim` field -> title)."""

RANDOM_75, BLOCK_75, GRID_75, BLOCK_50 = (SamplingArm("random", 0.75), SamplingArm("block", 0.75),
                                          SamplingArm("grid", 0.75), SamplingArm("block", 0.5))


def accuracies(res: pd.DataFrame, table: str, value, mode: str) -> np.ndarray:
    """The accuracies (%) of one arm in one mode, one per pre-training seed (``table="scratch"``:
    one per random initialisation, ``value`` ignored)."""
    rows = res[(res["table"] == table) & (res["mode"] == mode)]
    if table != "scratch":
        rows = rows[rows["value"] == value]
    return rows["accuracy_pct"].to_numpy(float)


def arms_with_results(res: pd.DataFrame, table: str, *modes: str) -> list:
    """The arm values of ``table`` that have results in every one of ``modes``, in table order."""
    rows = res[res["table"] == table]
    have = [set(rows.loc[rows["mode"] == mode, "value"]) for mode in modes]
    return [value for value in dict.fromkeys(rows["value"]) if all(value in h for h in have)]


def _paper_pair(table: str, keys: list, mode: str, width: int, fallback: str) -> str:
    """The paper's numbers of ``keys`` in ``mode`` ("1: 65.5; 8: 73.5"), or ``fallback`` when any is missing."""
    paper = paper_numbers(table)
    column = 0 if mode == "full" else 1
    keyed = [(key, paper_key(table, key, width)) for key in keys]
    found = [(key, paper[paper_at][column]) for key, paper_at in keyed if paper_at in paper]
    if len(found) < len(keys):
        return fallback
    return "; ".join(f"{arm_label(table, key) if table != 'decoder_width' else f'{key / width:g}x width'}: "
                     f"{number:.1f}" for key, number in found)


def _pct(ratio: float) -> str:
    return arm_label("mask_ratio", ratio)


def _listed(differences: dict, label) -> str:
    return ", ".join(f"{label(key)}: {d.format()}" for key, d in differences.items())


def _beats(res, table, claim, mode, better, worse, paper: str, measured: str) -> Claim:
    """The claim that arm ``better`` beats arm ``worse`` in ``mode``: judged on better minus worse."""
    d = difference(higher=accuracies(res, table, better, mode), lower=accuracies(res, table, worse, mode))
    return Claim.judged(claim, paper, f"{measured}: {d.format()}", [d], table=table, metric=MODE_NAMES[mode])


def mask_ratio_claims(res: pd.DataFrame, mode: str, scratch_paper: tuple[float, float] | None) -> list[Claim]:
    """Figure 5: the best ratio lies in 40-80 %; no ratio beats 75 %; MAE beats training from scratch."""
    out = []
    ratios = sorted(arms_with_results(res, "mask_ratio", mode))
    means = {r: accuracies(res, "mask_ratio", r, mode).mean() for r in ratios}
    inside = [r for r in ratios if 0.4 - 1e-9 <= r <= 0.8 + 1e-9]
    outside = [r for r in ratios if r not in inside]
    metric = MODE_NAMES[mode]
    if ratios:
        versus_best = {}
        if inside and outside:
            best = max(inside, key=means.get)
            versus_best = {r: difference(higher=accuracies(res, "mask_ratio", best, mode),
                                         lower=accuracies(res, "mask_ratio", r, mode)) for r in outside}
            measured = (f"best overall {_pct(max(means, key=means.get))}; best in 40-80 %: {_pct(best)}, minus "
                        + _listed(versus_best, _pct))
        else:
            measured = "no ratio both inside and outside 40-80 % was run"
        out.append(Claim.judged("accuracy peaks at a mask ratio between 40 and 80 %",
                                "best between 40 and 80 % (Fig. 5, as Zephyr's notes and Yoon's slides describe it)",
                                measured, list(versus_best.values()), table="mask_ratio", metric=metric))
    if 0.75 in means and len(ratios) > 1:
        versus_75 = {r: difference(higher=accuracies(res, "mask_ratio", 0.75, mode),
                                   lower=accuracies(res, "mask_ratio", r, mode)) for r in ratios if r != 0.75}
        out.append(Claim.judged("no ratio beats 75 % (the paper's choice), and some do worse",
                                "75 % chosen (Zephyr's notes)", "75 % minus " + _listed(versus_75, _pct),
                                list(versus_75.values()), need="any", table="mask_ratio", metric=metric))
    base, scratch = accuracies(res, "mask_ratio", 0.75, mode), accuracies(res, "scratch", None, mode)
    if len(base) and len(scratch):
        d = difference(higher=base, lower=scratch)
        paper = (f"ViT-L scratch {scratch_paper[0]:g}, MAE {scratch_paper[1]:g} (Table 3)"
                 if scratch_paper and mode == "full" else "not reported")
        out.append(Claim.judged("MAE pre-training (75 %) beats training from scratch", paper,
                                f"MAE minus scratch: {d.format()}", [d], table="mask_ratio", metric=metric))
    return out


def decoder_depth_claims(res: pd.DataFrame, width: int) -> list[Claim]:
    """Table 1a: a deeper decoder helps linear probing, and fine-tuning less."""
    depths = sorted(arms_with_results(res, "decoder_depth", "full", "linear"))
    if len(depths) < 2:
        return []
    lo, hi = depths[0], depths[-1]
    gain = {mode: difference(higher=accuracies(res, "decoder_depth", hi, mode),
                             lower=accuracies(res, "decoder_depth", lo, mode)) for mode in MODES}
    gap = gain["linear"] - gain["full"]
    pairs = {mode: _paper_pair("decoder_depth", [lo, hi], mode, width, fallback)
             for mode, fallback in (("full", "flat"), ("linear", "deeper is better (Table 1a)"))}
    return [
        Claim.judged(f"a deeper decoder improves linear probing (depth {hi} vs {lo})", pairs["linear"],
                     f"depth {hi} minus {lo}: {gain['linear'].format()}", [gain["linear"]],
                     table="decoder_depth", metric=MODE_NAMES["linear"]),
        Claim.judged("fine-tuning gains less from a deep decoder than linear probing", "fine-tune " + pairs["full"] +
                     " vs linear " + _paper_pair("decoder_depth", [lo, hi], "linear", width, "rising"),
                     f"gain linear {gain['linear'].value:+.1f}, gain fine-tune {gain['full'].value:+.1f}; "
                     f"difference {gap.format()}", [gap], table="decoder_depth", metric="both"),
    ]


def decoder_width_claims(res: pd.DataFrame, width: int) -> list[Claim]:
    """Table 1b: half the encoder's width does as well as the full width; much narrower hurts."""
    def widths(mode, fraction=None, below=None):
        run = sorted(arms_with_results(res, "decoder_width", mode))
        if fraction is not None:
            return [w for w in run if abs(w / width - fraction) < 1e-9]
        return [w for w in run if w / width < below - 1e-9]

    out = []
    for mode in MODES:
        half, full = widths(mode, fraction=0.5), widths(mode, fraction=1.0)
        if half and full:
            out.append(_beats(res, "decoder_width",
                              "a decoder half as wide as the encoder does at least as well as a full-width one",
                              mode, half[0], full[0], _paper_pair("decoder_width", [half[0], full[0]], mode, width,
                                                                  "Table 1b"), "half minus full width"))
    half, narrow = widths("linear", fraction=0.5), widths("linear", below=0.5)
    if half and narrow:
        out.append(_beats(res, "decoder_width", "a much narrower decoder hurts linear probing", "linear", half[0],
                          narrow[0], _paper_pair("decoder_width", [narrow[0], half[0]], "linear", width, "Table 1b"),
                          f"half minus {narrow[0] / width:g}x width"))
    return out


def mask_token_claims(res: pd.DataFrame, width: int) -> list[Claim]:
    """Table 1c: an encoder without mask tokens is more accurate."""
    return [_beats(res, "mask_token", "an encoder without mask tokens is more accurate", mode, False, True,
                   _paper_pair("mask_token", [True, False], mode, width, "Table 1c"), "without minus with")
            for mode in MODES if {True, False} <= set(arms_with_results(res, "mask_token", mode))]


def step_cost_claims(cost: pd.DataFrame | None) -> list[Claim]:
    """Table 1c: mask tokens cost the encoder about 3.3x the FLOPs, and a step is slower with them."""
    if cost is None or not len(cost):
        return []
    out = []
    paper_row = cost[cost["configuration"].str.contains("paper")]
    if len(paper_row):
        vit_l = paper_row.iloc[0]
        close = abs(vit_l["FLOPs ratio (analytic)"] / vit_l["paper FLOPs ratio"] - 1) < 0.05
        counted = "; ".join(f"{row['configuration']}: {row['FLOPs ratio (analytic)']:.2f}x"
                            for _, row in cost.iterrows())
        out.append(Claim("with mask tokens the encoder costs about 3.3x the FLOPs (ViT-L, 75 %)",
                         f"{vit_l['paper FLOPs ratio']:g}x (Table 1c)", counted + " (analytic)",
                         deterministic_verdict(close), table="mask_token", metric="FLOPs"))
    timed = cost.dropna(subset=["wall-clock ratio"]) if "wall-clock ratio" in cost else cost.iloc[:0]
    if len(timed):
        slower, parts = [], []
        for _, row in timed.iterrows():
            sd, rounds = row["wall-clock ratio sd"], row["rounds"]
            d = Difference(row["wall-clock ratio"] - 1, standard_error_from_sd(sd, rounds), rounds - 1)  # with / without, minus 1
            slower.append(d)
            parts.append(f"{row['configuration']}: {row['wall-clock ratio']:.2f}x measured vs "
                         f"{row['FLOPs ratio (analytic)']:.2f}x FLOPs" +
                         (f" (sd {sd:.2f}, {int(rounds)} rounds)" if not np.isnan(d.se) else " (one round: no test)"))
        out.append(Claim.judged("without mask tokens a training step is faster in wall-clock time",
                                "faster (Table 1c, Table 2)", "; ".join(parts), slower,
                                table="mask_token", metric="wall clock"))
    return out


def sampling_claims(res: pd.DataFrame, width: int) -> list[Claim]:
    """Table 1f: random sampling at 75 % beats block and grid; block does better at 50 % than at 75 %."""
    out = []
    for mode in MODES:
        arms = set(arms_with_results(res, "sampling", mode))
        if {RANDOM_75, BLOCK_75, GRID_75} <= arms:
            versus = {arm: difference(higher=accuracies(res, "sampling", RANDOM_75, mode),
                                      lower=accuracies(res, "sampling", arm, mode)) for arm in (BLOCK_75, GRID_75)}
            out.append(Claim.judged(
                "at 75 %, random sampling beats block and grid sampling",
                _paper_pair("sampling", [RANDOM_75, BLOCK_75, GRID_75], mode, width,
                            "random best (Table 1f; Zephyr's notes, Yoon's slides)"),
                "random minus " + _listed(versus, lambda arm: arm_label("sampling", arm)), list(versus.values()),
                table="sampling", metric=MODE_NAMES[mode]))
        if {BLOCK_50, BLOCK_75} <= arms:
            out.append(_beats(res, "sampling", "block sampling does better at 50 % than at 75 %", mode, BLOCK_50,
                              BLOCK_75, _paper_pair("sampling", [BLOCK_50, BLOCK_75], mode, width,
                                                    "block works well at 50 %, degrades at 75 % (Zephyr's notes)"),
                              "block 50 % minus block 75 %"))
    return out


def target_claims(res: pd.DataFrame, width: int) -> list[Claim]:
    """Table 1d: a per-patch normalised pixel target beats the plain pixel target."""
    fallback = "normalised pixels better (Table 1d; Zephyr's notes)"
    return [_beats(res, "target", "a per-patch normalised pixel target beats the plain pixel target", mode, True, False,
                   _paper_pair("target", [False, True], mode, width, fallback), "normalised minus plain")
            for mode in MODES if {True, False} <= set(arms_with_results(res, "target", mode))]


def claims_from(res: pd.DataFrame, cost: pd.DataFrame | None = None, width: int = 96,
                scratch_paper: tuple[float, float] | None = None, pixel_probe: float | None = None) -> pd.DataFrame:
    """The paper's claims, one row per claim and metric (`COLUMNS`), judged on a tidy ``res``
    (`ablation_results.results`) and a step-cost table ``cost``; ``width`` is the encoder's
    width (decoder widths are compared as fractions of it), ``scratch_paper`` the paper's ViT-L
    accuracy from scratch and after MAE (`ablation_results.scratch_paper_numbers`), ``pixel_probe``
    the task's raw-pixel probe (a fraction; None: not run): accuracy claims whose models did not
    learn are "untestable" (`claim_rungs`)."""
    rows = [claim for mode in MODES for claim in mask_ratio_claims(res, mode, scratch_paper)]
    rows += decoder_depth_claims(res, width) + decoder_width_claims(res, width)
    rows += mask_token_claims(res, width) + step_cost_claims(cost)
    rows += sampling_claims(res, width) + target_claims(res, width)
    return claims_frame([gated(c, claim_rungs(res, c, pixel_probe)) for c in rows], COLUMNS)


def claim_rungs(res: pd.DataFrame, claim: Claim, pixel_probe: float | None) -> list[str]:
    """`rung_failures` of an accuracy claim: the classifier from scratch (fine-tuned) above the
    pixel probe, and every arm of the claim's table, in each mode the claim rests on, above scratch
    or the probe by more than its spread. None for a claim about FLOPs or wall-clock time."""
    modes = METRIC_MODES.get(claim.metric, ())
    if not modes:
        return []
    arms = {f"{claim.table.replace('_', ' ')} {arm_label(claim.table, value)}, {MODE_NAMES[mode]}":
            accuracies(res, claim.table, value, mode) / 100
            for mode in modes for value in arms_with_results(res, claim.table, mode)}
    return rung_failures(pixel_probe, accuracies(res, "scratch", None, "full") / 100, arms)


def claims(profile: str) -> pd.DataFrame:
    """The paper's ablation claims, each with this profile's verdict and the numbers behind it."""
    probe = mean_probe(evaluation_tasks(profile))
    return claims_from(results(profile), step_cost_table(profile), encoder_width(profile), scratch_paper_numbers(),
                       probe["accuracy"] if probe else None)


def table_claims(claims_frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The claims of one ablation ``table`` (rows of `claims`) with their verdicts, as the page shows them."""
    return claims_frame[claims_frame["table"] == table].drop(columns="table").reset_index(drop=True)
