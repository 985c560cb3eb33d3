"""Run every run behind a chapter, skipping finished ones and resuming interrupted ones.

    python -m mae_study.sweep dynmask --profile cpu
    python -m mae_study.sweep ladder --profile cpu          # the distinct-v2 calibration ladder
    python -m mae_study.sweep synthetic --profile cpu       # fractal pre-training (chapter 4)
    python -m mae_study.sweep kd --profile cpu              # multi-teacher distillation (chapter 3)
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

from mae_study.chapters.ablations import plan as ablations
from mae_study.chapters.dynmask import plan as dynmask
from mae_study.chapters.kd import plan as kd
from mae_study.chapters.ladder import plan as ladder
from mae_study.chapters.synthetic import plan as synthetic
from mae_study.paths import results_root
from mae_study.runs.common import resolve_device
from mae_study.runs.params import PROFILES
from mae_study.runs.results import RunDir, read_json, write_json
from mae_study.train.distributed import cleanup_distributed, get_world_size, init_distributed, is_main_process

# The registry: every sweep's plan, ``plan(profile) -> [(experiment, run name, parameters, run function)]``.
# This is the one module that knows every chapter.
SWEEPS = {"dynmask": dynmask.plan, "mae_ablations": ablations.plan, "ladder": ladder.plan,
          "synthetic": synthetic.plan, "kd": kd.plan,
          **{f"mae_ablation_{t}": partial(ablations.plan, tables=(t,)) for t in ablations.TABLES}}


def _time_left(plan, done_s: dict[str, list[float]], todo: list) -> str:
    """An estimate of the time left: each remaining run costs the mean of the runs of the same
    experiment done so far in this sweep (pre-training and fine-tuning differ a lot), or the
    mean of all runs done so far when none of its experiment is done yet."""
    every = [t for ts in done_s.values() for t in ts]
    if not every:
        return "?"
    left = sum(sum(done_s[e]) / len(done_s[e]) if done_s.get(e) else sum(every) / len(every) for e in todo)
    if left >= 600:
        return f"{left / 60:.0f} min"
    return f"{int(left // 60)} min {left % 60:.0f} s" if left >= 60 else f"{left:.0f} s"


def run_sweep(sweep: str, profile: str, dry_run: bool = False, progress: bool = True,
              tables: tuple[str, ...] | None = None) -> list[dict]:
    """Runs the plan in order; returns one status row per run (done before / ran now / planned).
    ``tables``: with ``sweep="mae_ablations"``, only these ablation tables (each run once).

    Writes ``<results>/<profile>/_sweeps/<sweep>.json``: the sweep's wall time in this call, each
    run's status and seconds, and the recorded wall time of every run of the plan (what the whole
    sweep costs from scratch on the machines that ran it), so the README's figure is read from a file.
    """
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {sorted(SWEEPS)}, got {sweep!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if tables is not None and sweep != "mae_ablations":
        raise ValueError(f"tables=... is for sweep 'mae_ablations', not {sweep!r}")
    plan = SWEEPS[sweep](profile, **({"tables": tuple(tables)} if tables is not None else {}))  # validated here
    world = get_world_size()
    uneven = sorted({p["batch_size"] for _, _, p, _ in plan if "batch_size" in p and p["batch_size"] % world})
    if uneven:
        raise ValueError(f"{world} processes cannot split batch_size {uneven} of the {profile!r} profile's runs "
                         f"into equal parts; run with a number of processes that divides every batch size")
    status = []
    todo = [item[0] for item in plan if not RunDir(profile, item[0], item[1]).is_finished()]
    bar = tqdm(total=len(plan), initial=len(plan) - len(todo), desc=f"{sweep} sweep ({profile})", unit="run",
               disable=not progress or dry_run or not is_main_process(), dynamic_ncols=True)
    done_s: dict[str, list[float]] = {}
    t_sweep = time.perf_counter()
    for experiment, name, params, fn in plan:
        run = RunDir(profile, experiment, name)
        if run.is_finished():
            status.append({"experiment": experiment, "run": name, "status": "finished before"})
            continue
        if dry_run:
            status.append({"experiment": experiment, "run": name,
                           "status": "resume" if run.checkpoint.exists() else "to run"})
            continue
        bar.set_postfix(now=name, left=_time_left(plan, done_s, todo))
        t0 = time.perf_counter()
        fn(params, experiment, run_name=name, progress=False)
        seconds = time.perf_counter() - t0
        status.append({"experiment": experiment, "run": name, "status": "ran", "seconds": round(seconds, 1)})
        done_s.setdefault(experiment, []).append(seconds)
        todo.remove(experiment)
        bar.update(1)
        bar.set_postfix(last=name, left=_time_left(plan, done_s, todo))
    bar.close()
    if any(r["status"] == "ran" for r in status) and is_main_process():  # a read-back changes nothing
        _write_sweep_record(sweep, profile, plan, status, time.perf_counter() - t_sweep)
    return status


def _images_per_s(run: RunDir) -> float | None:
    """The training speed the engine logged for a run (median over its epochs), or None."""
    if not run.file("metrics.csv").exists():
        return None
    speeds = run.read("metrics.csv").get("images_per_s")
    return None if speeds is None or speeds.dropna().empty else round(float(speeds.median()), 1)


def _recorded(profile: str, plan) -> dict:
    """The recorded cost of every finished run of the plan: wall time, CPU, threads, training speed,
    and per experiment the runs' summed wall time and mean training images/s."""
    recorded = []
    for experiment, name, _, _ in plan:
        run = RunDir(profile, experiment, name)
        if run.is_finished():
            prov = run.read("provenance.json")
            recorded.append({"experiment": experiment, "run": name, "wall_time_s": prov.get("wall_time_s"),
                             "cpu": prov.get("hardware", {}).get("cpu"),
                             "torch_threads": prov.get("hardware", {}).get("torch_threads"),
                             "images_per_s": _images_per_s(run)})
    per_experiment = {}
    for r in recorded:
        e = per_experiment.setdefault(r["experiment"], {"runs": 0, "wall_time_s": 0.0, "speeds": []})
        e["runs"] += 1
        e["wall_time_s"] += r["wall_time_s"] or 0.0
        e["speeds"] += [r["images_per_s"]] if r["images_per_s"] is not None else []
    return {"recorded_wall_time_s": round(sum(r["wall_time_s"] or 0 for r in recorded), 1),
            "per_experiment": {k: {"runs": v["runs"], "wall_time_s": round(v["wall_time_s"], 1),
                                   "mean_images_per_s": round(sum(v["speeds"]) / len(v["speeds"]), 1)
                                   if v["speeds"] else None} for k, v in per_experiment.items()},
            "recorded": recorded}


def _write_sweep_record(sweep: str, profile: str, plan, status: list[dict], wall_s: float) -> None:
    write_json(results_root() / profile / "_sweeps" / f"{sweep}.json", {
        "sweep": sweep, "profile": profile, "runs": len(plan), "this_call": {
            "wall_time_s": round(wall_s, 1), "ran": sum(r["status"] == "ran" for r in status), "status": status},
        **_recorded(profile, plan)})


def refresh_sweep_record(sweep: str, profile: str) -> dict:
    """Recomputes the recorded part of an existing sweep record (its last call is kept), e.g. after
    the record's format gained a field; returns the record."""
    path = results_root() / profile / "_sweeps" / f"{sweep}.json"
    record = {**read_json(path), **_recorded(profile, SWEEPS[sweep](profile))}
    write_json(path, record)
    return record


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
