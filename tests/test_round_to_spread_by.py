"""`round_to_spread(..., by=...)`: each group of rows (a task, say) rounded to its own spread's
precision, so that a task measured to 0.02 does not print another measured to 5 at 0.02's decimals."""
import numpy as np
import pandas as pd

from mae_study.report.tables import round_to_spread

# Two tasks of very different spreads, as in the data chapter's ladder table.
TABLE = pd.DataFrame({"task": ["builtin", "builtin", "digits", "digits"],
                      "m": [38.861234, 55.04321, 91.234567, 97.891234],
                      "sd": [5.233, 7.81, 0.0213, 0.0187],
                      "se": [2.1234, 3.46, 0.00871, 0.0123],
                      "seeds": [3, 3, 3, 3]})


def test_two_groups_of_very_different_spreads_each_get_their_own_decimals():
    out = round_to_spread(TABLE, {"m": "sd", "se": "se"}, by="task")
    assert out["m"].tolist() == [38.9, 55.0, 91.235, 97.891]  # sd 5.2 -> 1 decimal; sd 0.019 -> 3
    assert out["sd"].tolist() == [5.2, 7.8, 0.021, 0.019]
    assert out["se"].tolist() == [2.1, 3.5, 0.0087, 0.0123]  # a spread rounded alone, per group too
    assert out["seeds"].tolist() == [3, 3, 3, 3] and out["task"].equals(TABLE["task"])  # others untouched
    # the cells print at their own precision, not every row at the longest row's decimals
    html = out.to_html()
    assert "<td>38.9</td>" in html and "38.900" not in html and "<td>91.235</td>" in html


def test_the_same_as_column_wide_rounding_within_each_group_and_rows_stay_in_place():
    shuffled = TABLE.iloc[[2, 0, 3, 1]].reset_index(drop=True)
    out = round_to_spread(shuffled, {"m": "sd"}, by=["task"])
    for task, rows in shuffled.groupby("task"):
        alone = round_to_spread(rows, {"m": "sd"})
        assert out.loc[rows.index, "m"].tolist() == alone["m"].tolist()
        assert out.loc[rows.index, "sd"].tolist() == alone["sd"].tolist()


def test_a_group_without_spread_falls_back_to_default_and_nan_spreads_are_ignored():
    df = pd.DataFrame({"task": ["a", "a", "b", "b"], "m": [1.234567, 2.345678, 3.456789, 4.567891],
                       "sd": [np.nan, 0.5, np.nan, 0.0]})  # b: one trial (nan) and an exact value (0)
    out = round_to_spread(df, {"m": "sd"}, by="task", default=2)
    assert out["m"].tolist() == [1.23, 2.35, 3.46, 4.57]  # a from its one known sd (0.50 -> 2); b the default
    assert np.isnan(out["sd"].iloc[0]) and out["sd"].iloc[3] == 0.0
    assert round_to_spread(df, {"m": "sd"}, by="task")["m"].iloc[2] == 3.4568  # default's default: 4


def test_groups_sharing_their_decimals_keep_a_float_column():
    df = pd.DataFrame({"task": ["a", "b"], "m": [0.391253, 0.608964], "sd": [0.0137, 0.0213]})
    out = round_to_spread(df, {"m": "sd"}, by="task")
    assert out["m"].dtype == float and out["m"].tolist() == [0.391, 0.609]


def test_without_by_the_rule_stays_column_wide():
    out = round_to_spread(TABLE, {"m": "sd", "se": "se"})
    assert out["m"].tolist() == [38.861, 55.043, 91.235, 97.891]  # every row at the digits' 3 decimals
    assert out["se"].tolist() == [2.1234, 3.46, 0.0087, 0.0123]
    assert out["m"].dtype == float and out.equals(round_to_spread(TABLE, {"m": "sd", "se": "se"}, by=None))


def test_by_skips_missing_pairs_and_leaves_the_input_alone():
    before = TABLE.copy()
    out = round_to_spread(TABLE, {"m": "sd", "absent": "absent_sd"}, by="task")
    assert TABLE.equals(before)
    assert out.equals(round_to_spread(TABLE, {"m": "sd"}, by="task"))
