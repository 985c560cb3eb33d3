"""The synthetic pre-training chapter's runs: the profiles' models, Multi-Instance's multi-hot targets
and BCE, deterministic resumes, fine-tuning that loads every backbone weight, a ci chain written and
read back, bad input refused before compute, and the claims as a pure function of a table."""
import re

import numpy as np
import pandas as pd
import pytest
import torch

from mae_study.chapters.synthetic import plan as synthetic
from mae_study.chapters.synthetic.claims import claims_from
from mae_study.chapters.synthetic.finetune import (SYNTHETIC_FINETUNE, finetune_model, pretrained_source,
                                                      run_synthetic_finetune)
from mae_study.chapters.synthetic.pretrain import (SYNTHETIC_PRETRAIN, pretrain_data, pretrain_loss,
                                                      run_synthetic_pretrain)
from mae_study.chapters.synthetic.setting import model_spec
from mae_study.models import build_model
from mae_study.train.engine import epoch_generator
from mae_study.train.loaders import batches, load_batches
from mae_study.train.losses import MultiLabelLoss


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Generated sets go to a temporary cache (every test generates its own few images)."""
    monkeypatch.setenv("MAE_STUDY_CACHE", str(tmp_path / "cache"))


def _pretrain(**kw):
    return run_synthetic_pretrain(SYNTHETIC_PRETRAIN.resolve("ci", **kw), progress=False)


@pytest.mark.parametrize("model, low, high", [("deit", 0.3e6, 0.6e6), ("resnet", 0.2e6, 0.5e6)])
def test_cpu_profile_models_size_and_output(model, low, high):
    p = SYNTHETIC_PRETRAIN.resolve("cpu", model=model)
    net = build_model(model_spec(p, p["num_classes"]))
    assert low < sum(q.numel() for q in net.parameters()) < high  # both small, and alike in size
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, p["num_classes"])
    if model == "deit":
        assert net.patch_embed.num_patches == (32 // 4) ** 2  # patch 4 at 32 px: 64 tokens, as 224 / 16 gives 196


def test_small_stem_keeps_32_px_at_a_4x4_feature_map():
    p = SYNTHETIC_PRETRAIN.resolve("cpu", model="resnet")
    net = build_model(model_spec(p, 10)).eval()
    assert net.forward_features(torch.randn(1, 3, 32, 32)).shape[-2:] == (4, 4)  # the 7x7 stem would leave 1x1
    plain = build_model(model_spec({**p, "small_stem": False}, 10)).eval()
    assert plain.forward_features(torch.randn(1, 3, 32, 32)).shape[-2:] == (1, 1)


def test_multi_instance_targets_are_multi_hot_with_1_to_5_positives_and_the_loss_is_bce():
    p = SYNTHETIC_PRETRAIN.resolve("ci", dataset="fractal_multi", num_classes=8, num_images=64)
    data, held_out = pretrain_data(p)
    labels = torch.stack([torch.as_tensor(data.dataset_at(0)[i][1]) for i in range(64)])  # (64, 8)
    assert labels.dtype == torch.float32 and labels.shape == (64, 8) and set(labels.unique().tolist()) == {0.0, 1.0}
    positives = labels.sum(1)
    assert positives.min() >= 1 and positives.max() <= 5 and len(positives.unique()) > 1
    assert held_out.labels.shape[1] == 8
    loss = pretrain_loss(p)
    assert isinstance(loss, MultiLabelLoss) and loss.pos_weight == "per_image"  # BCE, pos_weight classes / positives
    assert p["loss"] == "bce" and SYNTHETIC_PRETRAIN.resolve("ci")["loss"] == "ce"


def test_the_same_seed_draws_the_same_batch_and_a_resumed_run_repeats_the_uninterrupted_one(results_dir, tmp_path):
    p = SYNTHETIC_PRETRAIN.resolve("ci", dataset="fractal_single", num_epochs=3)
    assert p["fresh_images"]  # new images every epoch: epoch 2's batch depends on (seed, epoch) only

    def batch(epoch):
        data, _ = pretrain_data(p)
        order = batches(data, p["batch_size"], epoch_generator(1000, epoch), drop_last=True)
        return next(load_batches(data, order, None, epoch_generator(1000, epoch), epoch))
    (i1, x1, y1), (i2, x2, y2) = batch(2), batch(2)
    assert torch.equal(i1, i2) and torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, batch(1)[1])
    run_synthetic_pretrain(p, progress=False, stop_after_epoch=0)  # interrupted after epoch 0 ...
    resumed = run_synthetic_pretrain(p, progress=False)              # ... and resumed
    whole = run_synthetic_pretrain(p, progress=False, root=tmp_path / "other")
    assert resumed.read("steps.csv")["loss"].tolist() == whole.read("steps.csv")["loss"].tolist()
    assert resumed.read("final.json")["eval_top1"] == whole.read("final.json")["eval_top1"]


@pytest.mark.parametrize("model", ["deit", "resnet"])
def test_finetuning_loads_every_backbone_weight_and_a_fresh_head(results_dir, model):
    run = _pretrain(model=model, dataset="fractal_multi")
    p = SYNTHETIC_FINETUNE.resolve("ci", pretrained=run.name, model=model)
    source_state = torch.load(run.file("model.pt"), weights_only=True)
    net, fresh = finetune_model(p, 10, pretrained_source(p))
    head = {"deit": {"head.weight", "head.bias"}, "resnet": {"fc.weight", "fc.bias"}}[model]
    assert set(fresh) == head
    for key, value in net.state_dict().items():
        if key in head:
            assert value.shape[0] == 10 and value.shape[0] != source_state[key].shape[0]  # 10 classes, not 4
        elif not key.endswith("num_batches_tracked"):
            assert torch.equal(value, source_state[key]), f"{key} left at initialisation"
    scratch, everything = finetune_model(p.replace(pretrained="scratch"), 10, None)
    assert everything == "all (from scratch)"
    assert not torch.equal(scratch.state_dict()[sorted(set(source_state) - head)[0]],
                           source_state[sorted(set(source_state) - head)[0]])


def test_a_ci_chain_writes_finished_runs_and_reads_them_back(results_dir, monkeypatch):
    pre = _pretrain(model="resnet")
    ft = run_synthetic_finetune(SYNTHETIC_FINETUNE.resolve("ci", pretrained=pre.name, model="resnet"), progress=False)
    scratch = run_synthetic_finetune(SYNTHETIC_FINETUNE.resolve("ci", pretrained="scratch", model="resnet"),
                                     progress=False)
    assert (pre.name, ft.name, scratch.name) == ("resnet_single_s0", "resnet_single_s0__digits_ft0",
                                                 "scratch_resnet__digits_ft0")
    for run in (pre, ft, scratch):
        assert run.is_finished() and not run.checkpoint.exists()
        assert {"config.json", "metrics.csv", "steps.csv", "provenance.json"} <= {f.name for f in run.path.iterdir()}
    final = pre.read("final.json")
    assert {"eval_top1", "generator_images_per_s", "train_images_per_s", "train_tflops"} <= set(final)
    assert "eval_top1" in pre.read("metrics.csv") and ft.read("config.json")["fresh_keys"] == ["fc.bias", "fc.weight"]
    monkeypatch.setattr("mae_study.chapters.synthetic.finetune.fit", None)  # reading back computes nothing
    monkeypatch.setattr("mae_study.chapters.synthetic.pretrain.fit", None)
    pre.file("model.pt").unlink()  # weights are not committed: a finished fine-tuning needs none
    again = run_synthetic_finetune(SYNTHETIC_FINETUNE.resolve("ci", pretrained=pre.name, model="resnet"), progress=False)
    assert again.read("final.json") == ft.read("final.json")
    assert _pretrain(model="resnet").read("final.json") == final


@pytest.mark.parametrize("kw, match", [
    ({"dataset": "fractal_mandelbrot"}, "dataset .*must be one of .*fractaldb"),
    ({"arch": "deit_smal_patch16_224"}, "unknown arch 'deit_smal_patch16_224'"),
    ({"patch_size": 5}, "patch_size 5 does not divide img_size 16"),
    ({"dataset": "fractal_multi", "loss": "ce"}, "loss='ce' cannot learn 'fractal_multi'.*multi-hot"),
    ({"model": "vit"}, "model must be one of"),
    ({"model": "resnet", "arch": "deit_tiny_patch16_224"}, "arch 'deit_tiny_patch16_224' is a vit model"),
    ({"recipe": "touvron"}, "recipe must be one of"),
    ({"data_source": "cache", "fresh_images": True}, "fresh_images=True needs data_source='stream'"),
])
def test_bad_pretraining_input_fails_at_resolve(kw, match):
    with pytest.raises(ValueError, match=match):
        SYNTHETIC_PRETRAIN.resolve("ci", **kw)


@pytest.mark.parametrize("kw, match", [
    ({"model": "deit"}, r"another architecture .*arch: run has 'resnet18', asked 'deit_tiny_patch16_224'"),
    ({"model": "resnet", "arch_kwargs": {"layers": [1, 1, 1, 1], "channels": [8, 16, 32, 64], "stem_width": 16}},
     "another architecture .*kwargs"),
])
def test_finetuning_a_run_of_another_architecture_is_refused_before_compute(results_dir, kw, match, monkeypatch):
    pre = _pretrain(model="resnet")
    monkeypatch.setattr("mae_study.runs.common.load_dataset", None)  # nothing may be loaded
    with pytest.raises(ValueError, match=match):
        run_synthetic_finetune(SYNTHETIC_FINETUNE.resolve("ci", pretrained=pre.name, **kw), progress=False)
    assert not (results_dir / "ci" / "synthetic_finetune").exists()


def test_bad_finetuning_input_fails_at_resolve():
    with pytest.raises(ValueError, match="downstream task"):
        SYNTHETIC_FINETUNE.resolve("ci", dataset="fractal_single")
    with pytest.raises(ValueError, match="patch_size 3 does not divide"):
        SYNTHETIC_FINETUNE.resolve("ci", patch_size=3)
    with pytest.raises(ValueError, match="num_train must be None"):
        SYNTHETIC_FINETUNE.resolve("ci", num_train=0)


@pytest.mark.parametrize("profile", list(synthetic.GRIDS))
def test_every_plan_resolves_with_readable_unique_names(profile):
    plan = synthetic.plan(profile)
    names = [(e, n) for e, n, _, _ in plan]
    assert len(names) == len(set(names))
    assert not [n for _, n in names if re.search(r"_p[0-9a-f]{8}$", n)]  # readable: no digest of other changes
    pre = {n for e, n, _, _ in plan if e == synthetic.PRETRAIN}
    assert all(p["pretrained"] in pre | {"scratch"} for e, _, p, _ in plan if e == synthetic.FINETUNE)
    assert len(pre) == len(synthetic.pretrain_arms(profile))


def _trials(effects: dict, seeds=(0, 1, 2), noise=0.2) -> pd.DataFrame:
    """A made-up fine-tuning table: accuracy = effect of (model, set, variant) + small seed noise."""
    rng = np.random.default_rng(0)
    rows = []
    for (model, pretrain_set, variant), effect in effects.items():
        for task in ("builtin", "digits"):
            for s in seeds:
                trial = f"scratch_s{s}" if pretrain_set == "scratch" else f"{model}_{pretrain_set}_{variant}_s{s}"
                rows.append({"downstream": task, "model": model, "variant": variant, "pretrain_set": pretrain_set,
                             "trial": trial, "ft_recipe": "anderson_farrell", "accuracy": effect + noise * rng.normal()})
    return pd.DataFrame(rows)


PROBES = {"builtin": 0.20, "digits": 0.30}  # the tasks' pixel probes: below every made-up scratch (35-45 %)


def test_claims_follow_a_made_up_table():
    as_the_paper = {("resnet", "fractaldb", "main"): 60, ("resnet", "fractal_single", "main"): 65,
                    ("resnet", "fractal_multi", "main"): 70, ("deit", "fractaldb", "main"): 50,
                    ("deit", "fractal_single", "main"): 58, ("deit", "fractal_multi", "main"): 55,
                    ("deit", "fractal_multi", "deit_recipe"): 62, ("deit", "fractal_multi", "large_patch"): 52,
                    ("deit", "scratch", "main"): 40, ("deit", "scratch", "large_patch"): 35,
                    ("resnet", "scratch", "main"): 45}
    verdicts = claims_from(_trials(as_the_paper), PROBES)["verdict"].tolist()
    assert verdicts == ["reproduced"] * 7  # the six (b): gain 17 with large patches vs 15
    against = {**as_the_paper, ("deit", "fractal_single", "main"): 45}  # DeiT: Single-Instance below FractalDB
    table = claims_from(_trials(against), PROBES).set_index("claim")["verdict"]
    assert table.filter(like="DeiT pre-trained on Single").item() == "not reproduced"
    assert table.filter(like="best synthetic set for DeiT").item() == "not reproduced"
    one_seed = claims_from(_trials(as_the_paper, seeds=(0,)), PROBES)
    assert set(one_seed["verdict"]) == {"untestable"}  # one trial an arm: it cannot show that it learned
    missing = claims_from(_trials({k: v for k, v in as_the_paper.items() if k[2] == "main"}), PROBES)
    assert missing.iloc[-2:]["evidence"].tolist() == ["not run at this profile"] * 2
    assert missing.iloc[-2:]["verdict"].tolist() == ["inconclusive"] * 2


def test_synthetic_claims_are_untestable_where_scratch_is_below_the_pixel_probe():
    effects = {("resnet", "fractaldb", "main"): 60, ("resnet", "fractal_single", "main"): 65,
               ("resnet", "fractal_multi", "main"): 70, ("resnet", "scratch", "main"): 45}
    table = claims_from(_trials(effects), {"builtin": 0.50, "digits": 0.30}).set_index("claim")
    row = table.filter(like="ResNet pre-trained on Single", axis=0).iloc[0]
    assert row["verdict"] == "untestable"
    assert row["untestable because"].startswith("ResNet, builtin: scratch (45.")
    assert "is not above the pixel probe (50.0 %)" in row["untestable because"]


def test_missing_pretrained_weights_are_recomputed_with_a_line_saying_so(results_dir, capsys):
    pre = _pretrain(model="deit", dataset="fractaldb")
    weights = torch.load(pre.file("model.pt"), weights_only=True)
    pre.file("model.pt").unlink()  # as on a fresh clone: results committed, weights not
    run_synthetic_finetune(SYNTHETIC_FINETUNE.resolve("ci", pretrained=pre.name), progress=False)
    assert "Recomputing the weights of ci/synthetic_pretrain/deit_fdb_s0" in capsys.readouterr().out
    again = torch.load(pre.file("model.pt"), weights_only=True)
    assert all(torch.allclose(again[k], v, atol=1e-5) for k, v in weights.items())


def test_a_natural_labelled_set_can_be_the_pretraining_set(results_dir):
    run = _pretrain(dataset="digits", num_images=64, num_eval=32)  # the path ImageNet takes where present
    assert run.name == "deit_digits_s0" and run.read("config.json")["data"]["num_classes"] == 10
    assert "generator_images_per_s" not in run.read("final.json")  # nothing generated
