"""Optimisers and learning-rate schedules: values at stage boundaries, groups, clear errors."""
import pytest
import torch
import torch.nn as nn
from timm.optim import param_groups_weight_decay

from mae_study import MAEClassifier, MaskedAutoencoder, mae_config
from mae_study.train.engine import TrainConfig, lr_at, make_optimizer
from mae_study.train.optim import set_lr


def _cfg(**kw):
    return TrainConfig(**{"num_epochs": 10, "batch_size": 1, "lr": 1.0, **kw})


def test_constant_and_step_schedules_after_warm_up():
    const = _cfg(lr_schedule="constant", warmup_epochs=2)
    assert [lr_at(const, p) for p in (0, 1, 2, 9.9)] == [0.0, 0.5, 1.0, 1.0]
    step = _cfg(lr_schedule="step", lr_milestones=(3, 6), lr_gamma=0.5, warmup_epochs=1)
    assert [lr_at(step, p) for p in (0.5, 1, 2.99, 3, 5.99, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_one_cycle_has_torch_one_cycle_shape():
    cfg = _cfg(lr_schedule="onecycle", onecycle_pct_start=0.25, onecycle_div_factor=10, onecycle_final_div_factor=100)
    assert lr_at(cfg, 0) == pytest.approx(0.1) and lr_at(cfg, 2.5) == pytest.approx(1.0)
    assert lr_at(cfg, 10) == pytest.approx(1e-3)
    total = 4001  # torch's OneCycleLR reaches its peak at step pct_start * total - 1 and its end at total - 1
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, pct_start=0.25, div_factor=10,
                                                final_div_factor=100, anneal_strategy="cos", cycle_momentum=False)
    torch_lrs = []
    for _ in range(total):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    for s in (0, 500, 1000, 2000, 3000, 4000):  # same curve up to the step of torch's phase boundaries
        assert lr_at(cfg, 10 * s / (total - 1)) == pytest.approx(torch_lrs[s], abs=2e-3)


def test_default_groups_are_timms_and_lr_scale_multiplies_the_head():
    torch.manual_seed(0)
    model = MAEClassifier(MaskedAutoencoder(mae_config("ci_16")).encoder, 4)
    opt = make_optimizer(model, _cfg())
    timm_groups = param_groups_weight_decay(model, 0.05, no_weight_decay_list=("cls_token", "mask_token", "pos_embed"))
    assert [[id(p) for p in g["params"]] for g in opt.param_groups] == \
        [[id(p) for p in g["params"]] for g in timm_groups]
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.95)
    scaled = make_optimizer(model, _cfg(lr_scale=(("head.", 10.0),)))
    set_lr(scaled, 0.01)
    head = {id(model.head.weight), id(model.head.bias)}
    for g in scaled.param_groups:
        in_head = {id(p) in head for p in g["params"]}
        assert len(in_head) == 1  # a group is all head or all backbone
        assert g["lr"] == pytest.approx(0.1 if in_head == {True} else 0.01)
    assert sum(len(g["params"]) for g in scaled.param_groups) == sum(len(g["params"]) for g in opt.param_groups)


def test_sgd_with_nesterov_momentum_and_extra_modules():
    model, head = nn.Linear(3, 3), nn.Linear(3, 2)
    opt = make_optimizer(model, _cfg(optimizer="sgd", momentum=0.8, nesterov=True, lr_scale=(("proj.", 2.0),)),
                         {"proj": head})
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.8 and opt.defaults["nesterov"]
    params = [p for g in opt.param_groups for p in g["params"]]
    assert len(params) == 4 and all(any(q is p for p in params) for q in head.parameters())
    assert {g["lr_scale"] for g in opt.param_groups if any(p is head.weight for p in g["params"])} == {2.0}


def test_a_model_without_trainable_parameters_is_a_clear_error():
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        make_optimizer(frozen, _cfg())


@pytest.mark.parametrize("kw, match", [({"optimizer": "adam"}, "optimizer must be one of"),
                                       ({"momentum": 1.0}, "momentum must be"),
                                       ({"nesterov": True}, "nesterov=True needs"),
                                       ({"optimizer": "sgd", "momentum": 0.0, "nesterov": True}, "nesterov=True needs"),
                                       ({"lr_schedule": "step"}, "needs lr_milestones"),
                                       ({"lr_schedule": "step", "lr_milestones": (5, 2)}, "needs lr_milestones"),
                                       ({"lr_gamma": 0.0}, "lr_gamma must be"),
                                       ({"lr_schedule": "onecycle", "warmup_epochs": 1}, "own warm-up"),
                                       ({"lr_schedule": "onecycle", "onecycle_pct_start": 1.0}, "onecycle_pct_start"),
                                       ({"lr_schedule": "onecycle", "onecycle_div_factor": 0.5}, "div_factor"),
                                       ({"lr_scale": (("head.",),)}, "lr_scale must be"),
                                       ({"augment": "flip"}, "augment must be"),
                                       ({"mixup": 0.8}, "mixup must be")])
def test_bad_optimiser_and_schedule_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        _cfg(**kw)


def test_weight_decay_schedule_is_dinos_cosine_and_spares_undecayed_groups(tiny_images, monkeypatch):
    from mae_study.train.engine import fit
    from mae_study.train.losses import MAELoss
    from mae_study.train.optim import set_weight_decay, weight_decay_at
    from mae_study.train.schedules import dynmask_stages
    cfg = _cfg(weight_decay=0.04, weight_decay_end=0.4)
    assert [round(weight_decay_at(cfg, p), 6) for p in (0, 5, 10, 12)] == [0.04, 0.22, 0.4, 0.4]
    assert weight_decay_at(_cfg(weight_decay=0.04), 7) == 0.04  # no end: constant
    opt = make_optimizer(MaskedAutoencoder(mae_config("ci_16")), _cfg(weight_decay=0.04))
    set_weight_decay(opt, 0.3)
    assert sorted({g["weight_decay"] for g in opt.param_groups}) == [0.0, 0.3]
    with pytest.raises(ValueError, match="weight_decay_end"):
        _cfg(weight_decay_end=-1.0)
    # in `fit`: the optimiser's decayed groups follow the schedule, step by step
    import mae_study.train.engine as engine
    torch.manual_seed(0)
    model = MaskedAutoencoder(mae_config("ci_16"))
    run_cfg = TrainConfig(num_epochs=2, batch_size=16, lr=1e-3, weight_decay=0.04, weight_decay_end=0.4)
    seen = []

    def spy(optimizer, wd):
        set_weight_decay(optimizer, wd)
        seen.append(max(g["weight_decay"] for g in optimizer.param_groups))

    monkeypatch.setattr(engine, "set_weight_decay", spy)
    fit(model, MAELoss(dynmask_stages(0.75, 2)), tiny_images, run_cfg, progress=False)
    assert seen[0] == pytest.approx(0.04) and seen == sorted(seen) and 0.3 < seen[-1] < 0.4
