"""Run every run behind a chapter, skipping finished ones and resuming interrupted ones.

    python -m mae_study.sweep dynmask --profile cpu
    python -m mae_study.sweep dynmask --profile gpu --dry-run
    python -m mae_study.sweep mae_ablations --profile cpu      # or mae_ablation_<table>, one table
    torchrun --nproc_per_node=2 -m mae_study.sweep dynmask --profile paper   # every run on 2 GPUs

Under torchrun the processes run each run together (DistributedDataParallel, the global batch
split between them; nccl on GPUs, gloo on the CPU) and rank 0 writes the results.
"""
from __future__ import annotations

import argparse
import time
from functools import partial

from tqdm.auto import tqdm

from .distributed import cleanup_distributed, get_world_size, init_distributed, is_main_process
from .params import PROFILES
from .results import RunDir


def dynmask_plan(profile: str):
    from .experiments import dynmask
    from .experiments.finetune import run_finetune
    from .experiments.pretrain import run_pretrain
    plan = [(dynmask.PRETRAIN, name, dynmask.DYNMASK_PRETRAIN.resolve(profile, **o), run_pretrain)
            for name, o in dynmask.pretrain_runs(profile)]
    plan += [(dynmask.FINETUNE, name, dynmask.DYNMASK_FINETUNE.resolve(profile, **o), run_finetune)
             for name, o in dynmask.finetune_runs(profile)]
    return plan


def mae_ablations_plan(profile: str, tables: tuple[str, ...] | None = None):
    from .experiments import ablations
    return ablations.plan(profile, tables or ablations.TABLES)


_ABLATION_TABLES = ("mask_ratio", "decoder_depth", "decoder_width", "mask_token", "sampling", "target")

SWEEPS = {"dynmask": dynmask_plan, "mae_ablations": mae_ablations_plan,
          **{f"mae_ablation_{t}": partial(mae_ablations_plan, tables=(t,)) for t in _ABLATION_TABLES}}


def run_sweep(sweep: str, profile: str, dry_run: bool = False, progress: bool = True) -> list[dict]:
    """Runs the plan in order; returns one status row per run (done before / ran now / planned)."""
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {sorted(SWEEPS)}, got {sweep!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    plan = SWEEPS[sweep](profile)  # every run's parameters are validated before any compute
    world = get_world_size()
    uneven = sorted({p["batch_size"] for _, _, p, _ in plan if "batch_size" in p and p["batch_size"] % world})
    if uneven:
        raise ValueError(f"{world} processes cannot split batch_size {uneven} of the {profile!r} profile's runs "
                         f"into equal parts; run with a number of processes that divides every batch size")
    status = []
    todo = [item for item in plan if not RunDir(profile, item[0], item[1]).is_finished()]
    bar = tqdm(total=len(plan), initial=len(plan) - len(todo), desc=f"{sweep} sweep ({profile})",
               disable=not progress or dry_run or not is_main_process())
    for experiment, name, params, fn in plan:
        run = RunDir(profile, experiment, name)
        if run.is_finished():
            status.append({"experiment": experiment, "run": name, "status": "finished before"})
            continue
        if dry_run:
            status.append({"experiment": experiment, "run": name,
                           "status": "resume" if run.checkpoint.exists() else "to run"})
            continue
        t0 = time.perf_counter()
        fn(params, experiment, run_name=name, progress=False)
        status.append({"experiment": experiment, "run": name, "status": "ran",
                       "seconds": round(time.perf_counter() - t0, 1)})
        bar.update(1)
        bar.set_postfix(last=name)
    bar.close()
    return status


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", choices=sorted(SWEEPS))
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their state, run nothing")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 is much faster when other "
                             "processes share the cores. Results can differ from another count in float rounding.")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        import torch
        torch.set_num_threads(args.threads)
    from .experiments.common import resolve_device
    plan = SWEEPS[args.sweep](args.profile)
    devices = {resolve_device(params["device"]) for _, _, params, _ in plan if "device" in params}
    init_distributed("cuda" if any(d.startswith("cuda") for d in devices) else "cpu")  # no-op without torchrun
    main_process = is_main_process()
    try:
        rows = run_sweep(args.sweep, args.profile, args.dry_run)
    except BaseException:
        cleanup_distributed(failed=True)
        raise
    cleanup_distributed()
    for row in rows if main_process else []:
        print(f"{row['status']:>15}  {row['experiment']}/{row['run']}" + (f"  {row['seconds']} s" if "seconds" in row else ""))


if __name__ == "__main__":
    main()
