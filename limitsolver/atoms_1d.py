"""Atom bookkeeping of the d = 1 joint Newton method (:mod:`limitsolver.newton`): neurons
that met or share a cell become one, and (free affine part) antipodal pairs are folded.

Each neuron has one parameter t (the angle on S¹, or the offset b on the cylinder) and a sign
s of w (free bias); see :class:`limitsolver.newton._Param`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .problem import LimitProblem

__all__ = ["fold_antipodal", "merge_same_cell_1d", "merge_equal_1d"]


def fold_antipodal(problem: LimitProblem, D: np.ndarray, V: np.ndarray, C: np.ndarray, *,
                   tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With a free affine part, a neuron at −θ is the neuron at θ minus an affine function:
    relu(−θ·x̃) = relu(θ·x̃) − (w·x + b) for θ = (w, b). A pair of atoms at θ and −θ (within
    ``tol``) becomes one atom at θ with weight V_θ + V_−θ, the free part absorbing
    −V_−θ (w·x + b) (the atom at −θ is taken as exactly −θ): the fitted function is
    unchanged and the penalty does not rise (Ω(V₁ + V₂) ≤ Ω(V₁) + Ω(V₂), equal when the two
    weights are parallel, as at an optimum).
    Other free parts cannot absorb the linear term: the atoms are returned unchanged.

    D : ndarray (k, d+1);  V : ndarray (k, T);  C : ndarray (p, T) with p = 1 + d (affine).
    Returns (D', V', C')."""
    if problem.free != "affine" or D.shape[0] <= 1:
        return D, V, C
    V, C = np.array(V, dtype=float), np.array(C, dtype=float)
    keep = np.ones(D.shape[0], dtype=bool)
    close = np.linalg.norm(D[:, None, :] + D[None, :, :], axis=2) <= tol
    for j, l in zip(*np.nonzero(np.triu(close, 1))):
        if not (keep[j] and keep[l]):
            continue
        V[j] += V[l]
        # V_l relu(θ_l·x̃) = V_l relu(θ_j·x̃) + V_l (θ_l·x̃), θ_l = −θ_j = (w_l, b_l)
        C[0] += D[l, -1] * V[l]
        C[1:] += np.outer(D[l, :-1], V[l])
        keep[l] = False
    return D[keep], V[keep], C



def merge_same_cell_1d(par: Any, Xt: np.ndarray, t: np.ndarray, s: np.ndarray, V: np.ndarray,
                       on: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Neurons strictly inside one cell (same activation pattern, on no breakpoint) become
    one: on a cell c(θ) = Aθ is linear, and ‖Aθ‖ has one local maximum on an arc shorter
    than π, so the optimum holds at most one of them. The merged neuron sits at the
    ‖V‖-weighted mean parameter and carries V_j + V_l (J may rise: the caller keeps the
    merge only when it does not; then Newton converges to the single neuron instead of
    crawling along a degenerate pair)."""
    if len(t) <= 1:
        return t, s, V, False
    inside = ~on.any(axis=1)
    if inside.sum() <= 1:
        return t, s, V, False
    act = (Xt @ par.theta(t, s).T > 0).T                         # (k, n)
    groups = {}
    for j in np.flatnonzero(inside):
        groups.setdefault((s[j], act[j].tobytes()), []).append(j)
    if all(len(g) == 1 for g in groups.values()):
        return t, s, V, False
    keep = np.ones(len(t), dtype=bool)
    t, V = t.copy(), V.copy()
    for idx in groups.values():
        if len(idx) == 1:
            continue
        j0 = idx[0]
        w = np.linalg.norm(V[idx], axis=1)
        tt = t[idx]
        if par.regularized:                                     # unwrap around t[j0]
            tt = t[j0] + np.mod(tt - t[j0] + np.pi, 2 * np.pi) - np.pi
        t[j0] = float(w @ tt / w.sum()) if w.sum() > 0 else t[j0]
        V[j0] = V[idx].sum(axis=0)
        keep[idx[1:]] = False
    return t[keep], s[keep], V[keep], True


def merge_equal_1d(t: np.ndarray, s: np.ndarray, V: np.ndarray,
                   tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Neurons with the same parameter (and sign) become one, weights summed (this never
    raises J: Ω(V₁ + V₂) ≤ Ω(V₁) + Ω(V₂)). Returns (t, s, V, whether any merged)."""
    if len(t) <= 1:
        return t, s, V, False
    order = np.lexsort((t, s))
    t, s, V = t[order], s[order], V[order]
    same = (s[1:] == s[:-1]) & (np.diff(t) <= tol)
    if not same.any():
        return t, s, V, False
    group_id = np.concatenate([[0], np.cumsum(~same)])
    Vm = np.zeros((group_id[-1] + 1, V.shape[1]))
    np.add.at(Vm, group_id, V)
    first = np.concatenate([[True], ~same])
    return t[first], s[first], Vm, True
