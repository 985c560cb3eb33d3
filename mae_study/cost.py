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

from .params import PROFILES, check_profile
from .paths import results_root
from .results import find_runs


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    args = parser.parse_args(argv)
    table = rebuild_cost(args.profile)
    print(table.to_string(index=False))
    print(f"total: {table['runs'].sum()} runs, {table['wall_time_min'].sum():.0f} minutes of recorded wall time")


if __name__ == "__main__":
    main()
