"""Seed 000's tables, figures and claims, computed from the run files of one profile."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..book import reference
from ..models import mae_config
from ..params import check_profile
from ..paths import REPO_ROOT
from ..reporting import mean_spread
from ..results import load_histories, load_runs
from ..schedules import dynmask_stages
from .dynmask import DYNMASK_PRETRAIN, FINETUNE, PRETRAIN


def pretrain_table(profile: str) -> pd.DataFrame:
    """One row per finished pre-training run: method, ratio, seed, final loss, cost."""
    df = load_runs(PRETRAIN, check_profile(profile))
    if df.empty:
        return df
    return pd.DataFrame({
        "run": df["run"], "method": df["config.params.method"], "final_mask_ratio": df["config.params.final_mask_ratio"],
        "seed": df["config.params.seed"], "final_loss": df["final.final_loss"],
        "encoder_train_tflops": df["final.encoder_train_tflops"], "train_tflops": df["final.train_tflops"],
        "wall_time_s": df["final.wall_time_s"]})


def finetune_table(profile: str) -> pd.DataFrame:
    """One row per finished fine-tuning run, joined to its pre-training run's method and ratio."""
    df = load_runs(FINETUNE, check_profile(profile))
    if df.empty:
        return df
    ft = pd.DataFrame({"run": df["run"], "pretrained": df["config.params.pretrained"],
                       "mode": df["config.params.mode"], "ft_seed": df["config.params.seed"],
                       "accuracy": df["final.test_accuracy_last_k"], "average_last": df["final.average_last"],
                       "ft_wall_time_s": df["final.wall_time_s"]})
    pre = pretrain_table(profile).rename(columns={"run": "pretrained"})
    out = ft.merge(pre, on="pretrained", how="left")
    out.loc[out["pretrained"] == "scratch", "method"] = "scratch"
    return out


def summary(profile: str) -> pd.DataFrame:
    """Per (method, final ratio): final loss and fine-tuned accuracy, mean and std over trials."""
    pre, ft = pretrain_table(profile), finetune_table(profile)
    if pre.empty:
        return pre
    by = ["method", "final_mask_ratio"]
    loss = mean_spread(pre, by, "final_loss")[by + ["mean", "std", "n"]].rename(
        columns={"mean": "loss_mean", "std": "loss_std", "n": "pretrain_trials"})
    if ft.empty:
        return loss
    per_model = ft[ft["method"] != "scratch"].groupby(by + ["pretrained"], as_index=False)["accuracy"].mean()
    acc = mean_spread(per_model, by, "accuracy")[by + ["mean", "std"]].rename(
        columns={"mean": "accuracy_mean", "std": "accuracy_std"})
    return loss.merge(acc, on=by, how="left")


def table1(profile: str) -> pd.DataFrame:
    """Seed 000's Table 1 beside the model configuration the runs actually used."""
    df = load_runs(PRETRAIN, check_profile(profile))
    cfg = df.iloc[0]
    paper = reference("dynmask_table1_model").set_index("parameter")
    rows = [("image_size", "config.model.img_size", "config.model.img_size"),
            ("patch_size", "config.model.patch_size", "config.model.patch_size"),
            ("embed_dim", "config.model.embed_dim", "config.model.decoder_embed_dim"),
            ("depth", "config.model.depth", "config.model.decoder_depth"),
            ("num_heads", "config.model.num_heads", "config.model.decoder_num_heads")]
    return pd.DataFrame([{"parameter": name, "paper encoder": paper.loc[name, "encoder"],
                          "paper decoder": paper.loc[name, "decoder"],
                          f"{profile} encoder": int(cfg[enc]), f"{profile} decoder": int(cfg[dec])}
                         for name, enc, dec in rows])


def table2(profile: str) -> pd.DataFrame:
    """Seed 000's Table 2 beside the training settings the runs actually used."""
    pre = load_runs(PRETRAIN, check_profile(profile)).iloc[0]
    ft_runs = load_runs(FINETUNE, profile)
    ft = ft_runs.iloc[0] if not ft_runs.empty else None
    paper = reference("dynmask_table2_training").set_index("parameter")

    def ftv(col):
        return ft[col] if ft is not None else None
    ours = {"train_images": (pre["config.data.num_images"], ftv("config.data.num_train")),
            "validation_images": (None, ftv("config.data.num_test")),
            "batch_size": (pre["config.train.batch_size"], ftv("config.train.batch_size")),
            "epochs": (pre["config.train.num_epochs"], ftv("config.train.num_epochs")),
            "base_lr": (pre["config.train.lr"], ftv("config.train.lr")),
            "optimizer": ("AdamW", "AdamW")}
    return pd.DataFrame([{"parameter": k, "paper pre-train": paper.loc[k, "pretrain"],
                          "paper fine-tune": paper.loc[k, "finetune"], f"{profile} pre-train": v[0],
                          f"{profile} fine-tune": v[1]} for k, v in ours.items()])


