"""He et al.'s ablations (Table 1 and Figure 5 of the MAE paper), reproduced at small scale.

Six tables, each changing one thing about a baseline pre-training (mask ratio 75 %, random
sampling, pixel target, the model's own decoder, no mask token in the encoder):

    mask_ratio     10 ... 90 %
    decoder_depth  decoder blocks
    decoder_width  decoder width (the paper's 128 ... 1024 for a 1024-wide encoder, scaled where
                   the decoder's heads allow; see `GRIDS`)
    mask_token     mask tokens in the encoder, or not (accuracy; step cost in `step_cost.py`)
    sampling       random / block / grid, at 75 % and 50 %
    target         pixel vs per-patch normalised pixel

Every pre-trained encoder is evaluated twice: full fine-tuning and a linear probe. Runs are
named by their configuration (`pretrain_name`), not by table, so the baseline run, which belongs
to several tables, is trained once. `plan` lists every run of some tables at one profile for
`mae_study.sweep`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mae_study.chapters.ablations.step_cost import STEP_COST, step_cost_plan  # noqa: F401 (STEP_COST: the step timings)
from mae_study.runs import base, rungs
from mae_study.runs.common import ratio_tag
from mae_study.runs.finetune import check_finetune, finetune_defaults, finetune_naming, run_finetune
from mae_study.runs.params import Experiment, check_profile
from mae_study.runs.pretrain import build_model_config, check_pretrain, pretrain_defaults, run_pretrain
from mae_study.runs.skeleton import auto_run_name

PRETRAIN = "mae_ablation_pretrain"
FINETUNE = "mae_ablation_finetune"
TABLES = ("mask_ratio", "decoder_depth", "decoder_width", "mask_token", "sampling", "target")
MODES = ("full", "linear")

# The decoder settings the model config fixes unless a run changes them: run names and configs
# always carry the resolved values, so "decoder_depth=None" and "decoder_depth=2" are one run.
_MODEL_FIELDS = ("decoder_depth", "decoder_embed_dim", "decoder_num_heads", "norm_pix_loss", "encoder_mask_token")

def canonical(p: dict, given: frozenset = frozenset()) -> dict:
    """Resolved pre-training parameters with the model's decoder and target settings filled in,
    so that one configuration has one parameter dict and one run name however it was asked for."""
    cfg = build_model_config(p)
    return {**p, **{k: getattr(cfg, k) for k in _MODEL_FIELDS}}


def pretrain_naming(p) -> tuple[str, tuple[str, ...]]:
    """A run's name from its configuration, e.g. ``r75_block_npix_dec4x96_enctok_s1``."""
    cfg = build_model_config(p)
    name = (f"{ratio_tag(p['final_mask_ratio'])}_{p['sampling']}_{'npix' if cfg.norm_pix_loss else 'pix'}"
            f"_dec{cfg.decoder_depth}x{cfg.decoder_embed_dim}{'_enctok' if cfg.encoder_mask_token else ''}"
            f"_s{p['seed']}" + (f"_d{p['data_seed']}" if p["data_seed"] else ""))
    return name, ("final_mask_ratio", "sampling", "norm_pix_loss", "decoder_depth", "decoder_embed_dim",
                  "encoder_mask_token", "seed", "data_seed")


def pretrain_name(p) -> str:
    return pretrain_naming(p)[0]


MAE_ABLATION_PRETRAIN = Experiment(PRETRAIN, pretrain_defaults(
    ci={"num_epochs": 2, "recon_epochs": []},
    # The base recipe (`mae_study.runs.base`): 120,000 image-steps on the 40,000-image `distinct-v2`
    # pool; the baseline arm is the base pre-training itself. Before (until 2026-12): 8,000 images x
    # 2 epochs, 10 fine-tuning epochs on 500 labels, where no arm rose above the pixel probe.
    cpu=dict(base.CPU_PRETRAIN),
    gpu={"num_images": 20_000, "num_epochs": 50, "recon_epochs": []},
    paper={"num_images": 100_000, "num_epochs": 100, "recon_epochs": []},
), check_pretrain, derive=canonical, naming=pretrain_naming)
"""Pre-training of every arm; the final epoch's reconstructions are saved (`recon_e*.pt`)."""


