"""Single- and Multi-Instance under two generator settings (`data.fractals.nuisance`): the full one is
Anderson & Farrell's (and the old defaults, so cached sets keep their keys), the reduced one drops the
noise background, narrows the window, drops the blur and pastes fewer, larger fractals, on the same
classes; the setting is a run parameter named where it is not the profile's; the nuisance arm is its
own variant, so no claim mixes it with the main arms, and its table pairs the two settings per seed."""
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from mae_study.chapters.synthetic import plan as synthetic
from mae_study.chapters.synthetic.nuisance_arm import nuisance_from
from mae_study.chapters.synthetic.pretrain import SYNTHETIC_PRETRAIN
from mae_study.chapters.synthetic.tables import variant
from mae_study.data.fractals import MultiInstanceConfig, SingleInstanceConfig, fractal_maker
from mae_study.data.fractals.fractaldb import FractalDBConfig
from mae_study.data.fractals.nuisance import describe, generator_config
from mae_study.runs.skeleton import auto_run_name


def test_full_is_the_original_setting_so_cached_sets_keep_their_keys():
    for name, default in (("fractal_single", SingleInstanceConfig(32)), ("fractal_multi", MultiInstanceConfig(32)),
                          ("fractaldb", FractalDBConfig(32))):
        assert asdict(generator_config(name, 32, "full")) == asdict(default)
    assert generator_config("fractaldb", 32, "reduced") == FractalDBConfig(32)  # nothing to reduce


def test_reduced_images_have_black_backgrounds_and_the_same_labels():
    idx = np.arange(24)
    full_x, full_y = fractal_maker("fractal_single", "train", 32, 3, 8)(idx)
    red_x, red_y = fractal_maker("fractal_single", "train", 32, 3, 8, nuisance="reduced")(idx)
    assert np.array_equal(full_y, red_y)
    black = lambda x: (x.max(axis=1) == 0).mean()  # noqa: E731 (share of pixels black in every channel)
    assert black(red_x) > 0.3 and black(full_x) < 0.01


def test_reduced_multi_instance_pastes_at_most_three_fractals_on_black():
    x, y = fractal_maker("fractal_multi", "train", 32, 0, 8, nuisance="reduced")(np.arange(64))
    positives = y.sum(1)
    assert positives.min() >= 1 and positives.max() <= 3
    full_y = fractal_maker("fractal_multi", "train", 32, 0, 8)(np.arange(64))[1]
    assert full_y.sum(1).max() > 3  # the full setting pastes up to five (classes may repeat)
    assert (x.max(axis=1) == 0).mean() > 0.2


def test_a_bad_nuisance_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="nuisance"):
        fractal_maker("fractal_single", "train", 32, 0, 4, nuisance="low")
    with pytest.raises(ValueError, match="nuisance must be one of"):
        SYNTHETIC_PRETRAIN.resolve("cpu", nuisance="low")
    with pytest.raises(ValueError, match="'fractaldb' has no nuisances"):
        SYNTHETIC_PRETRAIN.resolve("cpu", dataset="fractaldb", nuisance="full")


def test_the_setting_is_per_profile_and_named_where_it_is_not_the_main_one():
    assert SYNTHETIC_PRETRAIN.resolve("cpu")["nuisance"] == "reduced"
    assert SYNTHETIC_PRETRAIN.resolve("gpu")["nuisance"] == "full"
    assert SYNTHETIC_PRETRAIN.resolve("cpu", dataset="fractaldb")["nuisance"] is None
    assert auto_run_name(SYNTHETIC_PRETRAIN.resolve("cpu")) == "deit_single_s0"
    assert auto_run_name(SYNTHETIC_PRETRAIN.resolve("cpu", dataset="fractal_multi", nuisance="full")) == \
        "deit_multi_fullnuisance_s0"
    assert auto_run_name(SYNTHETIC_PRETRAIN.resolve("gpu", nuisance="reduced")) == "deit_single_reducednuisance_s0"
    assert variant("cpu", "deit", "base", 4, "full") == "full_nuisance"
    assert variant("cpu", "deit", "base", 4, "reduced") == "main"
    assert variant("gpu", "deit", "base", 4, "full") == "main"
    assert variant("cpu", "deit", "base", 4, None) == "main"  # FractalDB
    assert variant("cpu", "deit", "deit", 4, "full") == "other"  # two changes at once: no grid runs it


