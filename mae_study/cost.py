"""The command ``python -m mae_study.cost --profile cpu``: what recomputing a profile's results
costs, read from the runs' provenance files (`mae_study.runs.cost`), and what the whole book costs
from scratch on 2 cores (`book_budget`), each sweep's unfinished runs estimated from its finished ones.
"""
from __future__ import annotations

import argparse

import pandas as pd

from mae_study.runs.cost import rebuild_cost, sweep_records  # noqa: F401 (the command's tables)
from mae_study.runs.params import PROFILES, check_profile
from mae_study.runs.results import RunDir

BOOK_SWEEPS = ("ladder", "dynmask", "mae_ablations", "kd", "synthetic")  # the ladder first: it owns the base runs
BUDGET_HOURS = 8.0  # the whole cpu book from scratch, on 2 cores: an overnight rebuild
CORES = 2


def _core_seconds(run: RunDir) -> float | None:
    """Wall time x the torch threads it used (a 1-thread run beside another process used one of
    the 2 cores, a 2-thread run both), from the run's provenance; None without a record."""
    prov = run.read("provenance.json")
    wall = prov.get("wall_time_s")
    if wall is None:
        return None
    if prov.get("hardware", {}).get("gpu"):
        return None  # a GPU run says nothing about 2 cores
    return wall * min(int(prov.get("hardware", {}).get("torch_threads") or CORES), CORES)


def book_budget(profile: str = "cpu") -> pd.DataFrame:
    """Per sweep: its planned runs (each run counted once, in the first sweep that plans it), how
    many finished, their measured cost, and an estimate for the rest (the mean measured cost of the
    same experiment's finished runs; nan when none finished); hours of a 2-core machine
    (core-seconds / 2). The machines that measured them in ``cpu``."""
    from mae_study.sweep import SWEEPS
    seen, rows = set(), []
    for sweep in BOOK_SWEEPS:
        measured: dict[str, list[float]] = {}
        missing: dict[str, int] = {}
        cpus, planned = set(), 0
        for experiment, name, _, _ in SWEEPS[sweep](check_profile(profile)):
            if (experiment, name) in seen:
                continue
            seen.add((experiment, name))
            planned += 1
            run = RunDir(profile, experiment, name)
            cost = _core_seconds(run) if run.is_finished() else None
            if cost is None:
                missing[experiment] = missing.get(experiment, 0) + 1
            else:
                measured.setdefault(experiment, []).append(cost)
                cpus.add(str(run.read("provenance.json").get("hardware", {}).get("cpu")))
        done = sum(map(len, measured.values()))
        estimate = sum(n * (sum(measured[e]) / len(measured[e]) if measured.get(e) else float("nan"))
                       for e, n in missing.items())
        spent = sum(map(sum, measured.values()))
        rows.append({"sweep": sweep, "runs": planned, "finished": done,
                     "measured_h": spent / CORES / 3600, "estimated_rest_h": estimate / CORES / 3600,
                     "total_h": (spent + estimate) / CORES / 3600, "cpu": "; ".join(sorted(cpus))})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    """`mae_study.runs.cost.main`'s tables, then, at ``cpu``, the whole book's budget."""
    from mae_study.runs.cost import main as runs_main
    args = argparse.ArgumentParser(add_help=False)
    args.add_argument("--profile", default="cpu", choices=PROFILES)
    profile = args.parse_known_args(argv)[0].profile
    runs_main(argv)
    if profile != "cpu":
        return
    budget = book_budget(profile)
    print(f"\nthe whole {profile} book from scratch, hours on {CORES} cores (measured runs, the rest "
          "estimated from the same experiment's finished runs):")
    print(budget.round(2).to_string(index=False))
    total = budget["total_h"].sum(skipna=False)
    verdict = ("unknown: an experiment has no finished run yet" if pd.isna(total) else
               f"{'within' if total <= BUDGET_HOURS else 'OVER'} the {BUDGET_HOURS:g}-hour budget")
    print(f"total: {total:.1f} h, {verdict}")


if __name__ == "__main__":
    main()