def pretrain_params(profile: str, arm: dict, seed: int):
    return MAE_ABLATION_PRETRAIN.resolve(profile, **arm, seed=seed)


def _finetune_changes() -> dict[str, dict]:
    """Per profile: evaluate the baseline run (seed 0) by default, and the evaluation's length."""
    changes = {"ci": {}, "cpu": {"data_setting": base.SETTING, **base.CPU_FINETUNE},
               "gpu": {"num_epochs": 50, "average_last": 5}, "paper": {"num_epochs": 50, "average_last": 5}}
    return {profile: {"pretrain_experiment": PRETRAIN, "pretrained": pretrain_name(pretrain_params(profile, {}, 0)),
                      **change} for profile, change in changes.items()}


# A linear head on frozen features takes a far larger learning rate than a whole network (He et al.
# probe with base lr 0.1 under LARS and fine-tune with 1e-3), and reads mean-pooled features: the
# base recipe's probe (`mae_study.runs.base.LINEAR_PROBE`).
MODE_CHANGES = {"linear": base.LINEAR_PROBE}


def _mode_defaults(p: dict, given: frozenset) -> dict:
    """A mode's own defaults (`MODE_CHANGES`), for the parameters the caller did not set."""
    return {**p, **{k: v for k, v in MODE_CHANGES.get(p["mode"], {}).items() if k not in given}}


def _ft_naming(p) -> tuple[str, tuple[str, ...]]:
    """``r75_block_pix_dec2x96_s1_d1__linear_ft1_d1``: the encoder, mode, seed, data seed when not 0."""
    name, shown = finetune_naming(p)
    return name + (f"_d{p['data_seed']}" if p["data_seed"] else ""), shown + ("data_seed",)


MAE_ABLATION_FINETUNE = Experiment(FINETUNE, finetune_defaults(**_finetune_changes()), check_finetune,
                                   derive=_mode_defaults, naming=_ft_naming)
"""Full fine-tuning or linear probing of an ablation run's encoder (``pretrained``: its run name)."""


def finetune_params(profile: str, pretrained: str, mode: str, seed: int = 0, data_seed: int | None = None):
    """The evaluation of one encoder in one mode, as the sweep and the notebooks run it
    (``data_seed``: the labelled splits' seed, None: the profile's default)."""
    return MAE_ABLATION_FINETUNE.resolve(profile, pretrained=pretrained, mode=mode, seed=seed,
                                         **({} if data_seed is None else {"data_seed": data_seed}))


# ---------------------------------------------------------------------------------------------
# The grids
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableArms:
    """The arms of one ablation table at one profile (a chapter's grid, `GRIDS[profile]`, holds one per table).

    Args:
        vary: the pre-training parameter(s) the table changes.
        values: one tuple per arm, values in ``vary``'s order; everything else is the baseline.
        pretrain_seeds: pre-training trials per arm.
        finetune_seeds: evaluations per pre-trained encoder and mode.
        modes: how each encoder is evaluated ("full" fine-tuning, "linear" probe).
        scratch: also train the classifier from a random initialisation (no pre-training).
        trial_data: as the base recipe, trial s draws its own data (``data_seed = s``) and is
            evaluated once, with seed s (``finetune_seeds`` unused).
    """

    vary: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    pretrain_seeds: tuple[int, ...]
    finetune_seeds: tuple[int, ...] = (0,)
    modes: tuple[str, ...] = MODES
    scratch: bool = False
    trial_data: bool = False

    def arms(self) -> list[dict]:
        return [dict(zip(self.vary, v)) for v in self.values]


