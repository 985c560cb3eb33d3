"""The synthetic chapter on the base recipe: the main recipe per profile and the named recipe arm,
the fine-tuning task sizes, one set of fractal systems per trial, fractals drawn large and
area-averaged down, the pre-trainings' health gating the verdicts, and the base MAE row."""
import numpy as np
import pandas as pd
import pytest

from mae_study.chapters.synthetic import plan as synthetic
from mae_study.chapters.synthetic.claims import claims_from, pretrain_failures
from mae_study.chapters.synthetic.finetune import SYNTHETIC_FINETUNE
from mae_study.chapters.synthetic.mae_row import ARMS, gain_from
from mae_study.chapters.synthetic.pretrain import SYNTHETIC_PRETRAIN
from mae_study.chapters.synthetic.setting import train_config
from mae_study.chapters.synthetic.tables import HEALTH_MIN, health_from, variant
from mae_study.data.fractals import fractal_maker, fractal_stream
from mae_study.data.fractals.dataset import Downsampled
from mae_study.runs import base
from mae_study.runs.skeleton import auto_run_name

from test_synthetic_runs import PROBES, _trials


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_STUDY_CACHE", str(tmp_path / "cache"))


def test_the_main_recipe_is_the_base_one_except_at_paper_and_other_recipes_are_named():
    cpu, paper = SYNTHETIC_PRETRAIN.resolve("cpu"), SYNTHETIC_PRETRAIN.resolve("paper")
    assert (cpu["recipe"], paper["recipe"]) == ("base", "anderson_farrell")
    assert auto_run_name(cpu) == "deit_single_s0" and auto_run_name(paper) == "deit_single_s0"
    assert auto_run_name(SYNTHETIC_PRETRAIN.resolve("paper", recipe="base")) == "deit_single_baserecipe_s0"
    af = SYNTHETIC_FINETUNE.resolve("cpu", pretrained="scratch", recipe="anderson_farrell")
    assert auto_run_name(af) == "scratch_deit__builtin_afrecipe_ft0"
    assert auto_run_name(SYNTHETIC_FINETUNE.resolve("paper", pretrained="scratch")) == "scratch_deit__cifar10_ft0"
    with pytest.raises(ValueError, match="recipe must be one of"):
        SYNTHETIC_PRETRAIN.resolve("cpu", recipe="sgd")


def test_the_base_recipe_warms_up_clips_and_flips_only_when_fine_tuning():
    pre = train_config(SYNTHETIC_PRETRAIN.resolve("cpu"), "pretrain", "cpu", multi_hot=False)
    ft = train_config(SYNTHETIC_FINETUNE.resolve("cpu"), "finetune", "cpu", multi_hot=False, head=("head",))
    for cfg in (pre, ft):
        assert (cfg.optimizer, cfg.lr_schedule, cfg.warmup_epochs, cfg.clip_grad, cfg.lr) == \
            ("adamw", "cosine", 1.0, 1.0, 1e-3)
        assert cfg.lr_scale == () and cfg.mixup is None  # no 10x head lr, no Mixup
    assert pre.augmentation is None and ft.augmentation.kind == "flip"


def test_fine_tuning_sizes_per_task_and_an_explicit_size_wins():
    assert [(p["num_train"], p["num_test"], p["num_epochs"], p["batch_size"]) for p in (
        SYNTHETIC_FINETUNE.resolve("cpu"), SYNTHETIC_FINETUNE.resolve("cpu", dataset="digits"))] == \
        [(2000, 2000, 30, 50), (150, None, 30, 50)]
    assert SYNTHETIC_FINETUNE.resolve("cpu", dataset="digits", num_train=300)["num_train"] == 300
    assert SYNTHETIC_FINETUNE.resolve("paper")["num_train"] is None  # CIFAR's own split


def test_each_trial_draws_its_own_fractal_systems():
    p0, p1 = (SYNTHETIC_PRETRAIN.resolve("ci", seed=s) for s in (0, 1))
    assert (p0["data_seed"], p1["data_seed"]) == (0, 1)
    assert SYNTHETIC_PRETRAIN.resolve("ci", seed=1, data_seed=5)["data_seed"] == 5
    a, b = (fractal_maker("fractal_single", "train", 16, p["data_seed"], 4)(np.arange(8))[0] for p in (p0, p1))
    assert not np.array_equal(a, b)


def test_downsampled_is_the_area_mean_of_the_large_rendering():
    big = fractal_maker("fractal_single", "train", 32, 0, 4)
    images, labels = big(np.arange(6))
    small, small_labels = Downsampled(big, 2)(np.arange(6))
    expected = images.reshape(6, 3, 16, 2, 16, 2).astype(float).mean(axis=(3, 5))
    assert small.shape == (6, 3, 16, 16) and small.dtype == np.uint8
    assert np.abs(small - expected).max() <= 0.5 and np.array_equal(labels, small_labels)
    streamed = fractal_stream("fractal_single", 16, 0, 6, 4, render_size=32)
    assert np.array_equal(np.stack([x.numpy() for x, _ in streamed.__getitems__(list(range(6)))]), small)
    with pytest.raises(ValueError, match="factor"):
        Downsampled(big, 1)


@pytest.mark.parametrize("kw", [{"render_size": 40}, {"render_size": 16}, {"render_size": "96"}])
def test_a_render_size_that_is_not_a_multiple_of_the_image_size_fails_at_resolve(kw):
    with pytest.raises(ValueError, match="render_size"):
        SYNTHETIC_PRETRAIN.resolve("ci", **kw)


