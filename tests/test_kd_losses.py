from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mae_study.models import ModelSpec, build_model
from mae_study.train.kd import (KDModels, MultiTeacherKDLoss, attention_kl, attn_loss, joint_loss, kd_loss,
                          output_kl)


def _logits(seed, n=4, k=5):
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed))


def _attn(seed, n=2, t=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, t, t, generator=g).mul(2).softmax(-1)  # (N, T, T) rows sum to 1


def _kl_by_hand(p, q):
    """sum_k p log(p / q), per row."""
    return (p * (p.log() - q.log())).sum(-1)


def test_output_kl_is_zero_for_equal_logits_and_positive_otherwise():
    s, t = _logits(0), _logits(1)
    assert output_kl(s, s.clone(), 2.0).abs() < 1e-6
    assert output_kl(s, t, 2.0) > 0


def test_output_kl_is_the_softened_kl_times_t_squared():
    s, t, T = _logits(0), _logits(1), 3.0
    want = _kl_by_hand((t / T).softmax(-1), (s / T).softmax(-1)).mean() * T ** 2
    assert torch.allclose(output_kl(s, t, T), want, atol=1e-6)
    # the documented T^2 scaling: logits scaled by T at temperature T give T^2 times the plain KL
    assert torch.allclose(output_kl(T * s, T * t, T), T ** 2 * output_kl(s, t, 1.0), atol=1e-5)


def test_output_kl_detaches_the_teacher_only_when_asked():
    s, t = _logits(0).requires_grad_(), _logits(1).requires_grad_()
    output_kl(s, t, 2.0).backward()
    assert t.grad is None and s.grad.abs().sum() > 0
    t2 = _logits(1).requires_grad_()
    output_kl(s, t2, 2.0, detach_teacher=False).backward()
    assert t2.grad.abs().sum() > 0


def test_output_kl_rejects_a_bad_temperature_and_mismatched_shapes():
    with pytest.raises(ValueError, match="temperature"):
        output_kl(_logits(0), _logits(1), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        output_kl(_logits(0, k=5), _logits(1, k=6))


def test_attention_kl_is_zero_for_equal_maps_and_equals_the_row_mean_by_hand():
    a, b = _attn(0), _attn(1)
    assert attention_kl(a, a.clone()).abs() < 1e-6
    assert torch.allclose(attention_kl(a, b), _kl_by_hand(a, b).mean(), atol=1e-6)
    assert attention_kl(a, b) > 0


def test_attention_kl_without_cls_drops_the_cls_row_and_column_and_renormalises():
    a = _attn(0)
    b = a.clone()
    b[:, :, 0] = b[:, :, 0] * 0.2 + 0.05  # other weight on the CLS key, same patch proportions
    b[:, 0] = _attn(2)[:, 0]              # another CLS query row
    b = b / b.sum(-1, keepdim=True)
    assert attention_kl(a, b, include_cls=True) > 1e-3
    assert attention_kl(a, b, include_cls=False).abs() < 1e-6
    pa, pb = a[:, 1:, 1:], _attn(3)[:, 1:, 1:]
    pa, pb = pa / pa.sum(-1, keepdim=True), pb / pb.sum(-1, keepdim=True)
    c = _attn(3)
    assert torch.allclose(attention_kl(a, c, include_cls=False), _kl_by_hand(pa, pb).mean(), atol=1e-6)


def test_attention_kl_refuses_different_token_grids_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5, 5\).*\(2, 17, 17\).*same token grid"):
        attention_kl(_attn(0, t=5), _attn(1, t=17))
    with pytest.raises(ValueError, match="one head"):
        attention_kl(_attn(0).unsqueeze(1), _attn(1).unsqueeze(1))


def test_attention_kl_stays_finite_when_the_student_weight_underflows():
    a = torch.full((1, 3, 3), 1 / 3)
    b = torch.eye(3).unsqueeze(0)  # zeros where the teacher has mass
    assert torch.isfinite(attention_kl(a, b))


def test_kd_loss_weights_the_two_teachers_by_l1():
    s, cl, mim = _logits(0), _logits(1), _logits(2)
    want = 0.3 * output_kl(s, cl, 2.0) + 0.7 * output_kl(s, mim, 2.0)
    assert torch.allclose(kd_loss(s, cl, mim, 0.3, 2.0), want, atol=1e-6)
    assert torch.allclose(kd_loss(s, None, mim, 0.0, 2.0), output_kl(s, mim, 2.0))  # one teacher
    with pytest.raises(ValueError, match="cl_logits is None"):
        kd_loss(s, None, mim, 0.5)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_weights_outside_unit_interval_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="l1"):
        kd_loss(_logits(0), _logits(1), _logits(2), bad)
    with pytest.raises(ValueError, match="l2"):
        attn_loss(_attn(0), _attn(1), _attn(2), _attn(3), bad)
    with pytest.raises(ValueError, match="l2"):
        MultiTeacherKDLoss(l2=bad)


