import os

import pytest
import torch

from mae_study import MaskedAutoencoder, mae_config
from mae_study.runs.results import RunDir, load_runs, write_json
from mae_study.train.engine import NonFiniteLossError, TrainConfig, fit, lr_at
from mae_study.train.losses import MAELoss
from mae_study.train.schedules import dynmask_stages


def _train(data, run=None, stop_after_epoch=None, seed=0, epochs=3):
    torch.manual_seed(seed)
    model = MaskedAutoencoder(mae_config("ci_16"))
    cfg = TrainConfig(num_epochs=epochs, batch_size=16, lr=1e-3, warmup_epochs=1, data_seed=seed,
                      aug_seed=seed, mask_seed=seed)
    result = fit(model, MAELoss(dynmask_stages(0.75, epochs)), data, cfg, run=run, progress=False,
                 stop_after_epoch=stop_after_epoch)
    return model, result


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values()])


def test_deterministic_for_a_seed_and_different_across_seeds(tiny_images):
    a, _ = _train(tiny_images, seed=0)
    b, _ = _train(tiny_images, seed=0)
    c, _ = _train(tiny_images, seed=1)
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(c))


def test_resume_equals_uninterrupted_bitwise(tiny_images, results_dir):
    full, full_result = _train(tiny_images)
    run = RunDir("ci", "test_resume", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)           # "interrupted" after epoch 0
    assert run.checkpoint.exists() and not run.is_finished()
    resumed, resumed_result = _train(tiny_images, run=run)     # picks up at epoch 1
    assert torch.equal(_weights(full), _weights(resumed))
    assert [s["loss"] for s in full_result["steps"]] == [s["loss"] for s in resumed_result["steps"]]
    assert len(run.read("steps.csv")) == len(full_result["steps"])


def test_mask_ratio_recorded_every_step(tiny_images):
    _, result = _train(tiny_images, epochs=5)
    ratios = [s["mask_ratio"] for s in result["steps"]]
    assert len(ratios) == 5 * 3
    assert ratios[:3] == [0.25] * 3 and ratios[-3:] == [0.75] * 3


def test_non_finite_loss_stops_with_clear_message_and_keeps_checkpoint(tiny_images, results_dir):
    run = RunDir("ci", "test_nan", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)
    before = run.checkpoint.read_bytes()

    def nan_loss(model, batch, ctx):
        return model(batch.imgs, 0.5, generator=ctx.generator).loss * float("nan"), {}
    model = MaskedAutoencoder(mae_config("ci_16"))
    cfg = TrainConfig(num_epochs=3, batch_size=16, lr=1e-3, warmup_epochs=1)  # as the run it resumes
    with pytest.raises(NonFiniteLossError, match="loss became nan at epoch 1"):
        fit(model, nan_loss, tiny_images, cfg, run=run, progress=False)
    assert run.checkpoint.read_bytes() == before


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "final.json"
    write_json(target, {"accuracy": 0.5})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_json(target, {"accuracy": 0.9})
    monkeypatch.undo()
    assert target.read_text().strip().endswith("}") and '"accuracy": 0.5' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["final.json"]  # no temp file left behind


def test_unfinished_runs_are_not_aggregated(tiny_images, results_dir):
    run = RunDir("ci", "test_agg", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)
    assert load_runs("test_agg", "ci").empty
    run.write_config({"x": 1})
    run.finish({"loss": 1.0}, {"wall_time_s": 1.0})
    df = load_runs("test_agg", "ci")
    assert list(df["final.loss"]) == [1.0] and list(df["config.x"]) == [1]


def test_lr_warmup_then_cosine():
    cfg = TrainConfig(num_epochs=10, batch_size=1, lr=1.0, warmup_epochs=2, min_lr=0.0)
    assert lr_at(cfg, 0) == 0 and lr_at(cfg, 1) == pytest.approx(0.5) and lr_at(cfg, 2) == pytest.approx(1.0)
    assert lr_at(cfg, 6) == pytest.approx(0.5) and lr_at(cfg, 10) == pytest.approx(0.0)


@pytest.mark.parametrize("kw, match", [({"num_epochs": 0}, "num_epochs"), ({"batch_size": -1}, "batch_size"),
                                       ({"lr": 0}, "lr must be"), ({"lr_schedule": "linear"}, "lr_schedule must be"),
                                       ({"min_lr": 2e-3}, "min_lr must be in"),
                                       ({"warmup_epochs": -2}, "warmup_epochs must be >= 0"),
                                       ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
                                       ({"betas": (2.0, 0.9)}, "betas must be"),
                                       ({"clip_grad": 0}, "clip_grad must be None"),
                                       ({"clip_grad": -1.0}, "clip_grad must be None"),
                                       ({"eval_every": 0}, "eval_every must be")])
def test_bad_train_config(kw, match):
    base = {"num_epochs": 1, "batch_size": 1}
    base.update(kw)
    with pytest.raises(ValueError, match=match):
        TrainConfig(**base)


def test_resume_with_other_settings_is_refused(tiny_images, results_dir):
    run = RunDir("ci", "test_resume_cfg", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)
    torch.manual_seed(0)
    cfg = TrainConfig(num_epochs=3, batch_size=16, lr=5e-4, warmup_epochs=1)  # lr and seeds differ
    with pytest.raises(ValueError, match=r"cannot resume .*\(lr: 0.001 -> 0.0005\)"):
        fit(MaskedAutoencoder(mae_config("ci_16")), MAELoss(dynmask_stages(0.75, 3)), tiny_images, cfg, run=run,
            progress=False)


def test_fewer_images_than_a_batch_is_a_clear_error(tiny_images):
    cfg = TrainConfig(num_epochs=1, batch_size=64)
    with pytest.raises(ValueError, match="48 images, fewer than batch_size=64"):
        fit(MaskedAutoencoder(mae_config("ci_16")), MAELoss(dynmask_stages(0.75, 1)), tiny_images, cfg,
            progress=False)


def test_the_loss_gets_a_batch_of_views_and_hflip_false_leaves_images_alone(tiny_images):
    seen = []

    def record(model, batch, ctx):
        seen.append(batch)
        return model(batch.imgs).loss, {}
    cfg = TrainConfig(num_epochs=1, batch_size=16, hflip=False, data_seed=3)
    fit(MaskedAutoencoder(mae_config("ci_16")), record, tiny_images, cfg, progress=False)
    order = torch.randperm(48, generator=torch.Generator().manual_seed(3 * 1_000_003))
    for i, batch in enumerate(seen):
        idx = order[16 * i:16 * (i + 1)]
        assert torch.equal(batch.indices, idx) and batch.target_kind == "class" and len(batch.views) == 1
        assert torch.equal(batch.imgs, tiny_images.normalize(tiny_images.images[idx]))
        assert torch.equal(batch.labels, tiny_images.labels[idx])