def _grids(ratios, depths, widths, seeds, trial_data=False) -> dict[str, TableArms]:
    t = {"trial_data": trial_data}
    return {
        "mask_ratio": TableArms(("final_mask_ratio",), tuple((r,) for r in ratios), seeds, scratch=True, **t),
        "decoder_depth": TableArms(("decoder_depth",), tuple((d,) for d in depths), seeds, **t),
        "decoder_width": TableArms(("decoder_embed_dim",), tuple((w,) for w in widths), seeds, **t),
        "mask_token": TableArms(("encoder_mask_token",), ((False,), (True,)), seeds, **t),
        # The paper's Table 1f arms (random 75, block 50, block 75, grid 75) and random 50,
        # which the mask-ratio table also has, to tell "block is fine at 50 %" from "50 % is fine".
        "sampling": TableArms(("sampling", "final_mask_ratio"),
                              (("random", 0.75), ("block", 0.5), ("block", 0.75), ("grid", 0.75), ("random", 0.5)), seeds,
                              **t),
        "target": TableArms(("norm_pix_loss",), ((False,), (True,)), seeds, **t),
    }


GRIDS: dict[str, dict[str, TableArms]] = {
    # ci: two arms per table, one trial; every code path, numbers meaningless.
    "ci": _grids((0.5, 0.75), (1, 2), (16, 32), (0,)),
    # cpu: the decoder (96 wide, 4 heads) at 1/4, 1/2 and 1x the encoder's width (96); two trials of
    # the base recipe each, every trial on its own data.
    "cpu": _grids((0.1, 0.3, 0.5, 0.75, 0.9), (1, 2, 4, 8), (24, 48, 96), (0, 1), trial_data=True),
    # gpu / paper: Hata et al.'s STL10 model (encoder 192 wide, decoder 8 x 192 with 16 heads) and the
    # paper's decoder depths. Widths: the paper's 256, 512, 768 and 1024 of its 1024-wide encoder
    # are 1/4, 1/2, 3/4 and 1x, here 48, 96, 144 and 192. Its narrowest, 128 (1/8), would be 24,
    # which the decoder's 16 heads (kept for every width, as the paper keeps its 16) do not
    # divide; the narrowest arm is 32 (1/6) instead and has no paper counterpart.
    "gpu": _grids((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9), (1, 2, 4, 8, 12), (32, 48, 96, 144, 192),
                  (0, 1)),
    "paper": _grids((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9), (1, 2, 4, 8, 12), (32, 48, 96, 144, 192),
                    (0, 1, 2)),
}


def check_table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")
    return table


def table_pretrain_runs(profile: str, table: str) -> list[tuple[str, dict, dict]]:
    """(run name, arm, parameters) of every pre-training run of one table; an arm with exactly the
    base recipe's parameters is the base run (`pretrain_entry`), named as it."""
    grid = GRIDS[check_profile(profile)][check_table(table)]
    out = []
    for arm in grid.arms():
        for seed in grid.pretrain_seeds:
            p = pretrain_params(profile, {**arm, **({"data_seed": seed} if grid.trial_data else {})}, seed)
            out.append((pretrain_entry(p)[1], arm, p))
    return out


def pretrain_entry(p) -> tuple[str, str, dict, Any]:
    """(experiment, run name, parameters, run function) of one pre-training: the base run
    (`mae_study.runs.base.shared_pretrain`) when its parameters are the base's, else this chapter's."""
    shared = base.shared_pretrain(p, derive=canonical)
    if shared:
        return (*shared, base.base_pretrain(p["profile"], p["seed"]), run_pretrain)
    return PRETRAIN, auto_run_name(p), p, run_pretrain


def finetune_entry(p, base_pretrained: str | None) -> tuple[str, str, dict, Any]:
    """The plan entry of one evaluation: the base run's when it is the base encoder's (or scratch's)
    with the base recipe, else this chapter's."""
    shared = base.shared_finetune(p, base_pretrained)
    if shared:
        source = "scratch" if p["pretrained"] == "scratch" else base_pretrained
        return (*shared, base.base_finetune(p["profile"], source, p["mode"], p["seed"]), run_finetune)
    return FINETUNE, auto_run_name(p), p, run_finetune


