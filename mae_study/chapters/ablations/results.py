"""He et al.'s ablations: the runs of one profile as tidy tables, their arms, and the paper's numbers.

Every function reads only the run files of one profile (and the paper's numbers under
``data/reference/``). Units of accuracy: `finetune_table` keeps the run files' *fraction* of the
test set (0-1), like every run table of the study; `results`, from which the chapter's tables,
figures and claims are made, gives ``accuracy_pct`` in % (He et al.'s unit), so the study's
numbers stand beside the paper's in one unit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mae_study.chapters.ablations.plan import (FINETUNE, GRIDS, PRETRAIN, TABLES, check_table, pretrain_entry,
                                               pretrain_params, table_pretrain_runs)
from mae_study.chapters.ablations.plan import plan as sweep_plan
from mae_study.models.mae import MAEConfig
from mae_study.paths import reference_root
from mae_study.runs.params import check_profile
from mae_study.runs.pretrain import build_model_config
from mae_study.runs import base
from mae_study.runs.base import load_with_base

MODE_NAMES = {"full": "fine-tune", "linear": "linear probe"}
"""How the book names the two evaluation modes."""

# He et al., "Masked Autoencoders Are Scalable Vision Learners" (CVPR 2022), Table 1's caption and
# Appendix A: the setting of every ablation.
PAPER_SETTING = {"model": "ViT-L/16", "embed_dim": 1024, "depth": 24, "num_heads": 16, "image_size": 224,
                 "patch_size": 16, "decoder_depth": 8, "decoder_embed_dim": 512, "data": "ImageNet-1k",
                 "pretrain_images": 1_281_167, "pretrain_epochs": 800, "finetune_epochs": 50,
                 "linear_epochs": 90, "mask_ratio": 0.75}
VIT_L = MAEConfig(img_size=224, patch_size=16, embed_dim=1024, depth=24, num_heads=16, decoder_embed_dim=512,
                  decoder_depth=8, decoder_num_heads=16)
"""The paper's ablation model (ViT-L/16 encoder, 8 x 512 decoder), for its analytic FLOPs."""

RESULT_COLUMNS = ["table", "value", "label", "pretrained", "seed", "mode", "accuracy_pct"]


@dataclass(frozen=True, order=True)
class SamplingArm:
    """An arm of the sampling table: how the mask is drawn, and how much of the image it hides."""

    sampling: str      # "random", "block" or "grid"
    mask_ratio: float  # e.g. 0.75


def pretrain_table(profile: str) -> pd.DataFrame:
    """One row per finished pre-training run: its configuration, final loss and cost; ``base``: the
    base recipe's pre-training, shared with the other chapters (the baseline arm at `cpu`)."""
    runs = load_with_base(PRETRAIN, check_profile(profile), sweep_plan(profile), base.PRETRAIN)
    if runs.empty:
        return runs
    return pd.DataFrame({
        "run": runs["run"], "seed": runs["config.params.seed"],
        "mask_ratio": runs["config.params.final_mask_ratio"], "sampling": runs["config.params.sampling"],
        "decoder_depth": runs["config.model.decoder_depth"], "decoder_width": runs["config.model.decoder_embed_dim"],
        "norm_pix_loss": runs["config.model.norm_pix_loss"],
        "encoder_mask_token": runs["config.model.encoder_mask_token"], "final_loss": runs["final.final_loss"],
        "train_tflops": runs["final.train_tflops"], "wall_time_s": runs["final.wall_time_s"], "base": runs["base"]})


def finetune_table(profile: str) -> pd.DataFrame:
    """One row per finished evaluation run; ``accuracy`` is the fraction of the test set (0-1)
    classified correctly, averaged over the run's last epochs (as its files store it)."""
    runs = load_with_base(FINETUNE, check_profile(profile), sweep_plan(profile), base.FINETUNE)
    if runs.empty:
        return pd.DataFrame(columns=["run", "pretrained", "mode", "ft_seed", "accuracy", "wall_time_s"])
    return pd.DataFrame({"run": runs["run"], "pretrained": runs["config.params.pretrained"],
                         "mode": runs["config.params.mode"], "ft_seed": runs["config.params.seed"],
                         "accuracy": runs["final.test_accuracy_last_k"], "wall_time_s": runs["final.wall_time_s"]})


def arm_value(table: str, arm: dict):
    """What identifies an arm within its table: a ratio (rounded to 0.01), a depth, a width,
    True for "with mask tokens" / "normalised pixels", or a `SamplingArm`."""
    check_table(table)
    if table == "mask_ratio":
        return round(arm["final_mask_ratio"], 2)
    if table == "sampling":
        return SamplingArm(arm["sampling"], round(arm["final_mask_ratio"], 2))
    return next(iter(arm.values()))


def arm_label(table: str, value) -> str:
    """How the book names an arm (`arm_value`) of ``table``."""
    if table == "mask_ratio":
        return f"{round(value * 100)} %"
    if table == "sampling":
        return f"{value.sampling} {round(value.mask_ratio * 100)} %"
    if table == "mask_token":
        return "encoder with mask tokens" if value else "encoder without mask tokens"
    if table == "target":
        return "normalised pixels" if value else "pixels"
    return str(value)


