"""The products of continuous pricing: ‖c(θ)‖ and the cell maps M_A, in a working precision.

For a dual candidate Z (n × T) and lifted inputs X̃ (n × (d+1)),

    c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i) ∈ R^T,     M_A = (1/n) Σ_{i ∈ A} Z_i x̃_iᵀ  (T × (d+1)),

A = {i : θ·x̃_i > 0} the cell of θ. The multi-start ascent of :mod:`limitsolver.ascent`
spends nearly all its time in these two products over the n samples (O(s n (d+1+T)) and
O(s n T (d+1)) for s directions). :class:`CellData` computes them in float64 or, for the
search only, in float32 (about twice as fast: half the memory traffic and twice the SIMD
width), and always returns float64 arrays.

Pricing is a search heuristic: the ascent's path may be decided on float32 products, but
every value that leaves it — the values of the returned directions, which decide what
enters the atom set and give the pricing estimate of the gap — is recomputed in float64 by
:meth:`CellData.exact` (and the returned directions are first ascended a few iterations on
float64 products, so they are float64-accurate local maxima). A float32 sum over n samples is
off by up to about n·2⁻²⁴ times the sum of the magnitudes of its terms (more than that
relative to ‖c‖ where terms cancel), ~1e-7–1e-6 relative in practice, so an ascent step is
accepted in float32 only when it increases the value by more than ``FLOAT32_RTOL``
(relative), not by rounding.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .features import features_rmatvec
from .pricing32 import relu_products32

__all__ = ["CellData", "FLOAT32_RTOL", "top_right_vectors", "SQUARINGS"]

#: Smallest relative increase of ‖c‖ an ascent step on float32 products must show
#: (float64: 1e-15).
FLOAT32_RTOL = 1e-6

#: Rows of θ per float32 block (a block's (rows × n) buffer: 1024 · 1797 · 4 B ≈ 7 MB).
_BLOCK = 1024


class CellData:
    """X̃ and Z for the ascent, with the products in ``dtype`` (float64 or float32).

    Parameters
    ----------
    Xt : ndarray (n, d+1)
        Lifted inputs (float64).
    Z : ndarray (n, T)
        Dual candidate (float64).
    dual : callable (m, T) -> (m,)
        The penalty's dual norm of rows.
    dtype : {np.float64, np.float32}
        Precision of the products of :meth:`values` and :meth:`cell_maps`.
    """

    def __init__(self, Xt: np.ndarray, Z: np.ndarray,
                 dual: Callable[[np.ndarray], np.ndarray],
                 dtype: "type | np.dtype" = np.float64) -> None:
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"CellData: dtype must be float64 or float32, got {dtype}")
        self.Xt, self.Z, self.dual = Xt, Z, dual
        self.n = Xt.shape[0]
        self.low = dtype == np.dtype(np.float32)
        self.dtype = dtype
        self.rtol = FLOAT32_RTOL if self.low else 1e-15
        X = np.ascontiguousarray(Xt, dtype=dtype)
        self._XT = np.ascontiguousarray(X.T)
        self._Z = np.ascontiguousarray(Z, dtype=dtype)
        # Z_i x̃_iᵀ flattened (n, T(d+1)): M_A of every row is one product act @ ZX
        self._ZX = (self._Z[:, :, None] * X[:, None, :]).reshape(self.n, -1)
        # relu(a) − relu(−a) = a: c(θ) − c(−θ) = G θ with G = (1/n) Zᵀ X̃ (float64)
        self._G = Z.T @ Xt / self.n

    def exact(self, thetas: np.ndarray) -> np.ndarray:
        """‖c(θ)‖ for the rows of ``thetas`` (m × (d+1)) from float64 products; (m,)."""
        if thetas.shape[0] == 0:
            return np.zeros(0)
        return self.dual(features_rmatvec(self.Xt, thetas, self.Z) / self.n)

    def values(self, thetas: np.ndarray) -> np.ndarray:
        """‖c(θ)‖ for the rows of ``thetas`` from products in the working precision; (m,)
        float64 (with float32 products: a search value, not for decisions)."""
        if not self.low or thetas.shape[0] == 0:
            return self.exact(thetas)
        C = relu_products32(self._XT, thetas, self._Z, _BLOCK)
        return self.dual(C.astype(np.float64) / self.n)

    def values_pm(self, thetas: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
        """(‖c(θ)‖, ‖c(−θ)‖) for the rows of ``thetas``, as :meth:`values`. With float32
        products one product serves both signs: c(−θ) = c(θ) − G θ, G = (1/n) Zᵀ X̃ (a
        float32 search value like c(θ) itself; its rounding is that of c(θ)); with float64
        both are computed directly (:meth:`exact`)."""
        m = thetas.shape[0]
        if not self.low or m == 0:
            v = self.exact(np.concatenate([thetas, -thetas]))
            return v[:m], v[m:]
        C = relu_products32(self._XT, thetas, self._Z, _BLOCK).astype(np.float64) / self.n
        return self.dual(C), self.dual(C - thetas @ self._G.T)

    def products(self, thetas: np.ndarray) -> np.ndarray:
        """θ·x̃_i for every row and sample (m × n), in the working precision."""
        return np.asarray(thetas, dtype=self.dtype) @ self._XT

    def cell_maps(self, thetas: np.ndarray, S: "np.ndarray | None" = None) -> np.ndarray:
        """M_A of each row's cell, (m, T, d+1) float64 (``S``: :meth:`products` of the
        rows, when already computed). Cost O(m n T (d+1))."""
        if S is None:
            S = self.products(thetas)
        M = (S > 0).astype(self.dtype) @ self._ZX
        return M.astype(np.float64).reshape(-1, self._Z.shape[1], self.Xt.shape[1]) / self.n


#: Squarings of the Gram matrix in :func:`top_right_vectors` with ``exact=False``: the
#: other eigenvalues shrink relative to the top one by (λ₂/λ₁)^(2^k) (a gap ratio of 0.99
#: leaves 1e-4 of the second eigenvector after 10).
SQUARINGS = 10

#: ... for matrices of this size and larger (smaller ones: ``eigh``, as fast).
SQUARE_MIN_K = 8


def _top_eigenvectors(A: np.ndarray, exact: bool) -> np.ndarray:
    """A top eigenvector of each symmetric positive semidefinite A_s (s, k, k): from
    ``numpy.linalg.eigh``, or (``exact=False``) by ``SQUARINGS`` squarings of A_s scaled to
    unit trace (B → A^(2^m) / tr), whose column of largest norm is then multiplied by A_s
    once more — a power iteration of 2^m + 1 steps in batched k × k products, several
    times cheaper than ``eigh`` for k ≥ ``SQUARE_MIN_K`` (below, ``eigh`` is as fast and is
    used); a search direction, not an exact one."""
    if exact or A.shape[1] < SQUARE_MIN_K:
        return np.linalg.eigh(A)[1][:, :, -1]
    B = A.copy()
    for _ in range(SQUARINGS):
        tr = np.trace(B, axis1=1, axis2=2)
        B /= np.where(tr > 0, tr, 1.0)[:, None, None]
        B = B @ B
    j = np.argmax(np.einsum("sij,sij->sj", B, B), axis=1)
    v = np.einsum("sij,sj->si", A, B[np.arange(B.shape[0]), :, j])
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return np.where(n > 0, v / np.maximum(n, 1e-300), np.eye(A.shape[1])[0])


def top_right_vectors(M: np.ndarray, exact: bool = True) -> np.ndarray:
    """The top right singular vector of each M_s (s, T, k): the top eigenvector of M_sᵀ M_s
    (k × k) when T ≥ k, else Mᵀu/‖Mᵀu‖ for the top eigenvector u of M_s M_sᵀ (T × T, the
    same nonzero spectrum; T = 1: the row itself). ``exact=False``: the eigenvectors by
    repeated squaring (:func:`_top_eigenvectors`). Cost O(s T k min(T, k) + s min(T, k)³)."""
    T, k = M.shape[1], M.shape[2]
    if T >= k:
        return _top_eigenvectors(np.einsum("std,ste->sde", M, M), exact)
    if T == 1:
        v = M[:, 0, :]
    else:
        u = _top_eigenvectors(np.einsum("std,sud->stu", M, M), exact)
        v = np.einsum("std,st->sd", M, u)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    # M_s = 0 (no active sample): any unit vector is a top vector
    return np.where(n > 0, v / np.maximum(n, 1e-300), np.eye(k)[0])
