"""Hata, Tadamura and Samura's dynamic mask-ratio curriculum: the runs of one profile as tables,
and the paper's Tables 1-4 beside the study's.

Accuracy is the fraction of the test set (0-1) classified correctly, averaged over a run's last
epochs, as the run files store it (the unit of Figure 3's axis in this chapter).
"""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.dynmask.plan import DYNMASK_FINETUNE, FINETUNE, PRETRAIN, finetune_entries, pretrain_entries
from mae_study.report.page import reference
from mae_study.report.tables import mean_spread
from mae_study.runs import base
from mae_study.runs import rungs as task_rungs
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_runs
from mae_study.train.schedules import dynmask_stages


def pretrain_table(profile: str) -> pd.DataFrame:
    """One row per finished pre-training run: method, ratio, seed, final loss, cost; ``base``: the
    run is the base recipe's pre-training, shared with the other chapters (`mae_study.runs.base`)."""
    runs = base.load_with_base(PRETRAIN, check_profile(profile), pretrain_entries(profile), base.PRETRAIN)
    if runs.empty:
        return runs
    return pd.DataFrame({
        "run": runs["run"], "method": runs["config.params.method"],
        "final_mask_ratio": runs["config.params.final_mask_ratio"], "seed": runs["config.params.seed"],
        "final_loss": runs["final.final_loss"], "encoder_train_tflops": runs["final.encoder_train_tflops"],
        "train_tflops": runs["final.train_tflops"], "wall_time_s": runs["final.wall_time_s"], "base": runs["base"]})


def finetune_table(profile: str) -> pd.DataFrame:
    """One row per finished fine-tuning run, joined to its pre-training run's method and ratio;
    ``accuracy`` is a fraction (0-1); the method of a randomly initialised encoder is "scratch"."""
    runs = base.load_with_base(FINETUNE, check_profile(profile), finetune_entries(profile), base.FINETUNE)
    if runs.empty:
        return runs
    evals = pd.DataFrame({"run": runs["run"], "pretrained": runs["config.params.pretrained"],
                          "mode": runs["config.params.mode"], "ft_seed": runs["config.params.seed"],
                          "accuracy": runs["final.test_accuracy_last_k"], "average_last": runs["final.average_last"],
                          "ft_wall_time_s": runs["final.wall_time_s"]})
    pre = pretrain_table(profile).rename(columns={"run": "pretrained"})
    out = evals.merge(pre, on="pretrained", how="left")
    out.loc[out["pretrained"] == "scratch", "method"] = "scratch"
    return out


def accuracy_per_encoder(evals: pd.DataFrame, mode: str = "full") -> pd.DataFrame:
    """Mean accuracy of each pre-trained encoder over its evaluations in ``mode`` ("full":
    fine-tuning, the paper's metric; "linear": the linear probe), scratch left out: method,
    final_mask_ratio, pretrained, accuracy."""
    pretrained = evals[(evals["method"] != "scratch") & (evals["mode"] == mode)]
    return pretrained.groupby(["method", "final_mask_ratio", "pretrained"], as_index=False)["accuracy"].mean()


def best_finetuned_accuracy(profile: str) -> float | None:
    """The best mean accuracy (fraction) any pre-trained encoder of this chapter reached at
    ``profile`` (mean over its fine-tuning trials); None when there are no fine-tuning runs."""
    evals = finetune_table(profile)
    per_encoder = accuracy_per_encoder(evals) if not evals.empty else evals
    return per_encoder["accuracy"].max() if len(per_encoder) else None


def scratch_accuracy(evals: pd.DataFrame) -> list[float]:
    """The fine-tuned accuracy of every randomly initialised encoder (the scratch rung)."""
    return evals.loc[(evals["method"] == "scratch") & (evals["mode"] == "full"), "accuracy"].tolist() if len(evals) else []


def tasks(profile: str) -> list:
    """The labelled tasks of the chapter's evaluations (one per trial's data seed at `cpu`)."""
    return [p for _, _, p, _ in finetune_entries(check_profile(profile))]


def rungs(profile: str) -> pd.DataFrame:
    """The task's rungs (chance, pixel probe averaged over the trials' tasks, scratch) and every
    condition's fine-tuned accuracy, one value per pre-trained encoder (`rungs.rungs_table`)."""
    evals = finetune_table(check_profile(profile))
    scratch = scratch_accuracy(evals)
    per_encoder = accuracy_per_encoder(evals) if len(evals) else pd.DataFrame(
        columns=["method", "final_mask_ratio", "accuracy"])
    arms = {f"{m} {100 * r:.0f} %": g["accuracy"].tolist()
            for (r, m), g in per_encoder.groupby(["final_mask_ratio", "method"])}
    return task_rungs.task_rungs(tasks(profile), scratch, arms)


def summary(profile: str) -> pd.DataFrame:
    """Per (method, final ratio): final loss and fine-tuned accuracy, mean and std over trials."""
    pre, evals = pretrain_table(profile), finetune_table(profile)
    if pre.empty:
        return pre
    by = ["method", "final_mask_ratio"]
    loss = mean_spread(pre, by, "final_loss")[by + ["mean", "std", "n"]].rename(
        columns={"mean": "loss_mean", "std": "loss_std", "n": "pretrain_trials"})
    if evals.empty:
        return loss
    out = loss
    for mode, prefix in (("full", "accuracy"), ("linear", "linear_probe")):
        per_encoder = accuracy_per_encoder(evals, mode)
        if len(per_encoder):
            out = out.merge(mean_spread(per_encoder, by, "accuracy")[by + ["mean", "std"]].rename(
                columns={"mean": f"{prefix}_mean", "std": f"{prefix}_std"}), on=by, how="left")
    return out


