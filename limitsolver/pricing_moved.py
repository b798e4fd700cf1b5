"""Upper bounds of dual norms at a new candidate from the correlations of an earlier pass.

A float32 bounded pass (:func:`limitsolver.pricing32.bounded_dual_norms`) at a candidate
Z_r gives, for each row j it priced, the float32 correlations ĉ_j (T,) = the values of
Φ_jᵀZ_r/n up to e_j ≥ ‖c_j(Z_r) − ĉ_j‖_* (its dual-norm error). :class:`PassValues` keeps
them (the last pass that priced each row) and bounds the dual norm at a later Z: for any
T × T matrix K (here the least-squares fit Z ≈ Z_r K by its normal equations; any K
gives a bound) and R = Z − Z_r K,

    c_j(Z) = c_j(Z_r) K + Φ_jᵀR/n,
    ‖c_j(Z)‖_* ≤ ‖ĉ_j K‖_* + e_j ‖K‖_◇ + N_j δ(R)/n,

with N_j ≥ ‖Φ_j‖, δ of :func:`limitsolver.pricing_distance.residual_distance` and
‖K‖_◇ ≥ sup ‖eK‖_*/‖e‖_* (group: ‖K‖_F ≥ σ_max(K); l1: the largest column sum of |K|).
With K = I this is the bound Ŝ_j + e_j + N_j δ(Z − Z_r)/n of a screened row; the fit
makes R, the part of the move that the earlier pass does not explain, smaller.

Rounding (u = 2⁻⁵³, γ_k = k u/(1 − k u)): fl(C_j K)/n (ĉ = C/n, one more rounding)
is within γ_{T+2} |ĉ_j||K| of ĉ_j K, whose dual norm is ≤ γ_{T+2} ‖ĉ_j‖₂ ‖K‖_F (both dual
norms are ≤ ℓ₂); R̂ = fl(Z − fl(Z_r K)) is within γ_{T+1} (|Z| + |Z_r||K|) of R, so
δ(R) ≤ δ(R̂) + γ_{T+1} ‖|Z| + |Z_r||K|‖_F (δ ≤ ‖·‖_F); the sum is inflated by 1 + SLACK.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .budget import blas_threads
from .pricing_distance import residual_distance

__all__ = ["PassValues", "VALUES_BYTES"]

#: Largest correlation record (bytes, 8·M·T) a store keeps for these bounds.
VALUES_BYTES = 64 * 2**20

_U = 2.0 ** -53
SLACK = 1e-9


def _gamma(k: int) -> float:
    return k * _U / (1.0 - k * _U)


class PassValues:
    """The float32 correlations ĉ_j and errors e_j of the last bounded pass that priced
    each of M rows, and the bounds they give at a later candidate (module docstring).

    C : (M, T) n ĉ;  E : (M,) e_j (inf: never priced);  ref : (M,) the candidate's key."""

    def __init__(self, M: int, T: int, penalty: str | None = None) -> None:
        self.C = np.zeros((M, T))
        self.Cnorm = np.zeros(M)                 # ‖ĉ_j‖₂
        self.E = np.full(M, np.inf)
        self.ref = np.full(M, -1)
        self.refs: dict = {}
        self.penalty = penalty
        self._next = 0

    def record(self, Z: np.ndarray, penalty: Any, rows: np.ndarray | None, C: np.ndarray,
               err: np.ndarray, S: np.ndarray) -> None:
        """Rows ``rows`` (None: all) were priced at Z: ĉ = C/n (C |rows| × T, kept not / n),
        e = err (|rows|,), S (|rows|,) the dual norms of ĉ (they bound ‖ĉ_j‖₂ ≤ √T S_j);
        another penalty or number of tasks than before starts afresh."""
        if penalty.name != self.penalty or Z.shape[1] != self.C.shape[1]:
            self.__init__(self.C.shape[0], Z.shape[1], penalty.name)
        key, self._next = self._next, self._next + 1
        self.refs[key] = np.array(Z, dtype=float)
        cn = np.sqrt(Z.shape[1]) * (1 + (Z.shape[1] + 8) * 2.0 ** -52) * S
        if rows is None:
            self.C[:], self.E[:], self.ref[:], self.Cnorm[:] = C, err, key, cn
            self.refs = {key: self.refs[key]}
            return
        self.C[rows], self.E[rows], self.ref[rows], self.Cnorm[rows] = C, err, key, cn
        used = np.bincount(self.ref + 1, minlength=self._next + 1)[1:]
        self.refs = {k: v for k, v in self.refs.items() if used[k]}

    def bounds(self, Z: np.ndarray, penalty: Any, norms: np.ndarray, n: int,
               rows: np.ndarray) -> np.ndarray:
        """B (|rows|,) with B_i ≥ ‖Φ_jᵀZ/n‖_* for j = rows[i] (inf where unknown);
        ``norms`` (M,) N_j ≥ ‖Φ_j‖."""
        B = np.full(rows.size, np.inf)
        if penalty.name != self.penalty or penalty.name not in ("group", "l1") \
                or Z.shape[1] != self.C.shape[1]:
            return B
        ref = self.ref[rows]
        T = Z.shape[1]
        with blas_threads(1):                    # thin products: one thread
            for key in self.refs:
                at = np.flatnonzero(ref == key) if len(self.refs) > 1 else \
                    np.flatnonzero(ref >= 0)
                if not at.size:
                    continue
                j = rows[at]
                Zr = self.refs[key]
                K = np.linalg.lstsq(Zr.T @ Zr, Zr.T @ Z, rcond=None)[0]   # any K is valid
                R = Z - Zr @ K
                fit = float(np.linalg.norm(np.abs(Z) + np.abs(Zr) @ np.abs(K)))
                delta = residual_distance(R, penalty) + _gamma(T + 1) * fit * (1 + 1e-6)
                kf = float(np.linalg.norm(K))
                kd = kf if penalty.name == "group" else float(np.abs(K).sum(axis=0).max())
                if 4 * at.size >= self.C.shape[0]:      # most rows: no gather of C
                    B[at] = self._terms(K, kf, kd, delta, norms, n, penalty)[j]
                else:
                    B[at] = self._terms(K, kf, kd, delta, norms, n, penalty, j)
        return B

    def _terms(self, K, kf, kd, delta, norms, n, penalty, j=slice(None)) -> np.ndarray:
        """The bound of the module docstring on the rows j (all by default)."""
        T = self.C.shape[1]
        return (penalty.dual_norms(self.C[j] @ K) / n + _gamma(T + 2) * kf * self.Cnorm[j]
                + kd * (1 + 1e-12) * self.E[j] + norms[j] * delta / n) * (1.0 + SLACK)


