"""The shared verdict rule (`mae_study.report.claims`) on made-up numbers."""
import math

import numpy as np
import pytest

from mae_study.report.claims import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim, Difference, claims_frame,
                                     combined_se, deterministic_verdict, difference, standard_error,
                                     standard_error_from_sd, verdict, weakest)


def test_standard_error_of_a_mean_over_seeds():
    assert standard_error([1.0, 3.0]) == pytest.approx(np.std([1.0, 3.0], ddof=1) / math.sqrt(2))  # = 1
    assert standard_error([2.0, 2.0, 2.0]) == 0.0
    assert math.isnan(standard_error([5.0]))   # one seed: no spread to estimate
    assert math.isnan(standard_error([]))
    assert standard_error_from_sd(0.3, 9) == pytest.approx(0.1)
    assert math.isnan(standard_error_from_sd(None, 3)) and math.isnan(standard_error_from_sd(0.3, 1))


def test_combined_standard_error():
    assert combined_se(3.0, 4.0) == 5.0
    assert math.isnan(combined_se(3.0, math.nan))


def test_difference_is_higher_minus_lower():
    d = difference(higher=[10.0, 12.0], lower=[4.0, 6.0])
    assert d.value == 6.0                                   # 11 - 5: positive = the claimed direction
    assert d.se == pytest.approx(combined_se(standard_error([10, 12]), standard_error([4, 6])))  # sqrt(2)
    assert (-d).value == -6.0 and (-d).se == d.se          # the same comparison read the other way round
    flipped = difference(higher=[4.0, 6.0], lower=[10.0, 12.0])
    assert flipped.value == -d.value and flipped.se == d.se


def test_sign_needs_more_than_two_standard_errors():
    assert Difference(2.1, 1.0).sign == 1
    assert Difference(-2.1, 1.0).sign == -1
    assert Difference(2.0, 1.0).sign == 0        # exactly two SE is not enough
    assert Difference(0.0, 0.0).sign == 0        # an exact tie, even without any spread
    assert Difference(0.5, 0.0).sign == 1        # no spread at all: any difference counts
    assert Difference(100.0, math.nan).sign == 0  # SE undefined: no test


def test_one_seed_a_side_is_inconclusive_however_large_the_gap():
    d = difference(higher=[90.0], lower=[10.0])
    assert d.value == 80.0 and math.isnan(d.se)
    assert verdict([d]) == INCONCLUSIVE
    assert d.format() == "+80.0 (one trial: no test)"


def test_an_exact_tie_is_inconclusive():
    assert verdict([difference(higher=[1.0, 2.0, 3.0], lower=[1.0, 2.0, 3.0])]) == INCONCLUSIVE
    assert verdict([difference(higher=[5.0, 5.0], lower=[5.0, 5.0])]) == INCONCLUSIVE


def test_verdict_all_and_any():
    clear_for, clear_against, unclear = Difference(5, 1), Difference(-5, 1), Difference(1, 1)
    assert verdict([clear_for, clear_for]) == REPRODUCED
    assert verdict([clear_for, unclear]) == INCONCLUSIVE
    assert verdict([clear_for, clear_against]) == NOT_REPRODUCED   # one against is enough
    assert verdict([]) == INCONCLUSIVE                             # nothing compared
    assert verdict([clear_for, unclear], need="any") == REPRODUCED
    assert verdict([clear_for, clear_against], need="any") == NOT_REPRODUCED
    assert verdict([unclear], need="any") == INCONCLUSIVE
    with pytest.raises(ValueError, match="need must be"):
        verdict([clear_for], need="most")


def test_the_direction_decides_the_verdict():
    low, high = [1.0, 1.1, 0.9], [3.0, 3.1, 2.9]
    assert verdict([difference(higher=high, lower=low)]) == REPRODUCED
    assert verdict([difference(higher=low, lower=high)]) == NOT_REPRODUCED


def test_a_difference_of_differences_combines_their_errors():
    gap = Difference(3.0, 3.0) - Difference(1.0, 4.0)
    assert gap.value == 2.0 and gap.se == 5.0
    assert math.isnan((Difference(3.0, math.nan) - Difference(1.0, 4.0)).se)


def test_format():
    assert Difference(1.234, 0.456).format() == "+1.2 ± 0.5"
    assert Difference(-0.01234, 0.00456).format(4) == "-0.0123 ± 0.0046"


def test_deterministic_verdict():
    assert deterministic_verdict(True) == REPRODUCED and deterministic_verdict(False) == NOT_REPRODUCED


def test_weakest_is_the_least_favourable_comparison():
    a, b, c = Difference(5, 1), Difference(3, 1), Difference(10, 1)
    assert weakest([a, b, c]) == b
    assert weakest([Difference(5, math.nan), Difference(2, math.nan)]) == Difference(2, math.nan)
    assert weakest([]) is None


def test_claim_rows_and_their_table():
    diffs = [Difference(5, 1), Difference(3, 1)]
    claim = Claim.judged("A beats B and C", "Table 1", "A minus B: +5 ± 1; A minus C: +3 ± 1", diffs,
                         table="t", metric="fine-tune")
    assert claim.verdict == REPRODUCED and (claim.difference, claim.se) == (3, 1)
    empty = Claim.judged("nothing to compare", "Fig. 2", "not run", [])
    assert empty.verdict == INCONCLUSIVE and math.isnan(empty.difference)
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("c", "p", "m", "inconclusive (only one ratio)")
    frame = claims_frame([claim, empty], {"claim": "claim", "measured": "ours", "verdict": "verdict"})
    assert list(frame.columns) == ["claim", "ours", "verdict"]
    assert frame["verdict"].tolist() == [REPRODUCED, INCONCLUSIVE]
    assert list(claims_frame([claim]).columns) == ["claim", "paper", "measured", "verdict", "difference", "se",
                                                   "table", "metric"]
    with pytest.raises(ValueError, match="not fields of Claim"):
        claims_frame([claim], {"ours": "ours"})