def table3(num_epochs: int = 100) -> pd.DataFrame:
    """Seed 000's Table 3, generated from the schedule objects (stage ratios in %)."""
    rows = []
    for final in (0.70, 0.75, 0.80, 0.85, 0.90, 0.95):
        s = dynmask_stages(final, num_epochs)
        ends = [start for start, _ in s.stages[1:]] + [num_epochs]
        row = {"final ratio [%]": round(final * 100)}
        for (start, ratio), end in zip(s.stages, ends):
            row[f"epochs {start:g}-{end - 1:g}" if float(start).is_integer() else f"from {start:g}"] = round(ratio * 100)
        rows.append(row)
    return pd.DataFrame(rows)


def table4(profile: str) -> pd.DataFrame:
    """Final-epoch reconstruction loss, static vs dynamic, ours (mean, std) beside the paper's."""
    s = summary(profile).set_index(["method", "final_mask_ratio"])
    paper = reference("dynmask_table4_recon_loss").set_index("final_mask_ratio")
    rows = []
    for r in sorted({ratio for _, ratio in s.index}):
        st, dy = s.loc[("static", r)], s.loc[("dynamic", r)]
        row = {"final ratio [%]": round(r * 100),
               "static": st["loss_mean"], "static sd": st["loss_std"],
               "dynamic": dy["loss_mean"], "dynamic sd": dy["loss_std"],
               "dynamic - static": dy["loss_mean"] - st["loss_mean"], "trials": int(st["pretrain_trials"])}
        key = round(r, 2)
        if key in paper.index:
            row.update({"paper static": paper.loc[key, "static"], "paper dynamic": paper.loc[key, "dynamic"],
                        "paper dynamic - static": paper.loc[key, "dynamic_minus_static"]})
        rows.append(row)
    return pd.DataFrame(rows)


