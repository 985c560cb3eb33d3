"""Which variant of a generator's details: ``"original"`` (as Anderson & Farrell's code draws
them: the synthetic pre-training sets) or ``"study"`` (the project's first choices, kept because
the built-in setting is drawn with them and every committed result on it must stay reproducible).

Where they differ (each function that takes ``style`` says how): background colouring and the
diamond-square edge rule (``background``), the singular-value scheme (``ifs.sample_sigma_system``),
the Single-Instance jitter (``ifs.jitter_system``), the renderer's binning (``render.render_counts``).
The data chapter's table "Fidelity to the original generators" lists them with measurements.
"""
from __future__ import annotations

STYLES = ("original", "study")
_CODES = {"study": 0, "original": 1}


def check_style(style: str) -> int:
    """The kernels' code of ``style`` (1: original, 0: study); ``ValueError`` naming the allowed ones."""
    if style not in _CODES:
        raise ValueError(f"style={style!r}; allowed: {', '.join(STYLES)}")
    return _CODES[style]
