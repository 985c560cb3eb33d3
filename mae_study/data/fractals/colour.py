"""Colour: HSV -> RGB, and Anderson & Farrell's fractal colours.

A fractal's gray value ``g`` in (0, 1] becomes the colour ``(hue = (g + offset) mod 1, s, v)``: the
hue follows the point density, saturation and value are constant per image.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def hsv_to_rgb(h: float, s: float, v: float):
    """One HSV colour (each in [0, 1]; h wraps) -> (r, g, b) in [0, 1]."""
    h6 = (h % 1.0) * 6.0
    i = min(int(h6), 5)
    f = h6 - i
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    if i == 0:
        return v, t, p
    if i == 1:
        return q, v, p
    if i == 2:
        return p, v, t
    if i == 3:
        return p, q, v
    if i == 4:
        return t, p, v
    return v, p, q


def colours_from_uniforms(u: np.ndarray) -> np.ndarray:
    """A fractal's colour from three U(0, 1) numbers: ``(hue offset ~ U(0, 1), saturation ~ U(0.3, 1),
    value ~ U(0.5, 1))``. (..., 3) -> (..., 3)."""
    return np.array([0.0, 0.3, 0.5]) + np.array([1.0, 0.7, 0.5]) * u
