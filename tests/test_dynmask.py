import pandas as pd
import pytest

from mae_study.chapters.dynmask import plan as dynmask
from mae_study.chapters.dynmask import setting as dynmask_setting, tables as dynmask_tables
from mae_study.chapters.dynmask.claims import claims_from
from mae_study.runs.finetune import run_finetune
from mae_study.sweep import run_sweep


@pytest.mark.parametrize("kw, match", [
    ({"final_mask_ratio": 1.2}, "final_mask_ratio must be in"),
    ({"schedule": [[0, 0.2], [0, 0.5]]}, "strictly increasing"),
    ({"schedule": [[0, 0.2], [5, 1.0]]}, "mask ratio of the stage"),
    ({"method": "curriculum"}, "method must be one of"),
    ({"sampling": "diagonal"}, "sampling must be one of"),
    ({"image_size": 30}, "patch_size 4 does not divide img_size 30"),
    ({"amp_dtype": "float16"}, "amp_dtype must be one of"),
    ({"compile": "fast"}, "compile must be one of"),
])
def test_bad_pretrain_parameters_rejected_before_compute(kw, match):
    with pytest.raises(ValueError, match=match):
        dynmask.DYNMASK_PRETRAIN.resolve("cpu", **kw)


def test_bad_finetune_speed_options_rejected_before_compute():
    with pytest.raises(ValueError, match="compile must be one of"):
        dynmask.DYNMASK_FINETUNE.resolve("cpu", compile="turbo")


def test_bf16_autocast_option_reaches_the_training_step(results_dir):
    """amp_dtype is opt-in and really used: the bf16 run's losses differ from fp32's, slightly."""
    from mae_study.runs.pretrain import run_pretrain
    fp32 = run_pretrain(dynmask.DYNMASK_PRETRAIN.resolve("ci"), "amp", run_name="fp32", progress=False)
    bf16 = run_pretrain(dynmask.DYNMASK_PRETRAIN.resolve("ci", amp_dtype="bfloat16"), "amp", run_name="bf16",
                        progress=False)
    assert fp32.read("config.json")["train"]["amp_dtype"] is None
    assert bf16.read("config.json")["train"]["amp_dtype"] == "bfloat16"
    a, b = fp32.read("steps.csv")["loss"], bf16.read("steps.csv")["loss"]
    assert (a != b).any()
    assert b.tolist() == pytest.approx(a.tolist(), rel=2e-2)


def test_dynamic_needs_a_table3_ratio_or_a_schedule():
    from mae_study.runs.pretrain import build_schedule
    with pytest.raises(ValueError, match="Table 3 ratios"):  # at resolve: before any compute
        dynmask.DYNMASK_PRETRAIN.resolve("cpu", method="dynamic", final_mask_ratio=0.72)
    p = dynmask.DYNMASK_PRETRAIN.resolve("cpu", method="dynamic", final_mask_ratio=0.72,
                                         schedule=[[0, 0.3], [5, 0.72]])
    assert build_schedule(p)(6) == 0.72


def test_finetune_of_a_missing_pretrained_run_is_a_clear_error(results_dir):
    p = dynmask.DYNMASK_FINETUNE.resolve("ci", pretrained="dynamic_r99_s7")
    with pytest.raises(ValueError, match="pretrained='dynamic_r99_s7': no finished run"):
        run_finetune(p, dynmask.FINETUNE)
    assert not (results_dir / "ci" / dynmask.FINETUNE).exists()  # nothing was written


@pytest.mark.parametrize("profile", list(dynmask.GRIDS))
def test_grid_names_unique_and_finetunes_name_planned_pretrainings(profile):
    pre = [(e, n) for e, n, _, _ in dynmask.pretrain_entries(profile)]
    ft = dynmask.finetune_entries(profile)
    assert len(set(pre)) == len(pre) and len({(e, n) for e, n, _, _ in ft}) == len(ft)
    # every evaluation reads an encoder the plan pre-trains, from the experiment it is stored in
    assert {(p["pretrain_experiment"], p["pretrained"]) for _, _, p, _ in ft if p["pretrained"] != "scratch"} == set(pre)