class MovedBounds:
    """The bounds of :class:`PassValues` for a :class:`~limitsolver.pricing.FeatureStore`
    (mixed into its float32 passes, :class:`~limitsolver.pricing32.BoundedPasses`)."""

    def record_pass(self, Z: np.ndarray, penalty: Any, idx: Any, values: dict) -> None:
        """Keep ĉ and e of a bounded pass over the rows ``idx`` (None: all) at Z, when
        8·M·T ≤ :data:`VALUES_BYTES`."""
        if 8 * self.M * Z.shape[1] > VALUES_BYTES or "C" not in values:
            return
        pv = getattr(self, "_pass_values", None)
        if pv is None:
            pv = self._pass_values = PassValues(self.M, Z.shape[1], penalty.name)
        pv.record(Z, penalty, None if idx is None else np.asarray(idx), values["C"],
                  values["err"], values["S"])

    def moved_bounds(self, Z: np.ndarray, penalty: Any, norms: np.ndarray,
                     rows: np.ndarray) -> np.ndarray:
        """B_i ≥ ‖Φ_jᵀZ/n‖_* for j = rows[i] from the rows' last bounded pass (inf where
        none was kept); ``norms`` (M,) N_j ≥ ‖Φ_j‖ (:meth:`PassValues.bounds`)."""
        pv = getattr(self, "_pass_values", None)
        if pv is None:
            return np.full(len(rows), np.inf)
        return pv.bounds(np.asarray(Z, dtype=float), penalty, norms, self.n, np.asarray(rows))
