"""One run skeleton for every runner of the study (pre-training, fine-tuning, step cost, the
chapters' own runs):

    check parameters -> run folder -> refuse a clash / read back a finished run -> body

The body (data, config, `fit`, `RunDir.finish`) is the only part a runner writes itself. Run
names follow from parameters: a readable part that shows the parameters a reader cares about
(``dynamic_r90_s0``), plus a short digest of every other parameter that differs from what that
readable part alone would resolve to (``static_r75_s0_p3f9a2c1d``). So a rerun with other
parameters gets its own folder, a rerun with the same ones reads the finished run back, and an
explicit ``run_name`` reused with other parameters is refused (`check_run_params`).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Callable

from mae_study.runs.params import Params
from mae_study.runs.results import RunDir, find_runs, to_jsonable


def params_tag(value) -> str:
    """A short, stable digest of a JSON-able value (8 hex digits)."""
    return hashlib.sha1(json.dumps(to_jsonable(value), sort_keys=True).encode()).hexdigest()[:8]


def _jsonable(p: Mapping) -> dict:
    return json.loads(json.dumps(to_jsonable(p)))


# Where a run runs is not what it is: the same recipe on a CPU or (in float32) on a GPU is the same
# run, up to float rounding as between two CPUs; the device is recorded in its provenance. So it
# neither names a run nor makes a finished run's parameters differ.
PLACEMENT = ("device",)


def changed_params(p: Params, shown: tuple[str, ...]) -> dict:
    """The parameters of ``p`` that differ from what its ``shown`` parameters alone resolve to
    (the profile's defaults, with whatever the experiment derives from ``shown``), `PLACEMENT` aside."""
    reference = _jsonable(p.experiment.values(p.profile, **{k: p[k] for k in shown}))
    now = _jsonable(p)
    return {k: now[k] for k in sorted(now) if now[k] != reference.get(k) and k not in PLACEMENT}


def auto_run_name(p: Mapping) -> str:
    """``<readable>`` when only the shown parameters differ from the profile's defaults, else
    ``<readable>_p<digest of the other differences>``."""
    if not isinstance(p, Params) or p.experiment.naming is None:
        raise ValueError("a run name can only be derived from parameters resolved by an Experiment with "
                         "a naming rule; pass run_name=... explicitly")
    readable, shown = p.experiment.naming(p)
    changed = changed_params(p, shown)
    return readable + (f"_p{params_tag(changed)}" if changed else "")


def check_run_params(run: RunDir, p: Mapping) -> None:
    """A run folder that already exists must have been made with the parameters ``p``: otherwise
    a rerun with other parameters would silently return (or resume) a different configuration."""
    if not run.file("config.json").exists():
        return
    stored = run.read("config.json").get("params", {})
    now = _jsonable(p)
    # A parameter added later (absent from an older run) counts as its default, None.
    diff = {k: (stored.get(k), now.get(k)) for k in sorted(set(stored) | set(now))
            if stored.get(k) != now.get(k) and k not in PLACEMENT}
    if diff:
        shown = "; ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"run {run.name!r} at {run.path} was made with other parameters ({shown}); "
                         f"give this configuration another run name, or delete that folder to redo it")


def execute_run(p: Mapping, body: Callable[[RunDir], None], experiment: str | None = None,
                run_name: str | None = None, root: Path | None = None) -> RunDir:
    """The skeleton. ``p`` has been checked by the caller (at resolve, before any compute).

    Args:
        p: the run's parameters (``p["profile"]`` chooses the results folder).
        body: ``body(run)`` does the work and calls ``run.finish``; it runs only when the run is
            not finished, and resumes from ``run.checkpoint`` if `fit` left one.
        experiment: the results folder of the experiment; default ``p.experiment.name``.
        run_name: an explicit name; default `auto_run_name`.
        root: the results root (default `mae_study.paths.results_root`).
    """
    if experiment is None:
        if not isinstance(p, Params):
            raise ValueError("experiment=... is needed for parameters not resolved by an Experiment")
        experiment = p.experiment.name
    run = RunDir(p["profile"], experiment, run_name or auto_run_name(p), root)
    check_run_params(run, p)
    if not run.is_finished():
        body(run)
    return run


def recompute_weights(run: RunDir, files: tuple[str, ...], p: Mapping, runner: Callable,
                      progress: bool = True) -> None:
    """Recompute the weight ``files`` of a finished run that has none (a fresh clone: result files
    are committed, weights are not): ``runner`` reruns it from its stored parameters ``p`` in a
    temporary folder beside it (same seeds, same data: the same weights up to float rounding), the
    files move in, and the recomputed final loss or accuracy is printed beside the committed one."""
    print(f"Recomputing the weights of {run.profile}/{run.experiment}/{run.name} ({', '.join(files)}): its results "
          "are in the repository but weights are not committed.")
    with tempfile.TemporaryDirectory(dir=run.path.parent, prefix=".weights-") as tmp:
        fresh = runner(p, run.experiment, run_name=run.name, progress=progress, root=Path(tmp))
        for name in files:
            Path(fresh.file(name)).replace(run.file(name))
        again = fresh.read("final.json")
    committed = run.read("final.json")
    key = next((k for k in ("final_loss", "test_accuracy_last_k", "accuracy") if k in committed and k in again), None)
    if key is not None:
        print(f"  recomputed {key} {again[key]:.6f} vs committed {committed[key]:.6f} (float rounding differs with "
              "the number of threads and the CPU)")


def finished_run(profile: str, experiment: str, name: str, what: str, how_to_make: str) -> RunDir:
    """The finished run ``name`` of ``experiment``, or a ValueError that starts with ``what``
    (e.g. ``"pretrained='x'"``), lists the finished runs there are and says how to make one."""
    run = RunDir(profile, experiment, name)
    if not run.is_finished():
        have = [r.name for r in find_runs(experiment, profile)]
        raise ValueError(f"{what}: no finished run at {run.path}; finished runs of {experiment!r} at profile "
                         f"{profile!r}: {have or 'none'}. Make it with: {how_to_make}")
    return run
