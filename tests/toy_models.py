"""Tiny models and a DINO-like loss for engine tests (imported by several test files)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mae_study.train.distributed import all_reduce_mean


class MultiViewNet(nn.Module):
    """A conv feature extractor for images of any size; ``forward`` takes one tensor or a list of
    views and returns features (N, dim) or a list of them, so one call serves every view (one
    DistributedDataParallel forward per step)."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(3, dim, 3, padding=1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, views):
        if isinstance(views, torch.Tensor):
            return self.norm(self.conv(views).relu().mean((2, 3)))  # (N, dim)
        return [self(v) for v in views]


class ToyDino(nn.Module):
    """DINO's loss in miniature: the student (model + extra module ``head``) on every view learns the
    teacher's centred, sharpened output on the other global views; the teacher is the EMA of the
    student (two `EmaHook`s); the centre is an EMA of the teacher's batch mean (a buffer, so it is
    checkpointed), averaged over processes."""

    def __init__(self, teacher, teacher_head, out_dim: int, center_momentum: float = 0.9):
        super().__init__()
        self.teacher, self.teacher_head, self.m = teacher, teacher_head, center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))

    def forward(self, model, batch, ctx):
        n_views, b = len(batch.views), len(batch)
        feats = torch.cat(model(batch.views))  # (n_views * b, dim)
        student = ctx.modules["head"](feats).chunk(n_views)  # one head call per step
        with torch.no_grad():
            t_out = self.teacher_head.module(torch.cat(self.teacher.module(batch.views[:2])))  # (2b, K)
            targets = F.softmax((t_out - self.center) / 0.04, -1).chunk(2)
        terms = [-(t * F.log_softmax(s / 0.1, -1)).sum(-1).mean()
                 for i, t in enumerate(targets) for v, s in enumerate(student) if v != i]
        with torch.no_grad():
            self.center.mul_(self.m).add_(all_reduce_mean(t_out.mean(0, keepdim=True)), alpha=1 - self.m)
        return sum(terms) / len(terms), {"center_norm": self.center.norm().item()}