def test_the_cpu_plan_adds_one_trial_per_model_and_set_of_the_other_setting():
    arms = [a for a in synthetic.pretrain_arms("cpu") if "nuisance" in a]
    assert {(a["model"], a["dataset"], a["nuisance"], a["seed"]) for a in arms} == {
        (m, d, "full", 0) for m in ("deit", "resnet") for d in ("fractal_single", "fractal_multi")}
    assert not [a for a in synthetic.pretrain_arms("gpu") if "nuisance" in a]
    runs = {name for _, name, _, _ in synthetic.plan("cpu")}
    assert {"resnet_multi_fullnuisance_s0", "resnet_multi_fullnuisance_s0__builtin_ft0"} <= runs


def test_describe_reads_the_settings():
    assert "noise backgrounds" in describe("full") and "1-5 fractals" in describe("full")
    assert "black backgrounds" in describe("reduced") and "1-3 fractals" in describe("reduced")


def _pre(rows):
    cols = ["run", "model", "variant", "pretrain_set", "nuisance", "seed", "eval_top1", "eval_mAP"]
    return pd.DataFrame(rows, columns=cols)


def test_the_nuisance_table_pairs_both_settings_per_seed_and_leaves_out_other_runs():
    pre = _pre([["deit_single_s0", "deit", "main", "fractal_single", "reduced", 0, 60.0, np.nan],
                ["deit_single_s1", "deit", "main", "fractal_single", "reduced", 1, 58.0, np.nan],
                ["deit_single_fullnuisance_s0", "deit", "full_nuisance", "fractal_single", "full", 0, 5.0, np.nan],
                ["deit_fdb_s0", "deit", "main", "fractaldb", None, 0, 40.0, np.nan]])
    evals = pd.DataFrame({"downstream": "builtin", "model": "deit", "pretrain_set": "fractal_single",
                          "variant": ["main", "full_nuisance", "main"], "accuracy": [40.0, 30.0, 38.0],
                          "trial": ["deit_single_s0", "deit_single_fullnuisance_s0", "deit_single_s1"]})
    out = nuisance_from(pre, evals)
    assert list(out["nuisances"]) == ["full", "reduced (main)"]  # seed 0 only: the arm's seed
    assert list(out["pre-training (%)"]) == [5.0, 60.0] and list(out["builtin (%)"]) == [30.0, 40.0]
    assert nuisance_from(pre[pre["variant"] == "main"], evals).empty


def test_the_transfer_sentence_names_only_gaps_beyond_twice_the_spread():
    from mae_study.chapters.synthetic.nuisance_arm import transfer_sentence
    table = pd.DataFrame({"model": ["ResNet"] * 4, "pretrain_set": ["Single-Instance"] * 2 + ["Multi-Instance"] * 2,
                          "seed": 0, "nuisances": ["full", "reduced (main)"] * 2,
                          "pre-training (%)": [20.0, 95.0, 11.0, 35.0], "builtin (%)": [87.0, 77.0, 74.0, 76.0]})
    spread = pd.DataFrame({"downstream": "builtin", "model": "ResNet", "pretrain_set": ["Single-Instance",
                                                                                         "Multi-Instance"],
                           "sd": [3.0, 3.0]})
    text = transfer_sentence(table, spread)
    assert "Single-Instance fine-tunes 10.0 points higher with the full setting" in text
    assert "Multi-Instance fine-tunes" not in text  # lower with the full setting: not a reversal
    assert "No gap exceeds" in transfer_sentence(table.assign(**{"builtin (%)": [80.0, 77.0, 74.0, 76.0]}), spread)
    assert transfer_sentence(table.iloc[:0], spread) == ""
