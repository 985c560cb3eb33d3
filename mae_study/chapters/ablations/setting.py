"""The scale gap: what He et al.'s ablations used beside what the study's runs of a profile used."""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.ablations.plan import FINETUNE, GRIDS, MAE_ABLATION_PRETRAIN, MODES, PRETRAIN, plan
from mae_study.chapters.ablations.results import PAPER_SETTING, VIT_L, baseline_run
from mae_study.models import mae_config
from mae_study.models.flops import mae_forward_flops
from mae_study.models.mae import MAEConfig
from mae_study.runs.params import check_profile
from mae_study.runs import base
from mae_study.runs.base import load_with_base
from mae_study.runs.results import RunDir, load_runs


def _device(hardware: dict) -> str:
    if hardware.get("gpu"):
        return f"one {hardware['gpu']} GPU"
    if hardware.get("cpu_count"):
        return f"a {hardware.get('cpu_count')}-core {hardware.get('cpu')} CPU"
    return f"a {hardware.get('cpu')} CPU"


def setting(profile: str) -> dict:
    """What the runs of this profile used, read back from the baseline run's files (and the first
    evaluation run's), and how far that is from the paper's setting (``flops_gap``,
    ``images_seen_gap``: paper / ours)."""
    entries = plan(check_profile(profile))
    pre = load_with_base(PRETRAIN, profile, entries, base.PRETRAIN)
    evals = load_with_base(FINETUNE, profile, entries, base.FINETUNE)
    baseline = pre[pre["run"] == baseline_run(profile)]
    pretraining = (baseline if len(baseline) else pre).iloc[0]
    evaluation = evals.iloc[0] if len(evals) else None
    base_run = RunDir(profile, base.PRETRAIN if pretraining["base"] else PRETRAIN, pretraining["run"])
    model = MAEConfig(**base_run.read("config.json")["model"])

    def from_evaluation(column):
        return int(evaluation[column]) if evaluation is not None else None

    ours = {"embed_dim": model.embed_dim, "depth": model.depth, "num_heads": model.num_heads,
            "decoder_depth": model.decoder_depth, "decoder_embed_dim": model.decoder_embed_dim,
            "decoder_num_heads": model.decoder_num_heads,
            "device": _device(base_run.read("provenance.json").get("hardware", {})),
            "image_size": model.img_size, "patch_size": model.patch_size, "num_patches": model.num_patches,
            "pretrain_images": int(pretraining["config.data.num_images"]),
            "pretrain_epochs": int(pretraining["config.train.num_epochs"]),
            "batch_size": int(pretraining["config.train.batch_size"]),
            "num_train": from_evaluation("config.data.num_train"), "num_test": from_evaluation("config.data.num_test"),
            "num_classes": from_evaluation("config.data.num_classes"),
            "finetune_epochs": from_evaluation("config.train.num_epochs"),
            "average_last": from_evaluation("config.params.average_last"),
            "lr": {mode: float(evals.loc[evals["config.params.mode"] == mode, "config.train.lr"].iloc[0])
                   for mode in MODES if len(evals) and (evals["config.params.mode"] == mode).any()},
            "seeds": len(GRIDS[profile]["mask_ratio"].pretrain_seeds),
            "mask_ratios": [arm["final_mask_ratio"] for arm in GRIDS[profile]["mask_ratio"].arms()],
            "pretrain_runs": len(pre), "finetune_runs": len(evals),
            "wall_time_min": (pre["final.wall_time_s"].sum() +
                              (evals["final.wall_time_s"].sum() if len(evals) else 0)) / 60}
    ratio = PAPER_SETTING["mask_ratio"]
    ours["flops_gap"] = mae_forward_flops(VIT_L, ratio)["total"] / mae_forward_flops(model, ratio)["total"]
    ours["images_seen_gap"] = ((PAPER_SETTING["pretrain_images"] * PAPER_SETTING["pretrain_epochs"]) /
                               (ours["pretrain_images"] * ours["pretrain_epochs"]))
    return ours


def protocol(profile: str) -> dict:
    """What a profile's sweep would run, from its grids and defaults (no runs needed): the mask
    ratios, decoder depths and widths, and the pre-training model, image size and length."""
    grids = GRIDS[check_profile(profile)]
    defaults = MAE_ABLATION_PRETRAIN.defaults[profile]
    return {"mask_ratios": [arm["final_mask_ratio"] for arm in grids["mask_ratio"].arms()],
            "decoder_depths": [arm["decoder_depth"] for arm in grids["decoder_depth"].arms()],
            "decoder_widths": [arm["decoder_embed_dim"] for arm in grids["decoder_width"].arms()],
            "model": defaults["model"], "image_size": defaults["image_size"],
            "embed_dim": mae_config(defaults["model"], img_size=defaults["image_size"]).embed_dim,
            "num_images": defaults["num_images"], "num_epochs": defaults["num_epochs"]}


def scale_gap(profile: str) -> pd.DataFrame:
    """The paper's ablation setting beside what the runs of this profile actually used."""
    ours, paper = setting(profile), PAPER_SETTING
    rows = [
        ("encoder", f"{paper['model']}: {paper['embed_dim']} wide, {paper['depth']} blocks, {paper['num_heads']} heads",
         f"{ours['embed_dim']} wide, {ours['depth']} blocks, {ours['num_heads']} heads"),
        ("default decoder", f"{paper['decoder_depth']} blocks, {paper['decoder_embed_dim']} wide",
         f"{ours['decoder_depth']} blocks, {ours['decoder_embed_dim']} wide"),
        ("images", f"{paper['image_size']} px, {paper['patch_size']} px patches, "
                   f"{(paper['image_size'] // paper['patch_size']) ** 2} patches",
         f"{ours['image_size']} px, {ours['patch_size']} px patches, {ours['num_patches']} patches"),
        ("forward FLOPs per image at 75 %", f"{ours['flops_gap']:,.0f}x ours", "1x"),
        ("pre-training data", f"{paper['data']}: {paper['pretrain_images']:,} photographs",
         f"built-in synthetic data: {ours['pretrain_images']:,} images"),
        ("pre-training length", f"{paper['pretrain_epochs']} epochs ({ours['images_seen_gap']:,.0f}x the images seen)",
         f"{ours['pretrain_epochs']} epochs, batch {ours['batch_size']}"),
        ("evaluation", f"{paper['data']}: fine-tune {paper['finetune_epochs']} epochs, "
                       f"linear probe {paper['linear_epochs']} epochs",
         (f"{ours['num_train']:,} labelled images ({ours['num_classes']} classes), {ours['finetune_epochs']} epochs "
          f"for either, tested on {ours['num_test']:,}; mean of the last {ours['average_last']} epochs")
         if ours["num_train"] else "not run"),
        ("trials per entry", "one (no spread reported)", f"{ours['seeds']} pre-training seed(s) per arm"),
    ]
    return pd.DataFrame(rows, columns=["", f"He et al. ({paper['model']})",
                                       f"this study (profile {profile})"]).set_index("")
