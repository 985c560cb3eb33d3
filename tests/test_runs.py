"""Run folders: a name always means one configuration; bad run parameters fail before compute."""
import pytest

from mae_study.chapters.dynmask.plan import DYNMASK_PRETRAIN
from mae_study.models import mae_config
from mae_study.runs.pretrain import default_run_name, run_pretrain


def test_a_run_name_taken_by_other_parameters_is_a_clear_error(results_dir):
    p = DYNMASK_PRETRAIN.resolve("ci", num_epochs=1)
    run = run_pretrain(p, "names", run_name="r", progress=False)
    assert run_pretrain(p, "names", run_name="r", progress=False).path == run.path  # same parameters: reused
    with pytest.raises(ValueError, match=r"made with other parameters \(final_mask_ratio: run has 0.75, asked 0.9\)"):
        run_pretrain(p.replace(final_mask_ratio=0.9), "names", run_name="r", progress=False)


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
    from mae_study.chapters.dynmask.plan import DYNMASK_FINETUNE
    with pytest.raises(ValueError, match="lr must be > 0"):
        DYNMASK_FINETUNE.resolve("cpu", lr=0.0)


@pytest.mark.parametrize("field", ["norm_pix_loss", "encoder_mask_token", "fused_attn"])
def test_model_switches_must_be_booleans(field):
    with pytest.raises(ValueError, match=f"{field} must be True or False"):
        mae_config("ci_16", **{field: "False"})


# ---- run names follow from parameters; finished runs are read back without weights -------------

from mae_study.chapters.dynmask import plan as dynmask  # noqa: E402
from mae_study.runs.finetune import run_finetune  # noqa: E402
from mae_study.chapters.mae.plan import MAE_PRETRAIN  # noqa: E402
from mae_study.runs.skeleton import auto_run_name, changed_params  # noqa: E402


def test_run_names_show_the_named_parameters_and_digest_the_rest():
    base = MAE_PRETRAIN.resolve("cpu")
    assert auto_run_name(base) == "static_r75_s0"
    assert auto_run_name(MAE_PRETRAIN.resolve("cpu", final_mask_ratio=0.9)) == "static_r90_s0"
    longer = MAE_PRETRAIN.resolve("cpu", final_mask_ratio=0.9, num_epochs=20)
    assert auto_run_name(longer).startswith("static_r90_s0_p") and changed_params(longer, ("final_mask_ratio",)) \
        == {"num_epochs": 20}
    # asking for a default explicitly is the same run; another value is another run
    assert auto_run_name(MAE_PRETRAIN.resolve("cpu", num_epochs=base["num_epochs"])) == "static_r75_s0"
    assert auto_run_name(MAE_PRETRAIN.resolve("cpu", num_epochs=21)) != auto_run_name(longer)


def test_a_rerun_with_other_parameters_gets_its_own_folder_and_the_same_reads_back(results_dir):
    p = dynmask.DYNMASK_PRETRAIN.resolve("ci", num_epochs=1)
    first = run_pretrain(p, progress=False)
    stamp = first.file("final.json").stat().st_mtime_ns
    again = run_pretrain(dynmask.DYNMASK_PRETRAIN.resolve("ci", num_epochs=1), progress=False)
    assert again.path == first.path and again.file("final.json").stat().st_mtime_ns == stamp  # not redone
    other = run_pretrain(p.replace(lr=1e-3), progress=False)
    assert other.path != first.path and other.is_finished()
    assert other.read("config.json")["params"]["lr"] == 1e-3


def test_a_finished_finetuning_reads_back_without_the_pretrained_weights(results_dir):
    pre = run_pretrain(dynmask.DYNMASK_PRETRAIN.resolve("ci", num_epochs=1), progress=False)
    q = dynmask.DYNMASK_FINETUNE.resolve("ci", pretrained=pre.name, num_epochs=1)
    ft = run_finetune(q, progress=False)
    pre.file("encoder.pt").unlink()  # as on a fresh clone: result files committed, weights not
    assert run_finetune(q, progress=False).path == ft.path
    assert not pre.file("encoder.pt").exists()  # nothing was recomputed


def test_missing_weights_are_recomputed_with_a_line_saying_so(results_dir, capsys):
    pre = run_pretrain(dynmask.DYNMASK_PRETRAIN.resolve("ci", num_epochs=1), progress=False)
    import torch
    weights = torch.load(pre.file("encoder.pt"), weights_only=True)
    pre.file("encoder.pt").unlink()
    run_finetune(dynmask.DYNMASK_FINETUNE.resolve("ci", pretrained=pre.name, num_epochs=1), progress=False)
    assert "Recomputing the weights of ci/dynmask_pretrain/" in capsys.readouterr().out
    again = torch.load(pre.file("encoder.pt"), weights_only=True)
    assert all(torch.allclose(weights[k], again[k], atol=1e-5) for k in weights)  # the same weights
    assert not list(pre.path.parent.glob(".weights-*"))  # the temporary run is gone


def test_a_missing_pretraining_names_the_command_that_makes_it(results_dir):
    with pytest.raises(ValueError, match="Make it with: papermill notebooks/03_dynmask_pretrain.ipynb"):
        run_finetune(dynmask.DYNMASK_FINETUNE.resolve("ci", pretrained="dynamic_r90_s3"), progress=False)


def test_every_committed_cpu_run_is_named_and_configured_as_its_plan_says():
    from mae_study.runs.skeleton import check_run_params
    from mae_study.runs.results import RunDir
    from mae_study.sweep import SWEEPS
    from mae_study.sweep import in_progress
    unfinished = in_progress("cpu")  # sweeps committed part-way (they resume), each page says so
    for sweep in ("dynmask", "mae_ablations", "ladder", "kd", "synthetic"):
        for experiment, name, params, _ in SWEEPS[sweep]("cpu"):
            run = RunDir("cpu", experiment, name)
            if sweep in unfinished and not run.is_finished():
                continue
            assert run.is_finished(), run.path
            check_run_params(run, params)  # raises on any difference
