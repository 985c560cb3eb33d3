"""The multi-teacher distillation chapter's runs (ci profile): a whole chain of finished runs, runs
read back without weights, bad input refused before compute, 2 gloo processes equal to 1."""
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mae_study.chapters.kd import plan as kd, claims as kd_claims, student as kd_student, tables as kd_tables
from mae_study.chapters.kd.adapt import KD_ADAPT, adapt_params, run_adapt
from mae_study.chapters.kd.attention import KD_ATTENTION, distances_per_image, run_attention
from mae_study.chapters.kd.student import KD_STUDENT, run_student
from mae_study.chapters.kd.teachers import (KD_DINO_TEACHER, KD_MAE_TEACHER, load_teacher, mae_to_timm,
                                               run_dino_teacher, run_mae_teacher)
from mae_study.models import MaskedAutoencoder, build_model, mae_config
from mae_study.runs.results import RunDir
from mae_study.train.kd import attention_distance

WORLD = 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models train fastest on one thread, and much faster when other processes share the
    cores (two threads then spin against them); the gloo workers use one thread too."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _teachers():
    return run_dino_teacher(KD_DINO_TEACHER.resolve("ci"), progress=False), \
        run_mae_teacher(KD_MAE_TEACHER.resolve("ci"), progress=False)


@pytest.fixture(scope="module")
def teachers_root(tmp_path_factory):
    """A results root holding the ci teachers (DINO, MAE), made once for the tests that need them."""
    root = tmp_path_factory.mktemp("kd") / "results"
    with pytest.MonkeyPatch.context() as mp_:
        mp_.setenv("MAE_STUDY_RESULTS", str(root))
        _teachers()
    return root


@pytest.fixture
def with_teachers(teachers_root, monkeypatch):
    monkeypatch.setenv("MAE_STUDY_RESULTS", str(teachers_root))
    return teachers_root


