"""The ablation grids, their run names and the claims logic (no training)."""
import pandas as pd
import pytest

from mae_study.runs import base

from mae_study.chapters.ablations import plan as ablations
from mae_study.chapters.ablations.claims import claims_from
from mae_study.chapters.ablations.plan import (FINETUNE, GRIDS, PRETRAIN, STEP_COST, TABLES, canonical,
                                             pretrain_name, pretrain_params, table_pretrain_runs)
from mae_study.chapters.ablations.results import SamplingArm
from mae_study.runs.params import PROFILES
from mae_study.sweep import SWEEPS


@pytest.mark.parametrize("profile", PROFILES)
def test_plan_runs_once_each_with_unique_names(profile):
    plan = ablations.plan(profile)
    keys = [(experiment, name) for experiment, name, _, _ in plan]
    assert len(keys) == len(set(keys))
    # the task's pixel probe too, below the paper profile (real data sets there: no probe)
    probe = {"task_pixel_probe"} if profile != "paper" else set()
    shared = {base.PRETRAIN, base.FINETUNE} if profile == "cpu" else set()  # the base recipe's runs
    assert {e for e, _ in keys} == {PRETRAIN, FINETUNE, STEP_COST} | probe | shared
    # every evaluated encoder is pre-trained in the same plan (or is "scratch"), read where it is stored
    pre = {(e, name) for e, name in keys if e in (PRETRAIN, base.PRETRAIN)}
    evals = [p for e, _, p, _ in plan if e in (FINETUNE, base.FINETUNE)]
    sources = {(p["pretrain_experiment"], p["pretrained"]) for p in evals if p["pretrained"] != "scratch"}
    assert sources == pre
    # each pre-trained encoder gets a full fine-tuning and a linear probe
    modes = {(p["pretrained"], p["mode"]) for p in evals}
    assert {(s, m) for _, s in pre for m in ("full", "linear")} <= modes


@pytest.mark.parametrize("profile", PROFILES)
def test_baseline_is_shared_between_tables_and_trained_once(profile):
    from mae_study.chapters.ablations.results import baseline_run
    baseline = baseline_run(profile)
    if profile == "cpu":  # the base recipe's pre-training, shared with every chapter
        assert baseline == "distinct-v2_d0_s0"
    tables = [t for t in TABLES if baseline in {n for n, _, _ in table_pretrain_runs(profile, t)}]
    assert len(tables) == len(TABLES) == 6  # every table has the baseline as an arm
    names = [name for e, name, _, _ in ablations.plan(profile) if e in (PRETRAIN, base.PRETRAIN)]
    assert names.count(baseline) == 1
    per_table = sum(len(table_pretrain_runs(profile, t)) for t in TABLES)
    assert len(names) < per_table  # shared runs were deduplicated


def test_names_follow_the_configuration_not_the_request():
    # asking for the model's own decoder depth explicitly is the same run as not asking
    implicit = pretrain_params("cpu", {}, 1)
    explicit = pretrain_params("cpu", {"decoder_depth": 2, "norm_pix_loss": False, "encoder_mask_token": False}, 1)
    assert implicit == explicit and pretrain_name(implicit) == pretrain_name(explicit)
    # and different configurations get different names
    arms = [pretrain_params("cpu", arm, s) for t in TABLES for arm in GRIDS["cpu"][t].arms() for s in (0, 1)]
    by_name = {}
    for p in arms:
        by_name.setdefault(pretrain_name(p), []).append(p)
    assert all(all(q == ps[0] for q in ps) for ps in by_name.values())


def test_default_finetune_source_is_the_baseline():
    for profile in PROFILES:
        p = ablations.MAE_ABLATION_FINETUNE.resolve(profile)
        assert p["pretrain_experiment"] == PRETRAIN
        assert p["pretrained"] == pretrain_name(pretrain_params(profile, {}, 0))


def test_grid_arms_are_valid_models():
    for profile, grids in GRIDS.items():
        for t, grid in grids.items():
            for arm in grid.arms():
                canonical(ablations.MAE_ABLATION_PRETRAIN.resolve(profile, **arm))  # raises if invalid


def test_cpu_protocol():
    g = GRIDS["cpu"]
    assert [a["final_mask_ratio"] for a in g["mask_ratio"].arms()] == [0.1, 0.3, 0.5, 0.75, 0.9]
    assert [a["decoder_depth"] for a in g["decoder_depth"].arms()] == [1, 2, 4, 8]
    assert all(len(grid.pretrain_seeds) >= 2 and set(grid.modes) == {"full", "linear"} for grid in g.values())


