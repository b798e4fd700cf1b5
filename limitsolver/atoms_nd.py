"""Atom bookkeeping for the joint Newton step in any d (:mod:`limitsolver.newton_nd`):
merging atoms that met or share a cell, and the faces of the hyperplane arrangement on
which atoms are held or land.

Notation as in :mod:`limitsolver.newton_nd`: atoms θ_j (rows of D, on Θ) with weights V_j,
chart bases G_j ((d+1) × d) at θ_j, samples x̃_i (rows of X̃).
"""
from __future__ import annotations

import numpy as np

from .problem import LimitProblem


__all__ = ["ON_FACE", "merge_equal", "merge_same_cell", "face_basis", "land", "nonzero_blocks"]


def merge_equal(problem: LimitProblem, D: np.ndarray, V: np.ndarray,
                merge_tol: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Atoms closer than ``merge_tol`` (max-norm) become one: weights summed, position the
    first one's (never raises J when the directions are equal)."""
    k = D.shape[0]
    if k <= 1:
        return D, V, False
    keep = np.ones(k, dtype=bool)
    V = V.copy()
    for j in range(k):
        if not keep[j]:
            continue
        close = np.max(np.abs(D - D[j]), axis=1) <= merge_tol
        close[:j + 1] = False
        close &= keep
        if close.any():
            V[j] += V[close].sum(axis=0)
            keep[close] = False
    return D[keep], V[keep], not keep.all()


#: A sample is on an atom's hyperplane when |θ·x̃| ≤ this times ‖x̃‖ (the atom is on a face).
ON_FACE = 1e-10


def merge_same_cell(problem: LimitProblem, D: np.ndarray,
                    V: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Atoms strictly inside one cell (the same activation pattern, on no hyperplane) become
    one. On the cell their contribution to P is X̃_A Mᵀ with M = Σ_j V_j θ_jᵀ (T × (d+1));
    the merged atom is the best rank-one part σ u vᵀ of M: θ = v (normalized on Θ), V = σ u
    (times ‖v_w‖ on the cylinder). When the V_j are parallel this is exact and lowers the
    penalty (σ ≤ Σ_j ‖V_j‖‖θ_j‖); otherwise the caller keeps it only if J does not rise.
    Returns (D, V, whether any merged)."""
    k = D.shape[0]
    if k <= 1:
        return D, V, False
    S = problem.Xt @ D.T                                          # (n, k)
    xn = np.linalg.norm(problem.Xt, axis=1)[:, None]
    on = (np.abs(S) <= ON_FACE * xn).any(axis=0)
    groups = {}
    for j in np.flatnonzero(~on):
        groups.setdefault((S[:, j] > 0).tobytes(), []).append(j)
    if all(len(g) == 1 for g in groups.values()):
        return D, V, False
    keep = np.ones(k, dtype=bool)
    D, V = D.copy(), V.copy()
    for idx in groups.values():
        if len(idx) == 1:
            continue
        M = V[idx].T @ D[idx]                                     # (T, d+1)
        U, sv, Wt = np.linalg.svd(M, full_matrices=False)
        u, v = U[:, 0] * sv[0], Wt[0]
        if v @ D[idx[0]] < 0:
            u, v = -u, -v
        if problem.bias == "free":
            scale = np.linalg.norm(v[:-1])
            if scale <= 1e-12:
                continue
            u, v = u * scale, v / scale
            v[-1] = np.clip(v[-1], -problem.radius, problem.radius)
        D[idx[0]], V[idx[0]] = v, u
        keep[idx[1:]] = False
    return D[keep], V[keep], True


def face_basis(problem: LimitProblem, D: np.ndarray, Gb: np.ndarray, tight: np.ndarray, nv: int,
               pT: int) -> np.ndarray:
    """The variables of the step that keeps every atom on the hyperplanes of its tight
    samples: t_j = N_j τ_j with N_j a basis of {t : (G_jᵀ x̃_i)·t = 0, i tight}. Returns the
    (N, N_r) matrix mapping reduced to full variables (identity on weights, free part)."""
    k, dim, d = Gb.shape
    blocks = []
    for j in range(k):
        rows = problem.Xt[tight[:, j]] @ Gb[j]                   # (m, d)
        if rows.shape[0] == 0:
            blocks.append(np.eye(d))
            continue
        _, sv, Vt = np.linalg.svd(rows, full_matrices=True)
        rank = int(np.sum(sv > 1e-12 * max(sv.max(), 1e-300)))
        blocks.append(Vt[rank:].T)                               # (d, d - rank)
    nr = sum(b.shape[1] for b in blocks)
    P = np.zeros((k * d + nv + pT, nr + nv + pT))
    c = 0
    for j, b in enumerate(blocks):
        P[j * d:(j + 1) * d, c:c + b.shape[1]] = b
        c += b.shape[1]
    P[k * d:, nr:] = np.eye(nv + pT)
    return P


def land(problem: LimitProblem, D: np.ndarray, Gb: np.ndarray, dt: np.ndarray,
         tight: np.ndarray) -> np.ndarray:
    """Each atom's chart step shortened to stop on the first hyperplane it would cross (so
    that an atom whose optimum is on a face lands on it)."""
    delta = np.einsum("kad,kd->ka", Gb, dt)                      # homogeneous moves
    S = problem.Xt @ D.T                                         # (n, k)
    rate = problem.Xt @ delta.T
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(~tight & (S * rate < 0), -S / rate, np.inf)
    amin = np.minimum(alpha.min(axis=0), 1.0)
    return dt * amin[:, None]


def nonzero_blocks(problem: LimitProblem, Xt: np.ndarray, theta: np.ndarray, V: np.ndarray,
                   C: np.ndarray, group: bool, mask: np.ndarray) -> np.ndarray:
    """Which weights survive a block-coordinate check: V_j (group; entries V_jt for l1) is
    kept unless, with the others fixed, its minimizer is zero — ‖c_j‖ ≤ λ for the
    correlation c_j = (1/n) Φ_jᵀ Z of the generalized residual Z (``loss.residual``)
    computed without it. (k, T) mask. Checked only when some neuron is small (below 1e-2
    of the largest): a heuristic that speeds up convergence, the certificate decides.

    Xt : (n, d+1);  theta : (k, d+1);  V : (k, T);  C : (p, T);  mask : (k, T) bool."""
    from .losses import get_loss
    loss = get_loss(problem.loss)
    n, lam = problem.n, problem.lam
    k, T = V.shape
    size = np.linalg.norm(V, axis=1) if group else np.abs(V).max(axis=1)
    if k == 0 or np.all(size > 1e-2 * size.max()):
        return np.ones((k, T), dtype=bool) if group else mask.copy()
    G = np.maximum(Xt @ theta.T, 0.0)
    P = G @ V + problem.F @ C
    if problem.loss == "squared":                  # Z without atom j is Z + Φ_j V_jᵀ
        c = (G.T @ loss.residual(P, problem.Y) + np.sum(G * G, axis=0)[:, None] * V) / n
        if group:
            return np.repeat((np.linalg.norm(c, axis=1) > lam)[:, None], T, axis=1)
        return mask & (np.abs(c) > lam)
    out = np.zeros((k, T), dtype=bool)
    for j in range(k):
        c = G[:, j] @ loss.residual(P - np.outer(G[:, j], V[j]), problem.Y) / n
        out[j] = np.linalg.norm(c) > lam if group else mask[j] & (np.abs(c) > lam)
    return out
