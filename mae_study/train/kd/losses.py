"""The multi-teacher distillation paper's losses, as pure functions of tensors.

    L      = CE_S + CE_CL + CE_MIM + L_KD + L_Attn                                    (Eq. 4)
    L_KD   = l1 KL(p_CL || p_S) + (1 - l1) KL(p_MIM || p_S),        l1 = 0.5          (Eq. 1)
    L_Attn = l2 KL(A_CL || A_S,1) + (1 - l2) KL(A_MIM || A_S,2),    l2 = 0            (Eq. 3)

With the paper's l2 = 0 only the MIM teacher's attention is transferred: the CL term of L_Attn is
not computed at all (its maps may be None), not computed and multiplied by zero. Likewise a
teacher whose KD weight is 0 may be left out of L_KD.

KL(P || Q) = sum_k P_k (log P_k - log Q_k): the teacher P is the target, the student Q is pulled
towards it (the "forward" KL of Hinton et al. 2015).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mae_study.train.kd.attention_stats import patch_attention

EPS = 1e-8  # floor of a student probability before its log (see `attention_kl`)


def check_fraction(name: str, value: float) -> float:
    """``value`` if it is in [0, 1], else a ValueError naming the parameter."""
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def output_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0,
              detach_teacher: bool = True) -> torch.Tensor:
    """KL(p_T || p_S) of temperature-softened class distributions, times temperature^2, batch mean.

    The T^2 factor is Hinton et al.'s (2015): softening divides the logit gradients by T^2, so
    multiplying by T^2 keeps the KD term's size comparable to the cross-entropy as T changes.
    Consequently ``output_kl(T * s, T * t, T) == T**2 * output_kl(s, t, 1)``.

    Args:
        student_logits: (N, K).
        teacher_logits: (N, K).
        temperature: T > 0. The paper does not give one; 1.0 (the default) is Eq. 1 as written
            (DeiT's soft distillation used 3.0).
        detach_teacher: True: gradients reach the student only. The one-stage method trains the
            teachers' Partial-1 layers jointly and the paper does not say whether the KD terms reach
            them; False lets them (the teacher is then also pulled towards the student).
    Returns:
        scalar.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape (N, K)")
    if detach_teacher:
        teacher_logits = teacher_logits.detach()
    log_p_s = F.log_softmax(student_logits / temperature, dim=-1)  # (N, K)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=-1)  # (N, K)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)  # sum over K, mean over N
    return kl * temperature ** 2


def attention_kl(teacher_attn: torch.Tensor, student_attn: torch.Tensor, include_cls: bool = True,
                 detach_teacher: bool = True) -> torch.Tensor:
    """KL(A_T || A_S) of one teacher head and one student head: each query row is a distribution
    over keys; the KL of every row, averaged over queries and images.

    Choices the paper leaves open:
      * CLS: ``include_cls=True`` compares the maps as computed; ``False`` drops the CLS row and
        column of both and renormalises the rows over the patch keys.
      * zeros: a teacher weight of 0 contributes 0 (0 log 0 = 0); a student weight is floored at
        1e-8 before its log, so an underflowed student weight gives a large finite loss, not inf.
      * the teacher is detached by default, as in `output_kl`.

    Args:
        teacher_attn: (N, T, T) one head of the teacher.
        student_attn: (N, T, T) one head of the student.
    Returns:
        scalar.
    """
    if teacher_attn.ndim != 3 or student_attn.ndim != 3 or teacher_attn.shape[-1] != teacher_attn.shape[-2]:
        raise ValueError(f"attention_kl takes one head per model, (N, T, T); got teacher "
                         f"{tuple(teacher_attn.shape)} and student {tuple(student_attn.shape)}")
    if teacher_attn.shape != student_attn.shape:
        raise ValueError(f"teacher attention {tuple(teacher_attn.shape)} and student attention "
                         f"{tuple(student_attn.shape)} differ: teachers and student need the same token "
                         f"grid for attention KL (same image size / patch size ratio, same prefix tokens)")
    if detach_teacher:
        teacher_attn = teacher_attn.detach()
    if not include_cls:
        teacher_attn, student_attn = patch_attention(teacher_attn), patch_attention(student_attn)
    kl_rows = (torch.xlogy(teacher_attn, teacher_attn)
               - teacher_attn * student_attn.clamp_min(EPS).log()).sum(-1)  # (N, T)
    return kl_rows.mean()


def kd_loss(student_logits: torch.Tensor, cl_logits: torch.Tensor | None, mim_logits: torch.Tensor | None,
            l1: float = 0.5, temperature: float = 1.0, detach_teacher: bool = True) -> torch.Tensor:
    """L_KD = l1 KL(p_CL || p_S) + (1 - l1) KL(p_MIM || p_S) (Eq. 1; the paper's l1 = 0.5).

    A term whose weight is 0 is skipped and its teacher's logits may be None (a one-teacher KD
    baseline: l1 = 1 for the CL teacher alone, l1 = 0 for the MIM teacher alone)."""
    l1 = check_fraction("l1", l1)
    total = student_logits.new_zeros(())
    for weight, teacher, name in ((l1, cl_logits, "cl_logits"), (1.0 - l1, mim_logits, "mim_logits")):
        if weight > 0:  # a weight-0 term is skipped, not multiplied by zero
            _require(name, teacher, weight)
            total = total + weight * output_kl(student_logits, teacher, temperature, detach_teacher)
    return total


def attn_loss(cl_attn: torch.Tensor | None, mim_attn: torch.Tensor | None, student_attn1: torch.Tensor | None,
              student_attn2: torch.Tensor | None, l2: float = 0.0, include_cls: bool = True,
              detach_teacher: bool = True) -> torch.Tensor:
    """L_Attn = l2 KL(A_CL || A_S,1) + (1 - l2) KL(A_MIM || A_S,2) (Eq. 3; the paper's l2 = 0).

    Args:
        cl_attn, mim_attn: (N, T, T) the teachers' heads chosen by Attention Confidence.
        student_attn1, student_attn2: (N, T, T) two different heads of the student (A_S,1 learns
            from the CL teacher, A_S,2 from the MIM teacher).
        l2: weight of the CL term. With l2 = 0 the CL term is not computed (``cl_attn`` and
            ``student_attn1`` may be None): only the MIM teacher's attention is transferred.
    """
    l2 = check_fraction("l2", l2)
    terms = ((l2, cl_attn, student_attn1, "cl_attn", "student_attn1"),
             (1.0 - l2, mim_attn, student_attn2, "mim_attn", "student_attn2"))
    total = None
    for weight, teacher, student, teacher_name, student_name in terms:
        if weight > 0:  # with l2 = 0 the CL pair is never looked at
            _require(teacher_name, teacher, weight)
            _require(student_name, student, weight)
            term = weight * attention_kl(teacher, student, include_cls, detach_teacher)
            total = term if total is None else total + term
    return total


def joint_loss(student_logits: torch.Tensor, labels: torch.Tensor, cl_logits: torch.Tensor | None = None,
               mim_logits: torch.Tensor | None = None, cl_attn: torch.Tensor | None = None,
               mim_attn: torch.Tensor | None = None, student_attn1: torch.Tensor | None = None,
               student_attn2: torch.Tensor | None = None, *, l1: float = 0.5, l2: float = 0.0,
               temperature: float = 1.0, include_cls: bool = True, use_attention: bool = True,
               detach_teacher: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The paper's one-stage objective (Eq. 4): the student and both teachers' heads learn the labels
    while the student distils the teachers' outputs and attention.

    A teacher given as None is absent: no CE term, and its KD weight must be 0. With
    ``use_attention=False`` L_Attn is 0 and no map is needed (output-only KD baselines).

    Args:
        student_logits, cl_logits, mim_logits: (N, K).
        labels: (N,) int class ids.
        cl_attn, mim_attn, student_attn1, student_attn2: (N, T, T), see `attn_loss`.
        l1, l2, temperature, include_cls, detach_teacher: see `kd_loss`, `attn_loss`.
    Returns:
        total: scalar, CE_S + CE_CL + CE_MIM + L_KD + L_Attn, each weighted 1 as in Eq. 4.
        parts: detached scalars "ce_student", "ce_cl", "ce_mim", "kd", "attn" (0 when absent);
            they sum to total.
    """
    zero = student_logits.new_zeros(())
    parts = {
        "ce_student": F.cross_entropy(student_logits, labels),
        "ce_cl": zero if cl_logits is None else F.cross_entropy(cl_logits, labels),
        "ce_mim": zero if mim_logits is None else F.cross_entropy(mim_logits, labels),
        "kd": kd_loss(student_logits, cl_logits, mim_logits, l1, temperature, detach_teacher),
        "attn": (attn_loss(cl_attn, mim_attn, student_attn1, student_attn2, l2, include_cls, detach_teacher)
                 if use_attention else zero),
    }
    total = sum(parts.values())
    return total, {k: v.detach() for k, v in parts.items()}


def _require(name: str, tensor: torch.Tensor | None, weight: float) -> None:
    if tensor is None:
        raise ValueError(f"{name} is None but its term has weight {weight}")
