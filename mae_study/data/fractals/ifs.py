"""Iterated function systems: sampling them, and the batched chaos game.

An IFS *system* here is a float64 array of shape (M, 7): one row per affine map,
``a, b, c, d, e, f, p`` with ``x' = a x + b y + e``, ``y' = c x + d y + f`` and ``p`` the probability of
choosing the map (the layout of FractalDB's published ``categories.csv``).

Two samplers:
- ``sample_fractaldb_system`` (Kataoka et al.): 2..7 maps, every parameter uniform in [-1, 1],
  ``p = |ad - bc| / sum``; no contractivity check (the filling-rate search filters them).
- ``sample_sigma_system`` (Anderson & Farrell): 2..4 maps ``A = U diag(s1, s2) V`` with random
  rotations and sign flips, singular values constrained by the "sigma factor"
  ``sum(s1 + 2 s2) = alpha``, ``alpha ~ U((5 + N) / 2, (6 + N) / 2)``.

The chaos game (``iterate``) is batched: many systems at once (``prange``), and within a system many
independent chains with a short burn-in instead of the originals' single dependent chain of 100,000
points. The chains are interleaved step by step, which lets the CPU overlap their arithmetic; the
random numbers come from an inline SplitMix64 per chain. Departure: the originals keep the first
points of their one chain (FractalDB keeps the start point); here each chain drops ``burn_in``
points, so the cloud lies on the attractor from the first stored point.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mae_study.data.fractals.seeding import splitmix_uniform, substream
from mae_study.data.fractals.style import check_style


# ---- sampling systems -----------------------------------------------------------------------------

def map_probabilities(params: np.ndarray) -> np.ndarray:
    """``|ad - bc|`` normalised over the maps; uniform if every determinant is zero. (M, 6) -> (M,)."""
    det = np.abs(params[:, 0] * params[:, 3] - params[:, 1] * params[:, 2])
    total = det.sum()
    return det / total if total > 0 else np.full(len(params), 1.0 / len(params))


def make_system(params: np.ndarray) -> np.ndarray:
    """(M, 6) map parameters -> (M, 7) system with determinant probabilities."""
    system = np.empty((len(params), 7))
    system[:, :6] = params
    system[:, 6] = map_probabilities(system)
    return system


def sample_fractaldb_system(rng: np.random.Generator) -> np.ndarray:
    """One FractalDB candidate: N ~ U{2..7} maps, parameters U[-1, 1]. Returns (N, 7)."""
    num_maps = int(rng.integers(2, 8))
    return make_system(rng.uniform(-1.0, 1.0, size=(num_maps, 6)))


def sample_singular_values(rng: np.random.Generator, num_maps: int, alpha: float) -> np.ndarray:
    """Singular values with ``1 >= s1 >= s2 >= 0`` per map and ``sum(s1 + 2 s2) = alpha``: (M, 2).

    Each map in turn takes a share ``t = s1 + 2 s2`` uniform over what keeps the rest feasible
    (every map can hold between 0 and 3), then ``s1 ~ U(t / 3, min(1, t))``, ``s2 = (t - s1) / 2``; the
    maps are shuffled at the end so no position is favoured.
    """
    svs = np.empty((num_maps, 2))
    remaining = alpha
    for i in range(num_maps):
        left = num_maps - 1 - i
        lo, hi = max(0.0, remaining - 3.0 * left), min(3.0, remaining)
        t = remaining if left == 0 else rng.uniform(lo, hi)
        s1 = rng.uniform(t / 3.0, min(1.0, t))
        svs[i] = s1, (t - s1) / 2.0
        remaining -= t
    return svs[rng.permutation(num_maps)]


def sample_singular_values_original(rng: np.random.Generator, num_maps: int, alpha: float) -> np.ndarray:
    """Singular values as Anderson & Farrell's code draws them (the same constraints as
    ``sample_singular_values``, another distribution): map by map, ``s1`` then ``s2`` uniform between
    the least this map must take so that the maps after it can still reach ``alpha`` (each holds at
    most 3) and the most the budget and ``s2 <= s1 <= 1`` allow; the last map takes what remains,
    its ``s2`` uniform over the feasible range. Maps are not shuffled (the first maps draw first, so
    they tend to larger values). (M, 2)."""
    svs = np.empty((num_maps, 2))
    budget = alpha  # what the maps from this one on must sum to (s1 + 2 s2 each)
    floor = alpha - 3.0 * (num_maps - 1)  # the least the maps up to this one must take
    for i in range(num_maps - 1):
        s1 = rng.uniform(max(0.0, floor / 3.0), min(1.0, budget))
        floor, budget = floor - s1, budget - s1
        s2 = rng.uniform(max(0.0, floor / 2.0), min(s1, budget / 2.0))
        floor, budget = floor - 2.0 * s2 + 3.0, budget - 2.0 * s2
        svs[i] = s1, s2
    s2 = rng.uniform(max(0.0, (budget - 1.0) / 2.0), budget / 3.0)
    svs[-1] = budget - 2.0 * s2, s2
    return svs


def _rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def sample_sigma_system(rng: np.random.Generator, num_maps: int | None = None, style: str = "study") -> np.ndarray:
    """One Anderson & Farrell system: N ~ U{2, 3, 4} maps ``A = R(theta) diag(s1, s2) D R(phi)``
    (D a random sign flip), translations U[-1, 1], sigma factor ``alpha ~ U((5+N)/2, (6+N)/2)``;
    singular values by the original's scheme (``style="original"``) or the study's
    (``"study"``, the built-in setting's). Returns (N, 7)."""
    n = int(rng.integers(2, 5)) if num_maps is None else num_maps
    alpha = rng.uniform((5 + n) / 2, (6 + n) / 2)
    svs = (sample_singular_values_original if check_style(style) == 1 else sample_singular_values)(rng, n, alpha)
    params = np.empty((n, 6))
    for i in range(n):
        signs = np.diag(rng.choice([-1.0, 1.0], size=2))
        A = _rotation(rng.uniform(0, 2 * np.pi)) @ np.diag(svs[i]) @ signs @ _rotation(rng.uniform(0, 2 * np.pi))
        params[i, :4] = A.ravel()  # a, b, c, d
        params[i, 4:] = rng.uniform(-1.0, 1.0, size=2)  # e, f
    return make_system(params)


def max_singular_value(a: float, b: float, c: float, d: float) -> float:
    """Largest singular value of the 2x2 matrix [[a, b], [c, d]], in closed form."""
    frob2 = a * a + b * b + c * c + d * d
    det = a * d - b * c
    return math.sqrt((frob2 + math.sqrt(max(frob2 * frob2 - 4 * det * det, 0.0))) / 2)


def jitter_system(system: np.ndarray, rng: np.random.Generator, low: float = 0.8, high: float = 1.1,
                  tries: int = 4, style: str = "study") -> np.ndarray:
    """Single-Instance augmentation: multiply one random map by ``U(low, high)``, retrying up to
    ``tries`` times to keep its largest singular value <= 1 (the unjittered system if all fail).
    ``"original"``: the map's six parameters by one factor (its shape kept: its singular values and
    translation scale together), as Anderson & Farrell's code; ``"study"`` (the built-in setting's):
    each parameter by its own factor (the map's shape changes too). Probabilities are recomputed
    from the determinants, as the original's chaos game does."""
    one = check_style(style) == 1
    i = min(int(rng.random() * len(system)), len(system) - 1)  # rng.integers, without its overhead
    for _ in range(tries):
        row = system[i, :6] * (low + (high - low) * rng.random(1 if one else 6))
        if max_singular_value(*row[:4].tolist()) <= 1.0:
            jittered = system.copy()
            jittered[i, :6] = row
            jittered[:, 6] = map_probabilities(jittered)
            return jittered
    return system


def fixed_point(system: np.ndarray) -> np.ndarray:
    """Fixed point of the first map, (2,): where Anderson & Farrell start the chaos game; (0, 0) if
    the map has none."""
    a, b, c, d, e, f = system[0, :6].tolist()
    det = (1 - a) * (1 - d) - b * c  # solve (I - A) x = (e, f)
    if abs(det) < 1e-12:
        return np.zeros(2)
    return np.array([((1 - d) * e + b * f) / det, (c * e + (1 - a) * f) / det])


# ---- the batched chaos game -----------------------------------------------------------------------

ORIGINAL_POINTS = 100_000  # Anderson & Farrell's chaos-game points per image, at any image size


def num_points(image_size: int, points_per_pixel: float) -> int:
    """Chaos-game points for one image of side ``image_size``: ``points_per_pixel * size^2``, at least 256
    (the originals use a fixed count: 100,000 or 200,000 whatever the size)."""
    return max(256, int(round(points_per_pixel * image_size * image_size)))


def pack_systems(systems: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pad systems of different sizes into arrays a kernel can take.

    Returns:
        params: (S, M_max, 6) float64, zero for padding maps.
        cumprob: (S, M_max) cumulative probabilities, the last real map's set to exactly 1 and the
            padding's too, so a uniform ``u < 1`` never selects a padding map.
    """
    m_max = max(len(s) for s in systems)
    params = np.zeros((len(systems), m_max, 6))
    cumprob = np.ones((len(systems), m_max))
    for i, system in enumerate(systems):
        m = len(system)
        params[i, :m] = system[:, :6]
        p = system[:, 6] / system[:, 6].sum()
        cumprob[i, :m] = np.cumsum(p)
        cumprob[i, m - 1:] = 1.0
    return params, cumprob


@njit(cache=True)
def _chaos_game(p, cum, x0, y0, seed, num_chains, steps, burn_in, drop_before, out):
    # one system: p (M, 6), cum (M,), start (x0, y0), seed uint64 -> out (steps * C, 2)
    num_maps = 1  # the system's own maps, not the padded count (none after the first cum == 1 is chosen)
    while num_maps < len(cum) and cum[num_maps - 1] < 1.0:
        num_maps += 1
    xs, ys = np.empty(num_chains), np.empty(num_chains)
    states = np.empty(num_chains, dtype=np.uint64)
    for c in range(num_chains):
        xs[c], ys[c], states[c] = x0, y0, substream(seed, c)
    for t in range(burn_in + steps):
        for c in range(num_chains):  # chains interleaved: independent work for the CPU to overlap
            states[c], u = splitmix_uniform(states[c])
            k = 0
            for j in range(num_maps - 1):  # branch-free map choice: k = #{j : u >= cum[j]}
                k += u >= cum[j]
            x, y = xs[c], ys[c]
            nx = p[k, 0] * x + p[k, 1] * y + p[k, 4]
            ny = p[k, 2] * x + p[k, 3] * y + p[k, 5]
            xs[c], ys[c] = nx, ny
            if t >= burn_in:
                i = (t - burn_in) * num_chains + c
                out[i, 0], out[i, 1] = nx, ny
    # A diverging chain stays non-finite (inf * 0 is NaN): drop it from `drop_before` points before
    # its first non-finite point on, as FractalDB drops the 100 before the first.
    first_bad = np.full(num_chains, steps)
    for i in range(steps * num_chains):
        if not (np.isfinite(out[i, 0]) and np.isfinite(out[i, 1])):
            first_bad[i % num_chains] = min(first_bad[i % num_chains], i // num_chains)
    for c in range(num_chains):
        if first_bad[c] < steps:
            for t in range(max(0, first_bad[c] - drop_before), steps):
                out[t * num_chains + c, 0] = np.nan
                out[t * num_chains + c, 1] = np.nan


@njit(cache=True, parallel=True)
def _iterate_kernel(params, cumprob, starts, seeds, num_chains, steps, burn_in, drop_before, out):
    # params (S, M, 6), cumprob (S, M), starts (S, 2), seeds (S,) uint64 -> out (S, steps * C, 2)
    for s in prange(params.shape[0]):
        _chaos_game(params[s], cumprob[s], starts[s, 0], starts[s, 1], seeds[s], num_chains, steps, burn_in,
                    drop_before, out[s])


def iterate(systems: list[np.ndarray], seeds: np.ndarray, num_points: int, starts: np.ndarray | None = None,
            num_chains: int = 32, burn_in: int = 20, drop_before: int = 100) -> np.ndarray:
    """Run the chaos game of every system, in parallel over systems.

    Args:
        systems: S systems, each (M, 7).
        seeds: (S,) uint64, one per system: its points depend on nothing else.
        num_points: points kept per system (rounded up to a multiple of ``num_chains``).
        starts: (S, 2) start points; (0, 0) when None.
        num_chains: independent chains per system.
        burn_in: points dropped at the start of every chain.
        drop_before: when a chain diverges (non-finite), its points from that many before on are NaN.
    Returns:
        (S, P, 2) float32 points, ordered step by step (point ``t * num_chains + c`` is step t of chain
        c); NaN where dropped.
    """
    params, cumprob = pack_systems(systems)
    starts = np.zeros((len(systems), 2)) if starts is None else np.asarray(starts, dtype=np.float64)
    steps = -(-num_points // num_chains)
    out = np.empty((len(systems), steps * num_chains, 2), dtype=np.float32)
    _iterate_kernel(params, cumprob, starts, np.asarray(seeds, dtype=np.uint64), num_chains, steps, burn_in,
                    drop_before, out)
    return out
