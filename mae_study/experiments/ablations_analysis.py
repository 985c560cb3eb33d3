"""He et al.'s ablations: tables beside the paper's, figures, the cost of mask tokens, and claims.

Everything is computed from the run files of one profile. Accuracies are in % (the paper's unit).
`results` is the tidy table every other function starts from: one row per table, arm,
pre-trained encoder and evaluation mode. `claims_from` judges the paper's claims on such a table,
so it can be checked on made-up numbers.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..flops import mae_forward_flops
from ..masking import num_visible
from ..models.mae import MAEConfig
from ..params import check_profile
from ..paths import reference_root
from ..reporting import mean_spread
from ..results import RunDir, load_runs
from .ablations import (FINETUNE, GRIDS, MODES, PRETRAIN, STEP_COST, TABLES, check_table, pretrain_name,
                        pretrain_params)
from .dynmask_analysis import _compare, _sign
from .pretrain import build_model_config

MODE_NAMES = {"full": "fine-tune", "linear": "linear probe"}

# He et al. (CVPR 2022), Table 1's caption and Appendix A: the setting of every ablation.
PAPER_SETTING = {"model": "ViT-L/16", "embed_dim": 1024, "depth": 24, "num_heads": 16, "image_size": 224,
                 "patch_size": 16, "decoder_depth": 8, "decoder_embed_dim": 512, "data": "ImageNet-1k",
                 "pretrain_images": 1_281_167, "pretrain_epochs": 800, "finetune_epochs": 50,
                 "linear_epochs": 90, "mask_ratio": 0.75}
VIT_L = MAEConfig(img_size=224, patch_size=16, embed_dim=1024, depth=24, num_heads=16, decoder_embed_dim=512,
                  decoder_depth=8, decoder_num_heads=16)
"""The paper's ablation model (ViT-L/16 encoder, 8 x 512 decoder), for its analytic FLOPs."""


# ---------------------------------------------------------------------------------------------
# Run tables
# ---------------------------------------------------------------------------------------------

def pretrain_table(profile: str) -> pd.DataFrame:
    """One row per finished pre-training run: its configuration, final loss and cost."""
    df = load_runs(PRETRAIN, profile)
    if df.empty:
        return df
    return pd.DataFrame({
        "run": df["run"], "seed": df["config.params.seed"], "mask_ratio": df["config.params.final_mask_ratio"],
        "sampling": df["config.params.sampling"], "decoder_depth": df["config.model.decoder_depth"],
        "decoder_width": df["config.model.decoder_embed_dim"], "norm_pix_loss": df["config.model.norm_pix_loss"],
        "encoder_mask_token": df["config.model.encoder_mask_token"], "final_loss": df["final.final_loss"],
        "train_tflops": df["final.train_tflops"], "wall_time_s": df["final.wall_time_s"]})


def finetune_table(profile: str) -> pd.DataFrame:
    """One row per finished evaluation run; accuracy in %."""
    df = load_runs(FINETUNE, profile)
    if df.empty:
        return pd.DataFrame(columns=["run", "pretrained", "mode", "ft_seed", "accuracy", "wall_time_s"])
    return pd.DataFrame({"run": df["run"], "pretrained": df["config.params.pretrained"],
                         "mode": df["config.params.mode"], "ft_seed": df["config.params.seed"],
                         "accuracy": 100 * df["final.test_accuracy_last_k"], "wall_time_s": df["final.wall_time_s"]})


def arm_value(table: str, arm: dict):
    """What identifies an arm within its table (a ratio, a depth, True for "with mask tokens" ...)."""
    check_table(table)
    if table == "mask_ratio":
        return round(arm["final_mask_ratio"], 2)
    if table == "sampling":
        return f"{arm['sampling']} {round(arm['final_mask_ratio'] * 100)} %"
    return next(iter(arm.values()))


def arm_label(table: str, value) -> str:
    if table == "mask_ratio":
        return f"{round(value * 100)} %"
    if table == "mask_token":
        return "encoder with mask tokens" if value else "encoder without mask tokens"
    if table == "target":
        return "normalised pixels" if value else "pixels"
    return str(value)


