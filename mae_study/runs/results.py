"""The results store: every run writes its files here, the book reads only these files.

Layout: ``<results_root>/<profile>/<experiment>/<run>/`` holding

    config.json      the full config of the run (every dataclass, as dicts)
    metrics.csv      one row per epoch (train loss, lr, mask ratio, evaluation metrics, time)
    steps.csv        one row per optimisation step (loss, mask ratio actually used, lr)
    final.json       final metrics; written last, so its presence marks a finished run
    provenance.json  profile, seeds, git commit, hardware, library versions, wall time, FLOPs
    checkpoint.pt    the last finished epoch, for resuming (removed from committed results)

Every file is written to a temporary name in the same folder and renamed over the target
(``os.replace`` is atomic on POSIX), so an interrupted write never leaves a partial file.
"""
from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mae_study.paths import REPO_ROOT, results_root
from mae_study.train.distributed import barrier, is_main_process


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples, tensors and paths to plain JSON values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, Mapping):  # dicts and resolved `Params`
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, (json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_csv(path: Path, rows: list[dict] | pd.DataFrame) -> None:
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    _atomic_write_bytes(path, df.to_csv(index=False).encode())


def save_torch(path: Path, obj: Any) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _atomic_write_bytes(path, buffer.getvalue())


def git_commit() -> str:
    """HEAD's commit, with '+dirty' when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware(device: str | torch.device = "cpu") -> dict:
    """What the run ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"device": str(device), "cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform()}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def library_versions() -> dict:
    import numpy
    import timm
    import torchvision
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "numpy": numpy.__version__, "pandas": pd.__version__}


def provenance(profile: str, seeds: dict, device, wall_time_s: float, flops: dict | None = None, **extra) -> dict:
    return {"profile": profile, "seeds": seeds, "git_commit": git_commit(), "hardware": hardware(device),
            "versions": library_versions(), "wall_time_s": round(wall_time_s, 3), "flops": flops or {}, **extra}


class RunDir:
    """The folder of one run. ``RunDir("cpu", "dynmask_pretrain", "dynamic_r0.85_s0")``.

    Under torchrun every rank holds the same RunDir, but only rank 0 writes: the ``write_*``,
    ``save`` and ``finish`` methods do nothing on the other ranks, and ``finish`` ends with a
    barrier, so no rank goes on (to the next run of a sweep) before rank 0's final.json exists.
    """

    def __init__(self, profile: str, experiment: str, name: str, root: Path | None = None):
        for label, value in (("profile", profile), ("experiment", experiment), ("run name", name)):
            if not value or "/" in value or value.startswith("."):
                raise ValueError(f"{label} must be a plain folder name, got {value!r}")
        self.profile, self.experiment, self.name = profile, experiment, name
        self.path = Path(root or results_root()) / profile / experiment / name

    def __repr__(self) -> str:
        return f"RunDir({self.path})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.file("checkpoint.pt")

    def is_finished(self) -> bool:
        return self.file("final.json").exists()

    def write_config(self, config: dict) -> None:
        if is_main_process():
            write_json(self.file("config.json"), config)

    def write_metrics(self, history: list[dict]) -> None:
        if is_main_process():
            write_csv(self.file("metrics.csv"), history)

    def write_steps(self, steps: list[dict]) -> None:
        if is_main_process():
            write_csv(self.file("steps.csv"), steps)

    def save(self, name: str, obj: Any) -> None:
        """A torch file of the run (weights, snapshots), atomically, by rank 0."""
        if is_main_process():
            save_torch(self.file(name), obj)

    def remove(self, name: str) -> None:
        """Delete a file of the run (rank 0; missing is fine)."""
        if is_main_process():
            self.file(name).unlink(missing_ok=True)

    def finish(self, final: dict, prov: dict) -> None:
        """Provenance first, final.json last: final.json's presence marks a finished run."""
        if is_main_process():
            write_json(self.file("provenance.json"), prov)
            write_json(self.file("final.json"), final)
        barrier()

    def read(self, name: str):
        path = self.file(name)
        if name.endswith(".json"):
            return read_json(path)
        if name.endswith(".csv"):
            return pd.read_csv(path)
        return torch.load(path, map_location="cpu", weights_only=False)


def result_line(values: dict, digits: int = 4) -> str:
    """``key=value`` pairs of a run's results, floats rounded to ``digits`` decimals, without
    timings: the line a notebook prints for nbval to compare (``# NBVAL_CHECK_OUTPUT``), so a
    change that moves a result fails the notebook check while a slower machine does not."""
    def shown(v):
        return f"{v:.{digits}f}" if isinstance(v, float) else repr(v)
    return " ".join(f"{k}={shown(v)}" for k, v in sorted(values.items())
                    if not any(t in k for t in ("time", "wall", "per_s", "_s_", "seconds")))


def find_runs(experiment: str, profile: str, root: Path | None = None, finished_only: bool = True) -> list[RunDir]:
    base = Path(root or results_root()) / profile / experiment
    if not base.is_dir():
        return []
    runs = [RunDir(profile, experiment, p.name, root) for p in sorted(base.iterdir()) if p.is_dir()
            and not p.name.startswith(".")]
    return [r for r in runs if r.is_finished() or not finished_only]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _run_row(run: RunDir, profile: str) -> dict:
    row = {"run": run.name, "profile": profile}
    row.update(_flatten(run.read("config.json"), "config."))
    row.update(_flatten(run.read("final.json"), "final."))
    prov = run.read("provenance.json")
    row.update({"prov.wall_time_s": prov.get("wall_time_s"), "prov.git_commit": prov.get("git_commit"),
                "prov.device": prov.get("hardware", {}).get("device"),
                "prov.cpu": prov.get("hardware", {}).get("cpu"), "prov.gpu": prov.get("hardware", {}).get("gpu")})
    return row


def load_runs(experiment: str, profile: str, root: Path | None = None) -> pd.DataFrame:
    """One row per finished run: ``run``, flattened ``config.*``, ``final.*`` and ``prov.*`` columns."""
    return pd.DataFrame([_run_row(run, profile) for run in find_runs(experiment, profile, root)])


def load_named_runs(runs, profile: str, root: Path | None = None) -> pd.DataFrame:
    """`load_runs`' rows of the finished runs among ``runs``, (experiment, run name) pairs, with an
    ``experiment`` column: e.g. the base recipe's runs a chapter shares (`mae_study.runs.base`)."""
    rows = []
    for experiment, name in runs:
        run = RunDir(profile, experiment, name, root)
        if run.is_finished():
            rows.append({**_run_row(run, profile), "experiment": experiment})
    return pd.DataFrame(rows)


def load_histories(experiment: str, profile: str, file: str = "metrics.csv", root: Path | None = None) -> pd.DataFrame:
    """Per-epoch (or per-step, ``file="steps.csv"``) tables of all finished runs, stacked with a ``run`` column."""
    frames = []
    for run in find_runs(experiment, profile, root):
        if run.file(file).exists():
            df = run.read(file)
            df.insert(0, "run", run.name)
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
