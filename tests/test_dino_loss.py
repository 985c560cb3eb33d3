import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from mae_study.train.kd import (DINOHead, DINOLoss, DINOObjective, DINOPair, dino_loss, ema_update_,
                          teacher_temperature, updated_center)


def _softmax(xs, tau):
    e = [math.exp(x / tau) for x in xs]
    return [v / sum(e) for v in e]


def _ce(p, q):
    return -sum(pi * math.log(qi) for pi, qi in zip(p, q))


def test_dino_loss_matches_a_hand_computation():
    # one image, K = 3; two global views (teacher and student) and one local view (student)
    t = [[1.0, 0.0, -1.0], [0.5, 0.2, 0.1]]
    s = [[0.3, -0.2, 0.0], [-0.1, 0.4, 0.2], [0.0, 0.0, 0.6]]
    c = [0.1, -0.1, 0.05]
    tt, ts = 0.04, 0.1
    p_t = [_softmax([x - ci for x, ci in zip(row, c)], tt) for row in t]
    p_s = [_softmax(row, ts) for row in s]
    pairs = [(0, 1), (0, 2), (1, 0), (1, 2)]  # (teacher view, student view), never the same view
    want = sum(_ce(p_t[q], p_s[v]) for q, v in pairs) / len(pairs)
    got = dino_loss([torch.tensor([r]) for r in s], [torch.tensor([r]) for r in t], torch.tensor([c]), tt, ts)
    assert abs(got.item() - want) < 1e-5


def test_same_view_pairs_are_excluded():
    s0, s1 = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8, requires_grad=True)
    t0 = torch.randn(4, 8, requires_grad=True)
    dino_loss([s0, s1], [t0], torch.zeros(1, 8), 0.04).backward()
    assert s0.grad is None or not s0.grad.any()  # student view 0 is teacher view 0's own crop
    assert s1.grad.abs().sum() > 0
    assert t0.grad is None  # no gradient reaches the teacher
    with pytest.raises(ValueError, match="pair"):
        dino_loss([s0], [t0], torch.zeros(1, 8), 0.04)


def test_centre_update_formula_and_loss_uses_the_old_centre():
    g = torch.Generator().manual_seed(0)
    t = [torch.randn(4, 6, generator=g) for _ in range(2)]
    s = [torch.randn(4, 6, generator=g) for _ in range(3)]
    old = torch.randn(1, 6, generator=g)
    want = 0.9 * old + 0.1 * torch.cat(t).mean(0, keepdim=True)
    assert torch.allclose(updated_center(old, t, 0.9), want)
    crit = DINOLoss(6)
    crit.center.copy_(old)
    loss = crit(s, t, epoch=0)
    assert torch.allclose(loss, dino_loss(s, t, old, 0.04, 0.1))
    assert torch.allclose(crit.center, want)


def test_centre_state_round_trips_through_state_dict():
    g = torch.Generator().manual_seed(1)
    crit = DINOLoss(5, teacher_temp=0.07, warmup_teacher_temp_epochs=3)
    for _ in range(3):
        crit([torch.randn(2, 5, generator=g) for _ in range(3)], [torch.randn(2, 5, generator=g) for _ in range(2)], 1)
    assert "center" in crit.state_dict() and crit.center.abs().sum() > 0
    resumed = DINOLoss(5, teacher_temp=0.07, warmup_teacher_temp_epochs=3)
    DINOObjective(resumed).load_state_dict(DINOObjective(crit).state_dict())
    s, t = [torch.randn(2, 5, generator=g) for _ in range(3)], [torch.randn(2, 5, generator=g) for _ in range(2)]
    assert torch.equal(crit(s, t, 2), resumed(s, t, 2))
    assert torch.equal(crit.center, resumed.center)


def test_teacher_temperature_warm_up():
    assert teacher_temperature(0, 0.07, 0.04, 30) == pytest.approx(0.04)
    assert teacher_temperature(29, 0.07, 0.04, 30) == pytest.approx(0.07)  # linspace: end at the last warm-up epoch
    assert teacher_temperature(15, 0.07, 0.04, 31) == pytest.approx(0.055)
    assert teacher_temperature(100, 0.07, 0.04, 30) == 0.07
    assert teacher_temperature(0) == 0.04  # default: constant, no warm-up