def results(profile: str) -> pd.DataFrame:
    """Tidy: table, value, label, pretrained, seed, mode, accuracy (%, mean over fine-tuning seeds).

    A run shared by several tables appears once in each. Training from scratch is the table
    ``"scratch"``. Only finished runs count."""
    ft = finetune_table(check_profile(profile))
    acc = ft.groupby(["pretrained", "mode"])["accuracy"].mean() if len(ft) else pd.Series(dtype=float)
    rows = []
    for table in TABLES:
        grid = GRIDS[profile][table]
        for arm in grid.arms():
            value = arm_value(table, arm)
            for seed in grid.pretrain_seeds:
                name = pretrain_name(pretrain_params(profile, arm, seed))
                for mode in grid.modes:
                    if (name, mode) in acc.index:
                        rows.append({"table": table, "value": value, "label": arm_label(table, value),
                                     "pretrained": name, "seed": seed, "mode": mode, "accuracy": acc[(name, mode)]})
    for _, r in ft[ft["pretrained"] == "scratch"].iterrows():  # one row per random initialisation
        rows.append({"table": "scratch", "value": None, "label": "no pre-training", "pretrained": r["run"],
                     "seed": r["ft_seed"], "mode": r["mode"], "accuracy": r["accuracy"]})
    return pd.DataFrame(rows, columns=["table", "value", "label", "pretrained", "seed", "mode", "accuracy"])


def _encoder_width(profile: str) -> int:
    return build_model_config(pretrain_params(profile, {}, 0)).embed_dim


def paper_numbers(table: str) -> dict:
    """The paper's (fine-tune, linear) top-1 per arm value, from ``data/reference/mae_ablation_<table>.csv``
    (columns ``finetune_top1``, ``linear_top1`` and the arm: ``decoder_depth``, ``decoder_width``,
    ``case``; or, if ever transcribed, ``mask_ratio``, ``sampling`` + ``mask_ratio``, ``target`` =
    pixel / norm_pixel). Empty when there is no file: the seeds give the mask-ratio, sampling and
    target results only in words.

    Decoder widths are keyed by their fraction of the encoder width (the paper's encoder is 1024 wide)."""
    path = reference_root() / f"mae_ablation_{check_table(table)}.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path)
    if table == "decoder_depth":
        keys = df["decoder_depth"]
    elif table == "decoder_width":
        keys = (df["decoder_width"] / PAPER_SETTING["embed_dim"]).round(3)
    elif table == "mask_token":
        keys = df["case"] == "encoder_with_mask_token"
    elif table == "mask_ratio":
        keys = df["mask_ratio"].round(2)
    elif table == "sampling":
        keys = df["sampling"] + " " + (df["mask_ratio"] * 100).round().astype(int).astype(str) + " %"
    else:
        keys = df["target"] == "norm_pixel"
    return {k: (ft, lin) for k, ft, lin in zip(keys, df["finetune_top1"], df["linear_top1"])}


def _paper_key(table: str, value, encoder_width: int):
    return round(value / encoder_width, 3) if table == "decoder_width" else value


def arms_without_paper_numbers(profile: str, table: str) -> list:
    """The arm values of ``table`` at ``profile`` that the paper's transcribed numbers do not cover
    (empty when the seeds give no numbers for the table at all)."""
    paper = paper_numbers(table)
    if not paper:
        return []
    enc = _encoder_width(check_profile(profile))
    return [v for v in (arm_value(table, a) for a in GRIDS[profile][table].arms())
            if _paper_key(table, v, enc) not in paper]


