"""Training-time augmentation, chosen per experiment by ``TrainConfig.augment`` / ``.mixup``.

An *augment* maps a process's uint8 images of one global batch to one or more views:

    augment(images (b, C, H, W) uint8, draws: Draws) -> [view (b, C, h, w) uint8, ...]

Every random number comes from ``draws`` (`Draws`): drawn for the whole global
batch from the epoch's augmentation generator, then cut to this process's rows. So a run is
determined by ``aug_seed``, a resumed run draws what an uninterrupted one draws, and several
processes draw what one process draws. The engine normalises the views; `Mixup` then mixes the
normalised batch and its targets.

- `Flip`: a random horizontal flip (the default, ``TrainConfig.hflip``).
- `RandomResizedCrop`: crop + resize (+ flip, colour jitter, timm's RandAugment: DeiT's recipe).
- `MultiCrop`: DINO's 2 global + n local views (Caron et al. 2021).
- `Mixup`: timm's Mixup / CutMix with label smoothing, on the batch (DeiT's recipe).
"""
from __future__ import annotations

import math
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import torch
from timm.data import Mixup as TimmMixup
from timm.data.auto_augment import rand_augment_transform
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

TRIALS = 10  # crop boxes tried per image before the centre-crop fallback (torchvision's count)


@dataclass
class Draws:
    """Random numbers for the rows ``rows`` of a global batch of ``batch_size`` images: each draw
    is made for all ``batch_size`` images, in the same order on every process, then cut to
    ``rows`` (None: all), so a process's rows get what they would get in one process."""

    generator: torch.Generator
    batch_size: int
    rows: slice | None = None

    def _cut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.rows is None else x[self.rows]

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) numbers, (b, *shape)."""
        return self._cut(torch.rand(self.batch_size, *shape, generator=self.generator))

    def seeds(self) -> torch.Tensor:
        """(b,) int64 seeds, one per image, for transforms that draw from their own generator."""
        return self._cut(torch.randint(0, 2**31 - 1, (self.batch_size,), generator=self.generator))


class Augment(Protocol):
    num_views: int  # views returned per image

    def __call__(self, images: torch.Tensor, draws: Draws) -> list[torch.Tensor]: ...


@contextmanager
def seeded_global_rngs(seed: int):
    """Seed Python's and numpy's global generators for a block, then put their states back.
    timm's RandAugment and Mixup draw from these global generators; seeding them from our
    per-epoch generator makes a run deterministic for its seed and a resumed run draw what an
    uninterrupted one draws, and restoring them leaves the caller's random state untouched."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ValueError(f"{name} must be (a, b) with {low} <= a <= b <= {high}, got {value!r}")


@dataclass(frozen=True)
class Flip:
    """A random horizontal flip of each image with probability 1/2 (the study's default)."""

    kind: str = field(default="flip", init=False)  # recorded with the run's config
    num_views = 1

    def __call__(self, images: torch.Tensor, draws: Draws) -> list[torch.Tensor]:
        flip = draws.rand() < 0.5  # (b,)
        out = images.clone()
        out[flip] = out[flip].flip(-1)
        return [out]


def crop_boxes(draws: Draws, height: int, width: int, scale: tuple[float, float],
               ratio: tuple[float, float]) -> torch.Tensor:
    """torchvision's RandomResizedCrop boxes, drawn for a whole batch: (b, 4) int64 top, left, h, w.
    Up to ``TRIALS`` boxes of area ``U(scale)`` and log aspect ratio ``U(log ratio)`` are tried per
    image; the first that fits is used, else the centre crop with the ratio clamped to ``ratio``."""
    u = draws.rand(TRIALS, 4).double()  # (b, T, 4): area, log ratio, top, left
    area = height * width * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[..., 1]
    w = torch.sqrt(area * torch.exp(log_r)).round().long()  # (b, T)
    h = torch.sqrt(area / torch.exp(log_r)).round().long()
    ok = (w > 0) & (h > 0) & (w <= width) & (h <= height)
    top = (u[..., 2] * (height - h + 1).clamp_min(1)).long()
    left = (u[..., 3] * (width - w + 1).clamp_min(1)).long()
    first = ok.long().argmax(1, keepdim=True)  # (b, 1) the first trial that fits
    box = torch.stack([top, left, h, w], -1).gather(1, first[..., None].expand(-1, -1, 4))[:, 0]  # (b, 4)
    in_ratio = width / height  # the fallback: the largest centred box within ``ratio``
    fw, fh = (width, round(width / ratio[0])) if in_ratio < ratio[0] else \
        (round(height * ratio[1]), height) if in_ratio > ratio[1] else (width, height)
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw])
    return torch.where(ok.any(1, keepdim=True), box, fallback)


