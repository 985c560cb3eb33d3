"""The cost of mask tokens in the encoder: the measured step times beside the analytic FLOPs,
and He et al.'s ViT-L counted the same way (their Table 1c gives 3.3x the FLOPs)."""
from __future__ import annotations

import dataclasses

import pandas as pd

from mae_study.chapters.ablations.plan import STEP_COST
from mae_study.chapters.ablations.results import PAPER_SETTING, VIT_L
from mae_study.masking import num_visible
from mae_study.models.flops import mae_forward_flops
from mae_study.paths import reference_root
from mae_study.runs.params import check_profile
from mae_study.runs.results import load_runs


def step_cost_table(profile: str) -> pd.DataFrame:
    """Per timed configuration: tokens the encoder sees, analytic FLOPs and measured step time,
    without and with mask tokens; and the paper's ViT-L (analytic only) beside the paper's 3.3x."""
    runs = load_runs(STEP_COST, check_profile(profile))
    rows = []
    for _, run in runs.iterrows():
        image_size = run["config.params.image_size"]
        rows.append({"configuration": run["run"], "image [px]": image_size,
                     "patches": int((image_size // run["config.models.without.patch_size"]) ** 2),
                     "batch": run["config.params.batch_size"],
                     "encoder tokens without / with": f"{int(run['final.encoder_tokens_without'])} / "
                                                     f"{int(run['final.encoder_tokens_with'])}",
                     "FLOPs ratio (analytic)": run["final.flops_ratio"],
                     "encoder FLOPs ratio": run["final.encoder_flops_ratio"],
                     "step [s] without": run["final.step_s_without"], "step [s] with": run["final.step_s_with"],
                     "wall-clock ratio": run["final.wall_clock_ratio"],
                     "wall-clock ratio sd": run["final.wall_clock_ratio_sd"], "rounds": run["final.rounds"],
                     "device": run["prov.device"]})
    rows.append(vit_l_flops_row())
    return pd.DataFrame(rows)


def vit_l_flops_row(mask_ratio: float = PAPER_SETTING["mask_ratio"]) -> dict:
    """The paper's ablation model, counted the same way as the study's models (no measurement)."""
    without = mae_forward_flops(VIT_L, mask_ratio)
    with_tokens = mae_forward_flops(dataclasses.replace(VIT_L, encoder_mask_token=True), mask_ratio)
    num_patches = VIT_L.num_patches
    return {"configuration": "ViT-L/16 + 8x512 decoder (paper)", "image [px]": VIT_L.img_size, "patches": num_patches,
            "encoder tokens without / with": f"{num_visible(num_patches, mask_ratio) + 1} / {num_patches + 1}",
            "FLOPs ratio (analytic)": with_tokens["total"] / without["total"],
            "encoder FLOPs ratio": with_tokens["encoder"] / without["encoder"],
            "paper FLOPs ratio": paper_flops_ratio()}


def paper_flops_ratio() -> float:
    """He et al.'s Table 1c: the encoder's FLOPs with mask tokens over those without (3.3)."""
    df = pd.read_csv(reference_root() / "mae_ablation_mask_token.csv").set_index("case")
    return float(df.loc["encoder_with_mask_token", "relative_flops"] /
                 df.loc["encoder_without_mask_token", "relative_flops"])