def test_sweeps_registered():
    assert set(TABLES) == {t.removeprefix("mae_ablation_") for t in SWEEPS if t.startswith("mae_ablation_")}
    one = SWEEPS["mae_ablation_target"]("ci")
    assert {name for _, name, _, _ in one} <= {name for _, name, _, _ in SWEEPS["mae_ablations"]("ci")}
    assert not any(e == STEP_COST for e, _, _, _ in one)
    assert any(e == STEP_COST for e, _, _, _ in SWEEPS["mae_ablation_mask_token"]("ci"))


@pytest.mark.parametrize("bad", ["mask ratio", "depth", ""])
def test_bad_table_name(bad):
    with pytest.raises(ValueError, match="table must be one of"):
        ablations.plan("ci", (bad,))
    with pytest.raises(ValueError, match="table must be one of"):
        table_pretrain_runs("ci", bad)


# --- the claims logic on made-up numbers ------------------------------------------------------

SCRATCH = {("scratch", None, "full"): [20.0, 20.2, 20.1], ("scratch", None, "linear"): [15.0, 15.1, 15.2]}
PIXEL_PROBE = 0.18
"""Rungs that hold: scratch fine-tuned above the pixel probe (a fraction), every made-up arm far above both."""


def _judge(res: pd.DataFrame, cost=None, **kw) -> pd.DataFrame:
    return claims_from(pd.concat([res, _res(SCRATCH, rungs=False)], ignore_index=True), cost, pixel_probe=PIXEL_PROBE, **kw)


def _res(spec: dict, rungs: bool = True) -> pd.DataFrame:
    """spec: (table, value, mode) -> list of accuracies in % (one per pre-training seed)."""
    rows = []
    for (table, value, mode), accs in spec.items():
        for seed, a in enumerate(accs):
            rows.append({"table": table, "value": value, "label": str(value), "pretrained": f"{table}{value}s{seed}",
                         "seed": seed, "mode": mode, "accuracy_pct": a})
    return pd.DataFrame(rows, columns=["table", "value", "label", "pretrained", "seed", "mode", "accuracy_pct"])


def _verdict(claims, table, mode, word):
    row = claims[(claims.table == table) & (claims.metric == mode) & claims.claim.str.contains(word)]
    assert len(row) == 1, row
    return row.verdict.iloc[0]


def _ratio_spec(curve: dict, mode="full", spread=0.2):
    return {("mask_ratio", r, mode): [a - spread, a, a + spread] for r, a in curve.items()}


def test_mask_ratio_peak_reproduced_not_reproduced_and_inconclusive():
    peak = _ratio_spec({0.1: 50, 0.3: 55, 0.5: 60, 0.75: 62, 0.9: 56})
    assert _verdict(_judge(_res(peak)), "mask_ratio", "fine-tune", "between 40 and 80") == "reproduced"
    assert _verdict(_judge(_res(peak)), "mask_ratio", "fine-tune", "no ratio beats") == "reproduced"
    low = _ratio_spec({0.1: 70, 0.3: 65, 0.5: 60, 0.75: 55, 0.9: 50})
    assert _verdict(_judge(_res(low)), "mask_ratio", "fine-tune", "between 40 and 80") == "not reproduced"
    assert _verdict(_judge(_res(low)), "mask_ratio", "fine-tune", "no ratio beats") == "not reproduced"
    noisy = _ratio_spec({0.1: 50, 0.3: 55, 0.5: 60, 0.75: 62, 0.9: 56}, spread=8)
    assert _verdict(_judge(_res(noisy)), "mask_ratio", "fine-tune", "between 40 and 80") == "inconclusive"


def test_one_trial_never_gives_a_verdict():
    spec = {("mask_token", False, m): [70.0] for m in ("full", "linear")}
    spec.update({("mask_token", True, m): [10.0] for m in ("full", "linear")})
    c = _judge(_res(spec))
    # one run of an arm cannot show that it learned (its spread is unknown): untestable, not a verdict
    assert set(c.verdict) == {"untestable"}
    assert c["untestable because"].str.contains("is not above scratch or the pixel probe by more than its spread").all()


def test_mask_token_and_target_directions():
    spec = {("mask_token", False, "linear"): [70, 71], ("mask_token", True, "linear"): [60, 61],
            ("mask_token", False, "full"): [60, 61], ("mask_token", True, "full"): [70, 71],
            ("target", False, "linear"): [60, 61], ("target", True, "linear"): [65, 66],
            ("target", False, "full"): [60, 64], ("target", True, "full"): [61, 65]}
    c = _judge(_res(spec))
    assert _verdict(c, "mask_token", "linear probe", "without mask tokens") == "reproduced"
    assert _verdict(c, "mask_token", "fine-tune", "without mask tokens") == "not reproduced"
    assert _verdict(c, "target", "linear probe", "normalised") == "reproduced"
    assert _verdict(c, "target", "fine-tune", "normalised") == "inconclusive"


