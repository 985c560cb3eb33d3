"""The sweep's estimate of the time left, and its record of what it cost."""
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
