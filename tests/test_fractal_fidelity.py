"""The synthetic generators' details against Anderson & Farrell's code (``style="original"``), and
the built-in setting's details kept as they were (``style="study"``)."""
from __future__ import annotations

import numpy as np
import pytest

from mae_study.data.fractals import fidelity
from mae_study.data.fractals.background import background_params, diamond_square, original_hue, render_backgrounds
from mae_study.data.fractals.ifs import jitter_system, sample_sigma_system, sample_singular_values_original
from mae_study.data.fractals.loaders import fractal_maker
from mae_study.data.fractals.multi_instance import MultiInstanceConfig
from mae_study.data.fractals.render import render_counts
from mae_study.data.fractals.seeding import make_rng
from mae_study.data.fractals.single_instance import SingleInstanceConfig, draw_fractals, sample_systems


def test_original_backgrounds_are_light_and_varied_as_the_originals():
    # the original code's figures: median value 0.72, pixel std 0.128, none darker than 0.3
    original, study = fidelity.background_stats("original", 300, 32), fidelity.background_stats("study", 300, 32)
    assert 0.67 < original["median brightness (HSV value)"] < 0.77
    assert 0.11 < original["median pixel std"] < 0.15
    assert original["share darker than 0.3"] == 0.0
    assert study["median brightness (HSV value)"] < 0.6 and study["share darker than 0.3"] > 0.1  # the built-in's


def test_original_background_colours_follow_the_raw_noise_within_the_original_ranges():
    params = background_params(np.array([[0.0] * 7, [1.0] * 7]), "original")[1]
    assert np.allclose(params[0], [0.25, 0.0, 0.1, 0.4, 0.3, 0.4]) and np.allclose(params[1], [1, 1, 0.3, 0.6, 0.6, 0.6])
    # hue: 255 (x scale + shift) as a uint8 (mod 256), read as OpenCV half-degrees
    assert original_hue(0.5, 1.0, 0.0) == pytest.approx(127 / 180)
    assert original_hue(1.0, 1.0, 0.5) == pytest.approx((382 % 256) / 180)
    # a flat value range: saturation and value are the shifts plus the scaled noise, clipped to 1
    rgb = render_backgrounds(np.array([5], dtype=np.uint64), np.array([0.6]),
                             np.array([[0.25, 0.3, 0.0, 0.5, 0.0, 0.55]]), 16, "original")[0]
    assert np.allclose(rgb.max(-1), 0.55, atol=1e-6)  # value = 0 * x + 0.55 everywhere
    with pytest.raises(ValueError, match="style"):
        background_params(np.zeros((1, 7)), "faithful")


def test_square_step_wraps_around_the_edges_in_the_original_style():
    # a 3 x 3 grid has one level: corners, the centre, then four edge midpoints from the same draws;
    # wrapped, an edge midpoint averages the centre twice (its outside neighbour is the centre)
    wrapped, inside = diamond_square(np.uint64(9), 3, 0.5, True), diamond_square(np.uint64(9), 3, 0.5, False)
    assert np.array_equal(wrapped[[0, 0, 2, 2, 1], [0, 2, 0, 2, 1]], inside[[0, 0, 2, 2, 1], [0, 2, 0, 2, 1]])
    c, a, b = inside[1, 1], inside[0, 0], inside[0, 2]
    assert wrapped[0, 1] - inside[0, 1] == pytest.approx((2 * c + a + b) / 4 - (c + a + b) / 3)


@pytest.mark.parametrize("num_maps", [2, 3, 4])
def test_original_singular_values_meet_the_sigma_constraints(num_maps):
    rng = np.random.default_rng(num_maps)
    for _ in range(200):
        alpha = rng.uniform((5 + num_maps) / 2, (6 + num_maps) / 2)
        svs = sample_singular_values_original(rng, num_maps, alpha)
        assert np.all(svs >= -1e-12) and np.all(svs[:, 0] <= 1 + 1e-12) and np.all(svs[:, 1] <= svs[:, 0] + 1e-12)
        assert (svs[:, 0] + 2 * svs[:, 1]).sum() == pytest.approx(alpha)


