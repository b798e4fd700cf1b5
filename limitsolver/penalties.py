"""Penalties on the output weights V (M × T) of a grid, and their dual norms.

- ``group``: Ω(V) = Σ_j ‖V_j‖₂ (a neuron shared by tasks is paid once), dual norm of a
  correlation row c ∈ R^T is ‖c‖₂;
- ``l1``: Ω(V) = Σ_j Σ_t |V_jt| (T separate single-task networks), dual norm ‖c‖_∞.

Optimality of weights V (MATH.md): sup_θ dual_norm(c(θ)) ≤ λ.

The protocol every penalty class provides (solvers check it with :func:`require`):

- ``value(V)``, ``row_norms(V)`` (per-neuron cost, (M,)), ``dual_norms(C)`` ((M,));
- ``prox(V, step)`` — argmin_U ½‖U − V‖² + step·Ω(U); ``prox_row(v, step)`` the same for
  one row v (T,) and a scalar step (coordinate descent's per-row call);
- ``support(V)`` — the entries that are free to move smoothly, a boolean (M, T) mask
  (group: whole rows with V_j ≠ 0; l1: the entries V_jt ≠ 0);
- ``gradient(V)`` — ∇Ω on the support, (M, T) (group: u_j = V_j/‖V_j‖; l1: sign V);
- ``hessian_blocks(V)`` — ∇²Ω on the support, one T × T block per row, (M, T, T)
  (group: (I − u_j u_jᵀ)/‖V_j‖; l1: 0). Rows off the support get zeros.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["GroupPenalty", "L1Penalty", "get_penalty", "require"]


def _norms(V):
    """‖V_j‖₂ of each row (M,): the same sum of squares as ``np.linalg.norm(V, axis=1)``,
    without its per-call overhead (small supports call this thousands of times)."""
    V = np.asarray(V, dtype=float)
    if V.ndim != 2:
        return np.linalg.norm(V, axis=-1)
    if V.size <= 4096:                   # small: the cheapest call; large: no temporary
        return np.sqrt(np.add.reduce(V * V, axis=1))
    return np.sqrt(np.einsum("ij,ij->i", V, V))


class GroupPenalty:
    """Ω(V) = Σ_j ‖V_j‖₂ (the L2,1 norm)."""

    name = "group"

    @staticmethod
    def value(V: np.ndarray) -> float:
        return float(np.sum(_norms(V))) if V.size else 0.0

    @staticmethod
    def row_norms(V: np.ndarray) -> np.ndarray:
        """Per-neuron penalty ‖V_j‖₂, shape (M,)."""
        return _norms(V)

    @staticmethod
    def dual_norms(C: np.ndarray) -> np.ndarray:
        """Per-row dual norms ‖C_j‖₂ of correlations C (M × T), shape (M,)."""
        return _norms(C)

    @staticmethod
    def prox(V: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """argmin_U ½‖U − V‖² + step·Ω(U): block soft-thresholding of each row."""
        nrm = _norms(V)[:, None]
        scale = np.maximum(0.0, 1.0 - step / np.maximum(nrm, 1e-300))
        return V * scale

    @staticmethod
    def prox_row(v: np.ndarray, step: float) -> np.ndarray:
        """``prox`` of one row v (T,) with a scalar step: the scalar path of coordinate
        descent, where a call per row must be cheap."""
        nz = math.sqrt(float(v @ v))
        return v * (1.0 - step / nz) if nz > step else np.zeros_like(v)

    @staticmethod
    def support(V: np.ndarray) -> np.ndarray:
        """Rows with V_j ≠ 0, broadcast over the T tasks; (M, T) bool."""
        rows = np.any(V != 0, axis=1, keepdims=True)
        return np.broadcast_to(rows, V.shape).copy()

    @staticmethod
    def gradient(V: np.ndarray) -> np.ndarray:
        """u_j = V_j/‖V_j‖ on the support rows, 0 elsewhere; (M, T)."""
        nrm = _norms(V)
        if nrm.size and nrm.min() > 0:       # the common case: every row on the support
            return V / nrm[:, None]
        return np.divide(V, nrm[:, None], out=np.zeros_like(V, dtype=float),
                         where=nrm[:, None] > 0)

    @staticmethod
    def hessian_blocks(V: np.ndarray) -> np.ndarray:
        """(I − u_j u_jᵀ)/‖V_j‖ on the support rows, 0 elsewhere; (M, T, T)."""
        nrm = _norms(V)
        out = np.zeros((V.shape[0], V.shape[1], V.shape[1]))
        on = nrm > 0
        U = V[on] / nrm[on, None]
        out[on] = (np.eye(V.shape[1])[None] - U[:, :, None] * U[:, None, :]) / nrm[on, None, None]
        return out


class L1Penalty:
    """Ω(V) = Σ_j Σ_t |V_jt|."""

    name = "l1"

    @staticmethod
    def value(V: np.ndarray) -> float:
        return float(np.sum(np.abs(V)))

    @staticmethod
    def row_norms(V: np.ndarray) -> np.ndarray:
        return np.sum(np.abs(V), axis=1)

    @staticmethod
    def dual_norms(C: np.ndarray) -> np.ndarray:
        return np.max(np.abs(C), axis=1) if C.shape[1] else np.zeros(C.shape[0])

    @staticmethod
    def prox(V: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        return np.sign(V) * np.maximum(np.abs(V) - step, 0.0)

    @staticmethod
    def prox_row(v: np.ndarray, step: float) -> np.ndarray:
        """``prox`` of one row v (T,) with a scalar step (see ``GroupPenalty.prox_row``)."""
        return np.sign(v) * np.maximum(np.abs(v) - step, 0.0)

    @staticmethod
    def support(V: np.ndarray) -> np.ndarray:
        """Entries V_jt ≠ 0; (M, T) bool."""
        return np.asarray(V) != 0

    @staticmethod
    def gradient(V: np.ndarray) -> np.ndarray:
        """sign V on the support (0 elsewhere); (M, T)."""
        return np.sign(V).astype(float)

    @staticmethod
    def hessian_blocks(V: np.ndarray) -> np.ndarray:
        """Ω is linear on each orthant: zeros, (M, T, T)."""
        return np.zeros((V.shape[0], V.shape[1], V.shape[1]))


_PENALTIES = {c.name: c for c in (GroupPenalty, L1Penalty)}


def require(penalty: type, *methods: str, who: str = "this solver") -> None:
    """Raise ValueError unless ``penalty`` provides every method in ``methods``."""
    missing = [m for m in methods if not callable(getattr(penalty, m, None))]
    if missing:
        raise ValueError(f"{who} needs {', '.join(missing)} from the penalty, which "
                         f"penalty={penalty.name!r} does not provide")


def get_penalty(name: str) -> type:
    """The penalty class for ``name`` ("group" or "l1")."""
    try:
        return _PENALTIES[name]
    except KeyError:
        raise ValueError(
            f"penalty={name!r} has no grid form; expected one of {', '.join(map(repr, _PENALTIES))}") from None