def figure2(profile: str, ax=None):
    """Mask ratio against epoch, as recorded by the runs at every step (trial 0 of each schedule)."""
    steps = load_histories(PRETRAIN, check_profile(profile), file="steps.csv")
    steps = steps[steps["run"].str.endswith("_s0")].copy()
    steps["schedule"] = steps["run"].str.replace("_s0", "", regex=False)
    per_epoch = steps.groupby(["run", "schedule"])["step"].transform(lambda s: s - s.min())
    steps_per_epoch = steps.groupby("run")["epoch"].transform(lambda e: (e == e.min()).sum())
    steps["position"] = per_epoch / steps_per_epoch
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    dyn = steps[steps["schedule"].str.startswith("dynamic")]
    sns.lineplot(data=dyn, x="position", y="mask_ratio", hue="schedule", drawstyle="steps-post", ax=ax)
    for _, g in steps[steps["schedule"].str.startswith("static")].groupby("schedule"):
        ax.axhline(g["mask_ratio"].iloc[0], ls=":", color="grey", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mask ratio used")
    ax.set_title("dynamic schedules (static ratios dotted)")
    ax.figure.tight_layout()
    return ax


def figure3(profile: str, ax=None):
    """Fine-tuned accuracy against final mask ratio, static vs dynamic, mean and sd over pre-trainings."""
    ft = finetune_table(profile)
    per_model = ft[ft["method"] != "scratch"].groupby(["method", "final_mask_ratio", "pretrained"],
                                                      as_index=False)["accuracy"].mean()
    per_model["final ratio [%]"] = (per_model["final_mask_ratio"] * 100).round().astype(int)
    ax = ax or plt.subplots(figsize=(6, 3.8))[1]
    sns.pointplot(data=per_model, x="final ratio [%]", y="accuracy", hue="method", errorbar="sd",
                  dodge=0.2, capsize=0.1, ax=ax, hue_order=["static", "dynamic"])
    scratch = ft[ft["method"] == "scratch"]["accuracy"]
    if len(scratch):
        ax.axhline(scratch.mean(), color="grey", ls="--", lw=1, label="no pre-training")
        ax.legend()
    ax.set_ylabel(f"test accuracy (mean of last {int(ft['average_last'].iloc[0])} epochs)")
    return ax


def _compare(a, b) -> tuple[float, float]:
    """Difference of means b - a and its standard error (nan with fewer than 2 values a side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = b.mean() - a.mean()
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan
    return diff, math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


def _sign(diff: float, se: float) -> int:
    """+1 / -1 when |diff| > 2 standard errors, else 0 (no clear difference)."""
    if math.isnan(se):
        return 0
    return int(np.sign(diff)) if abs(diff) > 2 * se else 0


def claims(profile: str) -> pd.DataFrame:
    """Each claim of seed 000 with this profile's verdict and the numbers behind it.

    A difference counts when it exceeds two standard errors of the difference of trial means
    (a rough test: with 2-3 trials a side it is weak, hence many 'inconclusive')."""
    pre, ft = pretrain_table(profile), finetune_table(profile)
    ratios = sorted(pre["final_mask_ratio"].unique())
    rows = []

    def loss(method, r):
        return pre[(pre.method == method) & (pre.final_mask_ratio == r)]["final_loss"]

    def acc(method, r):
        d = ft[(ft.method == method) & (ft.final_mask_ratio == r)]
        return d.groupby("pretrained")["accuracy"].mean()

    # 1. dynamic loss lower at every ratio
    cmp = {r: _compare(loss("static", r), loss("dynamic", r)) for r in ratios}
    signs = [_sign(*cmp[r]) for r in ratios]
    verdict = ("reproduced" if all(s < 0 for s in signs) else "not reproduced" if any(s > 0 for s in signs)
               else "inconclusive")
    rows.append({"claim": "dynamic reaches a slightly lower final reconstruction loss at every ratio",
                 "verdict": verdict,
                 "evidence": "; ".join(f"{round(r*100)} %: {d:+.4f} ± {se:.4f}" for r, (d, se) in cmp.items())})
    # 2. the gap grows with the ratio
    lo, hi = ratios[0], ratios[-1]
    d_lo, se_lo = cmp[lo]
    d_hi, se_hi = cmp[hi]
    gap, gap_se = d_hi - d_lo, math.sqrt(se_lo ** 2 + se_hi ** 2) if not (math.isnan(se_lo) or math.isnan(se_hi)) else math.nan
    s = _sign(gap, gap_se)
    rows.append({"claim": "the loss advantage of dynamic grows with the ratio",
                 "verdict": "reproduced" if s < 0 else "not reproduced" if s > 0 else "inconclusive",
                 "evidence": f"(dyn - static) at {round(hi*100)} % minus at {round(lo*100)} %: {gap:+.4f} ± {gap_se:.4f}"})
    if not ft.empty and (ft.method == "static").any():
        # 3. static accuracy peaks at 75 %
        means = {r: acc("static", r).mean() for r in ratios}
        best = max(means, key=means.get)
        others = [r for r in ratios if r != 0.75]
        if 0.75 in means:
            worst_cmp = [_compare(acc("static", r), acc("static", 0.75)) for r in others]
            ss = [_sign(*c) for c in worst_cmp]
            verdict = ("reproduced" if all(x > 0 for x in ss) else "not reproduced" if any(x < 0 for x in ss)
                       else "inconclusive")
        else:
            verdict = "inconclusive"
        rows.append({"claim": "static accuracy peaks at a 75 % ratio and falls as the ratio rises",
                     "verdict": verdict + (" (only ratios ≥ 75 % run)" if min(ratios) >= 0.75 - 1e-9 else ""),
                     "evidence": "; ".join(f"{round(r*100)} %: {m:.3f}" for r, m in means.items()) +
                                 f"; best {round(best*100)} %"})
        # 4. dynamic above static from 85 %
        high = [r for r in ratios if r >= 0.85 - 1e-9]
        cmp_acc = {r: _compare(acc("static", r), acc("dynamic", r)) for r in high}
        ss = [_sign(*c) for c in cmp_acc.values()]
        rows.append({"claim": "dynamic accuracy is above static from 85 % on",
                     "verdict": "reproduced" if all(x > 0 for x in ss) else "not reproduced" if any(x < 0 for x in ss)
                     else "inconclusive",
                     "evidence": "; ".join(f"{round(r*100)} %: {d:+.3f} ± {se:.3f}" for r, (d, se) in cmp_acc.items())})
        # 5. static has the higher peak: each method at its best ratio (by mean), per-run accuracies
        best_s = max(ratios, key=lambda r: acc("static", r).mean())
        best_d = max(ratios, key=lambda r: acc("dynamic", r).mean())
        d, se = _compare(acc("dynamic", best_d), acc("static", best_s))
        s = _sign(d, se)
        rows.append({"claim": "static reaches the higher peak accuracy",
                     "verdict": "reproduced" if s > 0 else "not reproduced" if s < 0 else "inconclusive",
                     "evidence": f"peak static {acc('static', best_s).mean():.3f} at {round(best_s*100)} %, "
                                 f"peak dynamic {acc('dynamic', best_d).mean():.3f} at {round(best_d*100)} %; "
                                 f"static - dynamic: {d:+.3f} ± {se:.3f}"})
    # 6. cost
    enc = pre.groupby("final_mask_ratio")["encoder_train_tflops"].mean()
    rows.append({"claim": "higher mask ratios cut the encoder's pre-training compute",
                 "verdict": "reproduced" if enc.is_monotonic_decreasing else "not reproduced",
                 "evidence": "; ".join(f"{round(r*100)} %: {v:.2f} TFLOP" for r, v in enc.items())})
    return pd.DataFrame(rows)


def cost_table(profile: str) -> pd.DataFrame:
    """What each pre-training condition cost and what it bought."""
    pre, ft = pretrain_table(profile), finetune_table(profile)
    cost = pre.groupby(["method", "final_mask_ratio"]).agg(
        encoder_train_tflops=("encoder_train_tflops", "mean"), train_tflops=("train_tflops", "mean"),
        wall_time_s=("wall_time_s", "mean")).reset_index()
    if not ft.empty:
        accm = ft[ft.method != "scratch"].groupby(["method", "final_mask_ratio"])["accuracy"].mean().rename("accuracy")
        cost = cost.merge(accm.reset_index(), on=["method", "final_mask_ratio"], how="left")
    return cost


def figure_cost(profile: str, ax=None):
    """Fine-tuned accuracy against the encoder's pre-training compute, one point per method and
    final ratio (`cost_table`); None, and no figure, when no fine-tuning has finished."""
    cost = cost_table(profile)
    if "accuracy" not in cost:
        return None
    ax = ax or plt.subplots()[1]
    sns.scatterplot(data=cost, x="encoder_train_tflops", y="accuracy", hue="method", style="final_mask_ratio",
                    hue_order=["static", "dynamic"], s=80, ax=ax)
    ax.set_xlabel("encoder pre-training compute (TFLOP)")
    ax.set_ylabel("fine-tuned accuracy")
    return ax


def lr_schedules() -> str:
    """The pre-training learning-rate schedule of every profile, profiles that share one grouped,
    as a phrase for the book (from `DYNMASK_PRETRAIN`'s defaults)."""
    groups: dict[tuple, list[str]] = {}
    for profile, d in DYNMASK_PRETRAIN.defaults.items():
        groups.setdefault((d["lr"], d["lr_schedule"], d["warmup_epochs"]), []).append(f"`{profile}`")
    parts = []
    for (lr, schedule, warmup), profiles in groups.items():
        how = f"a constant {lr:g}" if schedule == "constant" else f"{lr:g} with a {schedule} decay"
        if warmup:
            how += f" after a {warmup:g}-epoch warm-up"
        parts.append(f"{' and '.join(profiles)}: {how}")
    return "; ".join(parts)


BENCHMARK = REPO_ROOT / "benchmarks" / "results" / "pretrain_cpu-2core.json"
"""The pre-training throughput `benchmarks/bench_pretrain.py` measured for seed 000's model."""


def pretrain_time_estimate(profile: str = "paper", benchmark: Path = BENCHMARK) -> pd.DataFrame:
    """How long one pre-training of ``profile`` would take at the throughput measured in a
    ``benchmarks/bench_pretrain.py`` result file: per mask ratio it measured, the study's images/s
    and ``num_images * num_epochs / images_per_s`` in days. The file's model and batch size must be
    the profile's (a ValueError otherwise)."""
    p = DYNMASK_PRETRAIN.defaults[check_profile(profile)]
    bench = json.loads(Path(benchmark).read_text())
    model = asdict(mae_config(p["model"], img_size=p["image_size"]))
    differ = {k: (v, model[k]) for k, v in bench["config"].items() if k in model and model[k] != v}
    if differ or bench["batch_size"] != p["batch_size"]:
        raise ValueError(f"{benchmark} measured another model or batch than profile {profile!r}'s: "
                         f"{differ or {'batch_size': (bench['batch_size'], p['batch_size'])}}")
    images = p["num_images"] * p["num_epochs"]
    rows = [{"mask ratio": float(r), "images_per_s": m["models"]["a_study"]["images_per_s"],
             "days": images / m["models"]["a_study"]["images_per_s"] / 86400}
            for r, m in bench["ratios"].items()]
    return pd.DataFrame(rows).assign(device=bench["device"], num_images=p["num_images"], num_epochs=p["num_epochs"],
                                     file=Path(benchmark).name)
