"""The notebooks' ci check: stable text within tolerance, a named failure outside it."""
import math

import pandas as pd
import pytest

from mae_study.report.ci_check import (ACCURACY_ATOL, CHECK_ENV, FLOAT_RTOL, RECORD_ENV, check_ci, compare, frame_values,
                                prefixed, tolerance)


def test_counts_and_names_must_match_exactly():
    assert compare({"num_steps": 8, "task": "builtin"}, {"num_steps": 8, "task": "builtin"}) == []
    assert compare({"num_steps": 9}, {"num_steps": 8}) != []
    assert compare({"task": "digits"}, {"task": "builtin"}) != []
    # an integer where a float was stored is a change of type, not a rounding difference
    assert compare({"seeds": 1.0}, {"seeds": 1}) != []


def test_an_accuracy_may_move_by_three_test_images_of_a_hundred_and_no_more():
    stored = {"test_accuracy_final": 0.13}
    assert compare({"test_accuracy_final": 0.13 + ACCURACY_ATOL - 1e-9}, stored) == []
    assert compare({"test_accuracy_final": 0.13 - ACCURACY_ATOL - 1e-6}, stored) != []
    # the same rule in a table in percent
    assert compare({"digits/pixel probe/accuracy %": 89.0}, {"digits/pixel probe/accuracy %": 86.0}, percent=True) == []
    assert compare({"digits/pixel probe/accuracy %": 89.5}, {"digits/pixel probe/accuracy %": 86.0}, percent=True) != []


def test_a_loss_may_move_by_rounding_but_not_by_a_change_of_method():
    stored = {"final_loss": 1.3348}
    assert compare({"final_loss": 1.3348 * (1 + FLOAT_RTOL / 2)}, stored) == []
    # e.g. the MAE loss averaged over every patch instead of the masked ones
    assert compare({"final_loss": 1.3348 * 1.05}, stored) != []
    assert tolerance("final_loss", 1.0).rtol == FLOAT_RTOL and tolerance("eval_mAP", 0.5).atol == ACCURACY_ATOL
    assert tolerance("trials", 3).exact


def test_missing_values_match_only_missing_values():
    assert compare({"sd": None}, {"sd": None}) == []
    assert compare({"sd": float("nan")}, {"sd": None}) == []
    assert compare({"sd": 0.1}, {"sd": None}) != []
    assert compare({"loss": None}, {"loss": 1.0}) != []


def test_a_value_added_or_dropped_is_named():
    problems = compare({"a": 1, "new": 2}, {"a": 1, "old": 3})
    assert problems == ["new: not in the stored results", "old: stored but not computed"]


def test_frame_values_and_prefixed_name_every_cell():
    frame = pd.DataFrame({"task": ["builtin", "digits"], "rung": ["chance", "chance"], "accuracy %": [10.0, math.nan],
                          "seeds": [1, 1]})
    values = frame_values(frame, ["task", "rung"])
    assert values == {"builtin/chance/accuracy %": 10.0, "builtin/chance/seeds": 1,
                      "digits/chance/accuracy %": None, "digits/chance/seeds": 1}
    assert type(values["builtin/chance/seeds"]) is int
    assert prefixed({"run": {"x": 1.5}}) == {"run/x": 1.5}


def test_record_then_check_prints_the_same_text_and_a_change_raises(tmp_path, monkeypatch, capsys):
    values = {"final_loss": 1.3348, "num_steps": 8, "test_accuracy_final": 0.13, "wall_time_s": 3.2}
    monkeypatch.setenv(RECORD_ENV, "1")
    check_ci("nb", values, "ci", expected_dir=tmp_path)
    recorded = capsys.readouterr().out
    assert "wall_time_s" not in (tmp_path / "nb.json").read_text()  # timings are never compared
    monkeypatch.delenv(RECORD_ENV)
    monkeypatch.setenv(CHECK_ENV, "1")
    # another CPU: the loss in its fifth digit, one test image, another wall time
    check_ci("nb", {**values, "final_loss": 1.33481, "test_accuracy_final": 0.14, "wall_time_s": 9.0}, "ci",
             expected_dir=tmp_path)
    assert capsys.readouterr().out == recorded
    with pytest.raises(AssertionError, match="final_loss"):
        check_ci("nb", {**values, "final_loss": 1.40}, "ci", expected_dir=tmp_path)
    assert "OUT OF TOLERANCE" in capsys.readouterr().out


def test_other_profiles_and_runs_outside_make_nbval_are_not_checked_and_a_missing_record_is_an_error(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(CHECK_ENV, "1")
    assert check_ci("nb", {"x": 1.0}, "cpu", expected_dir=tmp_path) == []
    assert "ci profile only" in capsys.readouterr().out
    monkeypatch.delenv(CHECK_ENV)   # e.g. a documented papermill command with other parameters
    assert check_ci("nb", {"x": 2.0}, "ci", expected_dir=tmp_path) == []
    assert "not compared" in capsys.readouterr().out
    monkeypatch.setenv(CHECK_ENV, "1")
    with pytest.raises(FileNotFoundError, match="make notebooks"):
        check_ci("nb", {"x": 1.0}, "ci", expected_dir=tmp_path)
