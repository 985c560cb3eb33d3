"""Two gloo processes train exactly what one process trains at the same global batch."""
import os
from contextlib import contextmanager

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from timm.utils import unwrap_model

from mae_study import MaskedAutoencoder, mae_config
from mae_study.data.base import ImageTensorDataset
from mae_study.masking import sample_mask
from mae_study.runs.results import RunDir
from mae_study.train.distributed import get_world_size, is_main_process, rank_slice
from mae_study.train.engine import StepContext, TrainConfig, fit, prepare

WORLD = 2


def _data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=g)
    return ImageTensorDataset(images, torch.arange(48) % 4, 4, "tiny", "train")


def _mae_loss(model, batch, ctx):
    """MAE loss with masks drawn for the global batch and cut to this rank's rows."""
    imgs = batch.imgs
    masking = ctx.sample_mask(len(imgs), unwrap_model(model).cfg.grid_size, 0.75, "random", imgs.device)
    return model(imgs, 0.75, masking=masking).loss, {"mask_ratio": 0.75}


def _train(run=None):
    torch.manual_seed(0)
    model = MaskedAutoencoder(mae_config("ci_16"))
    cfg = TrainConfig(num_epochs=2, batch_size=16, lr=1e-3, warmup_epochs=1, clip_grad=1.0)
    result = fit(model, _mae_loss, _data(), cfg, run=run, progress=False)
    weights = torch.cat([p.detach().flatten() for p in model.state_dict().values()])
    return weights, [s["loss"] for s in result["steps"]]


@contextmanager
def _gloo_rank(rank, init_file, out_dir):
    """Inside a spawned process: join the WORLD-process gloo group with one thread and results
    and data cache under ``out_dir``; yields the list of file names this rank writes (every atomic write)."""
    torch.set_num_threads(1)
    os.environ["MAE_STUDY_RESULTS"] = os.path.join(out_dir, "results")
    os.environ["MAE_STUDY_CACHE"] = os.path.join(out_dir, "cache")  # empty, as on a fresh clone
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    import mae_study.runs.results as results
    writes, atomic = [], results._atomic_write_bytes
    results._atomic_write_bytes = lambda path, data: (writes.append(os.path.basename(path)), atomic(path, data))
    try:
        yield writes
    finally:
        results._atomic_write_bytes = atomic
        dist.destroy_process_group()


def _worker(rank, init_file, out_dir):
    """One of WORLD processes: train, save weights, logged losses and the files written."""
    with _gloo_rank(rank, init_file, out_dir) as writes:
        info = {"world": get_world_size(), "main": is_main_process()}
        weights, losses = _train(RunDir("ci", "test_ddp", "r0"))
        torch.save({"weights": weights, "losses": losses, "writes": writes, **info},
                   os.path.join(out_dir, f"rank{rank}.pt"))


def test_two_gloo_processes_match_one_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers: a tiny model trains fastest on one thread
    try:
        weights, losses = _train()
    finally:
        torch.set_num_threads(threads)
    assert [r["world"] for r in ranks] == [WORLD] * WORLD and [r["main"] for r in ranks] == [True, False]
    for r in ranks:  # the ranks agree with each other and with one process
        assert r["losses"] == pytest.approx(losses, rel=1e-5)
        # Adam divides by the gradient's size, so the rounding of a near-zero gradient (summed in
        # another order) can move its weight by up to ~lr per step; 6 steps at lr <= 1e-3 move
        # weights by up to ~6e-3, the two runs differ by ~3e-5 at most.
        assert torch.allclose(r["weights"], weights, rtol=1e-3, atol=1e-4)
        assert (r["weights"] - weights).abs().mean() < 1e-7
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])
    torch.manual_seed(0)  # the initial weights of every run above: training moved them
    assert not torch.equal(weights, torch.cat([p.flatten() for p in
                                               MaskedAutoencoder(mae_config("ci_16")).state_dict().values()]))
    assert {"checkpoint.pt", "steps.csv", "metrics.csv"} <= set(ranks[0]["writes"])
    assert not ranks[1]["writes"]  # only rank 0 writes run files
    assert (tmp_path / "results" / "ci" / "test_ddp" / "r0" / "checkpoint.pt").exists()


def _pretrain_worker(rank, init_file, out_dir):
    """One of WORLD processes running a whole pre-training run (as `torchrun -m mae_study.sweep`
    does); records the names of the files this rank wrote."""
    with _gloo_rank(rank, init_file, out_dir) as writes:
        from mae_study.chapters.mae.plan import MAE_PRETRAIN
        from mae_study.runs.pretrain import run_pretrain
        run = run_pretrain(MAE_PRETRAIN.resolve("ci"), "ddp_pretrain", run_name="r", progress=False)
        torch.save({"writes": writes, "finished": run.is_finished()}, os.path.join(out_dir, f"pre{rank}.pt"))


