"""What recomputing a profile's results costs, read from the runs' own provenance files.

    python -m mae_study.cost --profile cpu

Every finished run records its wall time, CPU and thread count (`provenance.json`). Their sum per
experiment is what `make clean-results PROFILE=cpu && make book` spends in training and
evaluation on machines like the ones that ran them; notebook start-up and the book build come on
top (a few minutes). Sweeps also write their own wall time (`_sweeps/<sweep>.json`).
"""
from __future__ import annotations

import argparse

import pandas as pd

from mae_study.paths import results_root
from mae_study.runs.params import PROFILES, check_profile
from mae_study.runs.results import find_runs


def rebuild_cost(profile: str) -> pd.DataFrame:
    """One row per experiment: finished runs, their summed and their longest wall time (minutes),
    CPUs, threads."""
    rows = []
    base = results_root() / check_profile(profile)
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("_")) if base.is_dir() else []:
        for run in find_runs(folder.name, profile):
            prov = run.read("provenance.json")
            hw = prov.get("hardware", {})
            rows.append({"experiment": folder.name, "wall_time_s": prov.get("wall_time_s") or 0.0,
                         "cpu": hw.get("gpu") or hw.get("cpu"), "threads": hw.get("torch_threads")})
    if not rows:
        return pd.DataFrame(columns=["experiment", "runs", "wall_time_min", "longest_run_min", "cpu", "threads"])
    df = pd.DataFrame(rows)
    out = df.groupby("experiment").agg(runs=("wall_time_s", "size"), wall_time_min=("wall_time_s", "sum"),
                                       longest_run_min=("wall_time_s", "max"),
                                       cpu=("cpu", lambda c: "; ".join(sorted(set(map(str, c))))),
                                       threads=("threads", lambda t: "/".join(map(str, sorted(set(t))))))
    out["wall_time_min"] = (out["wall_time_min"] / 60).round(1)
    # the longest single run: what a notebook's one default run of this experiment costs at most
    out["longest_run_min"] = (out["longest_run_min"] / 60).round(2)
    return out.reset_index()


def sweep_records(profile: str) -> pd.DataFrame:
    """One row per sweep record (`_sweeps/<sweep>.json`): its runs, the wall time of the call that
    wrote it, the runs' summed recorded wall time (minutes), the mean training images/s of its
    pre-training and other trained runs, and the CPU(s) that ran them."""
    from mae_study.runs.results import read_json
    folder = results_root() / check_profile(profile) / "_sweeps"
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        r = read_json(path)
        if "sweep" not in r:  # in_progress.json: which sweeps are committed part-way
            continue
        speeds = {k: v.get("mean_images_per_s") for k, v in r.get("per_experiment", {}).items()}
        rows.append({"sweep": r["sweep"], "runs": r["runs"], "last_call_min": round(r["this_call"]["wall_time_s"] / 60, 1),
                     "recorded_min": round(r["recorded_wall_time_s"] / 60, 1),
                     "images_per_s": ", ".join(f"{k} {v:.0f}" for k, v in speeds.items() if v),
                     "cpu": "; ".join(sorted({str(x.get("cpu")) for x in r.get("recorded", [])}))})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    args = parser.parse_args(argv)
    table = rebuild_cost(args.profile)
    print(table.to_string(index=False))
    print(f"total: {table['runs'].sum()} runs, {table['wall_time_min'].sum():.0f} minutes of recorded wall time")
    sweeps = sweep_records(args.profile)
    if len(sweeps):
        print("\nsweeps (data/results/<profile>/_sweeps/*.json):")
        print(sweeps.to_string(index=False))


if __name__ == "__main__":
    main()
