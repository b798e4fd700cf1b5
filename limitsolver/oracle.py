"""The oracle: sup over the whole direction set Θ of the correlation of a dual candidate.

For a dual candidate Z (n × T) the correlation of a direction θ = (w, b) is

    c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i)  ∈ R^T,

and the oracle computes S = sup_{θ ∈ Θ} ‖c(θ)‖ (‖·‖ the penalty's dual norm: ‖·‖₂ for
``group``, ‖·‖_∞ for ``l1``) together with maximizing directions. With S,
Z · λ / S is feasible for the *continuous* dual problem, so the certificate built from it
is a lower bound on the infinite-width optimum OPT (MATH.md, "Discretization and
certificates").

c is linear on each cell of the arrangement of the hyperplanes {θ·x̃_i = 0}; the sup is found
cell by cell:

- d = 1, ``bias="regularized"`` (Θ = S¹): the 2n breakpoints θ ⊥ x̃_i split S¹ into arcs; on
  an arc c(θ) = A θ (A is T × 2) and max ‖Aθ‖² is at an endpoint or at ±(top eigenvector of
  AᵀA) when it lies in the arc. Exact, O(n² T); only the candidates whose value (from their
  arc's form) can reach the best are evaluated through the feature map.
- d = 1, ``bias="free"`` (Θ = {±1} × [−R, R]): for fixed w, c is piecewise linear in b with
  breakpoints b = −w x_i, and a norm of an affine map is convex, so the max is at a
  breakpoint or at b = ±R. Exact.
- d = 2, ``bias="regularized"`` (Θ = S²): cells of the arrangement of n great circles.
  Every cell has an edge; walking each great circle through its 2(n − 1) crossings gives
  every edge (arc) and, from its two sides, every cell. Candidates: the vertices, on every
  arc ±(top eigenvector of the 2 × 2 restricted form) when inside the arc, and for the cells
  on both sides ±(top eigenvector of the 3 × 3 form AᵀA). Exact, O(n³ T). What depends on
  X alone (crossing angles, vertices, the activation pattern of every arc) is kept for the
  last two input sets, so repeated calls on one data set (refinement) only redo the Z parts.
- d = 2, ``bias="free"`` (Θ = S¹ × [−R, R]): on a cell ‖c‖² is convex in b for fixed w, so
  the max lies on a cell boundary: the curves b = −w·x_i (arcs, 2 × 2 eigenproblems in w),
  their crossings, and the edge b = R (a trigonometric polynomial of degree 2 in the angle
  of w, solved through the roots of a quartic); on b = −R, c = 0. Exact.
- d = 3: the arcs of the arrangement (:mod:`limitsolver.faces3d`), both bias options; d = 4
  (both bias options): every face around every vertex (:mod:`limitsolver.faces_star`).
  Exact, up to ``faces3d.EXACT_MAX_N_3D`` / ``faces_star.EXACT_MAX_N_4D`` distinct inputs by
  default.
- otherwise (and d = 2 beyond ``EXACT_MAX_N_2D`` inputs unless ``exact=True``): sampling plus
  projected ascent from the best samples give a value (a point of Θ, so below the sup), and
  the branch and bound of :mod:`limitsolver.bound` proves an upper end: the result is the
  interval [``value``, ``upper``] (``exact=False``, ``method="bounded"``), and only ``upper``
  enters a certificate.

Layout: :mod:`limitsolver.faces` (exact d = 1, 2 candidates), :mod:`limitsolver.sup_bounded`
(d ≥ 3: sampling, ascent and branch and bound), :mod:`limitsolver.suptools` (the result
type, evaluation of candidates). The certificates on all of Θ that use this oracle are in
:mod:`limitsolver.limitcert` (``limit_certificate``, ``shortcut_sup_bound``) and
:mod:`limitsolver.limitattach` (``attach_limit_certificate``, on a solution).

Exactness is up to rounding: a candidate whose claimed value (from its cell's eigenvalue)
is within a relative ``1e-12`` of the best verified value is not re-evaluated. Every value
returned is the true ‖c(θ)‖ at a returned direction, so ``value`` never exceeds the sup;
``upper`` never falls below it (exact: ``value · (1 + SUP_SAFETY)``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .faces import cands_1d_cylinder, cands_1d_sphere, cands_2d
from .sup_bounded import bounded_oracle
from .suptools import (SUP_SAFETY, SupResult, distinct_top, dual_norm, unique_rows,
                       verify_candidates)
from .problem import LimitProblem

__all__ = ["SupResult", "sup_correlation", "EXACT_DIMENSIONS", "EXACT_MAX_N_2D", "SUP_SAFETY",
           "BOUND_RTOL", "BOUND_MAX_TIME"]

#: Input dimensions d for which the oracle is exact.
EXACT_DIMENSIONS = (1, 2, 3, 4)

#: For d = 2 the exact oracle costs O(n³ T) (about 0.1 s at n = 100, 1.5 s at n = 300);
#: with ``exact=None`` it is used up to this many distinct inputs, and the sampled estimate
#: beyond (so that a default ``solve`` stays fast; ``refine`` always uses the exact one).
EXACT_MAX_N_2D = 100

#: Non-exact oracle: relative width of [value, upper] at which the branch and bound stops,
#: and its time budget in seconds per oracle call (on expiry the interval is wider but
#: still certified).
BOUND_RTOL = 1e-9
BOUND_MAX_TIME = 2.0

def sup_correlation(problem: LimitProblem, Z: np.ndarray, *, penalty: "str | None" = None,
                    exact: "bool | None" = None, top_k: int = 16,
                    threshold: "float | None" = None, n_samples: int = 4096,
                    n_starts: int = 16, random_state: Any = 0, bound_rtol: float = BOUND_RTOL,
                    bound_max_time: float = BOUND_MAX_TIME,
                    seeds: "np.ndarray | None" = None) -> SupResult:
    """sup over Θ of ‖c(θ)‖, c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i), with maximizing directions.

    Parameters
    ----------
    problem : LimitProblem
        Supplies X (n × d), the bias convention (Θ = S^d or S^{d−1} × [−R, R]) and the penalty.
    Z : array_like (n, T) or (n,)
        Dual candidate (for instance a residual, or interpolation multipliers).
    penalty : {"group", "l1"}, optional
        Dual norm ‖·‖₂ (group) or ‖·‖_∞ (l1); defaults to the problem's.
    exact : bool, optional
        Force (True) or skip (False) the exact method; True raises a ValueError for d ≥ 5.
        By default exact for d = 1, for d = 2 up to ``EXACT_MAX_N_2D``, for d = 3 up to
        ``faces3d.EXACT_MAX_N_3D`` and for d = 4 up to ``faces_star.EXACT_MAX_N_4D``
        distinct inputs (at d = 4 the sup is bounded instead when the exact search declines).
    top_k : int
        Number of distinct best directions returned in ``directions``.
    threshold : float, optional
        Exact method: also evaluate every candidate (vertex, edge or cell stationary point)
        whose value may exceed ``threshold``, so that ``directions`` holds all the local
        maximizers above it (up to ``top_k``), not only the best ones.
    n_samples, n_starts, random_state :
        Non-exact path: number of quasi-random samples, number of ascent starts, seed (they
        give the first lower value and the exchange directions).
    bound_rtol, bound_max_time :
        Non-exact path: the branch and bound stops when upper ≤ value · (1 + bound_rtol)
        or after ``bound_max_time`` seconds (then with a wider, still certified, interval).
    seeds : ndarray (k, d+1), optional
        Non-exact path: directions to evaluate first (e.g. a solution's atoms, which are
        near-maximizers); they are mapped into Θ before evaluation.

    Returns
    -------
    SupResult
        ``exact`` is True when the exact method ran (d ≤ 4; exact up to rounding). Either
        way ``upper`` is a certified upper bound on the sup.
    """
    from .grids import check_random_state
    penalty = penalty or problem.penalty
    if penalty not in ("group", "l1"):
        raise ValueError(f"sup_correlation: penalty={penalty!r} has no dual norm here; "
                         "expected 'group' or 'l1'")
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2 or Z.shape[0] != problem.n:
        raise ValueError(f"sup_correlation: Z must have shape (n, T) = ({problem.n}, T), "
                         f"got {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("sup_correlation: Z contains NaN or inf")
    n, d, bias, radius = problem.n, problem.d, problem.bias, problem.radius
    dual = dual_norm(penalty)
    Xt_full = problem.Xt
    X, Zu = unique_rows(problem.X, Z)
    if exact and d not in EXACT_DIMENSIONS:
        raise ValueError(f"sup_correlation: the exact oracle is for d = 1, 2, 3, 4, got d = {d}")
    from .faces3d import EXACT_MAX_N_3D, exact_sup_3d
    from .faces_star import EXACT_MAX_N_4D, exact_sup_star
    if exact is None:
        exact = d == 1 or (d == 2 and X.shape[0] <= EXACT_MAX_N_2D) or \
            (d == 3 and X.shape[0] <= EXACT_MAX_N_3D) or \
            (d == 4 and X.shape[0] <= EXACT_MAX_N_4D)
    star = None
    if exact and d == 4:  # faces around every vertex of the arrangement in R⁵
        star = exact_sup_star(np.column_stack([X, np.ones(X.shape[0])]), Zu, n,
                              penalty=penalty, bias=bias, radius=radius, top_k=top_k)
        exact = star is not None   # inputs not spanning R⁵ or too degenerate: bounded
    if not exact:
        return bounded_oracle(problem, X, Zu, Z, penalty, top_k, int(n_samples), int(n_starts),
                        check_random_state(random_state), bound_rtol, bound_max_time, seeds)
    if star is not None:
        return SupResult(value=star.value, direction=star.direction,
                         directions=star.directions, values=star.values, exact=True,
                         n_candidates=star.n_candidates, n_evaluated=star.n_candidates)
    if d == 3:  # face enumeration of the arrangement in R⁴ (limitsolver.faces3d)
        r = exact_sup_3d(np.column_stack([X, np.ones(X.shape[0])]), Zu, n, penalty=penalty,
                         bias=bias, radius=radius, top_k=top_k, threshold=threshold)
        return SupResult(value=r.value, direction=r.direction, directions=r.directions,
                         values=r.values, exact=True, n_candidates=r.n_candidates,
                         n_evaluated=r.n_evaluated)
    return _exact_low_d(X, Zu, n, d, penalty, bias, radius, dual, threshold, top_k)


def _exact_low_d(X, Zu, n, d, penalty, bias, radius, dual, threshold, top_k) -> SupResult:
    """The exact d = 1, 2 oracle: candidates of :mod:`limitsolver.faces`, verified."""
    # l1: sup_θ max_t |c_t| = max_t sup_θ |c_t| — candidates of each column's problem
    columns = [Zu] if penalty == "group" else [Zu[:, [t]] for t in range(Zu.shape[1])]
    cands, claims = [], []
    for Zc in columns:
        if d == 1 and bias == "regularized":
            c, cl = cands_1d_sphere(X, Zc, n)
        elif d == 1:
            c, cl = cands_1d_cylinder(X, radius)
        else:
            c, cl = cands_2d(X, Zc, n, bias, radius)
        cands.append(c)
        claims.append(cl)
        if d == 1 and bias == "free":
            break  # the candidates do not depend on Z
    cand = np.vstack(cands)
    claimed = np.concatenate(claims)
    Xtu = np.column_stack([X, np.ones(X.shape[0])])
    vals, _ = verify_candidates(Xtu, Zu, n, cand, claimed, dual,
                      np.inf if threshold is None else float(threshold))
    dirs, dv = distinct_top(cand, vals, top_k)
    return SupResult(value=float(dv[0]), direction=dirs[0], directions=dirs, values=dv,
                     exact=True, n_candidates=cand.shape[0],
                     n_evaluated=int(np.isfinite(vals).sum()))