def _no_training(monkeypatch):
    """Make any training an error: a check that must come before compute then fails loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("fit was called")
    for module in ("student", "adapt", "dino"):
        monkeypatch.setattr(f"mae_study.chapters.kd.{module}.fit", refuse)


def test_a_whole_ci_chain_writes_finished_runs_and_reads_them_back(results_dir, monkeypatch):
    dino, mae = _teachers()
    assert dino.file("teacher.pt").exists() and mae.file("encoder.pt").exists()
    assert dino.read("final.json")["uniform_loss"] == pytest.approx(math.log(64))  # ln K at ci
    attention = [run_attention(KD_ATTENTION.resolve("ci", teacher=t), progress=False) for t in ("dino", "mae")]
    adapted = [run_adapt(adapt_params("ci", t, "partial-1"), progress=False) for t in ("dino", "mae")]
    p = KD_STUDENT.resolve("ci", l2=0.5)  # both teachers' outputs and attention
    student = run_student(p, progress=False)
    for run in (dino, mae, *attention, *adapted, student):
        assert run.is_finished(), run
    assert student.name == "both_1stage_attn_l2_0.5_s0"
    final, steps = student.read("final.json"), student.read("steps.csv")
    assert all(math.isfinite(v) for v in final.values() if isinstance(v, float))
    assert (steps["kd"] > 0).all() and (steps["attn"] > 0).all()
    config = student.read("config.json")
    assert set(config["heads"]) == {"cl", "mim"} and all(isinstance(h, int) for h in config["heads"].values())
    # Partial-1 trains the head, the last block and the final norm of each teacher, with the student
    trained = {role: t["trainable_params"] for role, t in config["teachers"].items()}
    assert final["trainable_params"] == final["student_params"] + sum(trained.values())
    assert adapted[1].read("final.json")["trainable_params"] == trained["mim"]
    # two stages: the adapted teachers, frozen, end as their adaptation left them
    two = run_student(KD_STUDENT.resolve("ci", stages="two", teacher_mode="partial-1"), progress=False)
    for role, run in zip(("cl", "mim"), adapted):
        assert two.read("final.json")[f"{role}_test_accuracy"] == run.read("final.json")["test_accuracy_final"]
    distance = attention[0].read("distance.csv")
    assert len(distance) == 32 * 2 * 2  # images x layers x heads
    # read back: nothing is computed again, even without weights
    _no_training(monkeypatch)
    dino.file("teacher.pt").unlink()
    assert run_student(p, progress=False).path == student.path
    assert run_adapt(adapt_params("ci", "dino", "partial-1"), progress=False).path == adapted[0].path


def test_missing_teacher_weights_are_recomputed_from_the_stored_parameters(results_dir):
    dino, _ = _teachers()
    before = torch.load(dino.file("teacher.pt"))
    dino.file("teacher.pt").unlink()
    state = load_teacher("ci", "dino", dino.name).backbone_state()
    for key, value in before.items():
        assert torch.allclose(state[key], value, atol=1e-6), key
    assert dino.file("teacher.pt").exists()


@pytest.mark.parametrize("kw, match", [
    ({"l1": 1.5}, r"l1 must be in \[0, 1\]"),
    ({"l2": -0.1}, r"l2 must be in \[0, 1\]"),
    ({"student_heads": [0, 3]}, "student_heads must be two different heads of the student's 3"),
    ({"teachers": "dino", "l1": 0.5}, "only the DINO terms exist"),
    ({"teachers": "none", "attention": True}, "attention=True needs a teacher"),
    ({"head": 1.5}, "head must be one of"),
    ({"temperature": 0.0}, "temperature must be > 0"),
])
def test_bad_student_parameters_fail_at_resolve(kw, match):
    with pytest.raises(ValueError, match=match):
        KD_STUDENT.resolve("ci", **kw)


@pytest.mark.parametrize("kw, match", [
    ({"head": 7}, r"head 7 does not exist: dino teacher 'dino_s0' has 2 heads"),
    ({"patch_size": 8}, "attention KL needs one token grid: dino teacher 'dino_s0' sees 4 x 4 patches"),
    ({"dino_teacher": "nope"}, "dino teacher run 'nope': no finished run"),
    ({"stages": "two"}, "stages='two' needs the full adaptation of 'dino_s0'"),
    ({"image_size": 32, "patch_size": 8}, "image_size=32 but dino teacher 'dino_s0' takes 16 px images"),
])
def test_checks_that_need_the_teachers_fail_before_compute(with_teachers, monkeypatch, kw, match):
    _no_training(monkeypatch)
    p = KD_STUDENT.resolve("ci", l2=0.5, **kw)
    with pytest.raises(ValueError, match=match):
        run_student(p, progress=False)
    assert not (with_teachers / "ci" / KD_STUDENT.name).exists()  # no run folder either


def test_other_token_grids_are_fine_without_attention_kd(with_teachers):
    p = KD_STUDENT.resolve("ci", patch_size=8, attention=False)
    assert set(kd_student.plan_teachers(p)) == {"cl", "mim"}


def test_a_teacher_run_that_does_not_exist_is_a_clear_error(results_dir, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"mae teacher run 'mae_r75_s0': no finished run.*Make it with: papermill"):
        run_adapt(adapt_params("ci", "mae", "linear"), progress=False)
    with pytest.raises(ValueError, match="no finished run"):
        run_student(KD_STUDENT.resolve("ci", teachers="mae", stages="two", attention=False), progress=False)


def test_the_mae_encoder_is_a_timm_vit_under_the_same_names():
    torch.manual_seed(0)
    mae = MaskedAutoencoder(mae_config("ci_16"))
    from mae_study.chapters.kd.teachers import mae_spec
    vit = build_model(mae_spec(mae.cfg))
    vit.load_state_dict(mae_to_timm(mae.encoder.state_dict(), mae.cfg), strict=False)
    imgs = torch.randn(3, 3, 16, 16)
    assert torch.allclose(vit.forward_features(imgs), mae.encoder.forward_features(imgs), atol=1e-5)


def test_distance_per_image_averages_to_attention_distance():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 3, 17, 17, generator=g).softmax(-1)  # 5 images, 3 heads, CLS + 4 x 4 patches
    per_image = distances_per_image(maps, 4, 4)
    assert per_image.shape == (5, 3)
    assert torch.allclose(per_image.mean(0), attention_distance(maps, 4, 4))


def test_the_plan_runs_each_run_once_after_what_it_needs():
    for profile in ("ci", "cpu", "gpu", "paper"):
        plan = kd.plan(profile)
        keys = [(e, n) for e, n, _, _ in plan]
        assert len(keys) == len(set(keys)), profile
        seen = set()
        for experiment, name, p, _ in plan:
            if experiment == KD_STUDENT.name:
                for t in ("dino", "mae"):
                    if p[f"{t}_teacher"]:
                        assert (f"kd_{t}_teacher", p[f"{t}_teacher"]) in seen
                if p["stages"] == "two":
                    for t in kd_student.TEACHER_SETS[p["teachers"]]:
                        q = KD_ADAPT.resolve(profile, teacher=t, teacher_run=p[f"{t}_teacher"], mode=p["teacher_mode"])
                        assert (KD_ADAPT.name, kd.auto_run_name(q)) in seen
            seen.add((experiment, name))
    arms = kd.plan_frame("cpu").query("experiment == 'kd_student'").groupby("arm").size()
    assert arms["DINO + MAE"] == 3 and arms["no attention KD"] == 2


def _adapt_rows(partial, full, linear, dino_full=(78, 79, 78.5)):
    """Table 1's MAE teacher rows, and the DINO teacher fine-tuned (the attention claim's health check)."""
    rows = [{"teacher": "mae", "mode": m, "accuracy": a} for m, accs in
            (("partial-1", partial), ("full", full), ("linear", linear)) for a in accs]
    rows += [{"teacher": "dino", "mode": "full", "accuracy": a} for a in dino_full]
    return pd.DataFrame(rows)


def test_claims_follow_the_numbers():
    adapt = _adapt_rows([79, 80, 79.5], [81, 82, 81.5], [54, 55, 54.5])
    distance = pd.DataFrame([{"teacher": t, "layer": layer, "image": i, "head": h,
                              "distance_px": (8 if t == "dino" and layer >= 2 else 4) + 0.1 * i + 0.01 * h}
                             for t in ("dino", "mae") for layer in range(4) for i in range(5) for h in range(2)])
    students = pd.DataFrame([{"arm": arm, "accuracy": base + 0.1 * s} for arm, base in
                             (("alone", 70), ("DINO", 72), ("MAE", 72), ("DINO + MAE", 74)) for s in range(3)])
    verdicts = kd_claims.claims_from(adapt, distance, students, pixel_probe=0.2)["verdict"].tolist()
    assert verdicts == ["reproduced"] * 5
    reversed_ = kd_claims.claims_from(_adapt_rows([54, 55, 54.5], [81, 82, 81.5], [54, 55, 54.5]),
                                      distance.assign(teacher=distance["teacher"].map({"dino": "mae", "mae": "dino"})),
                                      students.assign(accuracy=144 - students["accuracy"]), pixel_probe=0.2)
    assert reversed_["verdict"].tolist() == ["inconclusive", "not reproduced", "not reproduced", "not reproduced",
                                            "not reproduced"]
    # the same numbers over a task whose pixel probe (75 %) beats the student alone: no verdict at all
    collapsed = kd_claims.claims_from(_adapt_rows([79, 80, 79.5], [81, 82, 81.5], [54, 55, 54.5],
                                                  dino_full=[10.0, 10.5, 11.0]), distance, students, pixel_probe=0.2)
    row = collapsed[collapsed["claim"].str.contains("attends more globally")].iloc[0]   # a DINO teacher at chance
    assert row["verdict"] == "untestable" and row["untestable because"].startswith("DINO teacher fine-tuned (10.5 %)")
    failed = kd_claims.claims_from(adapt, distance, students, pixel_probe=0.75)
    assert set(failed["verdict"]) == {"untestable"}
    assert failed["untestable because"].str.startswith("scratch (70.1 %) is not above the pixel probe (75.0 %)").all()
    paper = kd_tables.reference("kd_table2_imagenet")
    table2 = kd_tables.table2_from(students, paper)
    assert table2["paper"].tolist() == [72.2, 73.1, 73.1, 74.4] and table2["seeds"].tolist() == [3, 3, 3, 3]


# ---- several processes ------------------------------------------------------------------------

def _ddp_worker(rank, init_file, root):
    torch.set_num_threads(1)
    os.environ["MAE_STUDY_RESULTS"] = root
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    import mae_study.runs.results as results
    writes, atomic = [], results._atomic_write_bytes
    results._atomic_write_bytes = lambda path, data: (writes.append(os.path.basename(path)), atomic(path, data))
    try:
        run = run_student(KD_STUDENT.resolve("ci", l2=0.5), "kd_ddp", run_name="two", progress=False)
        torch.save({"writes": writes, "finished": run.is_finished()}, os.path.join(root, f"rank{rank}.pt"))
    finally:
        results._atomic_write_bytes = atomic
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_for_a_kd_run(with_teachers, tmp_path):
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(with_teachers)), nprocs=WORLD, join=True)
    ranks = [torch.load(with_teachers / f"rank{r}.pt") for r in range(WORLD)]
    assert all(r["finished"] for r in ranks) and not ranks[1]["writes"]
    one = run_student(KD_STUDENT.resolve("ci", l2=0.5), "kd_one", run_name="one", progress=False)
    two = RunDir("ci", "kd_ddp", "two")
    s1, s2 = one.read("steps.csv"), two.read("steps.csv")
    assert len(s1) == len(s2) > 1
    for column in ("loss", "kd", "attn", "ce_student", "ce_mim"):
        assert s2[column].tolist() == pytest.approx(s1[column].tolist(), rel=1e-4), column
    assert one.read("config.json")["heads"] == two.read("config.json")["heads"]
    assert np.isclose(one.read("final.json")["test_accuracy_last_k"], two.read("final.json")["test_accuracy_last_k"])


@pytest.mark.parametrize("teacher", ["dino", "mae"])
def test_teachers_from_local_timm_files_are_imported_and_used(results_dir, tmp_path, monkeypatch, teacher):
    """The `paper` profile's path (timm's vit_base_patch16_224.dino / .mae from local files), at a
    ci size: a weights file relative to the data root is checked, recorded and used as is."""
    from mae_study.chapters.kd.teachers import EXPERIMENTS, RUNNERS, TIMM_VIT, mae_spec
    monkeypatch.setenv("MAE_STUDY_DATA_ROOT", str(tmp_path))
    spec = mae_spec(mae_config("ci_16"))
    torch.manual_seed(3)
    source = build_model(spec)
    (tmp_path / "timm").mkdir()
    torch.save({k: v for k, v in source.state_dict().items() if not k.startswith("head.")}, tmp_path / "timm" / "w.pt")
    p = EXPERIMENTS[teacher].resolve("ci", arch=TIMM_VIT, weights="timm/w.pt")
    run = RUNNERS[teacher](p, progress=False)
    assert run.name.startswith(f"{teacher}_file_s0_p") and run.read("final.json")["imported"]  # not ci's default
    model = load_teacher("ci", teacher, run.name).classifier(10, "partial-1")
    assert torch.equal(model.blocks[1].attn.qkv.weight, source.blocks[1].attn.qkv.weight)
    assert model.head.weight.shape == (10, 32)
    with pytest.raises(ValueError, match="weights: no file"):
        RUNNERS[teacher](p.replace(weights="timm/missing.pt"), progress=False)


def test_the_sweep_runs_the_plan(results_dir):
    """`mae_study.sweep` takes the plan as it takes the other chapters'."""
    from mae_study.sweep import SWEEPS, run_sweep
    assert SWEEPS["kd"] is kd.plan
    status = pd.DataFrame(run_sweep("kd", "ci", dry_run=True))
    assert len(status) == len(kd.plan("ci")) and set(status["status"]) == {"to run"}
