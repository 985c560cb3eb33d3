"""Per-step hooks of `fit`: what happens after every optimiser step besides the step itself.

A hook is set up once per `fit` call (after the model and the extra modules are on the device,
before a checkpoint is resumed), called after every step, and saved in the checkpoint:

    hook.setup(model, extra_modules)      # plain modules, as `fit` got them
    hook.before_step(model, ctx)          # gradients computed (and clipped), before optimizer.step()
    hook.after_step(model, ctx)           # after optimizer.step()
    hook.state_dict() / hook.load_state_dict(state)

`EmaHook` keeps an exponential moving average of the model (or of one extra module) with timm's
``ModelEmaV3``: a DINO teacher (momentum from 0.996 to 1 along a cosine, `CosineMomentum`), or
the EMA weights of a DeiT run. A loss function that needs the teacher holds the hook and calls
``hook.module``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn
from timm.utils import ModelEmaV3

from mae_study.train.batch import StepContext


class Hook:
    """The hook protocol, with do-nothing defaults."""

    def setup(self, model: nn.Module, extra_modules: dict[str, nn.Module]) -> None:
        pass

    def before_step(self, model: nn.Module, ctx: StepContext) -> None:
        pass

    def after_step(self, model: nn.Module, ctx: StepContext) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@dataclass(frozen=True)
class CosineMomentum:
    """DINO's teacher momentum: from ``start`` at position 0 to ``end`` at ``num_epochs`` along half
    a cosine, ``end - (end - start) * (1 + cos(pi * t)) / 2``, t = position / num_epochs."""

    num_epochs: float
    start: float = 0.996
    end: float = 1.0

    def __post_init__(self):
        if not self.num_epochs > 0:
            raise ValueError(f"num_epochs must be > 0, got {self.num_epochs!r}")
        if not 0 <= self.start <= 1 or not 0 <= self.end <= 1:
            raise ValueError(f"start and end must be in [0, 1], got {self.start!r}, {self.end!r}")

    def __call__(self, position: float) -> float:
        t = min(max(position / self.num_epochs, 0.0), 1.0)
        return self.end - (self.end - self.start) * (1 + math.cos(math.pi * t)) / 2


class EmaHook(Hook):
    """An exponential moving average of the model (or of extra module ``of``), updated after every
    step: ``ema = m * ema + (1 - m) * weights`` with ``m = momentum`` (a number, or a function of
    the training position such as `CosineMomentum`). It starts as a copy of the weights when `fit`
    starts; it is saved in and restored from the checkpoint.

    Args:
        momentum: the EMA momentum ("decay"), or a function ``position -> momentum``.
        of: None for the model, or the name of one of `fit`'s ``extra_modules``.
    """

    def __init__(self, momentum: float | Callable[[float], float] = 0.9999, of: str | None = None):
        if not callable(momentum) and not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] or a function of the position, got {momentum!r}")
        self.momentum, self.of = momentum, of
        self.ema: ModelEmaV3 | None = None
        self.source: nn.Module | None = None

    @property
    def module(self) -> nn.Module:
        """The averaged copy (eval mode), e.g. DINO's teacher."""
        if self.ema is None:
            raise RuntimeError("EmaHook.module exists once fit has set the hook up")
        return self.ema.module

    def setup(self, model: nn.Module, extra_modules: dict[str, nn.Module]) -> None:
        if self.of is not None and self.of not in extra_modules:
            raise ValueError(f"EmaHook(of={self.of!r}): no such extra module; have {sorted(extra_modules)}")
        self.source = model if self.of is None else extra_modules[self.of]
        # fp32 weights: a plain lerp (timm's stochastic rounding applies to bfloat16 EMA weights only).
        self.ema = ModelEmaV3(self.source, decay=self.momentum if not callable(self.momentum) else 0.0)
        self.ema.requires_grad_(False)  # a teacher gets no gradients; it only follows the weights

    def after_step(self, model: nn.Module, ctx: StepContext) -> None:
        self.ema.decay = self.momentum(ctx.position) if callable(self.momentum) else self.momentum
        self.ema.update(self.source)

    def state_dict(self) -> dict:
        return {"ema": self.ema.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.ema.load_state_dict(state["ema"])
