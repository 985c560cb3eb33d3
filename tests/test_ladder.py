"""The calibration ladder: its plan, a whole ci sweep, and its tables and checks on made-up runs."""
import math

import pandas as pd
import pytest

from mae_study.chapters.ladder import plan as ladder
from mae_study.chapters.ladder.tables import ladder_checks, ladder_rows, ladder_table


def test_the_plan_has_every_rung_of_every_seed_and_task():
    plan = ladder.plan("cpu")
    names = [n for _, n, _, _ in plan]
    assert len(names) == len(set(names))
    pre = [p for e, _, p, _ in plan if e == ladder.PRETRAIN]
    assert [p["seed"] for p in pre] == list(ladder.SEEDS["cpu"]) and all(p["data_seed"] == p["seed"] for p in pre)
    assert all(p["num_images"] >= 20 * 2000 and p["data_setting"] == ladder.SETTING for p in pre)
    tunes = [p for e, _, p, _ in plan if e == ladder.FINETUNE]
    # per task and seed: scratch, fine-tuned and linear-probed
    assert len(tunes) == len(ladder.TASKS) * len(ladder.SEEDS["cpu"]) * 3
    linear = [p for p in tunes if p["mode"] == "linear"]
    assert all(p["lr"] == 0.1 and p["pool"] == "mean" for p in linear)
    assert all(p["data_setting"] is None for p in tunes if p["dataset"] == "digits")
    with pytest.raises(ValueError, match="the ladder has profiles"):
        ladder.plan("paper")


def test_a_ci_ladder_runs_and_its_tables_read_it(results_dir):
    from mae_study.sweep import run_sweep
    rows = run_sweep("ladder", "ci", progress=False)
    assert {r["status"] for r in rows} == {"ran"}
    table = ladder_table(ladder_rows("ci"))
    assert set(table["rung"]) == {"chance", "pixel probe", "ViT from scratch", "MAE fine-tuned", "MAE linear probe"}
    assert set(table["task"]) == {"builtin", "digits"}
    assert (table[table["rung"] == "chance"]["accuracy %"] == 10.0).all()


def _rows(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"task": "builtin", "rung": rung, "seed": i, "accuracy": a, "wall_time_s": 1.0}
                         for rung, accs in values.items() for i, a in enumerate(accs)])


def test_checks_on_a_ladder_that_climbs():
    checks = ladder_checks(ladder_table(_rows({"chance": [10, 10, 10], "pixel probe": [20, 21, 22],
                                               "ViT from scratch": [30, 31, 32], "MAE fine-tuned": [50, 51, 52],
                                               "MAE linear probe": [28, 29, 30]}))).set_index("goal")
    assert checks["met"].all()
    assert checks.loc["MAE fine-tuned > ViT from scratch by > 3 SE", "difference"] == pytest.approx(20.0)
    # chance has no spread: the first step's SE is the pixel probe's alone (sd 1 over 3 seeds)
    assert checks.loc["pixel probe > chance by > 3 SE", "se"] == pytest.approx(1 / math.sqrt(3))


def test_checks_fail_where_they_should():
    checks = ladder_checks(ladder_table(_rows({"chance": [10, 10, 10], "pixel probe": [20, 25, 30],
                                               "ViT from scratch": [24, 26, 28], "MAE fine-tuned": [90, 92, 94],
                                               "MAE linear probe": [18, 19, 20]}))).set_index("goal")
    assert not checks.loc["ViT from scratch > pixel probe by > 3 SE", "met"]  # +1 point, SE about 3
    assert not checks.loc["MAE linear probe > pixel probe (by > 2 SE)", "met"]
    assert not checks.loc["best rung < 90 %", "met"]
    assert checks.loc["MAE fine-tuned - scratch >= 10 points", "met"]
