"""The synthetic pre-training chapter's runs as tables: the paper's Figure 2 (fine-tuned accuracy by
pre-training set, model and downstream task), the open questions, the pre-trainings' health, and
what each run cost (the figures: `synthetic.figures`). The ``*_table(profile)`` functions read run files only
(`load_runs`); the ``*_from`` functions and the figures' data are pure over those tables, so they
are tested on made-up ones.

Accuracies are in % (the paper's unit), one value per *trial*: a pre-training run (the mean of its
fine-tunings on a task), or a model trained from scratch with one seed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mae_study.chapters.synthetic.finetune import FINETUNE
from mae_study.chapters.synthetic.pretrain import PRETRAIN
from mae_study.chapters.synthetic.setting import MAIN_NUISANCE, MAIN_RECIPE, MODELS
from mae_study.report.tables import mean_spread
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_histories, load_runs

SET_LABELS = {"fractaldb": "FractalDB", "fractal_single": "Single-Instance", "fractal_multi": "Multi-Instance",
              "imagenet": "ImageNet", "scratch": "scratch"}
MODEL_LABELS = {"deit": "DeiT", "resnet": "ResNet"}
VARIANTS = {"main": "the main recipe", "deit_recipe": "(a) DeiT's own recipe",
            "large_patch": "(b) patches twice as large", "af_recipe": "Anderson & Farrell's fine-tuning",
            "full_nuisance": "with Anderson & Farrell's full nuisances", "reduced_nuisance": "with reduced nuisances"}
HEALTH_MIN = 50.0
"""A pre-training is healthy when its held-out top-1 (FractalDB, Single-Instance) or mAP
(Multi-Instance) reaches this (%); a fine-tuning of an unhealthy one carries no verdict."""


def variant(profile: str, model: str, recipe: str, patch_size, nuisance=None) -> str:
    """Which arm of the chapter a run belongs to: "main" (the profile's main recipe), "deit_recipe"
    (open question (a)), "large_patch" (open question (b)), "af_recipe" (Anderson & Farrell's recipe
    where it is not the main one), "full_nuisance" / "reduced_nuisance" (a Single-/Multi-Instance
    generator setting other than the profile's, `setting.MAIN_NUISANCE`) or "other" (a setting no grid runs)."""
    default = MODELS[profile][model]["patch_size"]
    patch = None if patch_size is None or pd.isna(patch_size) else int(patch_size)
    main = recipe == MAIN_RECIPE[profile]
    if isinstance(nuisance, str) and nuisance != MAIN_NUISANCE[profile]:
        return f"{nuisance}_nuisance" if main and patch == default else "other"
    if patch == default:
        return "main" if main else {"deit": "deit_recipe", "anderson_farrell": "af_recipe"}.get(recipe, "other")
    return "large_patch" if main and default is not None and patch == 2 * default else "other"


def pretrain_table(profile: str) -> pd.DataFrame:
    """One row per finished pre-training: model, set, variant, seed, final loss, held-out top-1
    and mAP (%), and its cost (wall time, images, generator and training speed, TFLOPs)."""
    runs = load_runs(PRETRAIN, check_profile(profile))
    if runs.empty:
        return runs
    get = lambda col: runs[col] if col in runs else np.nan  # noqa: E731 (absent when no run has it)
    out = pd.DataFrame({
        "run": runs["run"], "model": runs["config.params.model"], "arch": runs["config.params.arch"],
        "pretrain_set": runs["config.params.dataset"], "recipe": runs["config.params.recipe"],
        "nuisance": get("config.params.nuisance"),
        "patch_size": runs["config.params.patch_size"], "image_size": runs["config.params.image_size"],
        "seed": runs["config.params.seed"], "num_params": runs["final.num_params"],
        "final_loss": runs["final.final_loss"],
        "eval_top1": 100 * runs["final.eval_top1"], "eval_mAP": 100 * get("final.eval_mAP"),
        "data_source": runs["config.params.data_source"], "images_seen": runs["final.images_seen"],
        "generator_images_per_s": get("final.generator_images_per_s"),
        "train_images_per_s": runs["final.train_images_per_s"], "train_tflops": runs["final.train_tflops"],
        "wall_time_s": runs["final.wall_time_s"]})
    out.insert(3, "variant", [variant(profile, *r)
                              for r in out[["model", "recipe", "patch_size", "nuisance"]].to_numpy()])
    return out


def finetune_table(profile: str) -> pd.DataFrame:
    """One row per finished fine-tuning, with its pre-training's set, variant and seed ("scratch"
    for a model trained from scratch) and its trial."""
    runs = load_runs(FINETUNE, check_profile(profile))
    if runs.empty:
        return runs
    evals = pd.DataFrame({
        "run": runs["run"], "pretrained": runs["config.params.pretrained"], "model": runs["config.params.model"],
        "patch_size": runs["config.params.patch_size"], "downstream": runs["config.params.dataset"],
        "ft_recipe": runs["config.params.recipe"], "ft_seed": runs["config.params.seed"],
        "accuracy": 100 * runs["final.test_accuracy_last_k"], "average_last": runs["final.average_last"],
        "ft_wall_time_s": runs["final.wall_time_s"], "ft_tflops": runs["final.train_tflops"]})
    pre = pretrain_table(profile)
    pre = (pre[["run", "pretrain_set", "variant", "seed"]].rename(columns={"run": "pretrained"}) if len(pre)
           else pd.DataFrame(columns=["pretrained", "pretrain_set", "variant", "seed"]))
    out = evals.merge(pre, on="pretrained", how="left")
    scratch = out["pretrained"] == "scratch"
    out.loc[scratch, "pretrain_set"] = "scratch"
    out.loc[scratch, "variant"] = [variant(profile, m, r, p)
                                   for m, r, p in out.loc[scratch, ["model", "ft_recipe", "patch_size"]].to_numpy()]
    out.loc[~scratch & (out["ft_recipe"] != MAIN_RECIPE[profile]), "variant"] = "other"  # no grid runs these
    out.loc[scratch, "seed"] = out.loc[scratch, "ft_seed"]
    out["trial"] = np.where(scratch, "scratch_s" + out["ft_seed"].astype(str), out["pretrained"])
    return out


def accuracy_per_trial(evals: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy (%) of each trial on each task: downstream, model, variant, pretrain_set, trial,
    accuracy (a pre-trained model fine-tuned with another recipe than the main one is variant "other")."""
    evals = evals[evals["variant"] != "other"]
    keys = ["downstream", "model", "variant", "pretrain_set", "trial"]
    return evals.groupby(keys, as_index=False)["accuracy"].mean()


def arm_label(model: str, variant_name: str) -> str:
    """"DeiT", "ResNet", "DeiT (a) DeiT's own recipe", ..."""
    return MODEL_LABELS[model] + ("" if variant_name == "main" else f" {VARIANTS.get(variant_name, variant_name)}")


def pretrain_summary_from(pre: pd.DataFrame) -> pd.DataFrame:
    """Per arm and set, the last epoch's training loss and held-out top-1 / mAP (%): mean, sd, runs."""
    by = ["model", "variant", "pretrain_set"]
    out = pre.groupby(by, as_index=False).agg(
        runs=("run", "size"), final_loss=("final_loss", "mean"), final_loss_sd=("final_loss", "std"),
        eval_top1=("eval_top1", "mean"), eval_top1_sd=("eval_top1", "std"), eval_mAP=("eval_mAP", "mean"))
    out.insert(0, "arm", [arm_label(m, v) for m, v in out[["model", "variant"]].to_numpy()])
    out["pretrain_set"] = out["pretrain_set"].map(SET_LABELS).fillna(out["pretrain_set"])
    return out.drop(columns=["model", "variant"])


def figure2_from(evals: pd.DataFrame) -> pd.DataFrame:
    """The paper's Figure 2 as a table: per task, model and pre-training set (scratch included) the
    mean, sd and number of trials of the fine-tuned accuracy (%), main arms only."""
    trials = accuracy_per_trial(evals)
    trials = trials[trials["variant"] == "main"]
    out = mean_spread(trials, ["downstream", "model", "pretrain_set"], "accuracy")
    order = {s: k for k, s in enumerate(list(SET_LABELS))}
    out = out.sort_values(["downstream", "model", "pretrain_set"], key=lambda c: c.map(order) if c.name ==
                          "pretrain_set" else c).reset_index(drop=True)
    out["model"] = out["model"].map(MODEL_LABELS)
    out["pretrain_set"] = out["pretrain_set"].map(SET_LABELS).fillna(out["pretrain_set"])
    return out.rename(columns={"mean": "accuracy", "std": "sd", "n": "trials"})


def open_questions_from(evals: pd.DataFrame) -> pd.DataFrame:
    """Open questions (a) and (b): every DeiT arm on the sets the variants ran on, its scratch
    baseline, and the ResNet on the same sets; accuracy (%) mean, sd and trials per task."""
    trials = accuracy_per_trial(evals)
    sets = trials.loc[trials["variant"].isin(["deit_recipe", "large_patch"]), "pretrain_set"].unique()
    if not len(sets):  # neither question ran
        return pd.DataFrame(columns=["downstream", "pretrain_set", "arm", "accuracy", "sd", "trials"])
    keep = trials["pretrain_set"].isin(list(sets) + ["scratch"]) & trials["variant"].isin(VARIANTS)
    keep &= (trials["model"] == "deit") | (trials["variant"] == "main")
    out = mean_spread(trials[keep], ["downstream", "pretrain_set", "model", "variant"], "accuracy")
    out["arm"] = out["model"].map(MODEL_LABELS) + ", " + out["variant"].map(VARIANTS)
    out["pretrain_set"] = out["pretrain_set"].map(SET_LABELS)
    return out[["downstream", "pretrain_set", "arm", "mean", "std", "n"]].rename(
        columns={"mean": "accuracy", "std": "sd", "n": "trials"})


def health_from(pre: pd.DataFrame) -> pd.DataFrame:
    """Per pre-training run its health check: the metric (held-out mAP on Multi-Instance, else
    top-1, %), whether it reaches `HEALTH_MIN`, and why not (None when it does)."""
    multi = pre["pretrain_set"] == "fractal_multi"
    value = np.where(multi, pre["eval_mAP"], pre["eval_top1"])
    metric = np.where(multi, "held-out mAP", "held-out top-1")
    healthy = value >= HEALTH_MIN
    why = [None if ok else f"{m} {v:.1f} % < {HEALTH_MIN:g} %" for ok, m, v in zip(healthy, metric, value)]
    return pd.DataFrame({"run": pre["run"], "model": pre["model"], "variant": pre["variant"],
                         "pretrain_set": pre["pretrain_set"], "metric": metric, "value": value,
                         "healthy": healthy, "why": why})


def with_bottleneck(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (columns data_source, generator_images_per_s, train_images_per_s) with ``generator
    share``: training images/s over generator images/s, the share of each step spent generating
    when images are made on the fly in the training process (a cached set is generated once: 0),
    and ``bottleneck``: "generator" when that share is above one half, else "training"."""
    streamed = df["data_source"] == "stream"
    share = np.where(streamed, df["train_images_per_s"] / df["generator_images_per_s"], 0.0)
    return df.assign(**{"generator share": share, "bottleneck": np.where(share > 0.5, "generator", "training")})


def speeds(final: dict, data_source: str) -> pd.DataFrame:
    """One pre-training run's generator and training speed (its ``final.json``) and its bottleneck."""
    return with_bottleneck(pd.DataFrame([{"data_source": data_source, **{k: final.get(k, np.nan) for k in (
        "generator_images_per_s", "train_images_per_s")}}]))


def cost_from(pre: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """What each pre-training arm cost (means over seeds) and its bottleneck (`with_bottleneck`),
    with the mean wall time of the fine-tunings of its runs."""
    cost = pre.groupby(["model", "variant", "pretrain_set", "data_source"], as_index=False).agg(
        runs=("run", "size"), images=("images_seen", "mean"), wall_time_s=("wall_time_s", "mean"),
        generator_images_per_s=("generator_images_per_s", "mean"), train_images_per_s=("train_images_per_s", "mean"),
        train_tflops=("train_tflops", "mean"))
    cost = with_bottleneck(cost)
    if len(evals):
        ft = evals.groupby(["model", "variant", "pretrain_set"], as_index=False)["ft_wall_time_s"].mean()
        cost = cost.merge(ft, on=["model", "variant", "pretrain_set"], how="left")
    return cost


def pretrain_summary(profile: str) -> pd.DataFrame:
    return pretrain_summary_from(pretrain_table(profile))


def figure2_table(profile: str) -> pd.DataFrame:
    return figure2_from(finetune_table(profile))


def open_questions_table(profile: str) -> pd.DataFrame:
    return open_questions_from(finetune_table(profile))


def cost_table(profile: str) -> pd.DataFrame:
    return cost_from(pretrain_table(profile), finetune_table(profile))


def curves(profile: str) -> pd.DataFrame:
    """Per-epoch pre-training metrics of every run (training loss, held-out top-1 and mAP in %),
    with the run's model, set and variant."""
    history = load_histories(PRETRAIN, check_profile(profile))
    pre = pretrain_table(profile)
    if history.empty or pre.empty:
        return history
    out = history.merge(pre[["run", "model", "variant", "pretrain_set", "seed"]], on="run")
    for col in ("eval_top1", "eval_mAP"):
        if col in out:
            out[col] = 100 * out[col]
    return out


def recipe_arm_from(evals: pd.DataFrame) -> pd.DataFrame:
    """Each model from scratch with the main recipe and with Anderson & Farrell's fine-tuning, on
    the tasks the recipe arm ran on: accuracy (%) mean, sd and trials."""
    trials = accuracy_per_trial(evals)
    trials = trials[trials["pretrain_set"] == "scratch"]
    tasks = trials.loc[trials["variant"] == "af_recipe", "downstream"].unique()
    keep = trials[trials["downstream"].isin(tasks) & trials["variant"].isin(["main", "af_recipe"])]
    out = mean_spread(keep, ["downstream", "model", "variant"], "accuracy")
    out["model"] = out["model"].map(MODEL_LABELS)
    out["variant"] = out["variant"].map({"main": "main recipe", "af_recipe": VARIANTS["af_recipe"]})
    return out.rename(columns={"variant": "fine-tuning", "mean": "accuracy", "std": "sd", "n": "trials"})


def recipe_arm_table(profile: str) -> pd.DataFrame:
    evals = finetune_table(profile)
    return recipe_arm_from(evals) if len(evals) else evals


def gains_table(profile: str) -> pd.DataFrame:
    """Gains over each model's own scratch (points; `mae_row.gain_from`) on the built-in task: each
    model's fractal pre-trainings (main arms) and the base MAE pre-training (`mae_row`)."""
    from mae_study.chapters.synthetic.mae_row import gain_from, mae_trials
    from mae_study.chapters.synthetic.plan import GRIDS
    g = GRIDS[check_profile(profile)]
    if not g.mae_row:
        return pd.DataFrame()
    evals = finetune_table(profile)
    ours = accuracy_per_trial(evals) if len(evals) else pd.DataFrame(columns=["downstream", "variant"])
    ours = ours[(ours["variant"] == "main") & (ours["downstream"] == "builtin")]
    gains = gain_from(pd.concat([ours, mae_trials(profile, g.pretrain_seeds)], ignore_index=True))
    gains["model"] = gains["model"].map({**MODEL_LABELS, "mae_vit": "ViT (MAE encoder)"})
    gains["pretrain_set"] = gains["pretrain_set"].map(SET_LABELS).fillna(gains["pretrain_set"])
    return gains.rename(columns={"scratch": "its scratch (%)", "gain": "gain over scratch", "gain_sd": "sd"})