def results(profile: str) -> pd.DataFrame:
    """The tidy table every other function starts from, one row per table, arm, pre-trained
    encoder and evaluation mode: table, value (`arm_value`), label (`arm_label`), pretrained
    (its run), seed (the pre-training seed), mode, accuracy_pct (in %, mean over the encoder's
    evaluation seeds).

    A run shared by several tables appears once in each. Training from scratch is the table
    ``"scratch"``, one row per random initialisation. Only finished runs count."""
    evals = finetune_table(check_profile(profile))
    evals = evals.assign(accuracy_pct=100 * evals["accuracy"])
    accuracy = (evals.groupby(["pretrained", "mode"])["accuracy_pct"].mean() if len(evals)
                else pd.Series(dtype=float))
    rows = []
    for table in TABLES:
        modes = GRIDS[profile][table].modes
        for name, arm, params in table_pretrain_runs(profile, table):
            value = arm_value(table, arm)
            for mode in modes:
                if (name, mode) in accuracy.index:
                    rows.append({"table": table, "value": value, "label": arm_label(table, value), "pretrained": name,
                                 "seed": params["seed"], "mode": mode, "accuracy_pct": accuracy[(name, mode)]})
    for _, run in evals[evals["pretrained"] == "scratch"].iterrows():
        rows.append({"table": "scratch", "value": None, "label": "no pre-training", "pretrained": run["run"],
                     "seed": run["ft_seed"], "mode": run["mode"], "accuracy_pct": run["accuracy_pct"]})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def encoder_width(profile: str) -> int:
    """The embedding width of the encoder every ablation run of ``profile`` uses."""
    return build_model_config(pretrain_params(check_profile(profile), {}, 0)).embed_dim


def baseline_run(profile: str, seed: int = 0) -> str:
    """The run name of the baseline pre-training (the arm every table shares) of one seed."""
    grid = GRIDS[check_profile(profile)]["mask_ratio"]
    return pretrain_entry(pretrain_params(profile, {"data_seed": seed} if grid.trial_data else {}, seed))[1]


def paper_numbers(table: str) -> dict:
    """The paper's (fine-tune, linear probe) top-1 in % per arm value (`arm_value`), from
    ``data/reference/mae_ablation_<table>.csv`` (columns ``finetune_top1``, ``linear_top1`` and
    the arm: ``decoder_depth``, ``decoder_width``, ``case``; or, if ever transcribed,
    ``mask_ratio``, ``sampling`` + ``mask_ratio``, ``target`` = pixel / norm_pixel). Empty when
    there is no file. The numbers are transcribed from Yoon Tae-young's slides on the paper; those
    slides and Zephyr's "[21.11] MAE" notes give the mask-ratio, sampling and target results only
    in words.

    Decoder widths are keyed by their fraction of the encoder width (the paper's encoder is 1024
    wide; see `paper_key`)."""
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
        keys = [SamplingArm(s, round(r, 2)) for s, r in zip(df["sampling"], df["mask_ratio"])]
    else:
        keys = df["target"] == "norm_pixel"
    return {k: (ft, lin) for k, ft, lin in zip(keys, df["finetune_top1"], df["linear_top1"])}


def paper_key(table: str, value, width: int):
    """The key of `paper_numbers` for an arm value: a decoder width as a fraction of the encoder's
    ``width``, anything else as it is."""
    return round(value / width, 3) if table == "decoder_width" else value


def arms_without_paper_numbers(profile: str, table: str) -> list:
    """The arm values of ``table`` at ``profile`` that the paper's transcribed numbers do not cover
    (empty when there are no numbers for the table at all)."""
    paper = paper_numbers(table)
    if not paper:
        return []
    width = encoder_width(profile)
    return [v for v in (arm_value(table, a) for a in GRIDS[profile][table].arms())
            if paper_key(table, v, width) not in paper]


def width_note(profile: str) -> str | None:
    """A sentence for the book on the decoder-width arms without a paper counterpart and why (the
    paper's width, at the same fraction of this profile's encoder, is not a valid decoder width
    here); None when every arm has one."""
    unmatched = arms_without_paper_numbers(profile, "decoder_width")
    if not unmatched:
        return None
    cfg = build_model_config(pretrain_params(profile, {}, 0))
    ran = {arm_value("decoder_width", a) for a in GRIDS[profile]["decoder_width"].arms()}
    paper_widths = [fraction * cfg.embed_dim for fraction in sorted(paper_numbers("decoder_width"))]
    missing = [w for w in paper_widths if not any(abs(w - r) < 1e-9 for r in ran)]
    why = ", ".join(f"{w:g}" + (f" (not a multiple of the decoder's {cfg.decoder_num_heads} heads)"
                                if w % cfg.decoder_num_heads else "") for w in missing)
    plural = len(unmatched) > 1
    return (f"The paper's decoder widths, as fractions of its encoder's width, would here be widths "
            f"{', '.join(f'{w:g}' for w in paper_widths)}; "
            f"not run: {why or 'none'}. The {', '.join(str(w) for w in unmatched)}-wide arm"
            f"{'s' if plural else ''} "
            f"({', '.join(f'{w / cfg.embed_dim:.3g}' for w in unmatched)} of the encoder's width) "
            f"{'have' if plural else 'has'} no paper counterpart.")


def scratch_paper_numbers() -> tuple[float, float] | None:
    """He et al.'s ViT-L top-1 from scratch and after MAE pre-training (their Table 3), or None
    when the reference file is missing."""
    path = reference_root() / "mae_imagenet_comparison.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path).set_index("method")
    return float(df.loc["scratch", "vit_l"]), float(df.loc["MAE", "vit_l"])


def mean_sd(stats: pd.DataFrame, key) -> tuple[float, float]:
    """(mean, sd) of one group of a `mean_spread` table indexed by its groups; nan if absent."""
    if key not in stats.index:
        return math.nan, math.nan
    row = stats.loc[key]
    return row["mean"], row["std"]
