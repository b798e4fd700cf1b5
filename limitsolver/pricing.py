"""One store of the ReLU features Φ of a grid, shared by every pass that prices the grid.

Pricing a grid means computing the correlations c = Φᵀ Z / n (M × T) of all its
directions. Rebuilding Φ = relu(X̃ Θᵀ) block by block costs several times the product
itself, so a :class:`FeatureStore` keeps Φ (float64, n × M) whole when 8·n·M bytes fit
its budget — by default :func:`default_budget`, a quarter of the memory the machine has
available, at most :data:`MAX_BUDGET` — and otherwise falls back to the blocked product
(:func:`limitsolver.features.features_rmatvec`, which rebuilds only the rows asked for).

The values are the same float64 products either way, so every certificate computed from
them is exactly as rigorous as before; only the cost changes.

Sharing: inside ``with shared_store(Xt, dirs):`` every :func:`get_store` call for the same
array objects (``Xt`` and ``dirs`` by identity) returns the one store, so the λ_max check,
the solver's pricing passes and the final certificate of one solve build Φ once. Outside
such a block each caller gets a private store. The store is released when the block ends.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from .features import features_rmatvec, relu_features

__all__ = ["FeatureStore", "available_memory", "default_budget", "shared_store",
           "get_store", "active_store", "MAX_BUDGET", "BUDGET_FRACTION"]

#: Largest default budget of a feature store (bytes).
MAX_BUDGET = 4 * 2**30

#: Fraction of the available memory a store may use by default.
BUDGET_FRACTION = 0.25


def available_memory() -> int:
    """Bytes of memory available to new allocations: ``MemAvailable`` of /proc/meminfo,
    else free pages × page size (``os.sysconf``), else 1 GiB."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**30


def default_budget() -> int:
    """min(:data:`BUDGET_FRACTION` × available memory, :data:`MAX_BUDGET`) bytes."""
    return int(min(BUDGET_FRACTION * available_memory(), MAX_BUDGET))


class FeatureStore:
    """Φ = relu(X̃ Θᵀ) of ``dirs`` (M × (d+1)) on ``Xt`` (n × (d+1)), kept or rebuilt.

    Parameters
    ----------
    Xt : ndarray (n, d+1);  dirs : ndarray (M, d+1)
    budget : int or None
        Bytes Φ may occupy (float64, 8·n·M); None: :func:`default_budget`.
    block_bytes : int or None
        Block size of the blocked products when Φ is not kept.

    Attributes
    ----------
    cached : bool       Φ is kept whole (built on first use).
    n_builds : int      blocked feature passes run so far (a kept Φ counts one).
    """

    def __init__(self, Xt: np.ndarray, dirs: np.ndarray, budget: int | None = None,
                 block_bytes: int | None = None):
        self.Xt, self.dirs = Xt, dirs
        self.n, self.M = Xt.shape[0], dirs.shape[0]
        self.block_bytes = block_bytes
        self.budget = default_budget() if budget is None else int(budget)
        self.cached = 8 * self.n * self.M <= self.budget
        self._Phi = None
        self._norms = None
        self.n_builds = 0

    @property
    def Phi(self) -> np.ndarray | None:
        """The kept Φ (n × M), built on first access; None when it does not fit."""
        if self.cached and self._Phi is None:
            self._Phi = relu_features(self.Xt, self.dirs)
            self.n_builds += 1
        return self._Phi

    def products(self, Z: np.ndarray, idx=None) -> np.ndarray:
        """Φᵀ Z for all directions (or the rows ``idx``), shape (M or |idx|, T); not / n."""
        Z = np.asarray(Z, dtype=float)
        if self.cached:
            P = self.Phi if idx is None else self.Phi[:, idx]
            return P.T @ Z
        D = self.dirs if idx is None else self.dirs[idx]
        self.n_builds += 1
        return features_rmatvec(self.Xt, D, Z, block_bytes=self.block_bytes)

    def correlations(self, Z: np.ndarray, idx=None) -> np.ndarray:
        """c = Φᵀ Z / n, shape (M or |idx|, T)."""
        return self.products(Z, idx) / self.n

    def norms(self) -> np.ndarray:
        """Column norms ‖Φ_j‖ (M,), computed once."""
        if self._norms is None:
            if self.cached:
                P = self.Phi
                self._norms = np.sqrt(np.einsum("ij,ij->j", P, P))
            else:
                self.correlations_and_norms(np.zeros((self.n, 1)))
        return self._norms

    def correlations_and_norms(self, Z: np.ndarray):
        """c (M × T) and ‖Φ_j‖ (M,) in one pass over the features."""
        if self.cached:
            return self.correlations(Z), self.norms()
        n, M = self.n, self.M
        budget = self.block_bytes or 64 * 2**20
        bs = max(1, min(M, budget // max(1, 8 * n)))
        out = np.empty((M, Z.shape[1]))
        norms = np.empty(M)
        for s in range(0, M, bs):
            P = relu_features(self.Xt, self.dirs[s:s + bs])
            out[s:s + bs] = P.T @ Z
            norms[s:s + bs] = np.sqrt(np.einsum("ij,ij->j", P, P))
        self.n_builds += 1
        self._norms = norms
        return out / n, norms

    def columns(self, idx) -> np.ndarray:
        """Φ[:, idx], shape (n, |idx|) (a copy)."""
        if self.cached:
            return self.Phi[:, idx]
        return relu_features(self.Xt, self.dirs[idx])


_ACTIVE: list[FeatureStore] = []


def active_store(Xt, dirs) -> FeatureStore | None:
    """The store of an enclosing :func:`shared_store` block for these very arrays, or None."""
    for st in reversed(_ACTIVE):
        if st.Xt is Xt and st.dirs is dirs:
            return st
    return None


def get_store(Xt, dirs, budget: int | None = None,
              block_bytes: int | None = None) -> FeatureStore:
    """The shared store for (Xt, dirs) if one is active, else a new private one."""
    st = active_store(Xt, dirs)
    if st is not None:
        return st
    return FeatureStore(Xt, dirs, budget, block_bytes)


@contextmanager
def shared_store(Xt, dirs, budget: int | None = None, block_bytes: int | None = None):
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