def width_note(profile: str) -> str:
    """A sentence for the book on the decoder-width arms without a paper counterpart and why (the
    paper's width, at the same fraction of this profile's encoder, is not a valid decoder width
    here); empty when every arm has one."""
    unmatched = arms_without_paper_numbers(profile, "decoder_width")
    if not unmatched:
        return ""
    cfg = build_model_config(pretrain_params(profile, {}, 0))
    run = {arm_value("decoder_width", a) for a in GRIDS[profile]["decoder_width"].arms()}
    missing = [f * cfg.embed_dim for f in sorted(paper_numbers("decoder_width"))
               if not any(abs(f * cfg.embed_dim - w) < 1e-9 for w in run)]
    why = ", ".join(f"{w:g}" + (f" (not a multiple of the decoder's {cfg.decoder_num_heads} heads)"
                                if w % cfg.decoder_num_heads else "") for w in missing)
    return (f"The paper's decoder widths, as fractions of its encoder's width, would here be widths "
            f"{', '.join(f'{f * cfg.embed_dim:g}' for f in sorted(paper_numbers('decoder_width')))}; "
            f"not run: {why or 'none'}. The {', '.join(str(w) for w in unmatched)}-wide arm"
            f"{'s' if len(unmatched) > 1 else ''} "
            f"({', '.join(f'{w / cfg.embed_dim:.3g}' for w in unmatched)} of the encoder's width) "
            f"{'have' if len(unmatched) > 1 else 'has'} no paper counterpart.")


def _mean_sd(stats: pd.DataFrame, key) -> tuple[float, float]:
    """(mean, sd) of one group of a `mean_spread` table indexed by its groups; nan if absent."""
    if key not in stats.index:
        return math.nan, math.nan
    row = stats.loc[key]
    return row["mean"], row["std"]


# ---------------------------------------------------------------------------------------------
# Tables and figures
# ---------------------------------------------------------------------------------------------

