"""The multi-teacher distillation paper's one-stage objective as the engine sees it.

    models = KDModels(student, cl_teacher=dino, mim_teacher=mae)     # teachers already Partial-1
    loss_fn = MultiTeacherKDLoss(l1=0.5, l2=0.0)                     # the paper's setting
    loss, metrics = loss_fn(models, batch, ctx)                      # fit(models, loss_fn, ...)

`KDModels` runs all three networks in one forward, so DDP and torch.compile see one module;
called as ``models(imgs)`` it is the student alone, so evaluation measures the student.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from mae_study.models.attention import forward_with_attention
from mae_study.train.kd.attention_stats import attention_confidence, head_attention, select_head
from mae_study.train.kd.losses import check_fraction, joint_loss

ROLES = ("student", "cl", "mim")


class KDModels(nn.Module):
    """The student and up to two teachers, trained together.

    Args:
        student: a timm ViT / `MAEClassifier` (the paper: ViT-Tiny, 3 heads).
        cl_teacher, mim_teacher: classifiers on the same label set (None: absent).
        attn_layer: the block whose attention is distilled, for every network. The paper does not
            say which; -1 (the last block) by default, where Park et al. find CL and MIM differ most.
    """

    def __init__(self, student: nn.Module, cl_teacher: nn.Module | None = None,
                 mim_teacher: nn.Module | None = None, attn_layer: int = -1):
        super().__init__()
        self.student, self.cl, self.mim = student, cl_teacher, mim_teacher
        self.attn_layer = attn_layer

    def forward(self, imgs: torch.Tensor, with_teachers: bool = False, maps: Sequence[str] = ()):
        """``with_teachers=False``: the student's logits (N, K). Else {role: (logits (N, K), attention
        (N, heads, T, T) of ``attn_layer`` if role is in ``maps`` else None)} for present roles."""
        if not with_teachers:
            return self.student(imgs)
        out = {}
        for role in ROLES:
            net = getattr(self, role)
            if net is None:
                continue
            if role in maps:
                logits, (attn,) = forward_with_attention(net, imgs, [self.attn_layer])
                out[role] = (logits, attn)
            else:
                out[role] = (net(imgs), None)
        return out


@dataclass(frozen=True)
class MultiTeacherKDLoss:
    """``loss_fn(model, batch, ctx)`` for a `KDModels`: the paper's Eq. 4 on ``batch.imgs``.

    Args:
        l1, l2, temperature, include_cls, detach_teacher: see `mae_study.train.kd.losses`.
        use_attention: False: output KD only (L_Attn = 0; no maps are computed).
        cl_head, mim_head: the teacher head distilled: "max" (Attention Confidence on the step's
            images, the paper's rule; the paper does not say on which images AC is measured, so it is
            re-measured every step), "mean" (mean map over heads) or a fixed index (e.g. drawn once
            with `select_head(conf, "random", generator)`).
        student_heads: (A_S,1, A_S,2), the student heads that learn from the CL and the MIM teacher;
            the paper's "first" and "second" heads, 0-based (0, 1).
    """

    l1: float = 0.5
    l2: float = 0.0
    temperature: float = 1.0
    include_cls: bool = True
    use_attention: bool = True
    detach_teacher: bool = True
    cl_head: int | str = "max"
    mim_head: int | str = "max"
    student_heads: tuple[int, int] = (0, 1)
    target_kinds: ClassVar[tuple[str, ...]] = ("class", "soft")

    def __post_init__(self):
        check_fraction("l1", self.l1)
        check_fraction("l2", self.l2)
        for name in ("cl_head", "mim_head"):
            head = getattr(self, name)
            is_index = isinstance(head, int) and not isinstance(head, bool) and head >= 0
            if not (is_index or head in ("max", "mean")):
                raise ValueError(f"{name} must be 'max', 'mean' or a head index >= 0, got {head!r}")
        if len(self.student_heads) != 2 or self.student_heads[0] == self.student_heads[1]:
            raise ValueError(f"student_heads must be two different heads, got {self.student_heads!r}")

    def maps_needed(self) -> tuple[str, ...]:
        """The roles whose attention the step needs: with l2 = 0 the CL teacher's is never computed."""
        if not self.use_attention:
            return ()
        return ("student",) + (("cl",) if self.l2 > 0 else ()) + (("mim",) if self.l2 < 1 else ())

    def __call__(self, model, batch, ctx):
        out = model(batch.imgs, with_teachers=True, maps=self.maps_needed())
        logits = {role: o[0] for role, o in out.items()}  # each (N, K)
        heads, metrics = {}, {}
        for role, strategy in (("cl", self.cl_head), ("mim", self.mim_head)):
            attn = out.get(role, (None, None))[1]  # (N, H, T, T) or None
            if attn is not None:
                conf = attention_confidence(attn.detach(), self.include_cls)  # (H,)
                head = select_head(conf, strategy)
                heads[role] = head_attention(attn, head)  # (N, T, T)
                if head != "mean":
                    metrics[f"{role}_head"] = float(head)
        s_attn = out["student"][1]  # (N, H_s, T, T) or None
        s1 = head_attention(s_attn, self.student_heads[0]) if s_attn is not None and self.l2 > 0 else None
        s2 = head_attention(s_attn, self.student_heads[1]) if s_attn is not None and self.l2 < 1 else None
        total, parts = joint_loss(
            logits["student"], batch.labels, logits.get("cl"), logits.get("mim"), heads.get("cl"),
            heads.get("mim"), s1, s2,
            l1=self.l1, l2=self.l2, temperature=self.temperature, include_cls=self.include_cls,
            use_attention=self.use_attention, detach_teacher=self.detach_teacher)
        labels = batch.labels if batch.labels.ndim == 1 else batch.labels.argmax(-1)
        metrics.update({k: v.item() for k, v in parts.items()})
        metrics["train_accuracy"] = (logits["student"].argmax(-1) == labels).float().mean().item()
        return total, metrics
