"""The shared verdict rule (`mae_study.report.claims`) on made-up numbers."""
import math

import numpy as np
import pytest

from mae_study.report.claims import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, UNTESTABLE, Claim, Difference,
                                     claims_frame, combined_se, deterministic_verdict, difference, rung_failures,
                                     standard_error, standard_error_from_sd, verdict, weakest, welch_df)


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


def test_sign_needs_more_than_the_spread_of_student_t():
    # df = inf: the normal's 1.96 SE
    assert Difference(2.0, 1.0).sign == 1
    assert Difference(-2.0, 1.0).sign == -1
    assert Difference(1.9, 1.0).sign == 0
    # three seeds a side (df 4): 2.776 SE, not 2
    assert Difference(2.7, 1.0, 4).sign == 0 and Difference(2.8, 1.0, 4).sign == 1
    assert Difference(4.2, 1.0, 2).sign == 0 and Difference(4.4, 1.0, 2).sign == 1   # two seeds a side: 4.303
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
                                                   "table", "metric", "failed_rungs"]
    with pytest.raises(ValueError, match="not fields of Claim"):
        claims_frame([claim], {"ours": "ours"})


def test_difference_of_three_seeds_a_side_uses_welch_degrees_of_freedom():
    d = difference([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])   # equal variances: Welch df = 4
    assert d.df == pytest.approx(4.0) and d.spread == pytest.approx(2.7764451 * d.se, rel=1e-6)
    assert d.value == pytest.approx(1.0) and d.sign == 0     # 1.0 / 0.816 SE: no evidence
    unequal = difference([1.0, 1.1, 0.9], [0.0, 2.0, -2.0])  # the noisy side dominates: df near 2
    assert 2.0 <= unequal.df < 2.1
    assert (d - d).df == pytest.approx(welch_df(d.se, 4, d.se, 4))
    assert (-d).df == d.df


def test_rungs_pass_only_when_scratch_beats_pixels_and_arms_beat_a_baseline():
    scratch, probe = [0.38, 0.39, 0.40], 0.21
    assert rung_failures(probe, scratch, {"MAE": [0.53, 0.54, 0.55]}) == []
    # an arm far above the pixel probe but not above scratch still learned
    assert rung_failures(probe, scratch, {"static": [0.39, 0.40, 0.38]}) == []
    low = rung_failures(0.21, [0.17, 0.18, 0.16], {"dynamic": [0.20, 0.25, 0.30]})
    assert low[0] == "scratch (17.0 %) is not above the pixel probe (21.0 %)"
    assert low[1].startswith("dynamic (25.0 %) is not above scratch or the pixel probe")
    assert rung_failures(None, scratch, {}) == ["the pixel probe has not run"]
    assert rung_failures(probe, scratch, {"x": []}) == ["x has not run"]
    assert rung_failures(probe, scratch, {}, {"DINO teacher": "first-layer attention uniform", "MAE": None}) == [
        "DINO teacher: first-layer attention uniform"]
    # one run of an arm: its spread is unknown, so it cannot show that it learned
    assert len(rung_failures(probe, scratch, {"one seed": [0.30]})) == 1


def test_a_claim_on_a_failed_rung_is_untestable_whatever_its_difference():
    d = Difference(5.0, 0.1, 4)
    claim = Claim.judged("A beats B", "paper", "measured", [d], failures=["scratch (17.0 %) is not above ..."])
    assert claim.verdict == UNTESTABLE and claim.failed_rungs.startswith("scratch")
    assert Claim.judged("A beats B", "paper", "measured", [d]).verdict == REPRODUCED
    with pytest.raises(ValueError):
        Claim("c", "p", "m", UNTESTABLE)
    with pytest.raises(ValueError):
        Claim("c", "p", "m", REPRODUCED, failed_rungs="scratch failed")
