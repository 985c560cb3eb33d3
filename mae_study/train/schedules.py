"""Mask-ratio schedules: pure functions of the training position.

A schedule maps a position ``epoch`` (a float: 3.5 = half-way through the fourth epoch) to a
mask ratio. The dynamic curriculum of Hata, Tadamura and Samura is a `StageSchedule`: the ratio is held
constant within each stage and jumps at stage starts, e.g. for a final ratio of 85 %

    StageSchedule(((0, 0.25), (20, 0.45), (40, 0.65), (60, 0.75), (80, 0.85)))

All schedules are frozen dataclasses, so a run can store them in its config, and
`schedule_from_dict` rebuilds them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from mae_study.masking import check_mask_ratio


@dataclass(frozen=True)
class ConstantSchedule:
    """The static method: one ratio throughout."""

    ratio: float

    def __post_init__(self):
        check_mask_ratio(self.ratio, "ratio")

    def __call__(self, epoch: float) -> float:
        return self.ratio


@dataclass(frozen=True)
class StageSchedule:
    """Piecewise-constant: ``stages`` is a sequence of (start_epoch, ratio), starts strictly
    increasing from 0; the ratio of the last stage whose start is <= epoch applies."""

    stages: tuple[tuple[float, float], ...]

    def __post_init__(self):
        object.__setattr__(self, "stages", check_stages(self.stages))

    def __call__(self, epoch: float) -> float:
        ratio = self.stages[0][1]
        for start, r in self.stages:
            if epoch + 1e-9 >= start:
                ratio = r
        return ratio


@dataclass(frozen=True)
class _Ramp:
    """A mask ratio going from ``start`` to ``end`` over [0, num_epochs], then staying at ``end``;
    subclasses say how (`LinearSchedule`, `CosineSchedule`)."""

    start: float
    end: float
    num_epochs: float

    def __post_init__(self):
        check_mask_ratio(self.start, "start")
        check_mask_ratio(self.end, "end")
        if not self.num_epochs > 0:
            raise ValueError(f"num_epochs must be > 0, got {self.num_epochs!r}")

    def progress(self, epoch: float) -> float:
        """How far along the ramp ``epoch`` is, in [0, 1]."""
        return min(max(epoch / self.num_epochs, 0.0), 1.0)


@dataclass(frozen=True)
class LinearSchedule(_Ramp):
    """Ratio moves linearly from ``start`` to ``end`` over [0, num_epochs], then stays at ``end``."""

    def __call__(self, epoch: float) -> float:
        return self.start + (self.end - self.start) * self.progress(epoch)


@dataclass(frozen=True)
class CosineSchedule(_Ramp):
    """Ratio follows half a cosine from ``start`` to ``end`` over [0, num_epochs]."""

    def __call__(self, epoch: float) -> float:
        return self.end + (self.start - self.end) * 0.5 * (1 + math.cos(math.pi * self.progress(epoch)))


Schedule = ConstantSchedule | StageSchedule | LinearSchedule | CosineSchedule
_KINDS = {"constant": ConstantSchedule, "stages": StageSchedule, "linear": LinearSchedule,
          "cosine": CosineSchedule}


def check_stages(stages) -> tuple[tuple[float, float], ...]:
    """Validate a list of (start_epoch, ratio) stages; returns them as a tuple of tuples."""
    msg = "schedule must be a non-empty list of (start_epoch, mask_ratio) stages"
    if isinstance(stages, (str, bytes)) or not hasattr(stages, "__iter__"):
        raise ValueError(f"{msg}, got {stages!r}")
    out = []
    for stage in stages:
        if isinstance(stage, (str, bytes)) or not hasattr(stage, "__len__") or len(stage) != 2:
            raise ValueError(f"{msg}; {stage!r} is not an (epoch, ratio) pair")
        start, ratio = stage
        if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
            raise ValueError(f"{msg}; stage start {start!r} must be a number >= 0")
        check_mask_ratio(ratio, f"mask ratio of the stage starting at epoch {start}")
        out.append((start, float(ratio)))
    if not out:
        raise ValueError(f"{msg}, got an empty list")
    if out[0][0] != 0:
        raise ValueError(f"{msg}; the first stage must start at epoch 0, got {out[0][0]}")
    for (a, _), (b, _) in zip(out, out[1:]):
        if not b > a:
            raise ValueError(f"{msg}; stage starts must be strictly increasing, got {a} then {b}")
    return tuple(out)


def schedule_to_dict(schedule: Schedule) -> dict:
    kind = {v: k for k, v in _KINDS.items()}[type(schedule)]
    return {"kind": kind, **asdict(schedule)}


def schedule_from_dict(d: dict) -> Schedule:
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"schedule kind must be one of {sorted(_KINDS)}, got {kind!r}")
    if kind == "stages":
        d["stages"] = tuple(tuple(s) for s in d["stages"])
    return _KINDS[kind](**d)


def dynmask_stages(final_ratio: float, num_epochs: float = 100) -> StageSchedule:
    """Hata, Tadamura and Samura's Table 3: five equal stages rising to ``final_ratio``.

    The paper lists six schedules (final 70-95 %); their stage ratios are taken verbatim, with
    the stage starts scaled to ``num_epochs`` (every 20 of 100 epochs in the paper).
    """
    table = {
        0.70: (0.20, 0.40, 0.50, 0.60, 0.70),
        0.75: (0.25, 0.45, 0.55, 0.65, 0.75),
        0.80: (0.20, 0.40, 0.60, 0.70, 0.80),
        0.85: (0.25, 0.45, 0.65, 0.75, 0.85),
        0.90: (0.20, 0.40, 0.60, 0.80, 0.90),
        0.95: (0.25, 0.45, 0.65, 0.85, 0.95),
    }
    key = round(float(final_ratio), 2)
    if key not in table:
        raise ValueError(f"final_mask_ratio must be one of the dynamic-masking paper's Table 3 ratios {sorted(table)}, "
                         f"got {final_ratio!r}; pass an explicit schedule for others")
    step = num_epochs / 5
    return StageSchedule(tuple((i * step, r) for i, r in enumerate(table[key])))
