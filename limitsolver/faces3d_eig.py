"""Top eigenpairs of many tiny Gram matrices at once, for the d = 3 face enumeration.

The closed forms here only *screen* candidates (with slack); every candidate that survives
is recomputed with LAPACK (:func:`exact_top_pair`) before its claim is used.
"""
from __future__ import annotations

import numpy as np

__all__ = ["approx_top_pair", "exact_top_pair"]


def _sym2(a, b, c):
    """Top eigenpair of [[a, b], [b, c]] (arrays of one shape)."""
    lam = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)
    phi = 0.5 * np.arctan2(2 * b, a - c)
    return lam, np.stack([np.cos(phi), np.sin(phi)], axis=-1)


def _sym3(G):
    """Top eigenpair of symmetric 3 × 3 matrices G (N, 3, 3): the trigonometric formula for
    the eigenvalue, the eigenvector as the largest cross product of two rows of G − λI."""
    a00, a11, a22 = G[:, 0, 0], G[:, 1, 1], G[:, 2, 2]
    a01, a02, a12 = G[:, 0, 1], G[:, 0, 2], G[:, 1, 2]
    q = (a00 + a11 + a22) / 3
    p1 = a01 ** 2 + a02 ** 2 + a12 ** 2
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2 * p1
    p = np.sqrt(p2 / 6)
    safe = np.where(p > 0, p, 1.0)
    b00, b11, b22 = (a00 - q) / safe, (a11 - q) / safe, (a22 - q) / safe
    b01, b02, b12 = a01 / safe, a02 / safe, a12 / safe
    r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02)
               + b02 * (b01 * b12 - b11 * b02))
    lam = q + 2 * p * np.cos(np.arccos(np.clip(r, -1.0, 1.0)) / 3)
    r0 = np.stack([a00 - lam, a01, a02], axis=1)
    r1 = np.stack([a01, a11 - lam, a12], axis=1)
    r2 = np.stack([a02, a12, a22 - lam], axis=1)
    cands = np.stack([np.cross(r0, r1), np.cross(r0, r2), np.cross(r1, r2)], axis=1)
    nrm = np.linalg.norm(cands, axis=2)
    best = np.argmax(nrm, axis=1)
    v = cands[np.arange(len(G)), best]
    nv = nrm[np.arange(len(G)), best]
    flat = nv <= 1e-300                           # G = λI: any unit vector
    v[flat] = np.array([1.0, 0.0, 0.0])
    nv[flat] = 1.0
    return np.maximum(lam, 0.0), v / nv[:, None]


def approx_top_pair(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ_max(HᵀH) and a unit top eigenvector v ∈ R^k for H (N, Tc, k), k ≤ 4.

    Closed forms through the smaller Gram matrix (HHᵀ when Tc < k: v = Hᵀu / ‖Hᵀu‖ for
    its top eigenvector u), LAPACK when both sizes are ≥ 4. Accurate to rounding when the
    top eigenvalue is well separated; used with slack.
    """
    N, Tc, k = H.shape
    if Tc == 1:
        lam = np.einsum("nk,nk->n", H[:, 0], H[:, 0])
        return lam, H[:, 0] / np.maximum(np.sqrt(lam), 1e-300)[:, None]
    s = min(Tc, k)
    if s >= 4:
        return exact_top_pair(H)
    small = Tc < k
    G = np.einsum("ntk,nsk->nts", H, H) if small else np.einsum("ntk,ntl->nkl", H, H)
    if s == 2:
        lam, u = _sym2(G[:, 0, 0], G[:, 0, 1], G[:, 1, 1])
    else:
        lam, u = _sym3(G)
    if small:
        u = np.einsum("ntk,nt->nk", H, u)
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-300)
    return lam, u


def exact_top_pair(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ_max(HᵀH) and a unit top eigenvector (LAPACK) for H (N, Tc, k)."""
    if H.shape[0] == 0:
        return np.zeros(0), np.zeros((0, H.shape[2]))
    w, U = np.linalg.eigh(np.einsum("ntk,ntl->nkl", H, H))
    return np.maximum(w[:, -1], 0.0), U[:, :, -1]
