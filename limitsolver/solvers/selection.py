"""Which grid rows enter a working set: warm starts and violators, one per activation pattern.

- :func:`warm_rows` maps a previous solution to grid rows and weights;
- :class:`PatternCache` and :func:`patterns` compute activation patterns 1[x̃_i·θ > 0];
- :func:`pick_violators` takes the best violators, at most one per activation pattern and
  none too close to another;
- :func:`pool_floor` is the fewest directions of a working-set pool;
- :class:`InnerTolerance` is the restricted solves' tolerance, following the outer gap,
  and the test for passes without progress.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["warm_rows", "patterns", "PatternCache", "pick_violators", "pool_floor",
           "MIN_SPACING_COS", "SPACING_MIN_POOL", "InnerTolerance"]


def warm_rows(warm_start: Any, dirs: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial working set (row indices) and weights from a previous solution."""
    if warm_start is None:
        return np.zeros(0, dtype=int), np.zeros((0, T))
    atoms = getattr(warm_start, "atom_directions", None)
    weights = getattr(warm_start, "atom_weights", None)
    if atoms is None or weights is None:
        raise ValueError(f"warm_start must be a LimitSolution (or None), got "
                         f"{type(warm_start).__name__}")
    atoms = np.asarray(atoms, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if atoms.ndim != 2 or atoms.shape[1] != dirs.shape[1] or weights.shape != (atoms.shape[0], T):
        raise ValueError(
            f"warm_start does not fit this problem: atoms of shape {atoms.shape} and weights "
            f"{weights.shape}, expected (k, {dirs.shape[1]}) and (k, {T})")
    grid = getattr(warm_start, "grid", None)
    gw = getattr(warm_start, "grid_weights", None)
    if (grid is not None and gw is not None and np.shape(grid) == dirs.shape
            and np.shape(gw) == (dirs.shape[0], T) and np.array_equal(grid, dirs)):
        rows = np.flatnonzero(np.any(np.asarray(gw) != 0, axis=1))
        return rows, np.array(gw, dtype=float)[rows]
    if atoms.shape[0] == 0:
        return np.zeros(0, dtype=int), np.zeros((0, T))
    # nearest grid row of each atom: argmin ‖θ_j − a‖² = argmax 2θ_j·a − ‖θ_j‖²
    sq = np.sum(dirs * dirs, axis=1)
    best = np.full(atoms.shape[0], -np.inf)
    arg = np.zeros(atoms.shape[0], dtype=int)
    bs = max(1, (32 * 2**20) // (8 * atoms.shape[0]))
    for s in range(0, dirs.shape[0], bs):
        score = 2.0 * dirs[s:s + bs] @ atoms.T - sq[s:s + bs, None]
        i = np.argmax(score, axis=0)
        v = score[i, np.arange(atoms.shape[0])]
        better = v > best
        best[better], arg[better] = v[better], i[better] + s
    rows, inv = np.unique(arg, return_inverse=True)
    W = np.zeros((rows.size, T))
    np.add.at(W, inv, weights)
    return rows, W


def patterns(Xt: np.ndarray, D: np.ndarray) -> list[bytes]:
    """Activation patterns 1[x̃_i·θ > 0] of the directions D, one bytes key per row."""
    if D.shape[0] == 0:
        return []
    bits = np.packbits(Xt @ D.T > 0, axis=0)
    return [bits[:, j].tobytes() for j in range(D.shape[0])]


class PatternCache:
    """Activation patterns of the rows of D, computed on first request."""

    def __init__(self, Xt: np.ndarray, D: np.ndarray) -> None:
        self.Xt, self.D = Xt, D
        self.keys = {}

    def get(self, rows: Iterable[int]) -> list[bytes]:
        missing = [int(j) for j in rows if int(j) not in self.keys]
        if missing:
            for j, key in zip(missing, patterns(self.Xt, self.D[missing])):
                self.keys[j] = key
        return [self.keys[int(j)] for j in rows]


#: Two violators of one working-set step are kept this far apart on the sphere: a
#: candidate whose direction has cosine above this with an already picked one is left
#: for a later step. Near directions have nearly equal features (the ReLU feature
#: x̃ ↦ relu(θ·x̃) moves continuously with θ), so of a cluster of near-copies at most
#: one stays in the restricted optimum and the others leave it again, about one Newton
#: step each (n = 1000, d = 5, T = 10, M = 10⁴: 361 Newton steps in 19 restricted
#: solves without the rule, 242 in 15 with it; M = 10⁵: 634 and 352; d = 1: 634 and 226;
#: summed over eleven points of benchmarks/bench_scaling.py, cosine 0.85 took 3 % fewer
#: steps than 0.9, 0.95 10 % more, and keeping candidates away from the support too 25 %
#: more).
MIN_SPACING_COS = 0.9

#: Pools of fewer directions (coarse grids: refinement's grids, small default grids) take
#: the plain pick (``min_cos`` = 1). There the top violators are not clusters of
#: near-copies, and near interpolation, where the grid optimum need not be unique, the
#: spaced pick returned another optimal grid point from which refinement stopped at its
#: iteration limit (the demo at λ = 1e-8·λ_max: limit gap 1.3e-8 after 23 s, against
#: 8.7e-9 after 7.6 s with the plain pick; its pools have at most 128 directions).
SPACING_MIN_POOL = 500


def pick_violators(cand: np.ndarray, scores: np.ndarray, keys: "PatternCache",
                   n_add: int, min_cos: float = MIN_SPACING_COS) -> np.ndarray:
    """The ``n_add`` best candidates (positions ``cand``), spread out: at most one per
    activation pattern and no two with direction cosine above ``min_cos`` (of the rows
    scaled to unit length).

    Directions with the same activation pattern 1[x̃_i·θ > 0] (``keys``) have features in
    one (d+1)-dimensional space (Φ_j = D X̃ θ_j, D the diagonal of the pattern): more than
    d+1 of them are linearly dependent, and on a fine grid the top violators are mostly such
    near-copies of each other. Only the best violator of each pattern is taken (on a cell
    the correlation is linear in θ, so it is the best direction of that cell), and only
    the best of directions closer than ``min_cos`` (:data:`MIN_SPACING_COS`; 1 or more
    turns the spacing off) to each other. The best candidate is always taken, so a
    nonempty ``cand`` gives a nonempty pick.
    """
    if cand.size == 0:
        return cand
    seen = set()
    picked = []
    order = cand[np.argsort(-scores, kind="stable")]
    # unit rows: a free-bias grid lies on the cylinder ‖w‖ = 1, |b| ≤ R, not on a sphere
    D = keys.D / np.maximum(np.linalg.norm(keys.D, axis=1, keepdims=True), 1e-300) \
        if min_cos < 1.0 else keys.D
    spaced = min_cos < 1.0
    chunk = 2 * n_add
    for s in range(0, order.size, chunk):
        block = order[s:s + chunk]
        if spaced:
            # the block's cosines to the directions picked so far and among themselves
            if picked:
                block = block[~np.any(D[picked] @ D[block].T > min_cos, axis=0)]
            close = D[block] @ D[block].T > min_cos
            blocked = np.zeros(block.size, dtype=bool)
        for a, (j, key) in enumerate(zip(block, keys.get(block))):
            if key in seen or (spaced and blocked[a]):
                continue
            seen.add(key)
            picked.append(j)
            if len(picked) == n_add:
                return np.asarray(picked, dtype=int)
            if spaced:
                blocked |= close[a]
        chunk *= 2
    return np.asarray(picked, dtype=int)


def pool_floor(M: int, pool: int | None) -> int:
    """Fewest directions of a pool: ``pool``, or max(1000, M / 20) when None (a larger
    pool costs float32 re-pricings of the pool and saves full passes over the grid:
    n = 1000, d = 5, T = 10, M = 10⁵ took 4 full passes with 5000 against 6 with 1000)."""
    return int(pool) if pool is not None else max(1000, M // 20)


class InnerTolerance:
    """Relative-gap target ``value`` of the restricted solves of a working-set loop.

    An inexact restricted optimum leaves dual norms of the support above λ and can keep
    violators at zero weight, so that one pass repeats the one before. Hence
    :meth:`follow` lowers the target to at most the pass's certified relative gap over
    :data:`GAP_SHARE` (the default target tol / 20 is already below it while the gap is
    above tol) and reports a pass without progress (gap not below :data:`STALL_RATIO`
    times the best one before); :meth:`tighten` divides the target by 100 unless it is
    at :data:`FLOOR` or :data:`STALL_PASSES` passes in a row made no progress.
    """

    GAP_SHARE = 20.0
    FLOOR = 1e-15
    STALL_RATIO = 0.99
    STALL_PASSES = 3

    def __init__(self, value: float) -> None:
        self.value = float(value)
        self.best = np.inf        # the best certified gap so far
        self.stalled = 0          # passes in a row without progress

    def follow(self, gap: float) -> bool:
        """Record the certified relative gap of a pass; True when it made no progress."""
        if np.isfinite(gap):
            self.value = min(self.value, max(gap / self.GAP_SHARE, self.FLOOR))
        stall = np.isfinite(self.best) and not gap < self.STALL_RATIO * self.best
        self.stalled = self.stalled + 1 if stall else 0
        self.best = min(self.best, gap)
        return bool(stall)

    def tighten(self) -> str:
        """Divide the target by 100; why not ("" when it was done)."""
        if self.value <= self.FLOOR or self.stalled >= self.STALL_PASSES:
            return (f"the restricted solves did not close the gap (inner_tol down to "
                    f"{self.value:.1e}, {self.stalled} passes in a row without progress)")
        self.value = max(self.value / 100.0, self.FLOOR)
        return ""