def test_sampling_and_decoder_claims():
    spec = {}
    for mode in ("full", "linear"):
        spec.update({("sampling", SamplingArm("random", 0.75), mode): [70, 71],
                     ("sampling", SamplingArm("block", 0.75), mode): [60, 61],
                     ("sampling", SamplingArm("grid", 0.75), mode): [70, 71],
                     ("sampling", SamplingArm("block", 0.5), mode): [65, 66]})
    spec.update({("decoder_depth", 1, "linear"): [50, 51], ("decoder_depth", 8, "linear"): [60, 61],
                 ("decoder_depth", 1, "full"): [70, 71], ("decoder_depth", 8, "full"): [70, 71],
                 ("decoder_width", 24, "linear"): [50, 51], ("decoder_width", 48, "linear"): [60, 61],
                 ("decoder_width", 96, "linear"): [60, 61]})
    c = _judge(_res(spec), width=96)
    assert _verdict(c, "sampling", "linear probe", "random sampling beats") == "inconclusive"  # grid ties random
    assert _verdict(c, "sampling", "fine-tune", "50 % than at 75") == "reproduced"
    assert _verdict(c, "decoder_depth", "linear probe", "deeper decoder") == "reproduced"
    assert _verdict(c, "decoder_depth", "both", "gains less") == "reproduced"
    assert _verdict(c, "decoder_width", "linear probe", "narrower decoder hurts") == "reproduced"
    assert _verdict(c, "decoder_width", "linear probe", "half as wide") == "inconclusive"


def test_step_cost_claims():
    from mae_study.chapters.ablations.step_cost_report import vit_l_flops_row
    cost = pd.DataFrame([{"configuration": "small", "FLOPs ratio (analytic)": 2.0, "wall-clock ratio": 1.8,
                          "wall-clock ratio sd": 0.05, "rounds": 3}, vit_l_flops_row()])
    c = _judge(_res({}), cost)
    assert _verdict(c, "mask_token", "FLOPs", "3.3x") == "reproduced"  # the analytic count of ViT-L
    assert _verdict(c, "mask_token", "wall clock", "faster") == "reproduced"
    cost.loc[0, "wall-clock ratio"] = 0.8
    assert _verdict(_judge(_res({}), cost), "mask_token", "wall clock", "faster") == "not reproduced"


def test_vit_l_flops_ratio_is_near_the_papers():
    from mae_study.chapters.ablations.step_cost_report import vit_l_flops_row
    row = vit_l_flops_row()
    assert row["encoder tokens without / with"] == "50 / 197"
    assert 3.1 < row["FLOPs ratio (analytic)"] < 3.4


def test_results_of_a_profile_without_runs_is_empty(results_dir):
    from mae_study.chapters.ablations import results as ablation_results, tables as ablation_tables
    assert ablation_results.results("ci").empty
    assert ablation_tables.table("ci", "mask_ratio")["trials"].eq(0).all()


def test_linear_probe_uses_its_own_learning_rate_everywhere():
    from mae_study.chapters.ablations.plan import MODE_CHANGES, finetune_params
    plan = ablations.plan("cpu")
    for e, name, p, _ in plan:
        if e == FINETUNE:
            assert p == finetune_params("cpu", p["pretrained"], p["mode"], p["seed"], p["data_seed"])
            assert (p["lr"] == MODE_CHANGES["linear"]["lr"]) == (p["mode"] == "linear")
            assert (p["pool"] == "mean") == (p["mode"] == "linear")


