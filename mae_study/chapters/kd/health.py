"""Is a teacher's backbone any good? The checks issue #21 asks of every teacher run, pure where they can be:

- **k-NN accuracy** of its features on a labelled task (DINO's protocol, Caron et al. section 4.1:
  cosine similarity of L2-normalised CLS features, the k = 20 nearest training images vote with
  weights exp(similarity / 0.07)), beside the same k-NN on a randomly initialised backbone of the same
  shape: a teacher that learnt is above both that and the raw-pixel probe;
- **first-layer attention distance** against the value of perfectly uniform attention on the same
  grid (`uniform_distance`): a teacher whose first layer attends uniformly (16.55 px on the cpu
  profile's 8x8 grid of 4 px patches) has learnt no local structure.

`backbone_health` measures a backbone (no verdict); `health_verdict` judges the measures against
the pixel probe (a rung, `mae_study.runs.rungs`), so it is tested on made-up numbers.

    h = backbone_health(teacher, fresh, train, test)     # {"knn_top1", "knn_random_top1", ...}
    ok, why = health_verdict(h, pixel_probe=0.208)
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from mae_study.models import attention_maps
from mae_study.train.kd import attention_distance, patch_distances
from mae_study.train.batch import normalize
from mae_study.train.loaders import Data, batches, load_batches

KNN_K, KNN_TEMPERATURE = 20, 0.07  # DINO's k-NN evaluation
DISTANCE_FRACTION = 0.96
"""First-layer attention distance counts as local when below this fraction of the uniform value
(at cpu: 15.9 px against 16.55 px)."""


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, num_classes: int, k: int = KNN_K, temperature: float = KNN_TEMPERATURE,
                 chunk: int = 1024) -> float:
    """Weighted k-NN top-1 (DINO's): train (N, D) / (N,), test (M, D) / (M,) -> accuracy in [0, 1]."""
    if len(train_feats) < 1 or len(test_feats) < 1:
        raise ValueError("knn_accuracy needs at least one training and one test image")
    k = min(k, len(train_feats))
    train = F.normalize(train_feats.float(), dim=1)  # (N, D)
    hits = 0
    for lo in range(0, len(test_feats), chunk):
        test = F.normalize(test_feats[lo:lo + chunk].float(), dim=1)  # (m, D)
        sim, idx = (test @ train.T).topk(k, dim=1)  # (m, k)
        votes = torch.zeros(len(test), num_classes).scatter_add_(1, train_labels[idx], (sim / temperature).exp())
        hits += int((votes.argmax(1) == test_labels[lo:lo + chunk]).sum())
    return hits / len(test_feats)


@torch.no_grad()
def backbone_features(backbone: nn.Module, data: Data, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) pre-logit features (a timm ViT's CLS token after its norm) and (N,) labels of ``data``."""
    was = backbone.training
    backbone.eval()
    feats, labels = [], []
    for _, images, y in load_batches(data, batches(data, batch_size, None, drop_last=False), None, None):
        imgs = normalize(images, data.mean, data.std)  # (b, C, H, W)
        feats.append(backbone.forward_head(backbone.forward_features(imgs), pre_logits=True))  # (b, D)
        labels.append(y)
    backbone.train(was)
    return torch.cat(feats), torch.cat(labels)


def uniform_distance(grid: int, patch_size: int) -> float:
    """Attention distance (px) of perfectly uniform attention over a ``grid`` x ``grid`` patch grid."""
    d = patch_distances(grid, patch_size)  # (L, L)
    return float(d.mean())


@torch.no_grad()
def first_layer_distance(backbone: nn.Module, imgs: torch.Tensor, grid: int, patch_size: int) -> float:
    """Mean over heads and images of the first block's attention distance (px), in eval mode."""
    was = backbone.training
    backbone.eval()
    maps = attention_maps(backbone, imgs, layers=[0])  # [(N, H, T, T)]
    backbone.train(was)
    return float(attention_distance(maps[0], grid, patch_size).mean())


def backbone_health(backbone: nn.Module, random_backbone: nn.Module, train: Data, test: Data, grid: int,
                    patch_size: int, num_attention_images: int = 256) -> dict:
    """The measures of `health_verdict`: k-NN top-1 of ``backbone`` and of ``random_backbone`` (same
    shape, freshly initialised) from ``train`` to ``test``, the first-layer attention distance on
    the first test images, and the uniform value on the same grid."""
    out = {}
    for key, model in (("knn_top1", backbone), ("knn_random_top1", random_backbone)):
        (xa, ya), (xb, yb) = backbone_features(model, train), backbone_features(model, test)
        out[key] = knn_accuracy(xa, ya, xb, yb, train.num_classes)
    _, images, _ = next(load_batches(test, batches(test, num_attention_images, None, drop_last=False)[:1], None, None))
    imgs = normalize(images, test.mean, test.std)
    out["first_layer_distance_px"] = first_layer_distance(backbone, imgs, grid, patch_size)
    out["uniform_distance_px"] = uniform_distance(grid, patch_size)
    return out


def health_verdict(h: Mapping, pixel_probe: float | None) -> tuple[bool, list[str]]:
    """(healthy, reasons it is not): k-NN above the pixel probe (when known) and above random
    features; first-layer distance below `DISTANCE_FRACTION` of uniform. Accuracies in [0, 1]."""
    why = []
    if pixel_probe is not None and not h["knn_top1"] > pixel_probe:
        why.append(f"k-NN {100 * h['knn_top1']:.1f} % not above the pixel probe {100 * pixel_probe:.1f} %")
    if not h["knn_top1"] > h["knn_random_top1"]:
        why.append(f"k-NN {100 * h['knn_top1']:.1f} % not above random features {100 * h['knn_random_top1']:.1f} %")
    limit = DISTANCE_FRACTION * h["uniform_distance_px"]
    if not h["first_layer_distance_px"] < limit:
        why.append(f"first-layer attention distance {h['first_layer_distance_px']:.2f} px not below "
                   f"{limit:.2f} px ({DISTANCE_FRACTION:.0%} of uniform attention's {h['uniform_distance_px']:.2f} px)")
    return not why, why
