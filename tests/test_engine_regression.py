"""Numbers unchanged: the generic engine (batch objects, augment, optimiser and schedule options,
hooks) trains exactly what the engine of commit c9f53d1 trained, on the CPU, bit for bit.

The reference is `_old_loop`: a plain re-implementation, written here without the engine's
pieces, of that commit's `fit` for one process (per-epoch generators, data order, flips, warm-up +
cosine learning rate, AdamW with timm's weight-decay groups, clipping, masks through
``StepContext.sample_mask`` = `sample_mask` for one process). It was checked against that commit's
`fit` on the three runs below, which gave the same per-step losses to the last bit.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from timm.optim import param_groups_weight_decay

from mae_study import MAEClassifier, MaskedAutoencoder, mae_config
from mae_study.data import load_dataset
from mae_study.masking import sample_mask
from mae_study.train.engine import TrainConfig, classification_loss, fit
from mae_study.train.losses import MAELoss
from mae_study.train.schedules import dynmask_stages


def _gen(seed, epoch):
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _old_loop(model, data, cfg, loss):
    """c9f53d1's `fit` (one process, no run folder): per-step losses and batch accuracies."""
    groups = param_groups_weight_decay(model, cfg.weight_decay, no_weight_decay_list=("cls_token", "mask_token",
                                                                                       "pos_embed"))
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    n, b = len(data), cfg.batch_size
    per_epoch = n // b
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    losses, accs = [], []
    for epoch in range(cfg.num_epochs):
        model.train()
        data_gen, aug_gen, mask_gen = _gen(cfg.data_seed, epoch), _gen(cfg.aug_seed, epoch), _gen(cfg.mask_seed, epoch)
        order = torch.randperm(n, generator=data_gen)
        for i in range(per_epoch):
            idx = order[i * b:(i + 1) * b]
            pos = epoch + i / per_epoch
            if pos < cfg.warmup_epochs:
                lr = cfg.lr * pos / cfg.warmup_epochs
            else:
                t = (pos - cfg.warmup_epochs) / max(cfg.num_epochs - cfg.warmup_epochs, 1e-12)
                lr = cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
            for g in opt.param_groups:
                g["lr"] = lr
            flip = torch.rand(b, generator=aug_gen) < 0.5
            imgs = (data.images[idx].float().div_(255.0) - mean) / std
            imgs[flip] = imgs[flip].flip(-1)
            if loss == "mae":
                ratio = dynmask_stages(0.75, cfg.num_epochs)(pos)
                masking = sample_mask(b, model.cfg.grid_size, ratio, "random", mask_gen)
                value = model(imgs, mask_ratio=ratio, masking=masking).loss
            else:
                logits = model(imgs)
                value = F.cross_entropy(logits, data.labels[idx])
                accs.append((logits.argmax(-1) == data.labels[idx]).float().mean().item())
            losses.append(value.item())
            opt.zero_grad(set_to_none=True)
            value.backward()
            if cfg.clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
    return losses, accs


def _mae():
    torch.manual_seed(0)
    return MaskedAutoencoder(mae_config("ci_16"))


def _classifier(mode):
    torch.manual_seed(0)
    return MAEClassifier(MaskedAutoencoder(mae_config("ci_16")).encoder, 10, mode=mode)


def test_mae_pretraining_losses_equal_the_old_loop_bitwise():
    data = load_dataset("builtin", "unlabelled", image_size=16, seed=0, num_samples=64, cache=False)
    cfg = TrainConfig(num_epochs=2, batch_size=16, lr=1e-3, warmup_epochs=1, data_seed=1, aug_seed=2, mask_seed=3,
                      clip_grad=1.0)
    new = fit(_mae(), MAELoss(dynmask_stages(0.75, 2)), data, cfg, progress=False)
    old, _ = _old_loop(_mae(), data, cfg, "mae")
    assert [s["loss"] for s in new["steps"]] == old  # exact: ==, not approx
    assert len(old) == 8


@pytest.mark.parametrize("mode", ["full", "linear"])
def test_classifier_losses_equal_the_old_loop_bitwise(mode):
    data = load_dataset("builtin", "train", image_size=16, seed=0, num_samples=50, cache=False)
    cfg = TrainConfig(num_epochs=2, batch_size=10, lr=1e-3, warmup_epochs=0.5, data_seed=4, aug_seed=5)
    new = fit(_classifier(mode), classification_loss, data, cfg, progress=False)
    old, accs = _old_loop(_classifier(mode), data, cfg, "ce")
    assert [s["loss"] for s in new["steps"]] == old
    assert [s["train_accuracy"] for s in new["steps"]] == accs
    assert len(old) == 10