def color_jitter(img: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """DINO's colour distortion of one uint8 (C, H, W) image from 6 uniforms ``u``: with p=0.8
    brightness, contrast, saturation (factors in 1 +- s, 1 +- s, 1 +- s/2) and hue (+- s/4), with
    p=0.2 grey (3 channels)."""
    if u[0] < 0.8:
        img = TF.adjust_brightness(img, 1 + strength * (2 * u[1].item() - 1))
        img = TF.adjust_contrast(img, 1 + strength * (2 * u[2].item() - 1))
        img = TF.adjust_saturation(img, 1 + strength / 2 * (2 * u[3].item() - 1))
        img = TF.adjust_hue(img, strength / 4 * (2 * u[4].item() - 1))
    if u[5] < 0.2:
        img = TF.rgb_to_grayscale(img, num_output_channels=img.shape[0])
    return img


@dataclass(frozen=True)
class RandomResizedCrop:
    """A random crop of ``scale`` of the area and aspect ratio in ``ratio``, resized (bilinear,
    antialiased) to ``size``; then optionally a flip, colour jitter and timm's RandAugment.

    Args:
        size: output side in pixels; None: the input's side.
        scale: range of the crop's area, as a fraction of the image (torchvision: (0.08, 1)).
        ratio: range of the crop's aspect ratio w / h.
        flip: a horizontal flip with probability 1/2.
        color_jitter: strength s of DINO's colour distortion (0: none; DINO: 0.4).
        rand_augment: a timm RandAugment config, e.g. DeiT's ``"rand-m9-mstd0.5-inc1"``; None: none.
    """

    size: int | None = None
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    color_jitter: float = 0.0
    rand_augment: str | None = None
    kind: str = field(default="random_resized_crop", init=False)
    num_views = 1

    def __post_init__(self):
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"size must be None or a positive int, got {self.size!r}")
        _check_range("scale", self.scale, 0.0, 1.0)
        if not 0 < self.scale[1]:
            raise ValueError(f"scale must allow a non-empty crop, got {self.scale!r}")
        _check_range("ratio", self.ratio, 1e-6, math.inf)
        if not 0 <= self.color_jitter <= 1:
            raise ValueError(f"color_jitter must be in [0, 1], got {self.color_jitter!r}")
        if self.rand_augment is not None and not str(self.rand_augment).startswith("rand"):
            raise ValueError(f"rand_augment must be a timm RandAugment config such as 'rand-m9-mstd0.5-inc1' "
                             f"or None, got {self.rand_augment!r}")

    @cached_property
    def _rand_augments(self) -> dict:
        return {}  # output side -> timm's RandAugment for it

    def rand_augment_for(self, side: int):
        """timm's RandAugment as DeiT builds it (bicubic, translation up to 45 % of the side, mid-grey
        fill on the study's ~0.5-mean data); it works on PIL images."""
        from PIL import Image
        if side not in self._rand_augments:
            self._rand_augments[side] = rand_augment_transform(
                self.rand_augment, {"translate_const": int(side * 0.45), "img_mean": (128, 128, 128),
                                    "interpolation": Image.Resampling.BICUBIC})
        return self._rand_augments[side]

    def __call__(self, images: torch.Tensor, draws: Draws) -> list[torch.Tensor]:
        b, _, height, width = images.shape
        size = self.size or height
        boxes = crop_boxes(draws, height, width, self.scale, self.ratio)  # (b, 4)
        flips = draws.rand() < 0.5 if self.flip else torch.zeros(b, dtype=torch.bool)
        jitter = draws.rand(6) if self.color_jitter > 0 else None  # (b, 6)
        seeds = draws.seeds() if self.rand_augment is not None else None  # (b,)
        out = []
        for k in range(b):
            top, left, h, w = boxes[k].tolist()
            img = TF.resized_crop(images[k], top, left, h, w, [size, size], InterpolationMode.BILINEAR,
                                  antialias=True)  # (C, size, size) uint8
            img = img.flip(-1) if flips[k] else img
            if jitter is not None:
                img = color_jitter(img, jitter[k], self.color_jitter)
            if seeds is not None:
                with seeded_global_rngs(int(seeds[k])):
                    img = TF.pil_to_tensor(self.rand_augment_for(size)(TF.to_pil_image(img)))
            out.append(img)
        return [torch.stack(out)]  # (b, C, size, size)


