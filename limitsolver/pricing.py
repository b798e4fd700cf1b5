"""One store of the ReLU features Φ of a grid, shared by every pass that prices the grid.

Pricing a grid means computing the correlations c = Φᵀ Z / n (M × T) of all its
directions, by one of two routes: the blocked product
(:func:`limitsolver.features.features_rmatvec`: Φ = relu(X̃ Θᵀ) rebuilt in small row
blocks of :data:`PASS_BLOCK` bytes that stay in cache, only the rows asked for) or a kept
Φ (float64, n × M, read from memory). A kept Φ costs its build and its memory — writing
8·n·M fresh bytes costs several blocked passes (n = 1000, M = 10⁴: the 80 MB build
0.1–0.6 s against 0.02–0.05 s per pass), and pays only over many passes. So a
:class:`FeatureStore` keeps Φ from the start only when it is small
(8·n·M ≤ :data:`KEEP_AT_ONCE`); otherwise it prices by blocks and keeps Φ once the rows it
rebuilt reach :data:`PROMOTE_AFTER` passes' worth (ski rental: never more than about
twice the cheaper of the two routes), in float64 when 8·n·M fits :data:`FLOAT64_LIMIT`
and the budget — by default :func:`default_budget`, a quarter of the memory the machine
has available, at most :data:`MAX_BUDGET` —, else in float32 storage (below) when 4·n·M
fits the budget.

Blocked passes of :meth:`FeatureStore.dual_norms_and_sup` (and ``bounded_dual_norms``)
run in float32 with an a-priori rounding bound (:mod:`limitsolver.pricing32`, about twice
faster): S_j ≥ ‖Φ_jᵀZ/n‖_* for every direction and the float64 max, the number a
certificate uses (every direction the bound cannot place below the best lower bound is
re-priced in float64). A kept float32 Φ gives float32 values and the same float64 max
(derivation in that method). Every other product is float64.

Sharing: inside ``with shared_store(Xt, dirs):`` every :func:`get_store` call for the same
array objects (``Xt`` and ``dirs`` by identity) returns the one store, so the λ_max check,
the solver's pricing passes and the final certificate of one solve build Φ once. Outside
such a block each caller gets a private store. The store is released when the block ends.

Memo: a store remembers its last :data:`MEMO` full passes (the candidate Z, its
correlations when they are small, its dual norms). A pass asked again for a candidate equal
to a remembered one in every entry returns the remembered numbers (the float64 max and
bounds S_j of every direction): the λ_max check is the solver's first pass (Z = Y
at V = 0) and the API's final certificate re-uses the solver's last candidates
(``SolverResult.Z``), so one solve prices the grid once per solver pass.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .budget import (BUDGET_FRACTION, MAX_BUDGET, available_memory, blas_threads,
                     default_budget)
from .features import features_rmatvec, relu_inplace
from .pricing32 import BoundedPasses, usable

__all__ = ["FeatureStore", "available_memory", "default_budget", "shared_store",
           "get_store", "active_store", "MAX_BUDGET", "BUDGET_FRACTION", "FLOAT64_LIMIT"]

#: Largest Φ (bytes, 8·n·M) a store keeps in float64 by default. Above it a pass is bound
#: by the memory traffic of reading Φ, and float32 storage halves it (measured at n = 1000,
#: d = 5, T = 10: M = 10⁵ 10.5 s against 14.9 s, M = 3·10⁵ 23 s against 37 s, loaded machine)
FLOAT64_LIMIT = 256 * 2**20

#: Largest Φ (bytes, 8·n·M) kept from the first pass (its build costs about one pass).
KEEP_AT_ONCE = 16 * 2**20

#: Rows rebuilt by blocked passes, in multiples of M, after which a store that may keep
#: Φ (budget, :data:`FLOAT64_LIMIT`) keeps it for the passes that follow.
PROMOTE_AFTER = 8

#: Bytes of one row block of a blocked pass (at least :data:`PASS_ROWS` rows): small
#: enough that the block stays in cache between its build and its product.
PASS_BLOCK = 2**20

#: Fewest rows of one block of a blocked pass.
PASS_ROWS = 16

#: Bytes of one row block when a kept Φ is built (large enough that the BLAS call overhead
#: and thread start-up stay small against the product).
BUILD_BLOCK = 32 * 2**20

#: Dual-norm passes remembered by a store: a call with a candidate Z equal (every entry)
#: to a remembered one returns the remembered values, which are the same numbers.
MEMO = 2

#: Largest correlation matrix (bytes) a memo entry keeps; above it only the dual norms.
MEMO_BYTES = 64 * 2**20

#: Fraction of the grid above which a kept float64 Φ prices a subset of rows by the full
#: product (then indexed) rather than by gathering those rows first.
GATHER_FRACTION = 0.3


class FeatureStore(BoundedPasses):
    """Φ = relu(X̃ Θᵀ) of ``dirs`` (M × (d+1)) on ``Xt`` (n × (d+1)), kept or rebuilt.

    Parameters
    ----------
    Xt : ndarray (n, d+1);  dirs : ndarray (M, d+1)
    budget : int or None
        Bytes Φ may occupy (8·n·M in float64 up to :data:`FLOAT64_LIMIT`, else 4·n·M in
        float32); None: :func:`default_budget`. Within it Φ is kept at once when
        8·n·M ≤ :data:`KEEP_AT_ONCE`, else after :data:`PROMOTE_AFTER` passes' worth of
        blocked rows (module docstring).
    block_bytes : int or None
        Block size of the blocked products when Φ is not kept (None: :data:`PASS_BLOCK`).
    dtype : None, "float32" or "float64"
        Keep Φ in this storage from the start (None: decided as above).

    Attributes
    ----------
    cached : bool       Φ is kept whole in float64 (built on first use).
    dtype : numpy dtype or None
        float64, float32 (kept for :meth:`dual_norms_and_sup` only; other products are
        float64 and rebuild the features) or None (nothing kept yet).
    n_builds : int      blocked feature passes run so far (a kept Φ counts one).
    rows_rebuilt : int  feature rows rebuilt by blocked products so far.
    """

    def __init__(self, Xt: np.ndarray, dirs: np.ndarray, budget: int | None = None,
                 block_bytes: int | None = None, dtype: Any = None) -> None:
        self.Xt, self.dirs = Xt, dirs
        self.n, self.M = Xt.shape[0], dirs.shape[0]
        self.block_bytes = PASS_BLOCK if block_bytes is None else block_bytes
        self.budget = default_budget() if budget is None else int(budget)
        #: whether the store decides by itself when to keep Φ (no dtype was asked for)
        self.adaptive = dtype is None
        if dtype is None:
            dtype = np.float64 if 8 * self.n * self.M <= min(self.budget, KEEP_AT_ONCE) \
                else None
        elif np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32, float64 or None, got {dtype!r}")
        #: storage of the kept Φ: float64 (exact products), float32 (pricing only) or None
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.cached = self.dtype == np.float64
        self._Phi = None
        self._Phi32 = None
        self._norms = None
        self.n_builds = 0
        self.rows_rebuilt = 0
        self.last_repriced = 0
        #: blocked passes in float32 with a rounding bound (:mod:`limitsolver.pricing32`)
        self.float32_passes = usable(Xt, dirs)
        self._norm_bounds = None
        self._memo: list = []
        #: calls of :meth:`dual_norms_and_sup` answered from the memo (same Z as before)
        self.memo_hits = 0

    def _promote(self) -> None:
        """Keep Φ from now on once the blocked rows reach :data:`PROMOTE_AFTER` passes'
        worth (float64 within :data:`FLOAT64_LIMIT` and the budget, else float32 within the
        budget); the values a pass returns stay the same numbers (module docstring)."""
        if not self.adaptive or self.dtype is not None \
                or self.rows_rebuilt < PROMOTE_AFTER * self.M:
            return
        if 8 * self.n * self.M <= min(self.budget, FLOAT64_LIMIT):
            self.dtype, self.cached = np.dtype(np.float64), True
        elif 4 * self.n * self.M <= self.budget:
            self.dtype = np.dtype(np.float32)

    def _blocked(self, D: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Φ_Dᵀ Z by the blocked product (not / n), counted in :attr:`rows_rebuilt`."""
        self.n_builds += 1
        self.rows_rebuilt += D.shape[0]
        return features_rmatvec(self.Xt, D, Z, block_bytes=self.block_bytes)

    @property
    def Phi(self) -> np.ndarray | None:
        """The kept float64 Φ (n × M), built on first access; None when not kept."""
        if self.cached and self._Phi is None:
            # stored as Φᵀ (M × n, C order): the columns of a working set are then
            # contiguous rows, and gathering them costs a copy, not a strided walk.
            # built in row blocks into one array (no temporary of the full size)
            PT = np.empty((self.M, self.n))
            for _ in self._row_blocks(BUILD_BLOCK, out=PT):
                pass
            self._Phi = PT
            self.n_builds += 1
        return None if self._Phi is None else self._Phi.T

    def _phi32(self) -> np.ndarray:
        """The float32 Φ, built block by block with the float64 column norms."""
        if self._Phi32 is None:
            P32 = np.empty((self.M, self.n), dtype=np.float32)   # Φᵀ, as for float64
            norms = np.empty(self.M)
            for s, blk in self._row_blocks(max(self.block_bytes, BUILD_BLOCK)):
                norms[s:s + blk.shape[0]] = np.sqrt(np.einsum("ij,ij->i", blk, blk))
                P32[s:s + blk.shape[0]] = blk
            self.n_builds += 1
            self._Phi32, self._norms = P32, norms
        return self._Phi32

    def dual_norms_and_sup(self, Z: np.ndarray, penalty: Any) -> tuple[np.ndarray, float]:
        """Dual norms S_j = ‖Φ_jᵀZ/n‖_* of every direction and their float64 max.

        ``penalty`` is a penalty object (``dual_norms``; ``name`` "group" or "l1"). With a
        float64 Φ, S is the float64 value; else S_j ≥ the dual norm (float32 values plus
        their bound, :mod:`limitsolver.pricing32` without a kept Φ), float64 on the
        candidates, and the max is the float64 max (kept float32 Φ: by the bound below).

        Rounding bound: with u = 2⁻²⁴, Φ̂ = fl32(Φ), Ẑ = fl32(Z/ζ) (ζ = max|Z|) and any
        summation order of the float32 product (BLAS), Higham's dot-product bound and
        (1 + γ_n)(1 + u)² ≤ 1 + γ_{n+2}, γ_k = k u/(1 − k u), give per task t

            |ĉ_jt − c_jt| ≤ γ_{n+2} Σ_i Φ_ij |Z_it| / n ≤ γ_{n+2} ‖Φ_j‖ ‖Z_t‖ / n

        (Φ ≥ 0; plus ζ·2⁻¹⁴⁰ for float32 underflow), so |Ŝ_j − S_j| ≤ e_j with
        e_j = γ_{n+2} ‖Φ_j‖ ‖Z‖_F / n (group, Euclidean norm over t) or
        γ_{n+2} ‖Φ_j‖ max_t ‖Z_t‖ / n (l1, max over t). Every j with Ŝ_j + e_j ≥ max_k
        (Ŝ_k − e_k) is re-priced in float64; the others satisfy S_j ≤ Ŝ_j + e_j <
        max_k (Ŝ_k − e_k) ≤ S_k* for the maximizer k* of the lower bounds, itself
        re-priced, so the returned max equals the float64 max over all directions.
        """
        Z = np.asarray(Z, dtype=float)
        entry = self._recall(Z)
        if entry is not None and penalty.name in entry["sup"]:
            self.memo_hits += 1
            S, sup = entry["sup"][penalty.name]
            return S.copy(), sup
        if entry is not None and entry["corr"] is not None:
            self.memo_hits += 1
            S = penalty.dual_norms(entry["corr"])
            sup = float(S.max()) if S.size else 0.0
        else:
            S, sup = self._dual_norms_and_sup(Z, penalty)
            entry = self._recall(Z) or self._remember(Z, None)
        entry["sup"][penalty.name] = (S.copy(), sup)
        return S, sup

    def recent_candidates(self) -> list[np.ndarray]:
        """Copies of the candidates Z of the last (up to :data:`MEMO`) dual-norm passes,
        newest first: a caller that certifies with one of them pays no further pass."""
        return [entry["Z"].copy() for entry in self._memo]

    def _recall(self, Z: np.ndarray) -> dict | None:
        """The memo entry of a candidate equal to Z in every entry, or None."""
        for entry in self._memo:
            if entry["Z"].shape == Z.shape and np.array_equal(entry["Z"], Z):
                return entry
        return None

    def _remember(self, Z: np.ndarray, corr: np.ndarray | None) -> dict:
        """A new memo entry for Z (the correlations kept only below :data:`MEMO_BYTES`)."""
        if corr is not None and corr.nbytes > MEMO_BYTES:
            corr = None
        entry = dict(Z=Z.copy(), corr=None if corr is None else corr.copy(), sup={})
        self._memo = [entry] + self._memo[:MEMO - 1]
        return entry

    def _dual_norms_and_sup(self, Z: np.ndarray, penalty: Any) -> tuple[np.ndarray, float]:
        """:meth:`dual_norms_and_sup` without the memo."""
        self._promote()
        if self.dtype is None and self.float32_passes:
            return self.bounded_dual_norms(Z, penalty)
        if self.dtype is None and self._norms is None:   # the norms come with the pass
            S = penalty.dual_norms(self.correlations_and_norms(Z)[0])
            return S, (float(S.max()) if S.size else 0.0)
        if self.dtype != np.float32:
            S = penalty.dual_norms(self.correlations(Z))
            return S, (float(S.max()) if S.size else 0.0)
        P32 = self._phi32()
        n = self.n
        zeta = float(np.max(np.abs(Z))) if Z.size else 0.0
        if zeta == 0.0 or self.M == 0:
            return np.zeros(self.M), 0.0
        C = (P32 @ (Z / zeta).astype(np.float32)).astype(np.float64) * (zeta / n)
        S = penalty.dual_norms(C)
        u = 2.0 ** -24
        gamma = (n + 2) * u / (1.0 - (n + 2) * u)
        zc = np.sqrt(np.sum(Z * Z, axis=0))
        ztot = float(np.sqrt(np.sum(zc * zc))) if penalty.name == "group" else float(zc.max())
        err = gamma * self._norms * ztot / n + zeta * 2.0 ** -140
        err *= 1.0 + 1e-6                                  # float64 rounding of e itself
        cand = np.flatnonzero(S + err >= float(np.max(S - err)))
        S += err                                           # upper bounds off the candidates
        S[cand] = penalty.dual_norms(self._blocked(self.dirs[cand], Z) / n)
        self.last_repriced = int(cand.size)
        return S, float(S[cand].max())

    def products(self, Z: np.ndarray, idx: Any = None) -> np.ndarray:
        """Φᵀ Z for all directions (or the rows ``idx``), shape (M or |idx|, T); not / n."""
        Z = np.asarray(Z, dtype=float)
        self._promote()
        if self.cached:
            self.Phi
            PT = self._Phi if idx is None else self._Phi[idx]
            return PT @ Z
        return self._blocked(self.dirs if idx is None else self.dirs[idx], Z)

    def correlations(self, Z: np.ndarray, idx: Any = None) -> np.ndarray:
        """c = Φᵀ Z / n, shape (M or |idx|, T) (all rows: remembered, see :data:`MEMO`)."""
        if idx is not None:
            return self.products(Z, idx) / self.n
        Z = np.asarray(Z, dtype=float)
        entry = self._recall(Z)
        if entry is not None and entry["corr"] is not None:
            self.memo_hits += 1
            return entry["corr"].copy()
        corr = self.products(Z) / self.n
        if entry is None:
            self._remember(Z, corr)
        elif corr.nbytes <= MEMO_BYTES:
            entry["corr"] = corr.copy()
        return corr

    def norms(self) -> np.ndarray:
        """Column norms ‖Φ_j‖ (M,), computed once."""
        if self._norms is None:
            if self.dtype == np.float32:
                self._phi32()
            elif self.cached:
                P = self.Phi
                self._norms = np.sqrt(np.einsum("ij,ij->j", P, P))
            else:
                self.correlations_and_norms(np.zeros((self.n, 1)))
        return self._norms

    def correlations_and_norms(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c (M × T) and ‖Φ_j‖ (M,) in one pass over the features."""
        Z = np.asarray(Z, dtype=float)
        entry = self._recall(Z)
        if self.cached or (self._norms is not None and entry is not None
                           and entry["corr"] is not None):
            return self.correlations(Z), self.norms()
        n, M = self.n, self.M
        out = np.empty((M, Z.shape[1]))
        norms = np.empty(M)
        for s, blk in self._row_blocks(self.block_bytes):
            k = blk.shape[0]
            out[s:s + k] = blk @ Z
            norms[s:s + k] = np.sqrt(np.einsum("ij,ij->i", blk, blk))
        self.n_builds += 1
        self.rows_rebuilt += M
        self._norms = norms
        out /= n
        if entry is None:
            self._remember(Z, out)
        return out, norms

    def columns(self, idx: Any) -> np.ndarray:
        """Φ[:, idx], shape (n, |idx|) (a copy)."""
        if self.cached:
            self.Phi
            return self._Phi[idx].T
        rows = self.dirs[idx]
        with blas_threads(1):
            out = rows @ self.Xt.T                 # Φᵀ rows, returned as Φ (Fortran order)
        relu_inplace(out)
        return out.T

    def _row_blocks(self, block_bytes: int, out: np.ndarray | None = None) -> Iterator[
            tuple[int, np.ndarray]]:
        """(start, rows of Φᵀ) block by block: relu(Θ_b X̃ᵀ) for row blocks Θ_b of the
        directions, each of about ``block_bytes`` bytes, written into ``out`` (M × n) when
        given, else into one reused buffer (valid until the next block). One BLAS thread:
        a product with an inner dimension of d+1 is bound by writing its output, and a
        second thread contending for a shared core makes it about twice slower
        (measured)."""
        n, M = self.n, self.M
        XT = np.ascontiguousarray(self.Xt.T)
        bs = max(1, min(M, max(PASS_ROWS, int(block_bytes) // max(1, 8 * n))))
        buf = None if out is not None else np.empty((bs, n))
        with blas_threads(1):
            for s in range(0, M, bs):
                k = min(bs, M - s)
                blk = out[s:s + k] if out is not None else buf[:k]
                np.matmul(self.dirs[s:s + k], XT, out=blk)
                relu_inplace(blk)
                yield s, blk


_ACTIVE: list[FeatureStore] = []


def active_store(Xt: np.ndarray, dirs: np.ndarray) -> FeatureStore | None:
    """The store of an enclosing :func:`shared_store` block for these very arrays, or None."""
    for st in reversed(_ACTIVE):
        if st.Xt is Xt and st.dirs is dirs:
            return st
    return None


def get_store(Xt: np.ndarray, dirs: np.ndarray, budget: int | None = None,
              block_bytes: int | None = None) -> FeatureStore:
    """The shared store for (Xt, dirs) if one is active, else a new private one."""
    st = active_store(Xt, dirs)
    if st is not None:
        return st
    return FeatureStore(Xt, dirs, budget, block_bytes)


@contextmanager
def shared_store(Xt: np.ndarray, dirs: np.ndarray, budget: int | None = None,
                 block_bytes: int | None = None) -> Iterator[FeatureStore]:
    """Make one :class:`FeatureStore` of (Xt, dirs) the answer of :func:`get_store` inside
    the block (nested blocks for the same arrays reuse the outer store)."""
    st = active_store(Xt, dirs)
    if st is not None:
        yield st
        return
    st = FeatureStore(Xt, dirs, budget, block_bytes)
    _ACTIVE.append(st)
    try:
        yield st
    finally:
        _ACTIVE.remove(st)