def table1(profile: str) -> pd.DataFrame:
    """The paper's Table 1 (the model) beside the model configuration the runs actually used."""
    run = load_runs(PRETRAIN, check_profile(profile)).iloc[0]
    paper = reference("dynmask_table1_model").set_index("parameter")
    rows = [("image_size", "config.model.img_size", "config.model.img_size"),
            ("patch_size", "config.model.patch_size", "config.model.patch_size"),
            ("embed_dim", "config.model.embed_dim", "config.model.decoder_embed_dim"),
            ("depth", "config.model.depth", "config.model.decoder_depth"),
            ("num_heads", "config.model.num_heads", "config.model.decoder_num_heads")]
    return pd.DataFrame([{"parameter": name, "paper encoder": paper.loc[name, "encoder"],
                          "paper decoder": paper.loc[name, "decoder"],
                          f"{profile} encoder": int(run[encoder]), f"{profile} decoder": int(run[decoder])}
                         for name, encoder, decoder in rows])


def table2(profile: str) -> pd.DataFrame:
    """The paper's Table 2 (the training) beside the training settings the runs actually used."""
    pre = load_runs(PRETRAIN, check_profile(profile)).iloc[0]
    evals = load_runs(FINETUNE, profile)
    ft = evals.iloc[0] if not evals.empty else None
    paper = reference("dynmask_table2_training").set_index("parameter")

    def from_ft(column):
        return ft[column] if ft is not None else None
    ours = {"train_images": (pre["config.data.num_images"], from_ft("config.data.num_train")),
            "validation_images": (None, from_ft("config.data.num_test")),
            "batch_size": (pre["config.train.batch_size"], from_ft("config.train.batch_size")),
            "epochs": (pre["config.train.num_epochs"], from_ft("config.train.num_epochs")),
            "base_lr": (pre["config.train.lr"], from_ft("config.train.lr")),
            "optimizer": ("AdamW", "AdamW")}
    return pd.DataFrame([{"parameter": k, "paper pre-train": paper.loc[k, "pretrain"],
                          "paper fine-tune": paper.loc[k, "finetune"], f"{profile} pre-train": v[0],
                          f"{profile} fine-tune": v[1]} for k, v in ours.items()])


def table3(num_epochs: int = 100) -> pd.DataFrame:
    """The paper's Table 3, generated from the schedule objects (stage ratios in %)."""
    rows = []
    for final in (0.70, 0.75, 0.80, 0.85, 0.90, 0.95):
        schedule = dynmask_stages(final, num_epochs)
        ends = [start for start, _ in schedule.stages[1:]] + [num_epochs]
        row = {"final ratio [%]": round(final * 100)}
        for (start, ratio), end in zip(schedule.stages, ends):
            column = f"epochs {start:g}-{end - 1:g}" if float(start).is_integer() else f"from {start:g}"
            row[column] = round(ratio * 100)
        rows.append(row)
    return pd.DataFrame(rows)


def table4(profile: str) -> pd.DataFrame:
    """Final-epoch reconstruction loss, static vs dynamic, ours (mean, std) beside the paper's."""
    stats = summary(profile).set_index(["method", "final_mask_ratio"])
    paper = reference("dynmask_table4_recon_loss").set_index("final_mask_ratio")
    rows = []
    for ratio in sorted({r for _, r in stats.index}):
        empty = pd.Series({"loss_mean": float("nan"), "loss_std": float("nan"), "pretrain_trials": 0})
        static, dynamic = (stats.loc[(m, ratio)] if (m, ratio) in stats.index else empty for m in ("static", "dynamic"))
        row = {"final ratio [%]": round(ratio * 100),
               "static": static["loss_mean"], "static sd": static["loss_std"],
               "dynamic": dynamic["loss_mean"], "dynamic sd": dynamic["loss_std"],
               "dynamic - static": dynamic["loss_mean"] - static["loss_mean"],
               "trials": int(min(static["pretrain_trials"], dynamic["pretrain_trials"]))}
        key = round(ratio, 2)
        if key in paper.index:
            row.update({"paper static": paper.loc[key, "static"], "paper dynamic": paper.loc[key, "dynamic"],
                        "paper dynamic - static": paper.loc[key, "dynamic_minus_static"]})
        rows.append(row)
    return pd.DataFrame(rows)


def cost_table(profile: str) -> pd.DataFrame:
    """What each pre-training condition cost (mean over trials) and what it bought (mean fine-tuned
    accuracy over its encoders, a fraction)."""
    pre, evals = pretrain_table(profile), finetune_table(profile)
    cost = pre.groupby(["method", "final_mask_ratio"]).agg(
        encoder_train_tflops=("encoder_train_tflops", "mean"), train_tflops=("train_tflops", "mean"),
        wall_time_s=("wall_time_s", "mean")).reset_index()
    if not evals.empty:
        accuracy = (accuracy_per_encoder(evals).groupby(["method", "final_mask_ratio"])["accuracy"].mean()
                    .rename("accuracy"))
        cost = cost.merge(accuracy.reset_index(), on=["method", "final_mask_ratio"], how="left")
    return cost
