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


def work_order(plan) -> list:
    """``plan`` in the order a sweep runs it: trial by trial (every run of seed 0 first), and each
    pre-training followed at once by its evaluations, so that a sweep cut short leaves whole
    trials (encoder and evaluations) rather than encoders nobody evaluated."""
    index = {name: k for k, (_, name, _, _) in enumerate(plan)}

    def key(k: int):
        p = plan[k][2]
        source = p.get("pretrained")
        unit = index.get(source, k) if source not in (None, "scratch") else k
        unit_params = plan[unit][2]
        trial = unit_params.get("seed", unit_params.get("data_seed", 0))
        return (trial if isinstance(trial, int) else 0, unit, k != unit, k)
    return [plan[k] for k in sorted(range(len(plan)), key=key)]


def shard_of(plan, index: int, shards: int, finished=lambda entry: False) -> list:
    """The entries of ``plan`` that process ``index`` of ``shards`` runs: units (a pre-training with
    its evaluations, or a run without an encoder) dealt out in turn, skipping units already
    ``finished``, so that every process gets a share of the work left and none waits for another's run."""
    if shards < 1 or not 0 <= index < shards:
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {index}/{shards}")
    units: dict[str, list] = {}
    owner: dict[str, str] = {}
    for entry in plan:
        source = entry[2].get("pretrained")
        unit = owner.get(source, entry[1]) if source not in (None, "scratch") else entry[1]
        owner[entry[1]] = unit
        units.setdefault(unit, []).append(entry)
    left = [u for u in units.values() if not all(finished(e) for e in u)]
    # each unit to the process with the fewest runs left so far (not a plain round robin: plans
    # alternate kinds of arm, static and dynamic, which one would hand all to one process)
    loads, mine = [0] * shards, []
    for unit in left:
        k = loads.index(min(loads))
        loads[k] += sum(not finished(e) for e in unit)
        mine += unit if k == index else []
    return mine


def run_sweep(sweep: str, profile: str, dry_run: bool = False, progress: bool = True,
              tables: tuple[str, ...] | None = None, shard: tuple[int, int] = (0, 1),
              device: str | None = None) -> list[dict]:
    """Runs the plan in order; returns one status row per run (done before / ran now / planned).
    ``tables``: with ``sweep="mae_ablations"``, only these ablation tables (each run once).
    ``shard=(i, n)``: only process i's share of n (`shard_of`), for n processes sharing a machine.
    ``device``: run every run there instead of its profile's device (the same runs, same names: a
    device is where a run runs, `mae_study.runs.skeleton.PLACEMENT`, recorded in its provenance).

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
    full_plan = SWEEPS[sweep](profile, **({"tables": tuple(tables)} if tables is not None else {}))  # validated here
    ordered = work_order(full_plan)
    finished = {(e, n) for e, n, _, _ in ordered if RunDir(profile, e, n).is_finished()}
    mine = {(e, n) for e, n, _, _ in shard_of(ordered, *shard, finished=lambda entry: entry[:2] in finished)}
    plan = [entry for entry in ordered if entry[:2] in finished or entry[:2] in mine]
    if device is not None:
        resolve_device(device)  # a clear error before any compute
        plan = [(e, n, p.replace(device=device) if "device" in p else p, fn) for e, n, p, fn in plan]
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
        _write_sweep_record(sweep, profile, full_plan, status, time.perf_counter() - t_sweep)
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


IN_PROGRESS = "in_progress.json"  # under <results>/<profile>/_sweeps/


def in_progress(profile: str) -> dict[str, str]:
    """The sweeps of ``profile`` whose committed results are declared part-way (a long sweep that
    resumes in a later session), with why: ``<results>/<profile>/_sweeps/in_progress.json``."""
    path = results_root() / profile / "_sweeps" / IN_PROGRESS
    return read_json(path) if path.exists() else {}


def progress(sweep: str, profile: str) -> tuple[int, int]:
    """(finished runs, planned runs) of a sweep at ``profile``."""
    plan = SWEEPS[sweep](profile)
    return sum(RunDir(profile, e, n).is_finished() for e, n, _, _ in plan), len(plan)


def progress_note(sweep: str, profile: str) -> str:
    """A sentence for a chapter page: empty when the sweep is complete, else how far it is and why
    its results are committed part-way, so that a reader does not take a partial table for the whole."""
    done, total = progress(sweep, profile)
    if done == total:
        return ""
    why = in_progress(profile).get(sweep, "")
    return (f"**This chapter's `{profile}` sweep is in progress: {done} of its {total} runs have finished.** "
            f"{why} Tables, figures and verdicts below use the finished runs only; a claim whose runs are "
            f"missing says so. `python -m mae_study.sweep {sweep} --profile {profile}` resumes it.")


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
    parser.add_argument("--device", default=None, help="run every run on this device (cpu, cuda, cuda:N) "
                        "instead of the profile's; run names and results folders stay the same")
    parser.add_argument("--shard", default="0/1", metavar="I/N",
                        help="run only share I of N (encoders with their evaluations), e.g. 0/2 and 1/2 in two "
                             "processes with --threads 1 each on a 2-core machine")
    args = parser.parse_args(argv)
    try:
        shard = tuple(int(x) for x in args.shard.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        parser.error(f"--shard must be I/N with 0 <= I < N, got {args.shard!r}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        import torch
        torch.set_num_threads(args.threads)
    plan = SWEEPS[args.sweep](args.profile)
    devices = ({resolve_device(args.device)} if args.device else
               {resolve_device(params["device"]) for _, _, params, _ in plan if "device" in params})
    init_distributed("cuda" if any(d.startswith("cuda") for d in devices) else "cpu")  # no-op without torchrun
    main_process = is_main_process()
    try:
        rows = run_sweep(args.sweep, args.profile, args.dry_run, shard=shard, device=args.device)
    except BaseException:
        cleanup_distributed(failed=True)
        raise
    cleanup_distributed()
    for row in rows if main_process else []:
        print(f"{row['status']:>15}  {row['experiment']}/{row['run']}" + (f"  {row['seconds']} s" if "seconds" in row else ""))


if __name__ == "__main__":
    main()