@pytest.mark.parametrize("profile", PROFILES)
def test_arms_of_tables_with_paper_numbers_find_their_paper_row(profile):
    """Depth, width and mask-token arms are looked up in the paper's tables; only the documented
    gpu/paper narrowest width (32 = 1/6, standing in for the paper's 1/8 = 24, which 16 heads do
    not divide) has no counterpart."""
    from mae_study.chapters.ablations.results import arm_value, encoder_width, paper_key, paper_numbers
    enc = encoder_width(profile)
    for table in TABLES:
        paper = paper_numbers(table)
        if not paper:
            continue
        missing = [arm_value(table, a) for a in GRIDS[profile][table].arms()
                   if paper_key(table, arm_value(table, a), enc) not in paper]
        expected = [32] if (profile in ("gpu", "paper") and table == "decoder_width") else []
        assert missing == expected, (table, missing)
    if profile in ("gpu", "paper"):
        with pytest.raises(ValueError, match="divisible by decoder_num_heads"):
            pretrain_params(profile, {"decoder_embed_dim": enc // 8}, 0)  # the paper's 1/8 is not a valid width
        from mae_study.chapters.ablations.results import width_note
        assert "32-wide arm" in width_note(profile) and "no paper counterpart" in width_note(profile)


@pytest.mark.parametrize("call", ["plan", "table_pretrain_runs", "table", "summary", "figure", "results", "setting"])
def test_unknown_profile_is_a_clear_error(call):
    from mae_study.chapters.ablations import (results as ablation_results, setting as ablation_setting,
                                              tables as ablation_tables)
    fn = {"plan": lambda p: ablations.plan(p), "table_pretrain_runs": lambda p: table_pretrain_runs(p, "target"),
          "table": lambda p: ablation_tables.table(p, "target"), "summary": ablation_tables.summary,
          "figure": lambda p: ablation_tables.figure(p, "target"), "results": ablation_results.results,
          "setting": ablation_setting.setting}[call]
    with pytest.raises(ValueError, match="profile must be one of"):
        fn("laptop")


def test_baseline_names_of_the_finetune_defaults_are_computed():
    # the default `pretrained` of every profile is the name of its baseline run, not a typed string
    for profile in PROFILES:
        assert ablations.MAE_ABLATION_FINETUNE.defaults[profile]["pretrained"] == \
            pretrain_name(pretrain_params(profile, {}, 0))


def test_table_mean_and_sd_per_arm(results_dir, monkeypatch):
    from mae_study.chapters.ablations import tables as ablation_tables
    spec = {("target", False, "full"): [60.0, 64.0], ("target", True, "full"): [61.0, 65.0],
            ("target", False, "linear"): [50.0], ("target", True, "linear"): [40.0, 42.0]}
    monkeypatch.setattr(ablation_tables, "results", lambda profile: _res(spec))
    t = ablation_tables.table("cpu", "target").set_index("target")
    assert t.loc["pixels", "fine-tune"] == 62.0 and t.loc["pixels", "fine-tune sd"] == pytest.approx(8 ** 0.5)
    assert t.loc["pixels", "linear probe"] == 50.0 and pd.isna(t.loc["pixels", "linear probe sd"])
    assert t.loc["normalised pixels", "linear probe"] == 41.0


def test_sweep_notebook_runs_each_run_of_its_tables_once(results_dir):
    from mae_study.chapters.ablations.plan import MAE_ABLATION_SWEEP, grids_table
    from mae_study.sweep import run_sweep
    assert MAE_ABLATION_SWEEP.resolve("ci")["tables"] == list(TABLES)
    with pytest.raises(ValueError, match="table must be one of"):
        MAE_ABLATION_SWEEP.resolve("ci", tables=["target", "depth"])
    assert grids_table("ci", ["target", "mask_ratio"])["table"].tolist() == ["mask_ratio", "target"]
    status = pd.DataFrame(run_sweep("mae_ablations", "ci", dry_run=True, tables=["target", "mask_ratio"]))
    baseline = pretrain_name(pretrain_params("ci", {}, 0))
    assert (status["run"] == baseline).sum() == 1  # in both tables, listed once
    planned = {name for t in ("target", "mask_ratio") for name, _, _ in table_pretrain_runs("ci", t)}
    assert planned == set(status.loc[status["experiment"] == PRETRAIN, "run"])
    assert set(status["status"]) == {"to run"}


def test_accuracy_claims_on_models_that_did_not_learn_are_untestable():
    peak = _ratio_spec({0.1: 50, 0.3: 55, 0.5: 60, 0.75: 62, 0.9: 56})
    below = pd.concat([_res(peak), _res(SCRATCH)], ignore_index=True)
    claims = claims_from(below, pixel_probe=0.25)   # scratch (20 %) below a 25 % pixel probe
    row = claims[(claims.table == "mask_ratio") & (claims.metric == "fine-tune") & claims.claim.str.contains("between")]
    assert row.verdict.iloc[0] == "untestable"
    assert row["untestable because"].iloc[0].startswith("scratch (20.1 %) is not above the pixel probe (25.0 %)")
    flat = claims_from(pd.concat([_res({("mask_ratio", r, "full"): [20.0, 20.5] for r in (0.5, 0.75, 0.9)}),
                                  _res(SCRATCH)], ignore_index=True), pixel_probe=PIXEL_PROBE)
    row = flat[(flat.table == "mask_ratio") & (flat.metric == "fine-tune") & flat.claim.str.contains("between")]
    assert row.verdict.iloc[0] == "untestable" and "mask ratio 50 %, fine-tune (20.2 %)" in row["untestable because"].iloc[0]