def evaluation_entries(pre, modes: tuple[str, ...] = MODES, seed: int | None = None) -> dict[str, tuple]:
    """Per mode, the plan entry of the evaluation of the encoder pre-trained with parameters
    ``pre``, as the sweep makes it: at a profile whose trials draw their own data, with the
    pre-training's seed and data seed; else with ``seed`` (default 0)."""
    trial_data = GRIDS[pre["profile"]]["mask_ratio"].trial_data
    experiment, name, _, _ = pretrain_entry(pre)
    shared = name if experiment == base.PRETRAIN else None
    s = pre["seed"] if trial_data else (seed or 0)
    return {mode: finetune_entry(finetune_params(pre["profile"], name, mode, s, pre["data_seed"] if trial_data else None),
                                 shared) for mode in modes}


def table_finetune_entries(profile: str, table: str) -> list[tuple[str, str, dict, Any]]:
    """The plan entries of every evaluation of one table, scratch baselines included."""
    grid = GRIDS[check_profile(profile)][check_table(table)]
    out = []
    for _, _, pre in table_pretrain_runs(profile, table):
        for s in (pre["seed"],) if grid.trial_data else grid.finetune_seeds:
            out += list(evaluation_entries(pre, grid.modes, s).values())
    if grid.scratch:  # one random initialisation per pre-training seed, for the same spread
        for mode in grid.modes:
            for s in grid.pretrain_seeds:
                p = finetune_params(profile, "scratch", mode, s, s if grid.trial_data else None)
                out.append(finetune_entry(p, "scratch"))
    return out


def table_finetune_runs(profile: str, table: str) -> list[tuple[str, dict]]:
    """(run name, parameters) of every evaluation of one table, scratch baselines included."""
    return [(name, p) for _, name, p, _ in table_finetune_entries(profile, table)]


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

def plan(profile: str, tables: tuple[str, ...] | None = None) -> list[tuple[str, str, dict, Any]]:
    """(experiment, run name, parameters, run function) of every run of ``tables`` (default all),
    each run once: all pre-trainings, then all evaluations, then (with the mask-token table) the
    step timings."""
    check_profile(profile)
    tables = tuple(check_table(t) for t in (TABLES if tables is None else tables))
    pre, ft = {}, {}
    for t in tables:
        for name, _, p in table_pretrain_runs(profile, t):
            if name in pre and pre[name][0] != p:  # the same name must mean the same configuration
                raise RuntimeError(f"run {name!r} is planned with two different configurations")
            pre[name] = (p, pretrain_entry(p))
        ft.update({entry[1]: entry for entry in table_finetune_entries(profile, t)})
    out = [entry for _, entry in pre.values()]
    out += rungs.probe_entries([e[2] for e in ft.values()])  # the task's pixel probes, shown beside the arms
    out += list(ft.values())
    if "mask_token" in tables:
        out += step_cost_plan(profile)
    return out


def evaluation_tasks(profile: str) -> list:
    """The parameters of every evaluation of the chapter's plan: their labelled tasks (one per
    trial's data seed at `cpu`), for the pixel-probe rung (`mae_study.runs.rungs.mean_probe`)."""
    return [e[2] for e in plan(profile) if e[0] in (FINETUNE, base.FINETUNE)]


def _check_tables(p) -> None:
    for table in p["tables"]:
        check_table(table)


MAE_ABLATION_SWEEP = Experiment("mae_ablation_sweep", {profile: {"tables": list(TABLES)} for profile in GRIDS},
                                _check_tables)
"""Notebook 07's parameters: ``profile`` and ``tables`` (a list of `TABLES`; default all)."""


def grids_table(profile: str, tables=TABLES) -> pd.DataFrame:
    """What each ablation table varies at ``profile``: its arms, seeds and evaluation modes."""
    grids = GRIDS[check_profile(profile)]
    return pd.DataFrame([{"table": table, "varies": ", ".join(grids[table].vary), "arms": len(grids[table].values),
                          "seeds": len(grids[table].pretrain_seeds), "modes": ", ".join(grids[table].modes)}
                         for table in TABLES if table in tables])
