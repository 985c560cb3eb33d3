"""The sweep's estimate of the time left, and its record of what it cost."""
import pytest
from mae_study.sweep import _time_left


def test_time_left_uses_each_experiments_own_mean():
    done = {"pretrain": [100.0, 140.0], "finetune": [10.0]}
    # 2 pre-trainings at 120 s + 4 fine-tunings at 10 s = 280 s
    assert _time_left(None, done, ["pretrain", "pretrain"] + ["finetune"] * 4) == "4 min 40 s"
    assert _time_left(None, done, ["finetune"] * 4) == "40 s"
    # an experiment with no run done yet costs the mean of all runs done: (100 + 140 + 10) / 3
    assert _time_left(None, {"pretrain": [100.0, 140.0], "finetune": [10.0]}, ["step_cost"]) == "1 min 23 s"
    assert _time_left(None, {}, ["pretrain"]) == "?"
    assert _time_left(None, {"pretrain": [100.0]}, ["pretrain"] * 7) == "12 min"


def test_a_sweep_that_ran_something_records_its_cost(results_dir):
    import json
    from mae_study.sweep import run_sweep
    rows = run_sweep("mae_ablation_target", "ci", progress=False)
    assert {r["status"] for r in rows} == {"ran"}
    record = json.loads((results_dir / "ci" / "_sweeps" / "mae_ablation_target.json").read_text())
    assert record["runs"] == len(rows) == record["this_call"]["ran"]
    assert record["recorded_wall_time_s"] > 0 and len(record["recorded"]) == len(rows)
    # training speed: every trained run has the engine's images/s, the pixel probe (no engine) none
    speeds = {r["experiment"]: r["images_per_s"] for r in record["recorded"]}
    assert speeds["task_pixel_probe"] is None
    assert all(v > 0 for e, v in speeds.items() if e != "task_pixel_probe")
    per = record["per_experiment"]
    assert sum(v["runs"] for v in per.values()) == len(rows)
    assert per["mae_ablation_pretrain"]["mean_images_per_s"] > 0
    again = run_sweep("mae_ablation_target", "ci", progress=False)  # all read back: the record stays
    assert {r["status"] for r in again} == {"finished before"}
    assert json.loads((results_dir / "ci" / "_sweeps" / "mae_ablation_target.json").read_text()) == record
    from mae_study.sweep import refresh_sweep_record  # recomputes the recorded part, keeps the last call
    assert json.loads(json.dumps(refresh_sweep_record("mae_ablation_target", "ci"))) == record


def _toy_plan():
    """A plan shaped like the chapters': pre-trainings of two kinds alternating, a probe, evaluations."""
    from types import SimpleNamespace
    pre = [("pre", f"{kind}_s{s}", {"seed": s}, None) for s in (0, 1, 2) for kind in ("static", "dynamic")]
    probe = [("probe", f"probe_d{s}", {"data_seed": s}, None) for s in (0, 1, 2)]
    evals = [("ft", f"{n}__{m}", {"pretrained": n, "mode": m, "seed": p["seed"]}, None)
             for _, n, p, _ in pre for m in ("full", "linear")]
    scratch = [("ft", f"scratch_{s}", {"pretrained": "scratch", "seed": s}, None) for s in (0, 1, 2)]
    return SimpleNamespace(plan=pre + probe + evals + scratch, pre=pre)


def test_work_order_runs_trial_by_trial_each_encoder_then_its_evaluations():
    from mae_study.sweep import work_order
    toy = _toy_plan()
    ordered = work_order(toy.plan)
    assert sorted(e[1] for e in ordered) == sorted(e[1] for e in toy.plan)  # a permutation
    names = [e[1] for e in ordered]
    seeds = [e[2].get("seed", e[2].get("data_seed")) for e in ordered]
    assert seeds == sorted(seeds)  # trial 0's runs first
    for k, (_, name, p, _) in enumerate(ordered):
        if p.get("pretrained") not in (None, "scratch"):
            encoder = names.index(p["pretrained"])
            assert encoder < k and all(ordered[j][2].get("pretrained") == p["pretrained"] for j in range(encoder + 1, k))


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_shards_split_the_work_left_into_whole_units(shards):
    from mae_study.sweep import shard_of, work_order
    ordered = work_order(_toy_plan().plan)
    done = {"static_s0", "static_s0__full", "static_s0__linear"}  # one whole unit finished
    parts = [shard_of(ordered, i, shards, finished=lambda e: e[1] in done) for i in range(shards)]
    got = [e[1] for part in parts for e in part]
    assert sorted(got) == sorted(e[1] for e in ordered if e[1] not in done)  # each run left exactly once
    for part in parts:  # every evaluation with its encoder
        names = {e[1] for e in part}
        assert all(e[2]["pretrained"] in names for e in part if e[2].get("pretrained") not in (None, "scratch"))
    left = [sum(e[1] not in done for e in part) for part in parts]
    assert max(left) - min(left) <= 3  # balanced up to one unit (an encoder and its two evaluations)
    assert all(any(e[0] == "pre" for e in part) for part in parts)  # every process trains encoders
    with pytest.raises(ValueError, match="shard"):
        shard_of(ordered, shards, shards)


def test_a_device_is_where_a_run_runs_not_what_it_is(results_dir):
    from mae_study.chapters.dynmask.plan import DYNMASK_PRETRAIN
    from mae_study.runs.skeleton import auto_run_name, check_run_params
    from mae_study.runs.results import RunDir
    p = DYNMASK_PRETRAIN.resolve("ci", method="dynamic", final_mask_ratio=0.95)
    moved = p.replace(device="cuda")
    assert auto_run_name(moved) == auto_run_name(p)
    run = RunDir("ci", "dynmask_pretrain", auto_run_name(p))
    run.write_config({"params": dict(moved)})
    check_run_params(run, p)  # no error: only the device differs
    with pytest.raises(ValueError, match="seed"):
        check_run_params(run, p.replace(seed=3))


def test_book_budget_counts_each_run_once_and_estimates_nothing_it_has_not_measured(results_dir):
    from mae_study.cost import BOOK_SWEEPS, book_budget
    from mae_study.sweep import SWEEPS
    budget = book_budget("ci")
    distinct = {(e, n) for sweep in BOOK_SWEEPS for e, n, _, _ in SWEEPS[sweep]("ci")}
    assert budget["runs"].sum() == len(distinct)  # a run two chapters share is counted once
    assert (budget["finished"] == 0).all() and budget["total_h"].isna().all()  # no measurement, no number


def test_core_seconds_are_wall_time_times_the_cores_a_run_used(results_dir):
    from mae_study.cost import _core_seconds
    from mae_study.runs.results import RunDir, write_json
    for threads, gpu, expected in ((1, None, 100.0), (2, None, 200.0), (8, None, 200.0), (1, "H200", None)):
        run = RunDir("ci", "x", f"t{threads}{gpu}")
        write_json(run.file("provenance.json"), {"wall_time_s": 100.0, "hardware": {"torch_threads": threads, "gpu": gpu}})
        assert _core_seconds(run) == expected
