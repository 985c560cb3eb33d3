"""Two different runs at once: one 2-thread process running them in turn, or two 1-thread processes
running them side by side? (Issue #12: spend the cores where they buy the most.)

The workload is the `cpu` profile's: MAE pre-training steps of `dynmask_cpu_32` (batch 64, mask
ratio 0.75) and classifier fine-tuning steps of its encoder (batch 50), forward, backward and
AdamW, on random images. For each workload:

  (a) one process, 2 torch threads, runs ``--steps`` steps twice in a row (two runs in turn);
  (b) two processes, 1 torch thread each, run ``--steps`` steps each at the same time;

and the images/s of the pair of runs in each case. Three rounds, alternating (a) and (b); the
median is kept.

    python benchmarks/bench_parallel_runs.py            # about 2 minutes on 2 cores

Writes benchmarks/results/parallel_runs_<cpu>.json and prints a table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from mae_study import MaskedAutoencoder, mae_config
from mae_study.runs.results import git_commit, hardware, library_versions, write_json

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = {"pretrain": 64, "finetune": 50}


def _steps(kind: str, steps: int, threads: int, barrier=None) -> float:
    """Seconds for ``steps`` training steps of ``kind`` on ``threads`` threads (after 3 warm-up steps;
    with ``barrier``, the timing starts when every process has warmed up)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MaskedAutoencoder(mae_config("dynmask_cpu_32"))
    head = torch.nn.Linear(model.cfg.embed_dim, 10)
    opt = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=1e-4)
    imgs = torch.randn(BATCH[kind], 3, 32, 32)
    labels = torch.randint(0, 10, (BATCH[kind],))

    def step():
        if kind == "pretrain":
            loss = model(imgs, 0.75).loss
        else:
            loss = F.cross_entropy(head(model.encoder.forward_features(imgs)[:, 0]), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if barrier is not None:
        barrier.wait()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def _worker(rank: int, kind: str, steps: int, out, barrier) -> None:
    out[rank] = _steps(kind, steps, 1, barrier)


def one_process(kind: str, steps: int) -> float:
    """(a): wall seconds for two runs in turn in this process with 2 threads."""
    threads = torch.get_num_threads()
    try:
        return _steps(kind, steps, 2) + _steps(kind, steps, 2)
    finally:
        torch.set_num_threads(threads)


def two_processes(kind: str, steps: int) -> float:
    """(b): wall seconds for two 1-thread processes running one run each at the same time, from the
    moment both have warmed up (long-lived workers pay their start-up once, not per run)."""
    manager = mp.Manager()
    out, barrier = manager.dict(), manager.Barrier(2)
    mp.spawn(_worker, args=(kind, steps, out, barrier), nprocs=2, join=True)
    return max(out.values())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="training steps per run (default 40)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be >= 1")
    hw = hardware("cpu")
    results = {"what": "two runs: one 2-thread process in turn (a) vs two 1-thread processes at once (b)",
               "steps_per_run": args.steps, "rounds": args.rounds, "batch": BATCH, "hardware": hw,
               "git_commit": git_commit(), "versions": library_versions(), "workloads": {}}
    for kind in ("pretrain", "finetune"):
        a, b = [], []
        for _ in range(args.rounds):
            a.append(one_process(kind, args.steps))
            b.append(two_processes(kind, args.steps))
        images = 2 * args.steps * BATCH[kind]
        ta, tb = statistics.median(a), statistics.median(b)
        results["workloads"][kind] = {"one_2thread_process_s": a, "two_1thread_processes_s": b,
                                      "one_2thread_images_per_s": images / ta,
                                      "two_1thread_images_per_s": images / tb, "speedup_two_processes": ta / tb}
        print(f"{kind:>9}: one 2-thread process {images / ta:7.1f} img/s, two 1-thread processes "
              f"{images / tb:7.1f} img/s: {ta / tb:.2f}x", file=sys.stderr)
    name = "-".join("".join(c if c.isalnum() else " " for c in str(hw.get("cpu", "cpu"))).lower().split())
    write_json(args.out or RESULTS / f"parallel_runs_{name}.json", results)
    return results


if __name__ == "__main__":
    main()