@dataclass(frozen=True)
class MultiCrop:
    """DINO's multi-crop (Caron et al. 2021): 2 global views of ``global_scale`` of the image at
    ``global_size`` and ``num_local`` local views of ``local_scale`` at ``local_size``; each flipped
    at random, optionally colour-jittered. Views are ordered global first.

    Args:
        num_local: local views (DINO: 8 at ViT-S, 10 at ViT-B / 16).
        global_size: side of the global views; None: the input's.
        local_size: side of the local views; None: 96 / 224 of the global side (DINO's sizes).
        global_scale, local_scale: area ranges (DINO: (0.4, 1) and (0.05, 0.4)).
        color_jitter: strength of DINO's colour distortion (0: none; DINO: 0.4).
    """

    num_local: int = 8
    global_size: int | None = None
    local_size: int | None = None
    global_scale: tuple[float, float] = (0.4, 1.0)
    local_scale: tuple[float, float] = (0.05, 0.4)
    color_jitter: float = 0.0
    kind: str = field(default="multi_crop", init=False)

    def __post_init__(self):
        if not isinstance(self.num_local, int) or self.num_local < 0:
            raise ValueError(f"num_local must be an int >= 0, got {self.num_local!r}")
        for name in ("global_size", "local_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be None or a positive int, got {v!r}")
        RandomResizedCrop(scale=self.global_scale, color_jitter=self.color_jitter)  # checks the ranges
        RandomResizedCrop(scale=self.local_scale)

    @property
    def num_views(self) -> int:
        return 2 + self.num_local

    def __call__(self, images: torch.Tensor, draws: Draws) -> list[torch.Tensor]:
        side = self.global_size or images.shape[-1]
        local = self.local_size or max(1, round(side * 96 / 224))
        crop_global = RandomResizedCrop(side, self.global_scale, color_jitter=self.color_jitter)
        crop_local = RandomResizedCrop(local, self.local_scale, color_jitter=self.color_jitter)
        views = crop_global(images, draws) + crop_global(images, draws)  # 2 x (b, C, side, side)
        for _ in range(self.num_local):
            views += crop_local(images, draws)  # (b, C, local, local)
        return views


@dataclass(frozen=True)
class Mixup:
    """timm's Mixup / CutMix on a normalised batch (one mix per batch; image i with image B-1-i),
    with label smoothing; DeiT: Mixup 0.8, CutMix 1.0, switch 0.5, smoothing 0.1. Class targets
    become soft ("soft"); multi-hot targets stay multi-label ("multi_hot", mixed as timm does)."""

    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    label_smoothing: float = 0.1
    prob: float = 1.0               # probability of mixing a batch
    switch_prob: float = 0.5        # probability of CutMix instead of Mixup when both are on

    def __post_init__(self):
        if self.mixup_alpha < 0 or self.cutmix_alpha < 0 or self.mixup_alpha + self.cutmix_alpha == 0:
            raise ValueError(f"mixup_alpha and cutmix_alpha must be >= 0 and not both 0, "
                             f"got {self.mixup_alpha!r}, {self.cutmix_alpha!r}")
        for name in ("label_smoothing", "prob", "switch_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")

    def __call__(self, views: list[torch.Tensor], labels: torch.Tensor, kind: str, num_classes: int,
                 generator: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor, str]:
        if len(views) != 1 or len(views[0]) % 2:
            raise ValueError("Mixup needs one view and an even batch")
        if kind == "soft" or num_classes < 1:
            raise ValueError(f"Mixup needs class ids or multi-hot targets and num_classes >= 1, "
                             f"got {kind!r} targets, num_classes={num_classes}")
        mix = TimmMixup(self.mixup_alpha, self.cutmix_alpha, prob=self.prob, switch_prob=self.switch_prob,
                        label_smoothing=self.label_smoothing, num_classes=num_classes,
                        multi_label=kind == "multi_hot")
        seed = int(torch.randint(0, 2**31 - 1, (), generator=generator))  # one draw per global batch
        with seeded_global_rngs(seed):  # timm draws lambda and the box from numpy's global generator
            imgs, targets = mix(views[0].clone(), labels)
        return [imgs], targets, "multi_hot" if kind == "multi_hot" else "soft"
