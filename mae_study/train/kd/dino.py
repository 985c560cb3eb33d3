"""DINO (Caron et al., ICCV 2021): self-distillation with no labels, the study's contrastive teacher.

The student sees every crop (2 global + some local), the teacher (an EMA of the student) the
global crops only. For every teacher view q and every student view v != q the student's softmax
at temperature 0.1 is pulled towards the teacher's centred, sharpened softmax:

    P_t = softmax((g_t(x_q) - c) / tau_t)       P_s = softmax(g_s(x_v) / tau_s)
    L   = mean over pairs (q, v), v != q, of  mean over images  - sum_k P_t[k] log P_s[k]
    c  <- m c + (1 - m) mean over images and global views of g_t(x)     (m = 0.9, after the loss)

Written from these formulas (lightly is not a dependency). The EMA update of the teacher's weights
and freezing the last layer in the first epoch happen after the optimiser step: the engine's, not
the loss's; `ema_update_` is the update.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_


def teacher_temperature(epoch: int, final: float = 0.04, warmup_start: float = 0.04,
                        warmup_epochs: int = 0) -> float:
    """Teacher temperature at ``epoch`` (0-based): linear from ``warmup_start`` at epoch 0 to
    ``final`` at epoch warmup_epochs - 1, then ``final``; per epoch, as DINO's
    ``np.linspace(warmup, final, warmup_epochs)``. The paper's schedule is 0.04 -> 0.07 over 30
    epochs: ``teacher_temperature(e, 0.07, 0.04, 30)``."""
    if epoch >= warmup_epochs:
        return final
    if warmup_epochs == 1:
        return warmup_start
    return warmup_start + (final - warmup_start) * epoch / (warmup_epochs - 1)


def dino_loss(student_out: Sequence[torch.Tensor], teacher_out: Sequence[torch.Tensor], center: torch.Tensor,
              teacher_temp: float, student_temp: float = 0.1) -> torch.Tensor:
    """The DINO cross-entropy, averaged over the (teacher view, other student view) pairs.

    Args:
        student_out: per view (N, K) student head outputs; the first len(teacher_out) views are the
            global views, in the teacher's order (student view i and teacher view i are one crop).
        teacher_out: per global view (N, K) teacher head outputs, before centring.
        center: (1, K) or (K,) the centre.
    Returns:
        scalar; no gradient reaches the teacher.
    """
    if len(teacher_out) > len(student_out):
        raise ValueError(f"{len(teacher_out)} teacher views but only {len(student_out)} student views")
    log_p_s = [F.log_softmax(s.float() / student_temp, dim=-1) for s in student_out]  # each (N, K)
    total, pairs = 0.0, 0
    for q, t in enumerate(teacher_out):
        p_t = F.softmax((t.detach().float() - center) / teacher_temp, dim=-1)  # (N, K) centred, sharpened
        for v, log_p in enumerate(log_p_s):
            if v == q:
                continue  # the same crop: nothing to predict
            total = total + (-p_t * log_p).sum(-1).mean()
            pairs += 1
    if pairs == 0:
        raise ValueError("no (teacher view, other student view) pair: give at least two views")
    return total / pairs


@torch.no_grad()
def teacher_entropy(teacher_out: Sequence[torch.Tensor], center: torch.Tensor, teacher_temp: float) -> torch.Tensor:
    """Mean over global views and images of the entropy of the teacher's centred, sharpened softmax
    (nats). DINO's loss is this entropy plus KL(P_t || P_s), each pair weighing alike, so
    ``loss - teacher_entropy`` is the mean KL. Collapse shows in the pair (Caron et al., section 5.3):
    to a uniform output the entropy tends to ln K with KL at 0; to one dimension, both tend to 0."""
    h = [-(p * p.clamp_min(1e-12).log()).sum(-1).mean()
         for p in (F.softmax((t.float() - center) / teacher_temp, dim=-1) for t in teacher_out)]
    return torch.stack(h).mean()


@torch.no_grad()
def updated_center(center: torch.Tensor, teacher_out: Sequence[torch.Tensor], momentum: float = 0.9) -> torch.Tensor:
    """m * center + (1 - m) * the mean teacher output over images and global views: (1, K). Under
    torch.distributed the mean is over every process's images, as DINO's all-reduce."""
    out = torch.cat(list(teacher_out)).float()  # (views * N, K)
    batch_sum, count = out.sum(0, keepdim=True), len(out)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(batch_sum)
        count *= dist.get_world_size()
    return center * momentum + (batch_sum / count) * (1 - momentum)


class DINOLoss(nn.Module):
    """`dino_loss` with its centre, a buffer (in ``state_dict()``, so a checkpoint resumes it).

    Args:
        out_dim: K, the head's output size.
        teacher_temp: final teacher temperature; DINO's code defaults to 0.04, its paper to 0.07
            after a warm-up. Defaults here: 0.04 constant (no warm-up), stable on short runs.
        warmup_teacher_temp, warmup_teacher_temp_epochs: the warm-up (0 epochs: none).
        student_temp: 0.1, as the paper.
        center_momentum: 0.9, as the paper.
    """

    def __init__(self, out_dim: int, teacher_temp: float = 0.04, warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_epochs: int = 0, student_temp: float = 0.1, center_momentum: float = 0.9):
        super().__init__()
        self.teacher_temp, self.student_temp = teacher_temp, student_temp
        self.warmup_teacher_temp, self.warmup_teacher_temp_epochs = warmup_teacher_temp, warmup_teacher_temp_epochs
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))  # (1, K)

    def temperature(self, epoch: int) -> float:
        return teacher_temperature(epoch, self.teacher_temp, self.warmup_teacher_temp, self.warmup_teacher_temp_epochs)

    def forward(self, student_out: Sequence[torch.Tensor], teacher_out: Sequence[torch.Tensor],
                epoch: int = 0) -> torch.Tensor:
        """The loss with the current centre, then the centre update (as DINO: the loss of a step
        never sees that step's own teacher mean)."""
        if self.center.device != teacher_out[0].device:
            self.center = self.center.to(teacher_out[0].device)
        loss = dino_loss(student_out, teacher_out, self.center, self.temperature(epoch), self.student_temp)
        self.last_entropy = teacher_entropy(teacher_out, self.center, self.temperature(epoch)).item()
        self.center = updated_center(self.center, teacher_out, self.center_momentum)
        return loss


class DINOHead(nn.Module):
    """DINO's projection head: an MLP of ``nlayers`` linear layers (GELU between; the last to the
    bottleneck), L2 normalisation, then a weight-normalised linear layer without bias to K outputs
    whose norm g is fixed at 1 when ``norm_last_layer`` (the paper's setting for ViT-S stability).

    Uses ``torch.nn.utils.parametrizations.weight_norm``; its state_dict keys
    (``last_layer.parametrizations.weight.original0/1``) differ from DINO's checkpoints (weight_g/v).
    """

    def __init__(self, in_dim: int, out_dim: int = 65536, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 nlayers: int = 3, use_bn: bool = False, norm_last_layer: bool = True):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (max(nlayers, 1) - 1) + [bottleneck_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:  # not after the bottleneck layer
                layers += [nn.BatchNorm1d(b)] if use_bn else []
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.apply(self._init_weights)  # before last_layer: it keeps PyTorch's default init, as DINO
        self.last_layer = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        g = self.last_layer.parametrizations.weight.original0  # (K, 1) the norm of each output row
        with torch.no_grad():
            g.fill_(1.0)
        g.requires_grad_(not norm_last_layer)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mlp(x)  # (N, bottleneck)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)  # (N, K)


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher <- momentum * teacher + (1 - momentum) * student, parameter by parameter (DINO's
    momentum goes 0.996 -> 1 on a cosine over training; call after each optimiser step)."""
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)


class DINOPair(nn.Module):
    """Student and EMA teacher (each backbone + `DINOHead`: (N, C, h, w) -> (N, K)) as one module,
    so one ``model(views)`` call (through DDP or torch.compile) gives both outputs. The teacher
    takes no gradient; build it as a copy of the student and update it with `ema_update_`."""

    def __init__(self, student: nn.Module, teacher: nn.Module, num_global: int = 2):
        super().__init__()
        self.student, self.teacher, self.num_global = student, teacher, num_global
        self.teacher.requires_grad_(False)

    def forward(self, views: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        student_out = [self.student(v) for v in views]  # each (N, K)
        with torch.no_grad():
            teacher_out = [self.teacher(v) for v in views[: self.num_global]]  # global views only
        return student_out, teacher_out


@dataclass
class DINOObjective:
    """Engine-facing DINO loss, ``(model, batch, ctx) -> (loss, metrics)``: ``model`` is a
    `DINOPair`; ``batch.views`` holds the global views first, then the local ones; the teacher
    temperature follows ``ctx.epoch``. The centre lives in ``criterion``: checkpoint it with
    ``state_dict()`` / ``load_state_dict()``."""

    criterion: DINOLoss

    def __call__(self, model, batch, ctx):
        if len(batch.views) < 2:
            raise ValueError(f"DINO needs at least 2 views (global first), got {len(batch.views)}")
        student_out, teacher_out = model(batch.views)
        loss = self.criterion(student_out, teacher_out, ctx.epoch)
        entropy = self.criterion.last_entropy  # with the centre the loss used
        return loss, {"teacher_temp": self.criterion.temperature(ctx.epoch), "teacher_entropy": entropy,
                      "kl": loss.item() - entropy}

    def state_dict(self) -> dict:
        return self.criterion.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.criterion.load_state_dict(state)
