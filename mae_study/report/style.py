"""The book's plot style, applied explicitly: importing the package restyles nothing.

Every figure function of the package draws inside `book_style` (``@book_style()``), so its
figures look the same in the book, in a notebook and in a caller's script, and the caller's own
settings are restored afterwards. `use_book_style` sets the same style for everything drawn
afterwards, for a notebook that draws its own plots in the book's look.
"""
from __future__ import annotations

import contextlib

import matplotlib as mpl
import seaborn as sns
from cycler import cycler

STYLE, CONTEXT, PALETTE = "whitegrid", "notebook", "deep"
"""The book's seaborn style, plotting context and colour palette."""


def book_rc() -> dict:
    """The matplotlib settings of the book's style: what ``seaborn.set_theme(style=STYLE,
    context=CONTEXT, palette=PALETTE)`` sets, as a dict."""
    return {**sns.axes_style(STYLE), **sns.plotting_context(CONTEXT), "font.family": ["sans-serif"],
            "axes.prop_cycle": cycler(color=sns.color_palette(PALETTE))}


def use_book_style() -> None:
    """Set the book's style for every plot drawn from now on (a global matplotlib setting)."""
    mpl.rcParams.update(book_rc())


@contextlib.contextmanager
def book_style():
    """The book's style for what is drawn inside, the caller's settings restored after.

    As a context manager (``with book_style(): ...``) or as a decorator (``@book_style()``) of a
    function that creates its figure inside. Only the style's own settings are saved and
    restored: `matplotlib.rc_context` would also restore ``interactive``, which a notebook's
    inline backend may switch on while the first figure is drawn, and its later figures would
    then never be shown.
    """
    style = book_rc()
    saved = {key: mpl.rcParams[key] for key in style}
    mpl.rcParams.update(style)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)
