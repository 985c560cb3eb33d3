"""A notebook's results at the ``ci`` profile against the ones stored in the repository, within
stated tolerances: the check behind every cell marked ``# NBVAL_CHECK_OUTPUT``.

nbval compares a cell's printed text with the text stored in the notebook. Printing the results
themselves ties that text to one CPU's float rounding: another CPU's kernels (AVX2 instead of
AVX-512, another BLAS, another thread count) move a loss in its fifth digit and can flip one test
image of a hundred. So a checked cell prints a verdict instead: the number of values compared and
the tolerances used, a text that is the same on every machine while each value stays within its
tolerance of the stored one, and that names each value that does not (and raises) when it moves
further. The stored values live in ``notebooks/ci_expected/<notebook>.json``; ``make notebooks``
writes them (``MAE_STUDY_RECORD_CI=1``) on the machine that stores the notebooks' outputs, and
``make nbval`` compares (``MAE_STUDY_CI_CHECK=1``). They are the results of each notebook's default
parameters, so a run with other parameters (a documented papermill command) is not compared.

What the tolerances allow (`tolerance`, by the value's type and name):

- integers, strings, booleans and missing values: exactly equal;
- accuracies and rates on a test set (names with accuracy, top1, mAP, probe, scratch, chance,
  majority, fine-tune, and a table's min, max and sd columns): ``ACCURACY_ATOL`` (0.03 as a
  fraction, 3 points in a table in percent): three test images of the hundred the ``ci`` tasks hold;
- every other float (losses, FLOPs, attention statistics): relative ``FLOAT_RTOL`` (2e-3), far
  above the rounding differences measured between kernels and thread counts (at most 3e-6) and
  well below what a change of the method moves (averaging the MAE loss over every patch instead
  of the masked ones moves notebook 02's loss by 2.7 %: `tools/nbval_trial.sh`).
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mae_study.paths import REPO_ROOT
from mae_study.runs.results import _atomic_write_bytes

EXPECTED_DIR = REPO_ROOT / "notebooks" / "ci_expected"
RECORD_ENV = "MAE_STUDY_RECORD_CI"
CHECK_ENV = "MAE_STUDY_CI_CHECK"
ACCURACY_ATOL = 0.03
FLOAT_RTOL = 2e-3
ACCURACY_NAMES = re.compile(r"acc|top1|map$|probe|scratch|chance|majority|fine-tune|/(min|max|sd)$", re.IGNORECASE)


@dataclass(frozen=True)
class Tolerance:
    """|value - stored| <= atol + rtol * |stored|; ``exact`` for values that are not floats."""

    atol: float = 0.0
    rtol: float = 0.0
    exact: bool = False

    def allows(self, value, stored) -> bool:
        if _missing(value) or _missing(stored):
            return _missing(value) and _missing(stored)
        if self.exact or not isinstance(value, float) or not isinstance(stored, float):
            return value == stored and type(value) is type(stored)
        return abs(value - stored) <= self.atol + self.rtol * abs(stored)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def tolerance(name: str, value, percent: bool = False) -> Tolerance:
    """The tolerance for one value, by its name and type (see the module's docstring)."""
    if not isinstance(value, float):
        return Tolerance(exact=True)
    if ACCURACY_NAMES.search(name):
        return Tolerance(atol=ACCURACY_ATOL * (100 if percent else 1))
    return Tolerance(rtol=FLOAT_RTOL)


def compare(values: dict, stored: dict, percent: bool = False) -> list[str]:
    """One line per value that is missing, extra or outside its tolerance (empty: all match)."""
    problems = [f"{k}: not in the stored results" for k in values if k not in stored]
    problems += [f"{k}: stored but not computed" for k in stored if k not in values]
    for k in values.keys() & stored.keys():
        tol = tolerance(k, stored[k], percent)
        if not tol.allows(values[k], stored[k]):
            bound = "exactly" if tol.exact else f"within {tol.atol:g} + {tol.rtol:g} x |stored|"
            problems.append(f"{k}: {values[k]!r}, stored {stored[k]!r} (allowed: {bound})")
    return sorted(problems)


def _plain(v):
    """JSON-safe scalar: numpy and pandas scalars to Python ones; NaN to None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    return v


def frame_values(frame: pd.DataFrame, key_columns: list[str]) -> dict:
    """``"<key columns joined by />/<column>": value`` for every other column of ``frame``."""
    out = {}
    for _, row in frame.iterrows():
        key = "/".join(str(row[c]) for c in key_columns)
        for col in frame.columns:
            if col not in key_columns:
                out[f"{key}/{col}"] = _plain(row[col])
    return out


def prefixed(runs: dict[str, dict]) -> dict:
    """``{"run/key": value}`` from ``{run: {key: value}}`` (e.g. several runs' final.json)."""
    return {f"{run}/{k}": _plain(v) for run, d in runs.items() for k, v in d.items()}


TIMING = ("time", "wall", "per_s", "_s_", "seconds")


def check_ci(notebook: str, values: dict, profile: str, percent: bool = False,
             expected_dir: Path | None = None) -> list[str]:
    """Compare ``values`` with ``<expected_dir>/<notebook>.json`` and print the verdict; raise an
    AssertionError naming every value out of tolerance. Timing values (names with time, wall,
    per_s, seconds) are left out. At a profile other than ``ci``, or without ``MAE_STUDY_CI_CHECK=1``
    (set by ``make nbval``), it only says so; with ``MAE_STUDY_RECORD_CI=1`` it stores ``values``
    instead. Returns the problems found."""
    if profile != "ci":
        print(f"results checked against stored values at the ci profile only (this run: {profile})")
        return []
    record, check = os.environ.get(RECORD_ENV) == "1", os.environ.get(CHECK_ENV) == "1"
    if not (record or check):
        print(f"results not compared with the stored ci results (`make nbval` compares them: {CHECK_ENV}=1)")
        return []
    values = {k: _plain(v) for k, v in values.items() if not any(t in k for t in TIMING)}
    path = Path(expected_dir or EXPECTED_DIR) / f"{notebook}.json"
    if record:
        _atomic_write_bytes(path, (json.dumps(values, indent=1, sort_keys=True) + "\n").encode())
        problems = []
    else:
        if not path.is_file():
            raise FileNotFoundError(f"no stored ci results at {path}: run `make notebooks` to record them")
        problems = compare(values, json.loads(path.read_text()), percent)
    floats = sum(isinstance(v, float) for v in values.values())
    unit = "points" if percent else "as a fraction"
    print(f"{len(values)} values compared with the stored ci results: {len(values) - floats} exactly, "
          f"{floats} floats within {ACCURACY_ATOL * (100 if percent else 1):g} ({unit}) for accuracies "
          f"and {FLOAT_RTOL:g} relative otherwise")
    if problems:
        print("OUT OF TOLERANCE:\n" + "\n".join(problems))
        raise AssertionError(f"{len(problems)} result(s) differ from the stored ci results: " + "; ".join(problems))
    print("verdict: every value within its tolerance")
    return problems
