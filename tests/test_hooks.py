"""Per-step hooks and extra trainable modules of `fit`."""
import pytest
import torch
import torch.nn as nn

from mae_study.train.batch import StepContext
from mae_study.train.engine import TrainConfig, fit
from mae_study.train.hooks import CosineMomentum, EmaHook, Hook


def _ctx(position=0.0):
    return StepContext(0, 0, position, torch.Generator())


def test_ema_starts_at_the_weights_and_moves_by_one_minus_momentum():
    model = nn.Linear(3, 2)
    hook = EmaHook(0.9)
    hook.setup(model, {})
    start = model.weight.detach().clone()
    assert torch.equal(hook.module.weight, start) and not hook.module.training
    assert not any(p.requires_grad for p in hook.module.parameters())
    with torch.no_grad():
        model.weight.add_(1.0)
    hook.after_step(model, _ctx())
    assert torch.allclose(hook.module.weight, 0.9 * start + 0.1 * model.weight.detach())


def test_dino_momentum_goes_from_0996_to_1_along_a_cosine():
    m = CosineMomentum(num_epochs=10)
    assert m(0) == pytest.approx(0.996) and m(5) == pytest.approx(0.998) and m(10) == 1.0 and m(20) == 1.0
    hook = EmaHook(m)
    hook.setup(nn.Linear(2, 2), {})
    hook.after_step(nn.Linear(2, 2), _ctx(5.0))
    assert hook.ema.decay == pytest.approx(0.998)


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match="momentum must be in"):
        EmaHook(1.5)
    with pytest.raises(ValueError, match="no such extra module"):
        EmaHook(0.9, of="head").setup(nn.Linear(2, 2), {"proj": nn.Linear(2, 2)})
    with pytest.raises(RuntimeError, match="once fit has set the hook up"):
        EmaHook(0.9).module
    with pytest.raises(ValueError, match="num_epochs must be > 0"):
        CosineMomentum(0)


class _Record(Hook):
    """Records, after every step, the step and whether the extra module was in train mode."""

    def __init__(self):
        self.seen = []

    def after_step(self, model, ctx):
        self.seen.append((ctx.step, ctx.modules["head"].training))


def test_extra_modules_train_with_the_model_and_are_checkpointed(tiny_images, results_dir):
    from mae_study.runs.results import RunDir
    torch.manual_seed(0)
    model, head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8)), nn.Linear(8, 4)
    head.eval()  # fit puts extra modules in train mode

    def loss_fn(model, batch, ctx):
        logits = ctx.modules["head"](model(batch.imgs))
        return nn.functional.cross_entropy(logits, batch.labels), {}

    before = head.weight.detach().clone()
    record, run = _Record(), RunDir("ci", "test_extra", "r0")
    fit(model, loss_fn, tiny_images, TrainConfig(num_epochs=1, batch_size=16), run=run, progress=False,
        hooks=[record], extra_modules={"head": head})
    assert record.seen == [(0, True), (1, True), (2, True)]
    assert not torch.equal(head.weight, before)  # optimised with the model
    saved = torch.load(run.checkpoint, weights_only=False)["extra_modules"]
    assert torch.equal(saved["head.weight"], head.weight)


class _FreezeFirstEpoch(Hook):
    """DINO's frozen last layer: its gradients are dropped before every step of epoch 0."""

    def __init__(self, layer):
        self.layer = layer

    def before_step(self, model, ctx):
        if ctx.epoch == 0:
            for p in self.layer.parameters():
                p.grad = None


def test_a_before_step_hook_can_drop_gradients(tiny_images):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8), nn.ReLU(), nn.Linear(8, 4))
    last, first = model[3].weight.detach().clone(), model[1].weight.detach().clone()

    def loss_fn(model, batch, ctx):
        return nn.functional.cross_entropy(model(batch.imgs), batch.labels), {}
    fit(model, loss_fn, tiny_images, TrainConfig(num_epochs=1, batch_size=16), progress=False,
        hooks=[_FreezeFirstEpoch(model[3])])
    assert torch.equal(model[3].weight, last) and not torch.equal(model[1].weight, first)


def test_a_loss_with_the_old_signature_is_a_clear_error(tiny_images):
    def old_loss(model, imgs, labels, ctx):
        return model(imgs).sum(), {}
    with pytest.raises(ValueError, match=r"loss_fn must take \(model, batch, ctx\)"):
        fit(nn.Linear(2, 2), old_loss, tiny_images, TrainConfig(num_epochs=1, batch_size=16), progress=False)