def test_cpu_static_75_is_the_base_pretraining_and_nothing_else_is_shared():
    from mae_study.runs import base
    entries = dynmask.pretrain_entries("cpu")
    shared = [(e, n, p) for e, n, p, _ in entries if e == base.PRETRAIN]
    assert [n for _, n, _ in shared] == [f"distinct-v2_d{s}_s{s}" for s in (0, 1, 2)]
    for _, _, p in shared:  # the same run: every parameter but the experiment's bookkeeping equal
        own = dynmask.DYNMASK_PRETRAIN.resolve("cpu", method="static", final_mask_ratio=0.75, seed=p.seed,
                                                data_seed=p.seed)
        assert dict(own) == dict(p)
    assert all(p.method == "dynamic" or p.final_mask_ratio != 0.75 for e, _, p, _ in entries if e != base.PRETRAIN)
    # its evaluations and the scratch rung are the base's too; the other encoders' are the chapter's
    ft = dynmask.finetune_entries("cpu")
    assert {(p["pretrained"], p["mode"]) for e, _, p, _ in ft if e == base.FINETUNE} == \
        {(n, m) for _, n, _ in shared for m in ("full", "linear")} | {("scratch", "full")}
    # one parameter off the base recipe and nothing is shared
    off = dynmask.DYNMASK_PRETRAIN.resolve("cpu", method="static", final_mask_ratio=0.75, lr=1e-3)
    assert base.shared_pretrain(off) is None
    assert not [e for e, _, _, _ in dynmask.plan("ci") if e in (base.PRETRAIN, base.FINETUNE)]


def test_paper_grid_is_the_dynamic_masking_papers_protocol():
    g = dynmask.GRIDS["paper"]
    assert len(g.final_ratios) == 6 and len(g.pretrain_seeds) == 3 and len(g.finetune_seeds) == 2
    p = dynmask.DYNMASK_PRETRAIN.resolve("paper")
    assert (p["model"], p["num_images"], p["num_epochs"], p["batch_size"], p["lr"]) == \
        ("dynmask_stl10", 100_000, 100, 50, 1e-3)


def test_unknown_sweep_or_profile():
    with pytest.raises(ValueError, match="sweep must be one of"):
        run_sweep("nope", "ci")
    with pytest.raises(ValueError, match="profile must be one of"):
        run_sweep("dynmask", "laptop")


def _claims(loss, acc, scratch=(0.30, 0.31, 0.30), pixel_probe=0.2) -> pd.DataFrame:
    """The claims judged on made-up tables; loss/acc: {(method, ratio): [values per trial]}; the
    rungs (scratch runs, the pixel probe) hold unless given otherwise."""
    pre_rows, ft_rows = [], []
    for s, v in enumerate(scratch):
        ft_rows.append({"run": f"ft_scratch_{s}", "pretrained": "scratch", "mode": "full", "ft_seed": s,
                        "accuracy": v, "average_last": 1, "method": "scratch", "final_mask_ratio": float("nan")})
    for (method, r), values in loss.items():
        for s, v in enumerate(values):
            pre_rows.append({"run": f"{method}_{r}_{s}", "method": method, "final_mask_ratio": r, "seed": s,
                             "final_loss": v, "encoder_train_tflops": 1 - r, "train_tflops": 2 - r, "wall_time_s": 1})
    for (method, r), values in acc.items():
        for s, v in enumerate(values):
            ft_rows.append({"run": f"ft_{method}_{r}_{s}", "pretrained": f"{method}_{r}_{s}", "mode": "full",
                            "ft_seed": 0, "accuracy": v, "average_last": 1, "method": method, "final_mask_ratio": r})
    return claims_from(pd.DataFrame(pre_rows), pd.DataFrame(ft_rows), pixel_probe)


def test_claims_verdicts_follow_the_numbers():
    loss = {("static", 0.75): [0.30, 0.31, 0.30], ("dynamic", 0.75): [0.29, 0.29, 0.28],
            ("static", 0.95): [0.60, 0.61, 0.60], ("dynamic", 0.95): [0.50, 0.51, 0.50]}
    acc = {("static", 0.75): [0.80, 0.81, 0.80], ("dynamic", 0.75): [0.78, 0.77, 0.78],
           ("static", 0.95): [0.60, 0.61, 0.60], ("dynamic", 0.95): [0.70, 0.71, 0.70]}
    v = _claims(loss, acc).set_index("claim")["verdict"]
    assert v.iloc[0] == "reproduced"          # dynamic loss lower everywhere
    assert v.iloc[1] == "reproduced"          # gap grows with the ratio
    assert v.iloc[2] == "reproduced"          # static peaks at 75 (the "only ratios >= 75 %" caveat is evidence)
    assert v.iloc[3] == "reproduced"          # dynamic above static at 95
    assert v.iloc[4] == "reproduced"          # static's best (75 %) clearly above dynamic's best (95 %)
    assert v.iloc[5] == "reproduced"          # compute falls with ratio