def test_pretraining_run_under_two_processes_matches_one_and_only_rank0_writes(tmp_path, monkeypatch):
    from mae_study.chapters.mae.plan import MAE_PRETRAIN
    from mae_study.runs.pretrain import run_pretrain
    mp.spawn(_pretrain_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"pre{r}.pt") for r in range(WORLD)]
    assert all(r["finished"] for r in ranks)  # rank 1 returns only after rank 0's final.json exists
    assert not ranks[1]["writes"]
    assert {"config.json", "metrics.csv", "steps.csv", "checkpoint.pt", "encoder.pt", "provenance.json",
            "final.json"} <= set(ranks[0]["writes"])
    two = RunDir("ci", "ddp_pretrain", "r", root=tmp_path / "results")
    monkeypatch.setenv("MAE_STUDY_RESULTS", str(tmp_path / "one"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = run_pretrain(MAE_PRETRAIN.resolve("ci"), "ddp_pretrain", run_name="r", progress=False)
    finally:
        torch.set_num_threads(threads)
    steps_one, steps_two = one.read("steps.csv"), two.read("steps.csv")
    assert len(steps_two) == len(steps_one) > 1
    assert steps_two["mask_ratio"].tolist() == steps_one["mask_ratio"].tolist()
    assert steps_two["loss"].tolist() == pytest.approx(steps_one["loss"].tolist(), rel=1e-5)
    assert two.read("config.json")["train"] == one.read("config.json")["train"]
    for name, w in one.read("encoder.pt").items():  # and the same weights (Adam: see the test above)
        assert torch.allclose(two.read("encoder.pt")[name], w, rtol=1e-3, atol=1e-4), name


def _train_views():
    """A DINO-like run: MultiCrop views (2 global + 2 local, colour jitter), an extra trainable head,
    EMA teachers of the backbone and the head, a centre averaged over the ranks."""
    import torch.nn as nn
    from toy_models import MultiViewNet, ToyDino

    from mae_study.train.augment import MultiCrop
    from mae_study.train.hooks import CosineMomentum, EmaHook
    torch.manual_seed(0)
    model, head = MultiViewNet(), nn.Linear(8, 6)
    teacher, teacher_head = EmaHook(CosineMomentum(2, start=0.9)), EmaHook(CosineMomentum(2, start=0.9), of="head")
    loss = ToyDino(teacher, teacher_head, 6)
    cfg = TrainConfig(num_epochs=2, batch_size=16, lr=1e-2, warmup_epochs=1, clip_grad=3.0, aug_seed=1,
                      augment=MultiCrop(num_local=2, local_size=8, color_jitter=0.4))
    result = fit(model, loss, _data(), cfg, progress=False, hooks=[teacher, teacher_head],
                 extra_modules={"head": head})
    parts = [model, head, teacher.module, teacher_head.module]
    weights = torch.cat([t.flatten() for m in parts for t in m.state_dict().values()] + [loss.center.flatten()])
    return weights, [s["loss"] for s in result["steps"]]


def _views_worker(rank, init_file, out_dir):
    with _gloo_rank(rank, init_file, out_dir):
        weights, losses = _train_views()
        torch.save({"weights": weights, "losses": losses}, os.path.join(out_dir, f"views{rank}.pt"))


def test_two_processes_match_one_with_multicrop_views_extra_head_and_ema_teachers(tmp_path):
    mp.spawn(_views_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"views{r}.pt") for r in range(WORLD)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        weights, losses = _train_views()
    finally:
        torch.set_num_threads(threads)
    assert len(losses) == 6
    for r in ranks:  # every rank cut its rows of the same crops, jitter and centre: one process's run
        assert r["losses"] == pytest.approx(losses, rel=1e-5)
        assert torch.allclose(r["weights"], weights, rtol=1e-4, atol=1e-5)
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])


def test_rank_slices_cover_the_global_batch_once():
    parts = [rank_slice(12, r, 3) for r in range(3)]
    assert [(s.start, s.stop) for s in parts] == [(0, 4), (4, 8), (8, 12)]
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        rank_slice(10, 0, 3)


def test_a_ranks_masks_and_flips_are_its_rows_of_the_global_draw():
    data, idx = _data(), torch.arange(8)
    whole = sample_mask(8, 4, 0.5, "block", torch.Generator().manual_seed(3))
    ctx = StepContext(0, 0, 0.0, torch.Generator().manual_seed(3), global_batch_size=8, batch_slice=slice(4, 8))
    part = ctx.sample_mask(4, 4, 0.5, "block")
    assert torch.equal(part.mask, whole.mask[4:]) and torch.equal(part.ids_keep, whole.ids_keep[4:])
    one = StepContext(0, 0, 0.0, torch.Generator().manual_seed(3)).sample_mask(8, 4, 0.5, "block")
    assert torch.equal(one.mask, whole.mask)  # one process: exactly the draws of `sample_mask`
    all_imgs, _ = prepare(data, idx, "cpu", torch.Generator().manual_seed(5))
    rank_imgs, _ = prepare(data, idx, "cpu", torch.Generator().manual_seed(5), slice(4, 8))
    assert torch.equal(rank_imgs, all_imgs[4:])


def test_bad_amp_and_compile_options():
    with pytest.raises(ValueError, match="amp_dtype"):
        TrainConfig(num_epochs=1, batch_size=1, amp_dtype="float8")
    with pytest.raises(ValueError, match="compile"):
        TrainConfig(num_epochs=1, batch_size=1, compile="fast")


def test_sweep_refuses_a_process_count_that_does_not_split_the_batches(results_dir, monkeypatch):
    import mae_study.sweep as sweep
    monkeypatch.setattr(sweep, "get_world_size", lambda: 2)  # as under torchrun --nproc_per_node=2
    with pytest.raises(ValueError, match=r"2 processes cannot split batch_size \[25\]"):
        sweep.run_sweep("dynmask", "ci", progress=False)  # the ci fine-tunings use batch 25
    assert not results_dir.exists()  # refused before any run started
