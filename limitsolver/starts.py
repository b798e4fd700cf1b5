"""Where the multi-start ascent of :mod:`limitsolver.ascent` starts, on Θ.

Θ is the sphere S^d (``bias="regularized"``) or the cylinder {(w, b): ‖w‖ = 1, |b| ≤ R}
(``bias="free"``). Besides a quasi-random sample and the current atoms, pricing starts from

- :func:`data_directions`: normals of hyperplanes through d data points (vertices of the
  arrangement {θ·x̃_i = 0}, where maximizers of ‖c‖ often sit);
- :func:`split_starts`: points at small angles around each atom (where an atom should split).
"""
from __future__ import annotations

import numpy as np

from .problem import LimitProblem

__all__ = ["project", "data_directions", "split_starts"]


def project(theta: np.ndarray, bias: str, radius: float) -> np.ndarray:
    """Rows of ``theta`` mapped onto Θ (sphere: normalized; cylinder: ‖w‖ = 1, |b| ≤ R)."""
    if bias == "regularized":
        return theta / np.maximum(np.linalg.norm(theta, axis=-1, keepdims=True), 1e-300)
    w = theta[..., :-1]
    w = w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-300)
    return np.concatenate([w, np.clip(theta[..., -1:], -radius, radius)], axis=-1)


def data_directions(problem: LimitProblem, n_dirs: int, rng: np.random.Generator) -> np.ndarray:
    """Directions defined by the data: hyperplanes {θ·x̃ = 0} through d data points
    (random d-tuples), with the normal's sign chosen at random; (n_dirs, d+1), on Θ.

    A maximizer of ‖c‖ often sits on such a face of the arrangement (a vertex, for d-tuples);
    d-tuples in general position give the vertices of the arrangement."""
    n, d = problem.n, problem.d
    Xt = problem.Xt
    if n_dirs <= 0 or n < d:
        return np.zeros((0, d + 1))
    idx = np.argsort(rng.random((n_dirs, n)), axis=1)[:, :d]
    rows = Xt[idx]                                              # (m, d, d+1)
    # the normal to the span of d points of R^{d+1}: last right singular vector
    _, _, Vt = np.linalg.svd(rows, full_matrices=True)
    theta = Vt[:, -1, :] * rng.choice([-1.0, 1.0], size=(n_dirs, 1))
    if problem.bias == "free":
        ok = np.linalg.norm(theta[:, :-1], axis=1) > 1e-9
        theta = theta[ok]
        theta = theta / np.linalg.norm(theta[:, :-1], axis=1, keepdims=True)
        theta = theta[np.abs(theta[:, -1]) <= problem.radius]
    return project(theta, problem.bias, problem.radius)


def split_starts(problem: LimitProblem, atoms: np.typing.ArrayLike, rng: np.random.Generator,
                 radii: tuple[float, ...] = (3e-3, 1e-2, 3e-2), per: int = 4) -> np.ndarray:
    """Directions at angles ``radii`` around each atom (``per`` random ones per radius), on
    Θ: where an atom should split in two, the new maximum of ‖c‖ sits next to it, in a
    basin that a sample over all of Θ rarely hits. (k·len(radii)·per, d+1)."""
    atoms = np.asarray(atoms, dtype=float).reshape(-1, problem.dim)
    if atoms.shape[0] == 0:
        return atoms
    out = []
    for r in radii:
        E = rng.standard_normal((per,) + atoms.shape)
        E -= np.sum(E * atoms, axis=-1, keepdims=True) * atoms       # tangent
        E /= np.maximum(np.linalg.norm(E, axis=-1, keepdims=True), 1e-300)
        out.append((atoms[None] + r * E).reshape(-1, problem.dim))
    return project(np.vstack(out), problem.bias, problem.radius)
