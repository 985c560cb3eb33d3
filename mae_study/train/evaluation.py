"""Evaluation of a classifier: top-1 for single-label data, mAP and top-1 for multi-label data.

    evaluate(model, data) -> {"accuracy", "loss"}            # (N,) class ids
    evaluate(model, data) -> {"mAP", "accuracy", "loss"}     # (N, K) multi-hot targets

Multi-label top-1 counts an image as right when its highest-scoring class is one of its positives;
mAP is the mean over classes (with at least one positive) of the average precision of ranking the
images by that class's score (scikit-learn's ``average_precision_score``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import average_precision_score
from tqdm.auto import tqdm

from mae_study.train.batch import normalize
from mae_study.train.distributed import is_main_process
from mae_study.train.loaders import Data, batches, data_target_kind, load_batches


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean over classes with at least one positive of the average precision.

    Args:
        scores: (N, K) any monotone score (logits or probabilities).
        targets: (N, K) 0/1.
    """
    present = targets.sum(0) > 0
    if not present.any():
        raise ValueError("mAP needs at least one positive target")
    return float(np.mean([average_precision_score(targets[:, k], scores[:, k]) for k in np.flatnonzero(present)]))


def top1_hit(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the highest-scoring class is a positive of the (N, K) multi-hot ``targets``."""
    return targets.gather(1, logits.argmax(-1, keepdim=True))[:, 0] > 0


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, batch_size: int = 256, device="cpu", progress: bool = True) -> dict:
    """Top-1 accuracy and mean cross-entropy of a classifier on ``data``; for (N, K) multi-hot
    targets also the mAP, and the loss is the mean binary cross-entropy per class."""
    multi_label = data_target_kind(data) == "multi_hot"
    was_training = model.training
    model.eval()
    correct, total, loss_sum, all_logits, all_targets = 0, 0, 0.0, [], []
    order = batches(data, batch_size, None, drop_last=False)
    for idx, images, labels in tqdm(load_batches(data, order, None, None), total=len(order), desc="evaluate",
                                    leave=False, disable=not (progress and is_main_process()), mininterval=1.0):
        imgs = normalize(images, data.mean, data.std).to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        logits = model(imgs)  # (B, K)
        if multi_label:
            loss_sum += F.binary_cross_entropy_with_logits(logits, labels, reduction="sum").item() / labels.shape[1]
            correct += top1_hit(logits, labels).sum().item()
            all_logits.append(logits.float().cpu())
            all_targets.append(labels.cpu())
        else:
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(-1) == labels).sum().item()
        total += len(idx)
    model.train(was_training)
    result = {"accuracy": correct / total, "loss": loss_sum / total}
    if multi_label:
        result["mAP"] = mean_average_precision(torch.cat(all_logits).numpy(), torch.cat(all_targets).numpy() > 0)
    return result