def test_claims_not_reproduced_and_inconclusive():
    loss = {("static", 0.75): [0.30, 0.30], ("dynamic", 0.75): [0.40, 0.41],    # dynamic clearly worse
            ("static", 0.95): [0.60, 0.70], ("dynamic", 0.95): [0.65, 0.62]}    # noise
    acc = {("static", 0.75): [0.5, 0.6, 0.7], ("dynamic", 0.75): [0.6, 0.6, 0.6],
           ("static", 0.95): [0.5, 0.6, 0.7], ("dynamic", 0.95): [0.55, 0.6, 0.65]}
    v = _claims(loss, acc, scratch=(0.10, 0.11, 0.10), pixel_probe=0.05).set_index("claim")["verdict"]
    assert v.iloc[0] == "not reproduced"
    assert v.iloc[3] == "inconclusive"
    assert v.iloc[4] == "inconclusive"        # static's peak mean is higher, but within 2 SE


def test_higher_peak_claim_is_tested_not_read_off_the_means():
    loss = {(m, r): [0.3, 0.31] for m in ("static", "dynamic") for r in (0.75, 0.95)}
    close = {("static", 0.75): [0.70, 0.74], ("dynamic", 0.75): [0.69, 0.73],   # static's mean higher by 0.01
             ("static", 0.95): [0.60, 0.61], ("dynamic", 0.95): [0.60, 0.61]}
    row = _claims(loss, close).set_index("claim").loc["static reaches the higher peak accuracy"]
    assert row["verdict"] == "inconclusive" and "static - dynamic: +0.010" in row["evidence"]
    lower = {**close, ("static", 0.75): [0.70, 0.71], ("dynamic", 0.95): [0.80, 0.81]}  # dynamic's best clearly higher
    row = _claims(loss, lower).set_index("claim").loc["static reaches the higher peak accuracy"]
    assert row["verdict"] == "not reproduced" and "peak dynamic 0.805 at 95 %" in row["evidence"]


@pytest.mark.parametrize("ratios, note", [((0.75, 0.95), True), ((0.75, 0.85, 0.95), True),
                                          ((0.5, 0.75, 0.95), False)])
def test_peak_at_75_note_only_when_no_lower_ratio_ran(ratios, note):
    loss = {(m, r): [0.3, 0.31] for m in ("static", "dynamic") for r in ratios}
    acc = {(m, r): [0.5, 0.51] for m in ("static", "dynamic") for r in ratios}
    row = _claims(loss, acc).set_index("claim").loc["static accuracy peaks at a 75 % ratio and falls as the ratio rises"]
    assert ("only ratios ≥ 75 % run" in row["evidence"]) == note
    assert row["verdict"] in ("reproduced", "not reproduced", "inconclusive")


def test_unknown_profile_is_a_clear_error():
    for call in (dynmask.pretrain_runs, dynmask.finetune_runs, dynmask_tables.pretrain_table, dynmask_tables.table1,
                 dynmask_setting.setting):
        with pytest.raises(ValueError, match="profile must be one of"):
            call("laptop")


def test_paper_pretraining_time_estimate_reads_the_benchmark_of_its_model():
    est = dynmask_setting.pretrain_time_estimate("paper")
    p = dynmask.DYNMASK_PRETRAIN.defaults["paper"]
    assert len(est) and (est["days"] > 0).all()
    row = est.iloc[0]
    assert row["days"] == pytest.approx(p["num_images"] * p["num_epochs"] / row["images_per_s"] / 86400)
    with pytest.raises(ValueError, match="another model or batch"):
        dynmask_setting.pretrain_time_estimate("cpu")  # the benchmark measured the paper's model, not the cpu one


def test_lr_schedules_come_from_the_defaults():
    text = dynmask_setting.lr_schedules()
    for profile, d in dynmask.DYNMASK_PRETRAIN.defaults.items():
        assert f"`{profile}`" in text and f"{d['lr']:g}" in text


def test_accuracy_claims_are_untestable_when_the_models_did_not_learn():
    loss = {(m, r): [0.3, 0.31, 0.3] for m in ("static", "dynamic") for r in (0.75, 0.95)}
    acc = {("static", 0.75): [0.80, 0.81, 0.80], ("dynamic", 0.75): [0.78, 0.77, 0.78],
           ("static", 0.95): [0.60, 0.61, 0.60], ("dynamic", 0.95): [0.70, 0.71, 0.70]}
    # scratch below the pixel probe: every accuracy claim untestable, naming that rung; the loss
    # and compute claims do not rest on it
    table = _claims(loss, acc, scratch=(0.15, 0.16, 0.17), pixel_probe=0.21).set_index("claim")
    accuracy = table.iloc[2:5]
    assert (accuracy["verdict"] == "untestable").all()
    assert accuracy["untestable because"].str.startswith("scratch (16.0 %) is not above the pixel probe (21.0 %)").all()
    assert (table.iloc[[0, 1, 5]]["verdict"] != "untestable").all()
    # the pixel probe not run: untestable too
    assert (_claims(loss, acc, pixel_probe=None).iloc[2:5]["verdict"] == "untestable").all()