def table(profile: str, name: str) -> pd.DataFrame:
    """One ablation: per arm, ours (mean and sd over pre-training seeds) beside the paper's numbers."""
    check_profile(profile)
    check_table(name)
    everything = results(profile)
    res = everything[everything["table"] == name]
    stats = mean_spread(res, ["value", "mode"], "accuracy").set_index(["value", "mode"])
    pre = pretrain_table(profile)
    loss = pre.set_index("run")["final_loss"] if len(pre) else pd.Series(dtype=float)
    grid = GRIDS[profile][name]
    enc = _encoder_width(profile)
    paper = paper_numbers(name)
    rows = []
    for arm in grid.arms():
        value = arm_value(name, arm)
        row = {name.replace("_", " "): arm_label(name, value)}
        if name == "decoder_width":
            row["x encoder width"] = round(value / enc, 3)
        for mode in grid.modes:
            row[MODE_NAMES[mode]], row[f"{MODE_NAMES[mode]} sd"] = _mean_sd(stats, (value, mode))
        names = [pretrain_name(pretrain_params(profile, arm, s)) for s in grid.pretrain_seeds]
        done = [n for n in names if n in loss.index]
        row["pre-training loss"] = loss[done].mean() if done else math.nan
        row["trials"] = len(done)
        key = _paper_key(name, value, enc)
        if paper:
            row["paper fine-tune"], row["paper linear probe"] = paper.get(key, (math.nan, math.nan))
        rows.append(row)
    if grid.scratch:
        row = {name.replace("_", " "): "no pre-training"}
        scratch = everything[everything["table"] == "scratch"]
        scratch_stats = mean_spread(scratch, ["mode"], "accuracy").set_index("mode")
        for mode in grid.modes:
            row[MODE_NAMES[mode]], row[f"{MODE_NAMES[mode]} sd"] = _mean_sd(scratch_stats, mode)
        row["trials"] = int(scratch["seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def summary(profile: str) -> pd.DataFrame:
    """Every table stacked: table, arm, fine-tune and linear-probe accuracy (mean, sd), trials."""
    check_profile(profile)
    frames = []
    for name in TABLES:
        t = table(profile, name).rename(columns={name.replace("_", " "): "arm"})
        frames.append(t.assign(table=name)[["table", "arm"] + [c for c in t.columns if c not in ("arm",)]])
    return pd.concat(frames, ignore_index=True)


def figure(profile: str, name: str, axes=None):
    """Accuracy per arm, fine-tuning and linear probe side by side: each pre-training seed a dot,
    mean and one standard deviation as a bar; training from scratch dashed where it was run."""
    check_profile(profile)
    check_table(name)
    res = results(profile)
    data = res[res["table"] == name].copy()
    order = [arm_label(name, arm_value(name, a)) for a in GRIDS[profile][name].arms()]
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    scratch = res[res["table"] == "scratch"]
    for ax, mode in zip(axes, MODES):
        d = data[data["mode"] == mode]
        if len(d):
            sns.stripplot(data=d, x="label", y="accuracy", order=order, color="0.5", size=4, ax=ax, jitter=0.08)
            sns.pointplot(data=d, x="label", y="accuracy", order=order, errorbar="sd", capsize=0.15, ax=ax,
                          linestyles="-" if name == "mask_ratio" else "none", markers="D")
        s = scratch[scratch["mode"] == mode]["accuracy"]
        if name == "mask_ratio" and len(s):
            ax.axhline(s.mean(), color="grey", ls="--", lw=1, label="no pre-training")
            ax.legend(loc="best", fontsize=8)
        ax.set_title(MODE_NAMES[mode])
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("test accuracy [%]")
        if name in ("mask_token", "sampling", "target"):
            ax.tick_params(axis="x", labelrotation=20)
    axes[0].figure.tight_layout()
    return axes


# ---------------------------------------------------------------------------------------------
# The cost of mask tokens in the encoder
# ---------------------------------------------------------------------------------------------

def step_cost_table(profile: str) -> pd.DataFrame:
    """Per timed configuration: tokens the encoder sees, analytic FLOPs and measured step time,
    without and with mask tokens; and the paper's ViT-L (analytic only) beside the paper's 3.3x."""
    df = load_runs(STEP_COST, check_profile(profile))
    rows = []
    for _, r in df.iterrows():
        rows.append({"configuration": r["run"], "image [px]": r["config.params.image_size"],
                     "patches": int((r["config.params.image_size"] // r["config.models.without.patch_size"]) ** 2),
                     "batch": r["config.params.batch_size"],
                     "encoder tokens without / with": f"{int(r['final.encoder_tokens_without'])} / "
                                                     f"{int(r['final.encoder_tokens_with'])}",
                     "FLOPs ratio (analytic)": r["final.flops_ratio"],
                     "encoder FLOPs ratio": r["final.encoder_flops_ratio"],
                     "step [s] without": r["final.step_s_without"], "step [s] with": r["final.step_s_with"],
                     "wall-clock ratio": r["final.wall_clock_ratio"],
                     "wall-clock ratio sd": r["final.wall_clock_ratio_sd"], "rounds": r["final.rounds"],
                     "device": r["prov.device"]})
    rows.append(vit_l_flops_row())
    return pd.DataFrame(rows)


def vit_l_flops_row(mask_ratio: float = PAPER_SETTING["mask_ratio"]) -> dict:
    """The paper's ablation model, counted the same way as the study's models (no measurement)."""
    import dataclasses
    without = mae_forward_flops(VIT_L, mask_ratio)
    with_ = mae_forward_flops(dataclasses.replace(VIT_L, encoder_mask_token=True), mask_ratio)
    L = VIT_L.num_patches
    return {"configuration": "ViT-L/16 + 8x512 decoder (paper)", "image [px]": VIT_L.img_size, "patches": L,
            "encoder tokens without / with": f"{num_visible(L, mask_ratio) + 1} / {L + 1}",
            "FLOPs ratio (analytic)": with_["total"] / without["total"],
            "encoder FLOPs ratio": with_["encoder"] / without["encoder"], "paper FLOPs ratio": _paper_flops_ratio()}


def _paper_flops_ratio() -> float:
    path = reference_root() / "mae_ablation_mask_token.csv"
    df = pd.read_csv(path).set_index("case")
    return float(df.loc["encoder_with_mask_token", "relative_flops"] / df.loc["encoder_without_mask_token",
                                                                                "relative_flops"])


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

def _verdict(signs: list[int]) -> str:
    """Every comparison in the claimed direction by more than 2 SE: reproduced; any against it:
    not reproduced; otherwise (including no comparison possible) inconclusive."""
    if signs and all(s > 0 for s in signs):
        return "reproduced"
    if any(s < 0 for s in signs):
        return "not reproduced"
    return "inconclusive"


def _fmt(d: float, se: float) -> str:
    return f"{d:+.1f} ± {se:.1f}" if not math.isnan(se) else f"{d:+.1f} (one trial: no test)"


def _paper_pair(table: str, keys: list, mode: str, encoder_width: int, fallback: str) -> str:
    paper = paper_numbers(table)
    i = 0 if mode == "full" else 1
    got = [(k, paper[_paper_key(table, k, encoder_width)][i]) for k in keys
           if _paper_key(table, k, encoder_width) in paper]
    if len(got) < len(keys):
        return fallback
    return "; ".join(f"{arm_label(table, k) if table != 'decoder_width' else f'{k / encoder_width:g}x width'}: "
                     f"{v:.1f}" for k, v in got)


def claims_from(res: pd.DataFrame, cost: pd.DataFrame | None = None, encoder_width: int = 96,
                scratch_paper: tuple[float, float] | None = None) -> pd.DataFrame:
    """The paper's claims, one row per claim and metric, judged on a tidy ``res`` (see `results`).

    A difference counts when it exceeds two standard errors of the difference of the trial means
    (`_compare`, `_sign`); with two trials a side this is a weak test. A claim that two settings
    do equally well can only come out "inconclusive" or "not reproduced" under it.
    """
    rows = []

    def acc(table, value, mode):
        d = res[(res["table"] == table) & (res["mode"] == mode)]
        if table != "scratch":
            d = d[d["value"] == value]
        return d["accuracy"].to_numpy(float)

    def values(table, *modes):
        """The arms of ``table`` that have results in every one of ``modes``."""
        d = res[res["table"] == table]
        have = [set(d.loc[d["mode"] == m, "value"]) for m in modes]
        return [v for v in dict.fromkeys(d["value"]) if all(v in h for h in have)]

    def add(table, claim, mode, paper, ours, verdict):
        rows.append({"table": table, "claim": claim, "metric": MODE_NAMES.get(mode, mode), "paper": paper,
                     "ours": ours, "verdict": verdict})

    def pct(v):
        return arm_label("mask_ratio", v)

    def beats(table, claim, mode, better, worse, paper_keys, paper_fallback, ours):
        """The claim that arm ``better`` beats arm ``worse``: judged on ``better`` minus ``worse``."""
        d, se = _compare(acc(table, worse, mode), acc(table, better, mode))
        add(table, claim, mode, _paper_pair(table, paper_keys, mode, encoder_width, paper_fallback),
            f"{ours}: {_fmt(d, se)}", _verdict([_sign(d, se)]))

    for mode in MODES:
        # --- mask ratio ---------------------------------------------------------------------
        ratios = sorted(values("mask_ratio", mode))
        means = {r: acc("mask_ratio", r, mode).mean() for r in ratios}
        inside = [r for r in ratios if 0.4 - 1e-9 <= r <= 0.8 + 1e-9]
        outside = [r for r in ratios if r not in inside]
        if inside and outside:
            best = max(inside, key=means.get)
            cmp = {o: _compare(acc("mask_ratio", o, mode), acc("mask_ratio", best, mode)) for o in outside}
            verdict = _verdict([_sign(*c) for c in cmp.values()])
            ours = (f"best overall {pct(max(means, key=means.get))}; best in 40-80 %: {pct(best)}, minus " +
                    ", ".join(f"{pct(o)}: {_fmt(*c)}" for o, c in cmp.items()))
        else:
            verdict, ours = "inconclusive", "no ratio both inside and outside 40-80 % was run"
        if ratios:
            add("mask_ratio", "accuracy peaks at a mask ratio between 40 and 80 %", mode,
                "best between 40 and 80 % (Fig. 5, as seeds 001/004 describe it)", ours, verdict)
        if 0.75 in means and len(ratios) > 1:
            cmp = {r: _compare(acc("mask_ratio", r, mode), acc("mask_ratio", 0.75, mode)) for r in ratios if r != 0.75}
            signs = [_sign(*c) for c in cmp.values()]
            verdict = ("not reproduced" if any(s < 0 for s in signs) else
                       "reproduced" if any(s > 0 for s in signs) else "inconclusive")
            add("mask_ratio", "no ratio beats 75 % (the paper's choice), and some do worse", mode,
                "75 % chosen (seed 001)", "75 % minus " + ", ".join(f"{pct(r)}: {_fmt(*c)}" for r, c in cmp.items()),
                verdict)
        base, scratch = acc("mask_ratio", 0.75, mode), acc("scratch", None, mode)
        if len(base) and len(scratch):
            d, se = _compare(scratch, base)
            paper = (f"ViT-L scratch {scratch_paper[0]:g}, MAE {scratch_paper[1]:g} (Table 3)"
                     if scratch_paper and mode == "full" else "not reported")
            add("mask_ratio", "MAE pre-training (75 %) beats training from scratch", mode, paper,
                f"MAE minus scratch: {_fmt(d, se)}", _verdict([_sign(d, se)]))

    # --- decoder depth ---------------------------------------------------------------------
    depths = sorted(values("decoder_depth", "full", "linear"))
    if len(depths) > 1:
        lo, hi = depths[0], depths[-1]
        d_lin, se_lin = _compare(acc("decoder_depth", lo, "linear"), acc("decoder_depth", hi, "linear"))
        add("decoder_depth", f"a deeper decoder improves linear probing (depth {hi} vs {lo})", "linear",
            _paper_pair("decoder_depth", [lo, hi], "linear", encoder_width, "deeper is better (Table 1a)"),
            f"depth {hi} minus {lo}: {_fmt(d_lin, se_lin)}", _verdict([_sign(d_lin, se_lin)]))
        d_ft, se_ft = _compare(acc("decoder_depth", lo, "full"), acc("decoder_depth", hi, "full"))
        gap = d_lin - d_ft
        gap_se = math.sqrt(se_lin ** 2 + se_ft ** 2) if not (math.isnan(se_lin) or math.isnan(se_ft)) else math.nan
        paper = ("fine-tune " + _paper_pair("decoder_depth", [lo, hi], "full", encoder_width, "flat") +
                 " vs linear " + _paper_pair("decoder_depth", [lo, hi], "linear", encoder_width, "rising"))
        add("decoder_depth", "fine-tuning gains less from a deep decoder than linear probing", "both", paper,
            f"gain linear {d_lin:+.1f}, gain fine-tune {d_ft:+.1f}; difference {_fmt(gap, gap_se)}",
            _verdict([_sign(gap, gap_se)]))

    # --- decoder width ---------------------------------------------------------------------
    def widths_at(mode, fraction=None, below=None):
        """The decoder widths run in ``mode`` at ``fraction`` of the encoder width, or below ``below``."""
        ws = sorted(values("decoder_width", mode))
        if fraction is not None:
            return [w for w in ws if abs(w / encoder_width - fraction) < 1e-9]
        return [w for w in ws if w / encoder_width < below - 1e-9]

    for mode in MODES:
        half, full = widths_at(mode, fraction=0.5), widths_at(mode, fraction=1.0)
        if half and full:
            beats("decoder_width", "a decoder half as wide as the encoder does at least as well as a full-width one",
                  mode, half[0], full[0], [half[0], full[0]], "Table 1b", "half minus full width")
    half, narrow = widths_at("linear", fraction=0.5), widths_at("linear", below=0.5)
    if half and narrow:
        beats("decoder_width", "a much narrower decoder hurts linear probing", "linear", half[0], narrow[0],
              [narrow[0], half[0]], "Table 1b", f"half minus {narrow[0] / encoder_width:g}x width")

    # --- mask token ------------------------------------------------------------------------
    for mode in MODES:
        if {True, False} <= set(values("mask_token", mode)):
            beats("mask_token", "an encoder without mask tokens is more accurate", mode, False, True,
                  [True, False], "Table 1c", "without minus with")
    if cost is not None and len(cost):
        paper_row = cost[cost["configuration"].str.contains("paper")]
        if len(paper_row):
            r = paper_row.iloc[0]
            ok = abs(r["FLOPs ratio (analytic)"] / r["paper FLOPs ratio"] - 1) < 0.05
            ours = "; ".join(f"{c['configuration']}: {c['FLOPs ratio (analytic)']:.2f}x" for _, c in cost.iterrows())
            add("mask_token", "with mask tokens the encoder costs about 3.3x the FLOPs (ViT-L, 75 %)", "FLOPs",
                f"{r['paper FLOPs ratio']:g}x (Table 1c)", ours + " (analytic)", "reproduced" if ok else "not reproduced")
        timed = cost.dropna(subset=["wall-clock ratio"]) if "wall-clock ratio" in cost else cost.iloc[:0]
        if len(timed):
            signs, parts = [], []
            for _, c in timed.iterrows():
                sd, n = c["wall-clock ratio sd"], c["rounds"]
                se = sd / math.sqrt(n) if sd is not None and not pd.isna(sd) and n > 1 else math.nan
                signs.append(_sign(c["wall-clock ratio"] - 1, se))
                parts.append(f"{c['configuration']}: {c['wall-clock ratio']:.2f}x measured vs "
                             f"{c['FLOPs ratio (analytic)']:.2f}x FLOPs" +
                             (f" (sd {sd:.2f}, {int(n)} rounds)" if not math.isnan(se) else " (one round: no test)"))
            add("mask_token", "without mask tokens a training step is faster in wall-clock time", "wall clock",
                "faster (Table 1c, Table 2)", "; ".join(parts), _verdict(signs))

    # --- sampling --------------------------------------------------------------------------
    for mode in MODES:
        samplings = values("sampling", mode)
        if {"random 75 %", "block 75 %", "grid 75 %"} <= set(samplings):
            cmp = {o: _compare(acc("sampling", o, mode), acc("sampling", "random 75 %", mode))
                   for o in ("block 75 %", "grid 75 %")}
            add("sampling", "at 75 %, random sampling beats block and grid sampling", mode,
                _paper_pair("sampling", ["random 75 %", "block 75 %", "grid 75 %"], mode, encoder_width,
                            "random best (Table 1f, seeds 001/004)"),
                "random minus " + ", ".join(f"{o}: {_fmt(*c)}" for o, c in cmp.items()),
                _verdict([_sign(*c) for c in cmp.values()]))
        if {"block 50 %", "block 75 %"} <= set(samplings):
            beats("sampling", "block sampling does better at 50 % than at 75 %", mode, "block 50 %", "block 75 %",
                  ["block 50 %", "block 75 %"], "block works well at 50 %, degrades at 75 % (seed 001)",
                  "block 50 % minus block 75 %")

    # --- target ----------------------------------------------------------------------------
    for mode in MODES:
        if {True, False} <= set(values("target", mode)):
            beats("target", "a per-patch normalised pixel target beats the plain pixel target", mode, True, False,
                  [False, True], "normalised pixels better (Table 1d, seed 001)", "normalised minus plain")
    return pd.DataFrame(rows, columns=["table", "claim", "metric", "paper", "ours", "verdict"])


def _scratch_paper() -> tuple[float, float] | None:
    path = reference_root() / "mae_imagenet_comparison.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path).set_index("method")
    return float(df.loc["scratch", "vit_l"]), float(df.loc["MAE", "vit_l"])


def claims(profile: str) -> pd.DataFrame:
    """The paper's ablation claims, each with this profile's verdict and the numbers behind it."""
    cost = step_cost_table(profile)
    return claims_from(results(profile), cost, _encoder_width(profile), _scratch_paper())


# ---------------------------------------------------------------------------------------------
# The scale gap
# ---------------------------------------------------------------------------------------------

def setting(profile: str) -> dict:
    """What the runs of this profile used, read back from the baseline run's files, and how far
    that is from the paper's setting (ratios: paper / ours)."""
    pre = load_runs(PRETRAIN, check_profile(profile))
    ft = load_runs(FINETUNE, profile)
    base = pre[pre["run"] == pretrain_name(pretrain_params(profile, {}, 0))]
    c = (base if len(base) else pre).iloc[0]
    f = ft.iloc[0] if len(ft) else None
    base_run = RunDir(profile, PRETRAIN, c["run"])
    model = MAEConfig(**base_run.read("config.json")["model"])
    hw = base_run.read("provenance.json").get("hardware", {})
    device = (f"one {hw['gpu']} GPU" if hw.get("gpu") else
              f"a {hw.get('cpu_count')}-core {hw.get('cpu')} CPU" if hw.get("cpu_count") else f"a {hw.get('cpu')} CPU")
    P = PAPER_SETTING
    ours = {"embed_dim": model.embed_dim, "depth": model.depth, "num_heads": model.num_heads,
            "decoder_depth": model.decoder_depth, "decoder_embed_dim": model.decoder_embed_dim,
            "decoder_num_heads": model.decoder_num_heads, "device": device,
            "image_size": model.img_size, "patch_size": model.patch_size, "num_patches": model.num_patches,
            "pretrain_images": int(c["config.data.num_images"]), "pretrain_epochs": int(c["config.train.num_epochs"]),
            "batch_size": int(c["config.train.batch_size"]),
            "num_train": int(f["config.data.num_train"]) if f is not None else None,
            "num_test": int(f["config.data.num_test"]) if f is not None else None,
            "num_classes": int(f["config.data.num_classes"]) if f is not None else None,
            "finetune_epochs": int(f["config.train.num_epochs"]) if f is not None else None,
            "average_last": int(f["config.params.average_last"]) if f is not None else None,
            "lr": {m: float(ft.loc[ft["config.params.mode"] == m, "config.train.lr"].iloc[0])
                   for m in MODES if len(ft) and (ft["config.params.mode"] == m).any()},
            "seeds": len(GRIDS[profile]["mask_ratio"].pretrain_seeds),
            "pretrain_runs": len(pre), "finetune_runs": len(ft),
            "wall_time_min": (pre["final.wall_time_s"].sum() + (ft["final.wall_time_s"].sum() if len(ft) else 0)) / 60}
    ratio = P["mask_ratio"]
    ours["flops_gap"] = mae_forward_flops(VIT_L, ratio)["total"] / mae_forward_flops(model, ratio)["total"]
    ours["images_seen_gap"] = (P["pretrain_images"] * P["pretrain_epochs"]) / (ours["pretrain_images"] *
                                                                                 ours["pretrain_epochs"])
    return ours


def scale_gap(profile: str) -> pd.DataFrame:
    """The paper's ablation setting beside what the runs of this profile actually used."""
    o, P = setting(profile), PAPER_SETTING
    rows = [
        ("encoder", f"{P['model']}: {P['embed_dim']} wide, {P['depth']} blocks, {P['num_heads']} heads",
         f"{o['embed_dim']} wide, {o['depth']} blocks, {o['num_heads']} heads"),
        ("default decoder", f"{P['decoder_depth']} blocks, {P['decoder_embed_dim']} wide",
         f"{o['decoder_depth']} blocks, {o['decoder_embed_dim']} wide"),
        ("images", f"{P['image_size']} px, {P['patch_size']} px patches, {(P['image_size'] // P['patch_size']) ** 2} patches",
         f"{o['image_size']} px, {o['patch_size']} px patches, {o['num_patches']} patches"),
        ("forward FLOPs per image at 75 %", f"{o['flops_gap']:,.0f}x ours", "1x"),
        ("pre-training data", f"{P['data']}: {P['pretrain_images']:,} photographs",
         f"built-in synthetic data: {o['pretrain_images']:,} images"),
        ("pre-training length", f"{P['pretrain_epochs']} epochs ({o['images_seen_gap']:,.0f}x the images seen)",
         f"{o['pretrain_epochs']} epochs, batch {o['batch_size']}"),
        ("evaluation", f"{P['data']}: fine-tune {P['finetune_epochs']} epochs, linear probe {P['linear_epochs']} epochs",
         (f"{o['num_train']:,} labelled images ({o['num_classes']} classes), {o['finetune_epochs']} epochs for "
          f"either, tested on {o['num_test']:,}; mean of the last {o['average_last']} epochs")
         if o["num_train"] else "not run"),
        ("trials per entry", "one (no spread reported)", f"{o['seeds']} pre-training seed(s) per arm"),
    ]
    return pd.DataFrame(rows, columns=["", f"He et al. ({P['model']})", f"this study (profile {profile})"]).set_index("")


def recon_runs(profile: str, seed: int = 0) -> dict:
    """The target table's two runs of one seed: {"pixels": RunDir, "normalised pixels": RunDir}."""
    names = {v: pretrain_name(pretrain_params(profile, {"norm_pix_loss": v}, seed)) for v in (False, True)}
    return {arm_label("target", v): RunDir(profile, PRETRAIN, name) for v, name in names.items()}
