"""The rungs every chapter shows beside its arms, and the record of verdicts that changed."""
import math

import pandas as pd
import pytest

from mae_study.chapters.dynmask.plan import DYNMASK_FINETUNE
from mae_study.chapters.synthetic.plan import plan as synthetic_plan
from mae_study.report import superseded
from mae_study.runs import rungs


def test_rungs_table_means_spread_and_gain_over_scratch():
    t = rungs.rungs_table(0.1, 0.25, [0.30, 0.34, 0.32], {"arm A": [0.44, 0.45, 0.46], "arm B": []}).set_index("rung")
    assert list(t.index) == ["chance", "pixel probe", "scratch", "arm A", "arm B"]
    assert t.loc["chance", "accuracy %"] == pytest.approx(10.0)
    assert t.loc["scratch", "accuracy %"] == pytest.approx(32.0)
    assert t.loc["scratch", "sd"] == pytest.approx(2.0)
    assert t.loc["scratch", "se"] == pytest.approx(2.0 / math.sqrt(3))
    assert t.loc["arm A", "above scratch"] == pytest.approx(13.0)
    assert t.loc["pixel probe", "above scratch"] == pytest.approx(-7.0)
    assert math.isnan(t.loc["arm B", "accuracy %"]) and t.loc["arm B", "runs"] == 0
    assert math.isnan(t.loc["pixel probe", "sd"])  # one deterministic value: no spread claimed
    text = rungs.room_sentence(t.reset_index())
    assert "arm A" in text and "+13.0 points" in text and "25.0 %" in text
    assert "too little room" not in text  # 13 points over scratch, well beyond 3 standard errors


def test_a_baseline_without_pretraining_is_never_the_best_arm():
    t = rungs.rungs_table(0.1, 0.2, [0.3], {"arm": [0.35]}, baselines={"random encoder": [0.5]})
    assert list(t["rung"]) == ["chance", "pixel probe", "scratch", "random encoder", "arm"]
    text = rungs.room_sentence(t)
    assert "rows, arm," in text and "SE" not in text  # one scratch run: no standard error
    assert "too little room" in text  # one run a side: no standard error, no evidence of room


def test_a_recipe_below_the_pixel_probe_is_flagged():
    t = rungs.rungs_table(0.1, 0.2, [0.15, 0.16, 0.17], {"arm": [0.30, 0.31, 0.29]})
    text = rungs.room_sentence(t)
    assert "does not even reach the pixel probe" in text and "standard errors above" not in text


def test_rungs_table_without_a_pixel_probe_says_so():
    t = rungs.rungs_table(0.5, None, [0.6, 0.7], {"x": [0.8]})
    assert t.set_index("rung").loc["pixel probe", "what"] == "not run"
    assert "no pixel probe" in rungs.room_sentence(t)


def test_probe_is_the_chapters_own_task():
    ft = DYNMASK_FINETUNE.resolve("cpu")
    p = rungs.probe_params(ft)
    for key in ("dataset", "data_setting", "image_size", "num_train", "num_test", "data_seed"):
        assert p[key] == ft[key]
    other = rungs.probe_params(DYNMASK_FINETUNE.resolve("cpu", num_train=200))
    entries = rungs.probe_entries([ft, ft, other])
    assert len(entries) == 2 and entries[0][1] != entries[1][1]  # one probe per distinct task
    assert rungs.probe_entries([DYNMASK_FINETUNE.resolve("paper")]) == []  # real data: no probe


def test_synthetic_plan_probes_each_task_with_its_own_setting():
    probes = [p for e, _, p, _ in synthetic_plan("cpu") if e == rungs.PROBE]
    assert sorted((p["dataset"], p["data_setting"]) for p in probes) == [("builtin", "distinct-v2"), ("digits", None)]
    sizes = {p["dataset"]: (p["num_train"], p["num_test"]) for p in probes}
    assert sizes == {"builtin": (2000, 2000), "digits": (150, None)}  # as the fine-tunings (`TASK_SIZES`)


def test_verdict_changes_marks_changed_new_and_dropped_claims():
    before = pd.DataFrame({"claim": ["a", "b", "c"], "verdict": ["reproduced", "inconclusive", "reproduced"]})
    now = pd.DataFrame({"claim": ["a", "b", "d"], "verdict": ["reproduced", "contradicted", "reproduced"]})
    t = superseded.verdict_changes(now, before, ["claim"]).set_index("claim")
    assert not t.loc["a", "changed"] and t.loc["b", "changed"]
    assert (t.loc["b", "verdict before"], t.loc["b", "verdict now"]) == ("inconclusive", "contradicted")
    assert t.loc["c", "verdict now"] == "-" and t.loc["d", "verdict before"] == "-"
    assert t.loc["c", "changed"] and t.loc["d", "changed"]


def test_chapter_summary_row_takes_the_best_arm_and_the_se_of_its_gain():
    from mae_study.chapters.ladder.summary import _summary
    t = rungs.rungs_table(0.1, 0.2, [0.30, 0.32, 0.34], {"a": [0.40, 0.41, 0.42], "b": [0.50, 0.52, 0.54]})
    row = _summary("chapter", t, task="builtin")
    assert row["best arm"] == "b" and row["best - scratch"] == pytest.approx(20.0)
    assert row["se"] == pytest.approx(math.sqrt(2 * (2 / math.sqrt(3)) ** 2))
    assert _summary("chapter", rungs.rungs_table(0.1, 0.2, [0.3], {"a": []})) is None  # nothing to show
