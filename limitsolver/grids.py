"""Direction sets: grids on the sphere S^d and on the cylinder S^{d-1} × [−R, R].

A direction is a row θ = (w, b) of length d+1. ``bias="regularized"`` uses unit vectors of
R^{d+1}; ``bias="free"`` uses ‖w‖ = 1 and |b| ≤ R (MATH.md).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sphere_grid", "cylinder_grid", "breakpoint_directions", "default_grid",
           "coarse_grid", "DEFAULT_SIZES", "DEFAULT_SIZE_HIGH_D", "COARSE_GRID_SIZES",
           "NEWTON_COARSE_SIZE", "check_random_state"]

_KINDS = ("auto", "uniform", "fibonacci", "sobol", "halton", "random")

#: Default number of directions by input dimension d when neither ``grid`` nor
#: ``n_directions`` is given (1-D grids also get the 2n data breakpoints).
DEFAULT_SIZES = {1: 512, 2: 2000}
DEFAULT_SIZE_HIGH_D = 4096

#: Size of the coarse start grid of a refinement, by input dimension d (``default_grid``
#: with this many directions, so d = 1 also gets the 2n data breakpoints): refinement moves
#: the neurons itself, so a coarse start is enough. For d >= 3 a refining ``solve`` sizes
#: its start grid by the time plan instead (:func:`~limitsolver.api.any_d_budget`).
COARSE_GRID_SIZES = {1: 64, 2: 256}

#: ... and where the joint Newton step moves the kinks (d = 1, squared or logistic loss),
#: the number of equally spaced directions alone (no breakpoints): the exchange step finds
#: the breakpoints that matter (they are candidates of the oracle), and a solve on 2n
#: breakpoint directions costs more than the refinement after it.
NEWTON_COARSE_SIZE = 128


def _check_count(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if not np.isfinite(as_float) or as_float != int(as_float) or as_float < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(as_float)


def check_random_state(random_state: Any) -> np.random.Generator:
    """A Generator from None, an int seed or a Generator, or a ValueError."""
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise ValueError("random_state must be None, a non-negative int or a "
                         f"numpy Generator, got {random_state!r}") from None


def sphere_grid(dim: int, n_points: int, kind: str = "auto",
                random_state: Any = None) -> np.ndarray:
    """Points on the unit sphere S^{dim−1} ⊂ R^dim.

    Parameters
    ----------
    dim : int
        Ambient dimension (2 for the circle, 3 for S²).
    n_points : int
        Number of points (for ``dim == 1`` the sphere S⁰ = {−1, +1} has two points and
        ``n_points`` is ignored).
    kind : {"auto", "uniform", "fibonacci", "sobol", "halton", "random"}
        ``uniform``: equally spaced angles (dim = 2 only); ``fibonacci``: the Fibonacci
        lattice (dim = 3 only); ``sobol``/``halton``: scrambled quasi-random points pushed
        through the Gaussian inverse CDF and normalized; ``random``: normalized Gaussians.
        ``auto`` picks uniform (dim 2), fibonacci (dim 3), sobol otherwise.
    random_state : None, int or Generator
        Seed for the random and scrambled kinds.

    Returns
    -------
    ndarray, shape (n_points, dim)
    """
    dim = _check_count("dim", dim)
    if kind not in _KINDS:
        raise ValueError(f"unknown kind={kind!r}; expected one of {', '.join(map(repr, _KINDS))}")
    if dim == 1:
        return np.array([[1.0], [-1.0]])
    n_points = _check_count("n_points", n_points)
    if kind == "auto":
        kind = {2: "uniform", 3: "fibonacci"}.get(dim, "sobol")
    if kind == "uniform":
        if dim != 2:
            raise ValueError(f"kind='uniform' is for the circle (dim=2), got dim={dim}")
        a = 2 * np.pi * np.arange(n_points) / n_points
        return np.column_stack([np.cos(a), np.sin(a)])
    if kind == "fibonacci":
        if dim != 3:
            raise ValueError(f"kind='fibonacci' is for the sphere S² (dim=3), got dim={dim}")
        k = np.arange(n_points)
        z = 1.0 - (2.0 * k + 1.0) / n_points
        r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
        phi = k * np.pi * (3.0 - np.sqrt(5.0))
        return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])
    rng = check_random_state(random_state)
    if kind == "random":
        G = rng.standard_normal((n_points, dim))
    else:
        from scipy.special import ndtri
        from scipy.stats import qmc
        engine = (qmc.Sobol(dim, scramble=True, seed=rng) if kind == "sobol"
                  else qmc.Halton(dim, scramble=True, seed=rng))
        if kind == "sobol":
            m = int(np.ceil(np.log2(max(n_points, 2))))
            U = engine.random_base2(m)[:n_points]
        else:
            U = engine.random(n_points)
        G = ndtri(np.clip(U, 1e-12, 1 - 1e-12))
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def cylinder_grid(d: int, n_w: int, n_b: int, radius: float, kind: str = "auto",
                  random_state: Any = None) -> np.ndarray:
    """Directions (w, b) with w on S^{d−1} and b on a uniform grid of [−R, R].

    Returns
    -------
    ndarray, shape (n_w' · n_b, d+1), with n_w' = 2 when d = 1.
    """
    if radius < 0 or not np.isfinite(radius):
        raise ValueError(f"radius must be finite and >= 0, got {radius}")
    n_b = _check_count("n_b", n_b)
    W = sphere_grid(d, n_w, kind=kind, random_state=random_state)
    b = np.linspace(-radius, radius, n_b)
    return np.column_stack([np.repeat(W, len(b), axis=0), np.tile(b, len(W))])


def breakpoint_directions(X: np.ndarray, bias: str) -> np.ndarray:
    """Directions whose kink sits exactly at a data point (1-D inputs only).

    For each x_i both orientations are returned: θ ∝ ±(1, −x_i), normalized to ‖θ‖ = 1
    (``bias="regularized"``) or to |w| = 1 (``bias="free"``).

    Returns
    -------
    ndarray, shape (2·n_unique, 2)
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(f"breakpoint directions are defined for 1-D inputs, got shape {X.shape}")
    x = np.unique(X[:, 0])
    G = np.column_stack([np.ones_like(x), -x])
    G = np.vstack([G, -G])
    if bias == "regularized":
        G /= np.linalg.norm(G, axis=1, keepdims=True)
    return G


def default_grid(X: np.ndarray, bias: str, n_directions: int | None = None,
                 random_state: Any = 0) -> np.ndarray:
    """The documented default direction set for inputs X (n × d).

    - d = 1: ``n_directions`` (default 512) equally spaced directions — angles on S¹ for
      ``bias="regularized"``, offsets b ∈ [−R, R] for each sign of w for ``bias="free"`` —
      plus the 2n data-breakpoint directions, so a bias-free 1-D problem is exact on the grid;
    - d = 2: a Fibonacci lattice of 2000 points on S² (regularized), or ⌈N/32⌉ equally
      spaced angles × 32 offsets (free: 63 × 32 = 2016 directions for N = 2000);
    - d ≥ 3: 4096 scrambled Sobol directions on S^d (regularized), or ⌈N/16⌉ Sobol
      directions w × 16 offsets on the cylinder (free: 256 × 16 for N = 4096).

    ``n_directions`` replaces the N of each case (default ``DEFAULT_SIZES`` by d, else
    ``DEFAULT_SIZE_HIGH_D``).
    """
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    radius = float(np.max(np.linalg.norm(X, axis=1)))
    N = (_check_count("n_directions", n_directions) if n_directions is not None
         else DEFAULT_SIZES.get(d, DEFAULT_SIZE_HIGH_D))
    if bias == "regularized":
        G = sphere_grid(d + 1, N, random_state=random_state)
    elif d == 1:
        G = cylinder_grid(1, 2, max(1, N // 2), radius)
    else:
        n_b = 32 if d == 2 else 16
        n_w = max(1, -(-N // n_b))
        G = cylinder_grid(d, n_w, n_b, radius, random_state=random_state)
    if d == 1:
        G = np.vstack([G, breakpoint_directions(X, bias)])
    return G


def coarse_grid(X: np.ndarray, bias: str, *, newton: bool = False,
                random_state: Any = 0) -> np.ndarray:
    """The coarse start grid of a refinement for inputs X (n × d).

    - ``newton=True`` (d = 1, where the joint Newton step moves the kinks):
      ``NEWTON_COARSE_SIZE`` equally spaced directions alone — angles on S¹
      (``bias="regularized"``), or ``NEWTON_COARSE_SIZE // 2`` offsets in [−R, R],
      R = max‖x_i‖, for each sign of w (``bias="free"``);
    - otherwise ``default_grid`` with ``COARSE_GRID_SIZES[d]`` directions (d = 1 also gets
      the 2n data breakpoints; d >= 3, absent from the table: the default size).
    """
    X = np.asarray(X, dtype=float)
    if newton:
        if X.ndim != 2 or X.shape[1] != 1:
            raise ValueError(f"newton=True is the 1-D start grid, got inputs of shape {X.shape}")
        if bias == "regularized":
            return sphere_grid(2, NEWTON_COARSE_SIZE)
        radius = float(np.max(np.abs(X[:, 0])))
        return cylinder_grid(1, 2, NEWTON_COARSE_SIZE // 2, radius)
    return default_grid(X, bias, COARSE_GRID_SIZES.get(X.shape[1]), random_state=random_state)
