"""Exact sup of ‖c(θ)‖ for d = 1 and d = 2: candidate directions from the faces of the
hyperplane arrangement {θ·x̃_i = 0} (see :mod:`limitsolver.oracle` for the method).

Each ``_cands_*`` function returns (candidates (m, d+1), claimed values (m,)): the claimed
value is what the candidate's cell form gives (+inf when not known); the oracle verifies
candidates through the feature map in decreasing order of claim.
"""
from __future__ import annotations

import numpy as np

__all__ = ["cands_1d_sphere", "cands_1d_cylinder", "cands_2d", "ARRANGEMENT_CACHE_BYTES",
           "ARRANGEMENTS", "ARRANGEMENTS_KEPT"]


def top_eig(M):
    """Top eigenvalue and unit eigenvector of symmetric matrices M (..., k, k)."""
    w, U = np.linalg.eigh(M)
    return np.maximum(w[..., -1], 0.0), U[..., :, -1]


def arc_contains(start, length, angle):
    """Whether ``angle`` lies in the arc [start, start + length] (mod 2π)."""
    return np.mod(angle - start, 2 * np.pi) <= length



# ---------------------------------------------------------------------------------------
# d = 1
# ---------------------------------------------------------------------------------------
def cands_1d_sphere(X: np.ndarray, Z: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidates on S¹: breakpoints and ±(top eigenvector) of every arc's 2 × 2 form."""
    Xt = np.column_stack([X[:, 0], np.ones(X.shape[0])])
    # θ ⊥ x̃_i: θ = ±(1, −x_i) / ‖·‖
    base = np.arctan2(-X[:, 0], 1.0)
    ang = np.sort(np.mod(np.concatenate([base, base + np.pi]), 2 * np.pi))
    nxt = np.concatenate([ang[1:], ang[:1] + 2 * np.pi])
    mid = 0.5 * (ang + nxt)
    Mid = np.column_stack([np.cos(mid), np.sin(mid)])
    P = (Mid @ Xt.T) > 0                                       # (arcs, n)
    T = Z.shape[1]
    W = (Z[:, :, None] * Xt[:, None, :]).reshape(Xt.shape[0], T * 2)
    A = (P @ W).reshape(-1, T, 2) / n
    lam, v = top_eig(np.einsum("kti,ktj->kij", A, A))
    # vertices: arc starts, with the arc's exact linear form (c is continuous there)
    verts = np.column_stack([np.cos(ang), np.sin(ang)])
    cl_v = np.linalg.norm(np.einsum("kti,ki->kt", A, verts), axis=1)
    # ±(top eigenvector) where it lies inside its arc (else the arc's max is a vertex)
    a = np.arctan2(v[:, 1], v[:, 0])
    length = nxt - ang
    cand, claimed = [verts], [cl_v]
    for sign, ang_c in ((1.0, a), (-1.0, a + np.pi)):
        inside = arc_contains(ang, length, ang_c)
        cand.append(sign * v[inside])
        claimed.append(np.sqrt(lam[inside]))
    return np.vstack(cand), np.concatenate(claimed)


def cands_1d_cylinder(X: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidates on {±1} × [−R, R]: the breakpoints b = −w x_i and b = ±R."""
    x = X[:, 0]
    b = np.concatenate([-x, [-radius, radius]])
    cand = np.vstack([np.column_stack([np.ones_like(b), b]),
                      np.column_stack([-np.ones_like(b), np.concatenate([x, [-radius, radius]])])])
    return cand, np.full(cand.shape[0], np.inf)


# ---------------------------------------------------------------------------------------
# d = 2
# ---------------------------------------------------------------------------------------
def _circle_bases(Xt, bias):
    """P_i (3 × 2) with θ = P_i φ, φ ∈ S¹, parametrizing the curve {θ·x̃_i = 0} ∩ Θ.

    regularized: an orthonormal basis of x̃_i^⊥ (so ‖θ‖ = 1); free: θ = (φ, −φ·x_i)
    (so ‖w‖ = 1 and b = −w·x_i).
    """
    m = Xt.shape[0]
    if bias == "regularized":
        u = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
        # a vector not parallel to u: e_k for the smallest |u_k|
        k = np.argmin(np.abs(u), axis=1)
        e = np.zeros_like(u)
        e[np.arange(m), k] = 1.0
        a = e - np.sum(e * u, axis=1, keepdims=True) * u
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b = np.cross(u, a)
        return np.stack([a, b], axis=2)                        # (m, 3, 2)
    P = np.zeros((m, 3, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    P[:, 2, :] = -Xt[:, :2]
    return P


#: The arrangement of the last few input sets (d = 2), reused across oracle calls on the
#: same data (refinement calls the oracle once per iteration): key → arrangement.
ARRANGEMENTS: dict = {}
ARRANGEMENTS_KEPT = 2
#: Arrangements whose activation patterns take more bytes than this are not kept.
ARRANGEMENT_CACHE_BYTES = 96 * 2**20


def _arrangement_2d(X, bias, block_bytes):
    """What the d = 2 candidates need from X alone: the circle bases, and per block of
    circles the sorted crossing angles, arc lengths, vertex directions and the activation
    pattern of every arc. Cached for the last ``ARRANGEMENTS_KEPT`` input sets."""
    import hashlib
    key = (bias, X.shape, block_bytes, hashlib.sha1(np.ascontiguousarray(X).tobytes()).digest())
    hit = ARRANGEMENTS.get(key)
    if hit is not None:
        return hit
    m = X.shape[0]
    Xt = np.column_stack([X, np.ones(m)])
    P = _circle_bases(Xt, bias)                                # (m, 3, 2)
    G = np.einsum("iak,ja->ijk", P, Xt)                        # (m, m, 2): P_iᵀ x̃_j
    if m == 1:
        ang_all = np.array([[0.0, np.pi]])
    else:
        off = ~np.eye(m, dtype=bool)
        base = np.arctan2(G[..., 1], G[..., 0]) + 0.5 * np.pi   # φ ⊥ P_iᵀ x̃_j
        base = base[off].reshape(m, m - 1)
        ang_all = np.sort(np.mod(np.concatenate([base, base + np.pi], axis=1), 2 * np.pi),
                          axis=1)
    K = ang_all.shape[1]
    per_circle = 8 * K * m * 2
    bs = max(1, min(m, block_bytes // max(per_circle, 1)))
    blocks = []
    for s in range(0, m, bs):
        idx = np.arange(s, min(m, s + bs))
        ang = ang_all[idx]                                     # (b, K)
        nxt = np.concatenate([ang[:, 1:], ang[:, :1] + 2 * np.pi], axis=1)
        length = nxt - ang
        mid = 0.5 * (ang + nxt)
        Pb = P[idx]                                            # (b, 3, 2)
        phi_mid = np.stack([np.cos(mid), np.sin(mid)], axis=2)  # (b, K, 2)
        th_mid = np.einsum("bak,bjk->bja", Pb, phi_mid)        # (b, K, 3)
        pat = np.einsum("bja,ia->bji", th_mid, Xt) > 0         # (b, K, m)
        pat[np.arange(len(idx)), :, idx] = False               # on the circle itself
        phi_v = np.stack([np.cos(ang), np.sin(ang)], axis=2)
        th_v = np.einsum("bak,bjk->bja", Pb, phi_v)            # vertices: arc starts
        blocks.append((idx, ang, length, Pb, pat.reshape(-1, m), th_v))
    out = (Xt, blocks)
    if m * K * m <= ARRANGEMENT_CACHE_BYTES:
        while len(ARRANGEMENTS) >= ARRANGEMENTS_KEPT:
            ARRANGEMENTS.pop(next(iter(ARRANGEMENTS)))
        ARRANGEMENTS[key] = out
    return out


def cands_2d(X: np.ndarray, Z: np.ndarray, n: int, bias: str, radius: float,
             block_bytes: int = 48 * 2**20) -> tuple[np.ndarray, np.ndarray]:
    """Candidates for d = 2 (see the module docstring); returns (cand, claimed)."""
    m, T = X.shape[0], Z.shape[1]
    Xt, blocks = _arrangement_2d(X, bias, block_bytes)
    W = (Z[:, :, None] * Xt[:, None, :]).reshape(m, T * 3)
    cands, claims = [], []
    for idx, ang, length, Pb, pat, th_v in blocks:
        K = ang.shape[1]
        A = (pat @ W).reshape(len(idx), K, T, 3) / n
        # vertices: arc starts, with the arc's exact linear form
        cands.append(th_v.reshape(-1, 3))
        claims.append(np.linalg.norm(np.einsum("bjta,bja->bjt", A, th_v), axis=2).ravel())
        # edges: 2 × 2 eigenproblems on each arc, kept when inside the arc
        B = np.einsum("bjta,bak->bjtk", A, Pb)
        lam2, phi = top_eig(np.einsum("bjtk,bjtl->bjkl", B, B))
        a = np.arctan2(phi[..., 1], phi[..., 0])
        for sign, ang_c in ((1.0, a), (-1.0, a + np.pi)):
            inside = arc_contains(ang, length, ang_c)
            th = np.einsum("bak,bjk->bja", Pb, sign * phi)[inside]
            cands.append(th)
            claims.append(np.sqrt(lam2[inside]))
        if bias == "regularized":
            # cells on both sides of each arc: 3 × 3 eigenproblems
            zi = (Z[idx][:, :, None] * Xt[idx][:, None, :]) / n  # (b, T, 3)
            for Ac in (A, A + zi[:, None, :, :]):
                lam3, v = top_eig(np.einsum("bjta,bjtc->bjac", Ac, Ac))
                v = v.reshape(-1, 3)
                cl = np.sqrt(lam3).ravel()
                cands += [v, -v]
                claims += [cl, cl]
    if bias == "free":
        cands.append(_top_edge_candidates(X, Z, n, radius))
        claims.append(np.full(cands[-1].shape[0], np.inf))
    return np.vstack(cands), np.concatenate(claims)


def _top_edge_candidates(X, Z, n, radius):
    """Critical points of ‖c(w, R)‖² over w ∈ S¹ (all samples active on b = R).

    c(w, R) = G w + h with G = (1/n) Zᵀ X, h = (R/n) Σ Z_i; with w = (cos α, sin α),
    d/dα ‖c‖²/2 = p sin 2α + q cos 2α − g₁ sin α + g₂ cos α, where M = GᵀG, g = Gᵀh,
    p = (M₂₂ − M₁₁)/2, q = M₁₂. Times z² (z = e^{iα}) it is a quartic in z; every root's
    angle is a candidate (plus four fixed angles when the quartic vanishes).
    """
    G = Z.T @ X / n                                            # (T, 2)
    h = radius * Z.sum(axis=0) / n
    M, g = G.T @ G, G.T @ h
    p, q = 0.5 * (M[1, 1] - M[0, 0]), M[0, 1]
    coef = np.array([p / 2j + q / 2, -g[0] / 2j + g[1] / 2, 0.0,
                     g[0] / 2j + g[1] / 2, -p / 2j + q / 2], dtype=complex)
    alphas = [0.0, 0.5 * np.pi, np.pi, 1.5 * np.pi]
    if np.max(np.abs(coef)) > 0:
        nz = np.flatnonzero(np.abs(coef) > 1e-300)
        roots = np.roots(coef[nz[0]:])
        alphas += list(np.angle(roots[np.isfinite(roots)]))
    alphas = np.asarray(alphas)
    return np.column_stack([np.cos(alphas), np.sin(alphas), np.full(len(alphas), radius)])
