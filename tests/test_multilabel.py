"""Multi-label targets: BCE with per-image positive weights, mAP and top-1, and single-label
cross-entropy refusing (N, K) multi-hot targets instead of reading them as probabilities."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mae_study.data.base import ImageTensorDataset
from mae_study.train.augment import Mixup
from mae_study.train.batch import Batch, StepContext
from mae_study.train.engine import TrainConfig, classification_loss, evaluate, fit
from mae_study.train.evaluation import mean_average_precision
from mae_study.train.losses import MultiLabelLoss, multilabel_loss


def _multi_hot(n=48, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    targets = (torch.rand(n, k, generator=g) < 0.3).float()
    targets[torch.arange(n), torch.arange(n) % k] = 1.0  # every image has a positive
    return ImageTensorDataset(images, targets, k, "tiny_multi", "train")


class _Never(nn.Module):
    """A model that must not be called (the error has to come before any compute)."""

    def forward(self, x):
        raise AssertionError("the model ran")


class _Lookup(nn.Module):
    """Returns the rows of ``table`` in order: a classifier with known scores."""

    def __init__(self, table):
        super().__init__()
        self.table, self.i = table, 0
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        out = self.table[self.i:self.i + len(x)]
        self.i += len(x)
        return out


def _batch(labels, kind):
    return Batch([torch.zeros(len(labels), 3, 4, 4)], labels, kind, torch.arange(len(labels)))


def test_cross_entropy_refuses_multi_hot_targets_before_compute():
    data = _multi_hot()
    refused = r"loss_fn \(CrossEntropyLoss\) takes targets of kind .* 'multi_hot'.*multilabel_loss"
    with pytest.raises(ValueError, match=refused):
        fit(_Never(), classification_loss, data, TrainConfig(num_epochs=1, batch_size=16), progress=False)
    with pytest.raises(ValueError, match="cross-entropy"):
        classification_loss(_Never(), _batch(data.labels[:4], "multi_hot"), StepContext(0, 0, 0.0, torch.Generator()))
    with pytest.raises(ValueError, match="MultiLabelLoss.* takes targets of kind \\['multi_hot'\\]"):
        fit(_Never(), multilabel_loss, ImageTensorDataset(data.images, torch.arange(48) % 5, 5, "t", "train"),
            TrainConfig(num_epochs=1, batch_size=16), progress=False)


def test_bce_positive_weight_is_classes_over_the_images_positives():
    targets = torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    w = MultiLabelLoss().weights(targets)
    assert w[:, 0].tolist() == [4.0, 2.0, 1.0] and (w == w[:, :1]).all()
    logits = torch.randn(3, 4)
    loss, metrics = MultiLabelLoss()(lambda x: logits, _batch(targets, "multi_hot"), None)
    manual = -(w * targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits)).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-6)
    assert MultiLabelLoss(None).weights(targets) is None
    assert MultiLabelLoss(2.0).weights(targets).unique().tolist() == [2.0]
    with pytest.raises(ValueError, match="pos_weight must be"):
        MultiLabelLoss("classes")


def test_mean_average_precision_by_hand():
    scores = np.array([[0.1, 0.9], [0.4, 0.8], [0.35, 0.1], [0.8, 0.2]])
    targets = np.array([[0, 1], [0, 1], [1, 0], [1, 0]])
    # class 0: ranking 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): AP = (1/1 + 2/3) / 2; class 1 ranked perfectly
    assert mean_average_precision(scores, targets) == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    with_empty = np.concatenate([targets, np.zeros((4, 1), dtype=int)], 1)  # a class without positives is skipped
    assert mean_average_precision(np.concatenate([scores, scores[:, :1]], 1), with_empty) == \
        mean_average_precision(scores, targets)


def test_evaluate_reports_map_and_top1_for_multi_hot_targets():
    data = _multi_hot()
    perfect = evaluate(_Lookup(10 * data.labels - 5), data, batch_size=16, progress=False)
    assert perfect["mAP"] == 1.0 and perfect["accuracy"] == 1.0
    bce = F.binary_cross_entropy_with_logits(10 * data.labels - 5, data.labels)
    assert perfect["loss"] == pytest.approx(bce.item())
    wrong = evaluate(_Lookup(5 - 10 * data.labels), data, batch_size=16, progress=False)
    assert wrong["accuracy"] == 0.0 and wrong["mAP"] < 0.5


def test_evaluate_single_label_is_todays_top1_and_cross_entropy(tiny_images):
    logits = torch.randn(48, 4, generator=torch.Generator().manual_seed(1))
    r = evaluate(_Lookup(logits), tiny_images, batch_size=20, progress=False)
    assert set(r) == {"accuracy", "loss"}
    assert r["accuracy"] == (logits.argmax(-1) == tiny_images.labels).float().mean().item()
    assert r["loss"] == pytest.approx(F.cross_entropy(logits, tiny_images.labels).item(), rel=1e-6)


def test_multilabel_training_and_mixup_soft_targets_run(tiny_images):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    result = fit(net, multilabel_loss, _multi_hot(), TrainConfig(num_epochs=1, batch_size=16), progress=False)
    assert len(result["steps"]) == 3 and "train_accuracy" in result["steps"][0]
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))
    cfg = TrainConfig(num_epochs=1, batch_size=16, mixup=Mixup())
    result = fit(net, classification_loss, tiny_images, cfg, progress=False)
    assert all(np.isfinite(s["loss"]) for s in result["steps"])