def test_dino_head_shapes_and_normalised_last_layer():
    head = DINOHead(in_dim=8, out_dim=32, hidden_dim=16, bottleneck_dim=4)
    assert head(torch.randn(5, 8)).shape == (5, 32)
    assert sum(isinstance(m, nn.Linear) for m in head.mlp) == 3
    w = head.last_layer.weight  # (K, bottleneck), rows of norm g = 1
    assert torch.allclose(w.norm(dim=1), torch.ones(32), atol=1e-5)
    assert not head.last_layer.parametrizations.weight.original0.requires_grad
    free = DINOHead(8, 32, 16, 4, nlayers=1, norm_last_layer=False)
    assert free.last_layer.parametrizations.weight.original0.requires_grad
    assert free(torch.randn(2, 8)).shape == (2, 32)


def test_ema_update_formula():
    teacher, student = nn.Linear(3, 2), nn.Linear(3, 2)
    want = [0.99 * t.detach() + 0.01 * s.detach() for t, s in zip(teacher.parameters(), student.parameters())]
    ema_update_(teacher, student, 0.99)
    assert all(torch.allclose(t, w) for t, w in zip(teacher.parameters(), want))


def test_dino_objective_runs_on_multi_crop_views():
    def net():
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             DINOHead(8, 16, 12, 4))
    torch.manual_seed(0)
    student = net()
    pair = DINOPair(student, net())
    pair.teacher.load_state_dict(student.state_dict())
    views = [torch.randn(2, 3, 12, 12), torch.randn(2, 3, 12, 12), torch.randn(2, 3, 6, 6)]
    objective = DINOObjective(DINOLoss(16, teacher_temp=0.07, warmup_teacher_temp_epochs=4))
    loss, metrics = objective(pair, SimpleNamespace(views=views), SimpleNamespace(epoch=1, step=0, position=1.0))
    assert torch.isfinite(loss) and metrics["teacher_temp"] == pytest.approx(0.05)
    loss.backward()
    assert all(p.grad is None for p in pair.teacher.parameters())
    assert student[0].weight.grad.abs().sum() > 0


def test_teacher_entropy_and_kl_split_the_loss_and_show_both_collapses():
    from mae_study.train.kd.dino import teacher_entropy
    torch.manual_seed(0)
    k = 16
    students = [torch.randn(5, k) for _ in range(3)]
    teachers = [torch.randn(5, k) for _ in range(2)]
    centre = torch.zeros(1, k)
    h = teacher_entropy(teachers, centre, 0.04)
    loss = dino_loss(students, teachers, centre, 0.04)
    # the KL by hand over the same pairs: (teacher view q, student view v != q)
    kl = []
    for q, t in enumerate(teachers):
        log_p_t = torch.log_softmax(t / 0.04, -1)
        for v, s in enumerate(students):
            if v != q:
                kl.append((log_p_t.exp() * (log_p_t - torch.log_softmax(s / 0.1, -1))).sum(-1).mean())
    assert float(loss - h) == pytest.approx(float(torch.stack(kl).mean()), rel=1e-5)
    uniform = [torch.zeros(5, k)] * 2  # a teacher collapsed to uniform outputs: entropy ln K
    assert float(teacher_entropy(uniform, centre, 0.04)) == pytest.approx(math.log(k), rel=1e-6)
    spike = [torch.zeros(5, k).index_fill_(1, torch.tensor([3]), 10.0)] * 2  # collapsed to one dimension
    assert float(teacher_entropy(spike, centre, 0.04)) < 1e-6


def test_the_dino_objective_logs_teacher_entropy_and_kl():
    torch.manual_seed(0)
    k = 8
    pair = DINOPair(nn.Sequential(nn.Flatten(), nn.Linear(12, k)), nn.Sequential(nn.Flatten(), nn.Linear(12, k)))
    views = [torch.randn(4, 3, 2, 2) for _ in range(3)]
    loss, metrics = DINOObjective(DINOLoss(k))(pair, SimpleNamespace(views=views), SimpleNamespace(epoch=0))
    assert metrics["kl"] >= 0 and 0 <= metrics["teacher_entropy"] <= math.log(k) + 1e-6
    assert metrics["kl"] + metrics["teacher_entropy"] == pytest.approx(loss.item(), rel=1e-6)