def test_variant_names_each_arm_of_the_grid():
    assert variant("cpu", "deit", "base", 4) == "main"
    assert variant("cpu", "deit", "anderson_farrell", 4) == "af_recipe"
    assert variant("paper", "deit", "anderson_farrell", 16) == "main"
    assert variant("cpu", "deit", "deit", 4) == "deit_recipe"
    assert variant("cpu", "deit", "base", 8) == "large_patch"
    assert variant("cpu", "deit", "deit", 8) == "other"


def _health(rows):
    pre = pd.DataFrame(rows, columns=["run", "model", "variant", "pretrain_set", "eval_top1", "eval_mAP"])
    return health_from(pre)


def test_health_reads_map_on_multi_instance_and_top1_elsewhere():
    h = _health([("a", "deit", "main", "fractal_single", 60.0, np.nan),
                 ("b", "deit", "main", "fractal_multi", 90.0, 40.0),
                 ("c", "resnet", "main", "fractaldb", 20.0, np.nan)]).set_index("run")
    assert h["healthy"].tolist() == [True, False, False]
    assert h.loc["b", "why"] == f"held-out mAP 40.0 % < {HEALTH_MIN:g} %"
    assert pretrain_failures(h.reset_index(), "resnet", "fractaldb", "main") == {
        "c pre-training": f"held-out top-1 20.0 % < {HEALTH_MIN:g} %"}


def test_a_claim_on_an_unhealthy_pretraining_is_untestable_and_names_it():
    effects = {("resnet", "fractaldb", "main"): 60, ("resnet", "fractal_single", "main"): 65,
               ("resnet", "fractal_multi", "main"): 70, ("resnet", "scratch", "main"): 45}
    healthy = _health([(f"resnet_{s}_s0", "resnet", "main", s, 80.0, 80.0)
                       for s in ("fractaldb", "fractal_single", "fractal_multi")])
    sick = _health([("resnet_fdb_s0", "resnet", "main", "fractaldb", 10.0, np.nan)])
    claim = "ResNet pre-trained on Single"
    ok = claims_from(_trials(effects), PROBES, healthy).set_index("claim").filter(like=claim, axis=0).iloc[0]
    bad = claims_from(_trials(effects), PROBES, sick).set_index("claim").filter(like=claim, axis=0).iloc[0]
    assert ok["verdict"] == "reproduced"
    assert bad["verdict"] == "untestable" and "resnet_fdb_s0 pre-training: held-out top-1 10.0 %" in \
        bad["untestable because"]


def test_gain_over_its_own_scratch_per_model():
    trials = pd.DataFrame({
        "downstream": ["builtin"] * 6, "model": ["deit"] * 3 + ["mae_vit"] * 3,
        "pretrain_set": ["scratch", "scratch", "fractaldb", ARMS[1], ARMS[0], ARMS[0]],
        "accuracy": [30.0, 40.0, 38.0, 37.0, 55.0, 53.0]})
    g = gain_from(trials).set_index("model")
    assert g.loc["deit", "gain"] == pytest.approx(3.0) and g.loc["deit", "runs"] == 1
    assert g.loc["mae_vit", "gain"] == pytest.approx(17.0) and g.loc["mae_vit", "gain_sd"] == pytest.approx(2 ** 0.5)


def test_the_cpu_plan_has_the_recipe_arm_and_the_base_mae_runs_and_ci_has_neither():
    cpu = synthetic.plan("cpu")
    names = {n for _, n, _, _ in cpu}
    assert {f"scratch_{m}__builtin_afrecipe_ft{s}" for m in ("deit", "resnet") for s in (0, 1)} <= names
    assert not any("afrecipe" in n and "digits" in n for n in names)
    shared = [(e, n) for e, n, _, _ in cpu if e in (base.PRETRAIN, base.FINETUNE)]
    assert (base.PRETRAIN, auto_run_name(base.base_pretrain("cpu", 1))) in shared
    assert len(shared) == 6  # 2 pre-trainings, each fine-tuned, and 2 ViTs from scratch
    assert not [e for e, _, _, _ in synthetic.plan("ci") if e in (base.PRETRAIN, base.FINETUNE)]


def test_claims_judge_only_the_given_tasks_so_a_shown_task_cannot_veto_them():
    effects = {("resnet", "fractaldb", "main"): 60, ("resnet", "fractal_single", "main"): 65,
               ("resnet", "fractal_multi", "main"): 70, ("resnet", "scratch", "main"): 45}
    probes = {"builtin": 0.20, "digits": 0.90}  # digits: scratch (45 %) below its probe, a failed rung
    claim = "ResNet pre-trained on Single"
    every = claims_from(_trials(effects), probes).set_index("claim").filter(like=claim, axis=0).iloc[0]
    judged = claims_from(_trials(effects), probes, tasks=("builtin",)).set_index("claim").filter(like=claim, axis=0)
    assert every["verdict"] == "untestable" and "digits" in every["untestable because"]
    assert judged.iloc[0]["verdict"] == "reproduced" and "digits" not in judged.iloc[0]["evidence"]
    assert synthetic.GRIDS["cpu"].judged_tasks == ("builtin",) and synthetic.GRIDS["gpu"].judged_tasks == (
        "builtin", "digits")
