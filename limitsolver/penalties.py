"""Penalties on the output weights V (M × T) of a grid, and their dual norms.

- ``group``: Ω(V) = Σ_j ‖V_j‖₂ (a neuron shared by tasks is paid once), dual norm of a
  correlation row c ∈ R^T is ‖c‖₂;
- ``l1``: Ω(V) = Σ_j Σ_t |V_jt| (T separate single-task networks), dual norm ‖c‖_∞.

Optimality of weights V (MATH.md): sup_θ dual_norm(c(θ)) ≤ λ.
"""
from __future__ import annotations

import numpy as np

__all__ = ["GroupPenalty", "L1Penalty", "get_penalty"]


class GroupPenalty:
    """Ω(V) = Σ_j ‖V_j‖₂ (the L2,1 norm)."""

    name = "group"

    @staticmethod
    def value(V) -> float:
        return float(np.sum(np.linalg.norm(V, axis=1))) if V.size else 0.0

    @staticmethod
    def row_norms(V):
        """Per-neuron penalty ‖V_j‖₂, shape (M,)."""
        return np.linalg.norm(V, axis=1)

    @staticmethod
    def dual_norms(C):
        """Per-row dual norms ‖C_j‖₂ of correlations C (M × T), shape (M,)."""
        return np.linalg.norm(C, axis=1)

    @staticmethod
    def prox(V, step):
        """argmin_U ½‖U − V‖² + step·Ω(U): block soft-thresholding of each row."""
        nrm = np.linalg.norm(V, axis=1, keepdims=True)
        scale = np.maximum(0.0, 1.0 - step / np.maximum(nrm, 1e-300))
        return V * scale


class L1Penalty:
    """Ω(V) = Σ_j Σ_t |V_jt|."""

    name = "l1"

    @staticmethod
    def value(V) -> float:
        return float(np.sum(np.abs(V)))

    @staticmethod
    def row_norms(V):
        return np.sum(np.abs(V), axis=1)

    @staticmethod
    def dual_norms(C):
        return np.max(np.abs(C), axis=1) if C.shape[1] else np.zeros(C.shape[0])

    @staticmethod
    def prox(V, step):
        return np.sign(V) * np.maximum(np.abs(V) - step, 0.0)


_PENALTIES = {c.name: c for c in (GroupPenalty, L1Penalty)}


def get_penalty(name: str):
    """The penalty class for ``name`` ("group" or "l1")."""
    try:
        return _PENALTIES[name]
    except KeyError:
        raise ValueError(
            f"penalty={name!r} has no grid form; expected one of {', '.join(map(repr, _PENALTIES))}") from None
