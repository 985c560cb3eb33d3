"""Helpers for the book's pages: which profile's results a build shows, which others exist, the
papers' numbers, and Markdown that renders nothing when it is empty.

The pages hold prose and calls; what they show is computed by the package's chapter modules.
"""
from __future__ import annotations

import os

import pandas as pd
from IPython.display import Markdown

from mae_study.paths import reference_root
from mae_study.runs.params import PROFILES, check_profile
from mae_study.runs.results import find_runs


def book_profile() -> str:
    """The profile whose results the book renders: ``MAE_STUDY_BOOK_PROFILE``, default ``cpu``."""
    return check_profile(os.environ.get("MAE_STUDY_BOOK_PROFILE", "cpu"))


def table_html(df: pd.DataFrame) -> str:
    """A DataFrame as a book page shows it: without pandas' row numbers (an unnamed integer index,
    0, 1, 2 ... or what filtering left of it; a named or labelled index, which says something, is
    kept), inside a box that scrolls sideways when the table is wider than the page's column
    instead of being clipped."""
    plain = (df.index.name is None and not isinstance(df.index, pd.MultiIndex)
             and pd.api.types.is_integer_dtype(df.index))
    return f'<div class="table-scroll" style="overflow-x: auto; max-width: 100%;">{df.to_html(index=not plain)}</div>'


def use_book_tables() -> None:
    """Makes the running notebook kernel show every DataFrame with `table_html` (a page calls it
    once, in its first cell); nothing outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


def profiles_with_results(experiment: str) -> list[str]:
    """Profiles (in the order ci, cpu, gpu, paper) that have finished runs of ``experiment``."""
    return [p for p in PROFILES if find_runs(experiment, p)]


def other_profiles(experiment: str, shown: str) -> list[str]:
    """The profiles besides ``shown`` (and ``ci``, whose numbers mean nothing) with finished runs
    of ``experiment``: what a page can point its reader to."""
    return [p for p in profiles_with_results(experiment) if p not in (shown, "ci")]


def require_runs(experiment: str, profile: str) -> None:
    """A clear error (which fails the build) when a page's results are missing."""
    if not find_runs(experiment, profile):
        raise FileNotFoundError(
            f"no finished runs of {experiment!r} at profile {profile!r} under data/results/{profile}/; "
            f"run `make run-notebooks PROFILE={profile}` (or `make book`) first")


def reference(name: str) -> pd.DataFrame:
    """A published table from ``data/reference/<name>.csv``."""
    return pd.read_csv(reference_root() / f"{name}.csv")


def markdown(text: str | None) -> Markdown | None:
    """``text`` as Markdown for a page; None (the cell shows nothing) when there is no text."""
    return Markdown(text) if text else None


def results_header(profile: str, runs: dict[str, int] | None = None, others_of: str | None = None) -> Markdown:
    """The line under a page's title: the profile whose results it shows, how many runs of each kind
    (``runs``: e.g. ``{"pre-training runs": 18, "fine-tuning runs": 21}``) and, with ``others_of``
    (an experiment), the other profiles that have results of it."""
    text = f"Results shown: profile `{profile}`"
    if runs:
        text += ", " + " and ".join(f"{n} {what}" for what, n in runs.items())
    text += "."
    if others_of is not None:
        text += f" Other profiles with results: {', '.join(f'`{p}`' for p in other_profiles(others_of, profile)) or 'none'}."
    return Markdown(f"*{text}*")
