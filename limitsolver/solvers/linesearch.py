"""A line search for the support-Newton method that lets several units leave in one step.

Along a Newton direction X − t·s (X = [V_S; C]) a unit of V_S (a row, for the group
penalty, or an entry, for l1) reaches zero at its crossing time t_j
(:func:`~limitsolver.solvers.structured.crossing_times`); past it the smooth model of J on
the support no longer describes J, and the unit leaves. The radial line search
(:func:`~limitsolver.solvers.structured.radial_line_search`) cuts the step at the first
crossing t_1 and sets that unit to 0: one unit leaves per Newton step, so a working set
with many units that do not belong to the solution costs one Hessian and one factorization
per leaving unit.

:func:`crossing_path` follows the piecewise path instead: with t_1 ≤ t_2 ≤ … the sorted
crossing times in (0, 1], the point at t_k is

    X_k = X − t_k s  with the units 1, …, k set to 0,

(K crossings). The path is sampled at k = 1, 2, 4, …, K and then at the full step t = 1
with all K crossed units at 0, and walked while the objective keeps decreasing,
J(X_k) ≤ J(X_k') for the previous sample k' (so at most log₂K + 2 evaluations). Each
trial costs one objective evaluation, far less than a Newton step; the result is the last
point of the chain, so it decreases J at least as much as the radial line search's first
trial (the point X_1). When the first crossing point does not decrease J the radial line search's halving
takes over. Every point returned satisfies J ≤ J(X) up to rounding (the acceptance test of
the radial line search), so the method stays a descent method.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .structured import crossing_times, radial_line_search

__all__ = ["crossing_path", "trial_counts"]


def _decreases(Pn: float, P0: float) -> bool:
    """The acceptance test of the radial line search: Pn ≤ P0 up to rounding."""
    return Pn <= P0 + 1e-15 * abs(P0)


def trial_counts(K: int) -> list[int]:
    """How many crossed units each trial sets to 0: 1, 2, 4, … up to K, then K + 1 for
    the full step t = 1 with all K crossed units at 0."""
    ks, k = [], 1
    while k < K:
        ks.append(k)
        k *= 2
    return ks + [K, K + 1]


def crossing_path(VS: np.ndarray, step: np.ndarray,
                  objective: Callable[[np.ndarray, float], float], P0: float, *,
                  rowwise: bool = True, tc: np.ndarray | None = None
                  ) -> tuple[float, np.ndarray, float] | None:
    """The last point of the crossing path that still decreases J (module docstring).

    Parameters
    ----------
    VS : ndarray (s, T)   weights on the support.
    step : ndarray (s, T) the Newton direction of VS (the point moves as VS − t·step).
    objective : callable (V_new, t) → J at V_new, the other unknowns moved by t.
    P0 : float            J at t = 0.
    rowwise : bool        units are rows (group) or entries (l1).
    tc : ndarray, optional   the crossing times, when the caller has them.

    Returns (t, V_new, P_new), or None when no trial decreases J.
    """
    tc = crossing_times(VS, step, rowwise) if tc is None else tc
    flat = tc.ravel()
    order = np.argsort(flat, kind="stable")
    order = order[flat[order] <= 1.0]
    if order.size == 0:
        return radial_line_search(VS, step, objective, P0, rowwise=rowwise, tc=tc)
    units = np.unravel_index(order, tc.shape)
    K = order.size
    best, P_prev = None, P0
    for k in trial_counts(K):
        t = 1.0 if k > K else float(flat[order[k - 1]])
        if k > K and best is not None and best[0] == t:
            break                                 # the last crossing is at t = 1
        Vn = VS - t * step
        Vn[tuple(u[:k] for u in units)] = 0.0
        Pn = objective(Vn, t)
        if not _decreases(Pn, P_prev):
            break
        best, P_prev = (t, Vn, Pn), Pn
    if best is None:                      # the first crossing point failed: halve from it
        return _halving(VS, step, objective, P0, 0.5 * float(flat[order[0]]))
    return best


def _halving(VS, step, objective, P0, t, t_floor=1e-12):
    """The radial line search's backtracking after its first trial: t, t/2, … > t_floor."""
    while t > t_floor:
        Vn = VS - t * step
        Pn = objective(Vn, t)
        if _decreases(Pn, P0):
            return t, Vn, Pn
        t *= 0.5
    return None
