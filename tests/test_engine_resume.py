"""A DINO-like run (multi-crop views, an extra trainable head, EMA teachers, a loss with a centre
buffer) resumed from its checkpoint equals the uninterrupted run, bit for bit."""
import pytest
import torch
import torch.nn as nn
from toy_models import MultiViewNet, ToyDino

from mae_study.runs.results import RunDir
from mae_study.train.augment import MultiCrop
from mae_study.train.engine import TrainConfig, fit
from mae_study.train.hooks import CosineMomentum, EmaHook

EPOCHS = 3


def _train(data, run=None, stop_after_epoch=None, more_hooks=()):
    torch.manual_seed(0)
    model, head = MultiViewNet(), nn.Linear(8, 6)
    teacher = EmaHook(CosineMomentum(EPOCHS, start=0.9))
    teacher_head = EmaHook(CosineMomentum(EPOCHS, start=0.9), of="head")
    loss = ToyDino(teacher, teacher_head, 6)
    cfg = TrainConfig(num_epochs=EPOCHS, batch_size=16, lr=1e-2, warmup_epochs=1, clip_grad=3.0,
                      augment=MultiCrop(num_local=2, local_size=8, color_jitter=0.4), aug_seed=1, data_seed=2)
    result = fit(model, loss, data, cfg, run=run, progress=False, stop_after_epoch=stop_after_epoch,
                 hooks=[teacher, teacher_head, *more_hooks], extra_modules={"head": head})
    return {"model": model.state_dict(), "head": head.state_dict(), "center": loss.center.clone(),
            "teacher": teacher.module.state_dict(), "teacher_head": teacher_head.module.state_dict()}, result


def _flat(state):
    return torch.cat([t.flatten() for part in state.values()
                      for t in (part.values() if isinstance(part, dict) else [part])])


def test_resume_with_ema_teachers_extra_head_and_loss_state_equals_uninterrupted(tiny_images, results_dir):
    full, full_result = _train(tiny_images)
    run = RunDir("ci", "test_resume_dino", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)
    saved = torch.load(run.checkpoint, weights_only=False)
    assert {"model", "optimizer", "extra_modules", "hook0", "hook1", "loss"} <= set(saved)
    assert set(saved["loss"]) == {"center"} and saved["loss"]["center"].abs().sum() > 0
    resumed, resumed_result = _train(tiny_images, run=run)
    assert [s["loss"] for s in full_result["steps"]] == [s["loss"] for s in resumed_result["steps"]]
    assert torch.equal(_flat(full), _flat(resumed))


def test_the_teacher_lags_the_student(tiny_images):
    state, _ = _train(tiny_images)
    student, teacher = state["model"]["conv.weight"], state["teacher"]["conv.weight"]
    assert not torch.equal(student, teacher) and torch.allclose(student, teacher, atol=0.5)


def test_resume_with_other_hooks_or_modules_is_refused(tiny_images, results_dir):
    run = RunDir("ci", "test_resume_nohook", "r0")
    _train(tiny_images, run=run, stop_after_epoch=0)
    with pytest.raises(ValueError, match="no saved state for 'hook2'"):
        _train(tiny_images, run=run, more_hooks=[EmaHook(0.99)])
    torch.manual_seed(0)  # and a run without the hooks, head and centre the checkpoint has
    cfg = TrainConfig(num_epochs=EPOCHS, batch_size=16)
    with pytest.raises(ValueError, match="a saved state for 'extra_modules', which this run does not have"):
        fit(MultiViewNet(), lambda model, batch, ctx: (model(batch.imgs).sum(), {}), tiny_images, cfg, run=run,
            progress=False)
