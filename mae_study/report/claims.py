"""The verdict rule every chapter uses: is a claimed difference larger than its noise?

A chapter turns each claim of a paper into one or more *claimed differences*, each written as

    difference(higher=<the arm the paper says is higher>, lower=<the arm it says is lower>)

that is, mean(higher) - mean(lower), so that **a positive difference is the paper's direction**
(for a loss the paper says is lower with method B: ``higher=loss_A, lower=loss_B``). Every mean is
over seeds (one value per pre-training seed, or per run), and the difference carries the standard
error of a difference of two independent means, ``sqrt(SE_higher^2 + SE_lower^2)`` with
``SE = sd / sqrt(n)`` (sample sd, ddof=1).

A difference *counts* when it is further than two standard errors from zero:

    difference >  2 SE    for the claim      (sign +1)
    difference < -2 SE    against the claim  (sign -1)
    otherwise             no evidence        (sign  0; also when SE is undefined: one seed a side)

and a claim's `verdict` combines its differences: "not reproduced" when any one counts against
the claim; "reproduced" when every one (``need="all"``) or at least one (``need="any"``) counts for
it; otherwise "inconclusive" (which includes "nothing could be compared"). With two or three seeds
a side this is a weak test, so "inconclusive" is common and honest; and a claim that two settings
do *equally* well can never be "reproduced" by it.

Everything here is a pure function of numbers, so every chapter's claims can be tested on made-up
tables (`tests/test_claims.py`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


def standard_error(values) -> float:
    """Standard error of the mean of ``values`` (one per seed): ``sd / sqrt(n)``, sample sd
    (ddof=1). nan with fewer than two values: one seed says nothing about the spread."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return math.nan
    return math.sqrt(values.var(ddof=1) / len(values))


def standard_error_from_sd(sd: float | None, n: int) -> float:
    """The standard error of a mean of ``n`` values whose sample sd is ``sd`` (when only the
    summary was stored); nan when ``sd`` is missing or ``n < 2``."""
    if sd is None or pd.isna(sd) or n < 2:
        return math.nan
    return sd / math.sqrt(n)


def combined_se(*ses: float) -> float:
    """The standard error of a sum or difference of independent estimates:
    ``sqrt(se_1^2 + se_2^2 + ...)``; nan when any of them is nan."""
    if any(math.isnan(se) for se in ses):
        return math.nan
    return math.sqrt(sum(se ** 2 for se in ses))


@dataclass(frozen=True)
class Difference:
    """A difference of means and its standard error (nan when undefined).

    Oriented as the claim is: ``value > 0`` is the direction the paper claims (see `difference`).
    """

    value: float
    se: float

    @property
    def sign(self) -> int:
        """+1 (for the claim) / -1 (against it) when ``|value| > 2 se``, else 0."""
        if math.isnan(self.se) or not abs(self.value) > 2 * self.se:
            return 0
        return 1 if self.value > 0 else -1

    def __neg__(self) -> Difference:
        """The same comparison read the other way round (lower minus higher)."""
        return Difference(-self.value, self.se)

    def __sub__(self, other: Difference) -> Difference:
        """The difference of two independent differences (e.g. a gap at one ratio minus the gap
        at another), with their standard errors combined."""
        return Difference(self.value - other.value, combined_se(self.se, other.se))

    def format(self, decimals: int = 1) -> str:
        """``+1.2 ± 0.4``; without a standard error ``+1.2 (one trial: no test)``."""
        if math.isnan(self.se):
            return f"{self.value:+.{decimals}f} (one trial: no test)"
        return f"{self.value:+.{decimals}f} ± {self.se:.{decimals}f}"


def difference(higher, lower) -> Difference:
    """``mean(higher) - mean(lower)`` and its standard error, for the claim "``higher`` is higher
    than ``lower``" (each a sequence of values, one per seed). Positive = the claimed direction.
    The standard error is nan when either side has fewer than two values."""
    higher, lower = np.asarray(higher, float), np.asarray(lower, float)
    value = float(higher.mean() - lower.mean()) if len(higher) and len(lower) else math.nan
    if len(higher) < 2 or len(lower) < 2:
        return Difference(value, math.nan)
    return Difference(value, math.sqrt(higher.var(ddof=1) / len(higher) + lower.var(ddof=1) / len(lower)))


def verdict(differences: Iterable[Difference], need: str = "all") -> str:
    """A claim's verdict from its claimed differences (each positive in the claimed direction).

    Any difference clearly against the claim: "not reproduced". Otherwise "reproduced" when
    every difference (``need="all"``) or at least one (``need="any"``, for claims such as "no
    setting beats X, and some do worse") is clearly for it; else "inconclusive". No differences
    at all: "inconclusive".
    """
    if need not in ("all", "any"):
        raise ValueError(f"need must be 'all' or 'any', got {need!r}")
    signs = [d.sign for d in differences]
    if any(s < 0 for s in signs):
        return NOT_REPRODUCED
    if signs and (all(s > 0 for s in signs) if need == "all" else any(s > 0 for s in signs)):
        return REPRODUCED
    return INCONCLUSIVE


def deterministic_verdict(holds: bool) -> str:
    """The verdict of a claim about a quantity without seed-to-seed spread (an analytic FLOPs
    count): "reproduced" if it holds, else "not reproduced"."""
    return REPRODUCED if holds else NOT_REPRODUCED


def weakest(differences: Sequence[Difference]) -> Difference | None:
    """The difference least in the claim's favour: the lowest ``value / se`` (the lowest value
    when no standard error is defined); None when there is none."""
    if not differences:
        return None
    if all(math.isnan(d.se) for d in differences):
        return min(differences, key=lambda d: d.value)
    return min((d for d in differences if not math.isnan(d.se)),
               key=lambda d: d.value / d.se if d.se > 0 else math.copysign(math.inf, d.value))


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, checked.

    Args:
        claim: the claim as a testable sentence ("an encoder without mask tokens is more accurate").
        paper: what the paper reports for it (its numbers, or its words with where they stand).
        measured: what this study measured, with the numbers behind the verdict.
        verdict: "reproduced", "not reproduced" or "inconclusive" (`verdict`).
        difference: the deciding difference (claimed direction positive): the only one, or the
            one least in the claim's favour (`weakest`); nan when the claim is not a difference.
        se: its standard error (nan when undefined).
        table: which of the chapter's tables the claim belongs to (empty when ungrouped).
        metric: what is measured (e.g. "fine-tune", "linear probe", "FLOPs").
    """

    claim: str
    paper: str
    measured: str
    verdict: str
    difference: float = math.nan
    se: float = math.nan
    table: str = ""
    metric: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @classmethod
    def judged(cls, claim: str, paper: str, measured: str, differences: Sequence[Difference],
               need: str = "all", **fields) -> Claim:
        """A claim judged by `verdict` on its claimed differences; ``difference`` and ``se``
        are those of the `weakest` one."""
        deciding = weakest(differences)
        return cls(claim, paper, measured, verdict(differences, need),
                   deciding.value if deciding else math.nan, deciding.se if deciding else math.nan, **fields)


def claims_frame(claims: Iterable[Claim], columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The claims as a table, one row each: the `Claim` fields named in ``columns`` (field ->
    column title, in that order), or every field."""
    fields = list(Claim.__dataclass_fields__)
    columns = columns or {f: f for f in fields}
    unknown = set(columns) - set(fields)
    if unknown:
        raise ValueError(f"not fields of Claim: {sorted(unknown)}")
    rows = [{title: asdict(c)[field] for field, title in columns.items()} for c in claims]
    return pd.DataFrame(rows, columns=list(columns.values()))
