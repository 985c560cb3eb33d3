"""Run folders: a name always means one configuration; bad run parameters fail before compute."""
import pytest

from mae_study.experiments.dynmask import DYNMASK_PRETRAIN
from mae_study.experiments.pretrain import default_run_name, run_pretrain
from mae_study.models import mae_config


def test_a_run_name_taken_by_other_parameters_is_a_clear_error(results_dir):
    p = DYNMASK_PRETRAIN.resolve("ci", num_epochs=1)
    run = run_pretrain(p, "names", run_name="r", progress=False)
    assert run_pretrain(p, "names", run_name="r", progress=False).path == run.path  # same parameters: reused
    with pytest.raises(ValueError, match=r"made with other parameters \(final_mask_ratio: run has 0.75, asked 0.9\)"):
        run_pretrain({**p, "final_mask_ratio": 0.9}, "names", run_name="r", progress=False)


def test_an_explicit_schedule_gets_its_own_run_name():
    p = DYNMASK_PRETRAIN.resolve("cpu", method="dynamic")
    q = DYNMASK_PRETRAIN.resolve("cpu", method="dynamic", schedule=[[0, 0.5], [5, 0.75]])
    r = DYNMASK_PRETRAIN.resolve("cpu", method="dynamic", schedule=[[0, 0.6], [5, 0.75]])
    names = {default_run_name(x) for x in (p, q, r)}
    assert len(names) == 3 and default_run_name(p) == "dynamic_r75_s0"


@pytest.mark.parametrize("kw, match", [
    ({"method": "static", "schedule": [[0, 0.5], [5, 0.75]]}, "method='static' cannot take"),
    ({"warmup_epochs": -1.0}, "warmup_epochs must be >= 0"),
])
def test_bad_pretraining_parameters_fail_at_resolve(kw, match):
    with pytest.raises(ValueError, match=match):
        DYNMASK_PRETRAIN.resolve("cpu", **kw)


def test_bad_finetuning_parameters_fail_at_resolve():
    from mae_study.experiments.dynmask import DYNMASK_FINETUNE
    with pytest.raises(ValueError, match="lr must be > 0"):
        DYNMASK_FINETUNE.resolve("cpu", lr=0.0)


@pytest.mark.parametrize("field", ["norm_pix_loss", "encoder_mask_token", "fused_attn"])
def test_model_switches_must_be_booleans(field):
    with pytest.raises(ValueError, match=f"{field} must be True or False"):
        mae_config("ci_16", **{field: "False"})
