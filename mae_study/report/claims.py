"""The verdict rule every chapter uses: did the models learn, and is a claimed difference larger
than its noise?

A chapter turns each claim of a paper into one or more *claimed differences*, each written as

    difference(higher=<the arm the paper says is higher>, lower=<the arm it says is lower>)

that is, mean(higher) - mean(lower), so that **a positive difference is the paper's direction**
(for a loss the paper says is lower with method B: ``higher=loss_A, lower=loss_B``). Every mean is
over seeds (one value per pre-training seed, or per run), and the difference carries the standard
error of a difference of two independent means, ``sqrt(SE_higher^2 + SE_lower^2)`` with
``SE = sd / sqrt(n)`` (sample sd, ddof=1), and its degrees of freedom (Welch-Satterthwaite).

A difference *counts* when it lies outside its 95 % interval around zero, whose half-width (the
*spread*) is Student's t for its degrees of freedom times its standard error (2.78 SE with three
seeds a side, 4.30 with two; not a flat 2 SE, which with so few seeds claims far more than 95 %):

    difference >  spread    for the claim      (sign +1)
    difference < -spread    against the claim  (sign -1)
    otherwise               no evidence        (sign  0; also when SE is undefined: one seed a side)

and a claim's `verdict` combines its differences: "not reproduced" when any one counts against
the claim; "reproduced" when every one (``need="all"``) or at least one (``need="any"``) counts for
it; otherwise "inconclusive" (which includes "nothing could be compared"). A claim that two
settings do *equally* well can never be "reproduced" by it.

**No verdict without models that learned.** A verdict is only worth the models behind it, so
before any of that, `rung_failures` checks the rungs a claim stands on: the chapter's classifier
from scratch above the raw-pixel probe, each arm the claim compares above scratch or the pixel
probe by more than its spread, and every health check of what it rests on (a teacher, a
pre-training). When one fails, the claim is "untestable", naming the failed rung, whatever its
differences say (`Claim.judged(..., failures=...)`).

Everything here is a pure function of numbers, so every chapter's claims can be tested on made-up
tables (`tests/test_claims.py`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
UNTESTABLE = "untestable"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, UNTESTABLE)
CONFIDENCE = 0.95


def t_critical(df: float) -> float:
    """The two-sided 95 % critical value of Student's t with ``df`` degrees of freedom (the
    normal's 1.96 for ``df = inf``); nan when ``df`` is nan or not positive."""
    if math.isnan(df) or df <= 0:
        return math.nan
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def welch_df(se_a: float, df_a: float, se_b: float, df_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum or difference of two independent estimates
    with standard errors ``se_a``, ``se_b`` and degrees of freedom ``df_a``, ``df_b``."""
    if any(math.isnan(x) for x in (se_a, se_b, df_a, df_b)):
        return math.nan
    den = se_a ** 4 / df_a + se_b ** 4 / df_b
    return df_a + df_b if den == 0 else (se_a ** 2 + se_b ** 2) ** 2 / den


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
    df: float = math.inf  # degrees of freedom of ``se``; inf: a normal, not a t, interval

    @property
    def spread(self) -> float:
        """Half-width of the 95 % interval: Student's t for ``df`` times ``se`` (nan if undefined)."""
        return t_critical(self.df) * self.se

    @property
    def sign(self) -> int:
        """+1 (for the claim) / -1 (against it) when ``|value| > spread``, else 0."""
        if math.isnan(self.spread) or not abs(self.value) > self.spread:
            return 0
        return 1 if self.value > 0 else -1

    def __neg__(self) -> Difference:
        """The same comparison read the other way round (lower minus higher)."""
        return Difference(-self.value, self.se, self.df)

    def __sub__(self, other: Difference) -> Difference:
        """The difference of two independent differences (e.g. a gap at one ratio minus the gap
        at another), with their standard errors and degrees of freedom combined."""
        return Difference(self.value - other.value, combined_se(self.se, other.se),
                          welch_df(self.se, self.df, other.se, other.df))

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
        return Difference(value, math.nan, math.nan)
    se_h, se_l = standard_error(higher), standard_error(lower)
    return Difference(value, math.sqrt(se_h ** 2 + se_l ** 2), welch_df(se_h, len(higher) - 1, se_l, len(lower) - 1))


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


def rung_failures(pixel_probe: float | None, scratch: Sequence[float], arms: Mapping[str, Sequence[float]],
                  health: Mapping[str, str | None] | None = None) -> list[str]:
    """Why the models behind a claim cannot carry a verdict (empty: they can). Accuracies are
    fractions (one per run); ``arms`` are the arms the claim compares; ``health`` names a teacher
    or pre-training the claim rests on and says why it failed its own check (None: it passed).

    The rungs: the classifier from scratch above the pixel probe (mean over its runs); each arm
    above scratch (`difference`) or above the pixel probe (its runs' mean against the probe's
    single value) by more than the spread; every health check passed."""
    failures = []
    s = float(np.mean(scratch)) if len(scratch) else math.nan
    if pixel_probe is None or math.isnan(pixel_probe):
        failures.append("the pixel probe has not run")
    elif math.isnan(s):
        failures.append("no classifier from scratch has run")
    elif not s > pixel_probe:
        failures.append(f"scratch ({100 * s:.1f} %) is not above the pixel probe ({100 * pixel_probe:.1f} %)")
    for name, values in arms.items():
        values = np.asarray(values, float)
        if not len(values):
            failures.append(f"{name} has not run")
            continue
        above_scratch = difference(values, scratch).sign > 0 if len(scratch) else False
        probe_gap = Difference(float(values.mean()) - (pixel_probe if pixel_probe is not None else math.nan),
                               standard_error(values), len(values) - 1)
        if not (above_scratch or probe_gap.sign > 0):
            failures.append(f"{name} ({100 * values.mean():.1f} %) is not above scratch or the pixel probe "
                            "by more than its spread")
    failures += [f"{name}: {why}" for name, why in (health or {}).items() if why]
    return failures


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, checked.

    Args:
        claim: the claim as a testable sentence ("an encoder without mask tokens is more accurate").
        paper: what the paper reports for it (its numbers, or its words with where they stand).
        measured: what this study measured, with the numbers behind the verdict.
        verdict: "reproduced", "not reproduced", "inconclusive" (`verdict`) or "untestable"
            (a rung it stands on failed: `rung_failures`).
        difference: the deciding difference (claimed direction positive): the only one, or the
            one least in the claim's favour (`weakest`); nan when the claim is not a difference.
        se: its standard error (nan when undefined).
        table: which of the chapter's tables the claim belongs to (empty when ungrouped).
        metric: what is measured (e.g. "fine-tune", "linear probe", "FLOPs").
        failed_rungs: why the claim is untestable ("; "-joined `rung_failures`), else empty.
    """

    claim: str
    paper: str
    measured: str
    verdict: str
    difference: float = math.nan
    se: float = math.nan
    table: str = ""
    metric: str = ""
    failed_rungs: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if (self.verdict == UNTESTABLE) != bool(self.failed_rungs):
            raise ValueError("a claim is untestable exactly when it names the rungs that failed")

    @classmethod
    def judged(cls, claim: str, paper: str, measured: str, differences: Sequence[Difference],
               need: str = "all", failures: Sequence[str] = (), **fields) -> Claim:
        """A claim judged by `verdict` on its claimed differences, or "untestable" when
        ``failures`` (`rung_failures`) name a rung it stands on; ``difference`` and ``se`` are
        those of the `weakest` difference."""
        deciding = weakest(differences)
        judged = UNTESTABLE if failures else verdict(differences, need)
        return cls(claim, paper, measured, judged, deciding.value if deciding else math.nan,
                   deciding.se if deciding else math.nan, failed_rungs="; ".join(failures), **fields)


def gated(claim: Claim, failures: Sequence[str]) -> Claim:
    """``claim``, made "untestable" with ``failures`` named when there are any (for a chapter that
    judges its claims first and finds the arms they rest on afterwards)."""
    return replace(claim, verdict=UNTESTABLE, failed_rungs="; ".join(failures)) if failures else claim


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
