import pytest

from mae_study.train.schedules import (ConstantSchedule, CosineSchedule, LinearSchedule, StageSchedule,
                                 dynmask_stages, schedule_from_dict, schedule_to_dict)


def test_dynmask_stage_boundaries():
    s = dynmask_stages(0.85, 100)
    assert s(0) == 0.25 and s(19.99) == 0.25
    assert s(20) == 0.45 and s(39.5) == 0.45
    assert s(40) == 0.65 and s(60) == 0.75 and s(80) == 0.85 and s(99.9) == 0.85


def test_dynmask_scales_with_epochs_and_matches_table3():
    import pandas as pd
    from mae_study.paths import reference_root
    table = pd.read_csv(reference_root() / "dynmask_table3_schedules.csv")
    for _, row in table.iterrows():
        s = dynmask_stages(row.final_mask_ratio, 10)
        assert [r for _, r in s.stages] == pytest.approx(list(row.iloc[1:]))
        assert [e for e, _ in s.stages] == pytest.approx([0, 2, 4, 6, 8])


def test_linear_and_cosine_endpoints():
    lin, cos = LinearSchedule(0.2, 0.8, 10), CosineSchedule(0.2, 0.8, 10)
    assert lin(0) == pytest.approx(0.2) and lin(5) == pytest.approx(0.5) and lin(20) == pytest.approx(0.8)
    assert cos(0) == pytest.approx(0.2) and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(0.8)


@pytest.mark.parametrize("bad", [
    [(0, 0.2), (0, 0.4)],            # not increasing
    [(0, 0.2), (20, 0.4), (10, 0.5)],
    [(5, 0.2)],                      # does not start at 0
    [(0, 1.0)],                      # ratio out of range
    [0.2, 0.4],                      # not pairs
    "0.75",
    [],
])
def test_bad_stage_lists_rejected(bad):
    with pytest.raises(ValueError, match="schedule must be|mask ratio"):
        StageSchedule(bad)


def test_schedule_dict_roundtrip():
    for s in (ConstantSchedule(0.75), dynmask_stages(0.9, 50), LinearSchedule(0.1, 0.9, 3), CosineSchedule(0.5, 0.6, 2)):
        assert schedule_from_dict(schedule_to_dict(s)) == s