def test_the_two_singular_value_schemes_differ_as_measured_on_the_original():
    # the original code: median of the per-system sum of s1 at N = 2 is 1.51; the study's scheme 1.60
    original, study = fidelity.sigma_s1_sums("original", count=600), fidelity.sigma_s1_sums("study", count=600)
    assert abs(np.median(original) - 1.51) < 0.04 and abs(np.median(study) - 1.60) < 0.04
    assert fidelity.ks_distance(original, study) > 0.1
    assert fidelity.ks_distance(original, original) == 0.0


def test_original_jitter_scales_one_whole_map_by_one_factor():
    for k in range(50):
        rng = make_rng(3, k)
        system = sample_sigma_system(rng, style="original")
        jittered = jitter_system(system, rng, style="original")
        ratio = jittered[:, :6] / system[:, :6]
        changed = ~np.isclose(ratio, 1.0).all(axis=1)
        assert changed.sum() <= 1  # one map (none when all four tries broke contractivity)
        if changed.any():
            row = ratio[changed][0]
            assert np.allclose(row, row[0]) and 0.8 <= row[0] <= 1.1  # one factor: the map keeps its shape
    # the study style (the built-in's) gives each of the six parameters its own factor
    rng = make_rng(3, 0)
    system = sample_sigma_system(rng)
    ratio = jitter_system(system, rng)[:, :6] / system[:, :6]
    moved = ratio[~np.isclose(ratio, 1.0).all(axis=1)]
    assert len(moved) == 1 and np.ptp(moved[0]) > 0.01


def _pixels(x: float, style: str) -> set:
    # the pixels one point (x, 0.5) lights at size 8: the box is fixed to [0, 1]^2 by two corner
    # points, the window is its middle half ([0.25, 0.75]^2, scale 0.5), the patch its centre cell
    cloud = np.array([[[0.0, 0.0], [1.0, 1.0], [x, 0.5]]], dtype=np.float32)
    centre = np.zeros((1, 9), dtype=np.float32)
    centre[0, 4] = 1.0
    img = render_counts(cloud, np.full((1, 2), 0.5), np.zeros((1, 2)), centre, 8, style)[0]
    return {tuple(int(v) for v in p) for p in np.argwhere(img > 0)}


def test_original_binning_spans_size_minus_one_pixel_widths():
    # original: column int((x - 0.25) * 7 / 0.5), kept for -1 < that < 8; study: (x - 0.25) * 16,
    # kept inside the window only
    assert _pixels(0.5, "original") == {(3, 3)} and _pixels(0.5, "study") == {(4, 4)}
    assert _pixels(0.2, "original") == {(3, 0)} and _pixels(0.2, "study") == set()  # within a pixel left
    assert _pixels(0.15, "original") == set()  # more than a pixel left of the window
    assert _pixels(0.78, "original") == {(3, 7)} and _pixels(0.78, "study") == set()  # within a pixel right


def test_multi_instance_cache_is_unjittered_and_single_instance_is_jittered():
    assert MultiInstanceConfig().cache_jitter is False
    systems = sample_systems(3, seed=1)
    rngs = [make_rng(1, k) for k in range(3)]
    kept = draw_fractals(rngs, systems, SingleInstanceConfig(), jitter=False).systems
    assert all(a is b for a, b in zip(kept, systems))
    moved = draw_fractals([make_rng(1, k) for k in range(3)], systems, SingleInstanceConfig()).systems
    assert any(not np.array_equal(a, b) for a, b in zip(moved, systems))


def test_synthetic_sets_use_the_original_style_and_the_builtin_the_study_style():
    from mae_study.data.builtin import BuiltinConfig
    assert SingleInstanceConfig().style == "original" and BuiltinConfig().fractal.style == "study"
    make = fractal_maker("fractal_single", "train", 16, seed=2, num_classes=3)
    assert all(np.array_equal(a, b) for a, b in zip(make.systems, sample_systems(3, 2, "original")))
    assert not np.array_equal(sample_systems(3, 2, "original")[1], sample_systems(3, 2, "study")[1])
    with pytest.raises(ValueError, match="style"):
        SingleInstanceConfig(style="exact")


def test_fidelity_table_has_every_reference_row_and_a_value_for_both_styles():
    table = fidelity.fidelity_table()
    assert len(table) == len(fidelity.reference())
    assert (table["ours, original style"] != "").all() and (table["ours, study style (built-in)"] != "").all()