def test_attn_loss_with_l2_zero_never_computes_the_cl_term():
    mim, s1, s2 = _attn(1), _attn(2).requires_grad_(), _attn(3).requires_grad_()
    bad_cl = _attn(0, t=17)  # another token grid: would raise if the CL term were computed
    loss = attn_loss(bad_cl, mim, s1, s2, l2=0.0)
    assert torch.allclose(loss, attention_kl(mim, s2))
    assert torch.allclose(attn_loss(None, mim, None, s2, l2=0.0), loss)
    loss.backward()
    assert s1.grad is None and s2.grad.abs().sum() > 0  # only the MIM teacher's attention is transferred
    want = 0.4 * attention_kl(_attn(0), s1) + 0.6 * attention_kl(mim, s2)
    assert torch.allclose(attn_loss(_attn(0), mim, s1, s2, l2=0.4), want)


def test_joint_loss_is_the_sum_of_its_terms():
    y = torch.tensor([0, 1, 2, 3])
    s, cl, mim = _logits(0), _logits(1), _logits(2)
    a_cl, a_mim, s1, s2 = _attn(0, n=4), _attn(1, n=4), _attn(2, n=4), _attn(3, n=4)
    total, parts = joint_loss(s, y, cl, mim, a_cl, a_mim, s1, s2, l1=0.5, l2=0.25, temperature=2.0)
    assert set(parts) == {"ce_student", "ce_cl", "ce_mim", "kd", "attn"}
    assert torch.allclose(total, sum(parts.values()))
    want = (F.cross_entropy(s, y) + F.cross_entropy(cl, y) + F.cross_entropy(mim, y)
            + kd_loss(s, cl, mim, 0.5, 2.0) + attn_loss(a_cl, a_mim, s1, s2, 0.25))
    assert torch.allclose(total, want, atol=1e-6)
    assert all(p > 0 for p in parts.values())


def test_joint_loss_without_a_teacher_or_attention_drops_those_terms():
    y = torch.tensor([0, 1, 2, 3])
    s, cl = _logits(0), _logits(1)
    total, parts = joint_loss(s, y, cl, None, l1=1.0, use_attention=False)
    assert parts["ce_mim"] == 0 and parts["attn"] == 0
    assert torch.allclose(total, F.cross_entropy(s, y) + F.cross_entropy(cl, y) + output_kl(s, cl))


def _vit(seed, patch_size=8):
    torch.manual_seed(seed)
    spec = ModelSpec("vit_tiny_patch16_224", 4, 16, patch_size=patch_size, kwargs={"depth": 2})
    return build_model(spec)


def _batch():
    g = torch.Generator().manual_seed(0)
    return SimpleNamespace(imgs=torch.randn(3, 3, 16, 16, generator=g), labels=torch.tensor([0, 1, 3]))


def test_multi_teacher_loss_trains_the_student_and_teachers_in_one_step():
    models = KDModels(_vit(0), _vit(1), _vit(2))
    ctx = SimpleNamespace(epoch=0, step=0, position=0.0)
    loss, metrics = MultiTeacherKDLoss(l1=0.5, l2=0.0, temperature=2.0)(models, _batch(), ctx)
    assert torch.isfinite(loss)
    assert abs(loss.item() - sum(metrics[k] for k in ("ce_student", "ce_cl", "ce_mim", "kd", "attn"))) < 1e-5
    assert metrics["attn"] > 0 and "mim_head" in metrics and "cl_head" not in metrics
    loss.backward()
    for net in (models.student, models.cl, models.mim):  # CE reaches the teachers' heads
        assert net.head.weight.grad.abs().sum() > 0
    assert models(_batch().imgs).shape == (3, 4)  # plain call: the student, for evaluation


def test_multi_teacher_loss_skips_the_cl_maps_when_l2_is_zero():
    models = KDModels(_vit(0), _vit(1, patch_size=4), _vit(2))  # CL teacher on another token grid
    ctx = SimpleNamespace(epoch=0, step=0, position=0.0)
    assert MultiTeacherKDLoss(l2=0.0).maps_needed() == ("student", "mim")
    loss, _ = MultiTeacherKDLoss(l2=0.0)(models, _batch(), ctx)  # fine: CL attention never computed
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="same token grid"):
        MultiTeacherKDLoss(l2=0.5)(models, _batch(), ctx)


def test_multi_teacher_loss_refuses_bad_head_choices():
    with pytest.raises(ValueError, match="student_heads"):
        MultiTeacherKDLoss(student_heads=(1, 1))
    with pytest.raises(ValueError, match="mim_head"):
        MultiTeacherKDLoss(mim_head="random")
    models = KDModels(_vit(0), _vit(1), _vit(2))
    with pytest.raises(ValueError, match="has 3 heads"):
        MultiTeacherKDLoss(mim_head=7)(models, _batch(), SimpleNamespace(epoch=0, step=0, position=0.0))
