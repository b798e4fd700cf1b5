"""How far a residual moved, measured for the dual norm of a pricing pass.

The screening and skipping bounds of the pricing passes use, for a feature column
φ (n,) and a change E (n × T) of the candidate Z,

    ‖φᵀE‖_* ≤ ‖φ‖₂ δ(E),   δ(E) = sup_{‖v‖₂ ≤ 1} ‖vᵀE‖_*,

which is the operator norm of Eᵀ from ℓ₂ to the dual norm: the largest singular value
σ_max(E) for the group penalty (dual norm ℓ₂ over tasks) and max_t ‖E_t‖₂ (the largest
column norm) for the l1 penalty (dual norm ℓ∞). Both are at most the Frobenius norm
‖E‖_F (used for any other penalty), and σ_max can be up to √T times smaller.

:func:`residual_distance` returns an upper bound of δ(E) that holds despite its own
float64 rounding (u = 2⁻⁵³, γ_k = k u/(1 − k u)):

- group: Ĝ = fl(EᵀE) (T × T) has |Ĝ − EᵀE| ≤ γ_n |E|ᵀ|E| entrywise, so
  ‖Ĝ − EᵀE‖₂ ≤ γ_n ‖E‖_F²; the symmetric eigensolver is backward stable, its largest
  eigenvalue within c T u ‖Ĝ‖₂ of Ĝ's (c = 64 here, generous), and ‖Ĝ‖₂ ≤ tr Ĝ. So
  σ_max(E)² ≤ λ̂_max + (2 γ_{n+T} + 64 T u)(1 + 2 γ_{n+T}) f̂² with
  f̂² = fl(Σ E²) ≥ (1 − γ_{n+T}) ‖E‖_F²;
- l1 and the Frobenius bound: a sum of n (or n T) squares (Ĝ's diagonal or a direct
  sum) has relative error ≤ γ_{nT};
- every square root is inflated by 1 + 4u.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["residual_distance"]

_U = 2.0 ** -53


def _gamma(k: int) -> float:
    return k * _U / (1.0 - k * _U)


def residual_distance(E: np.ndarray, penalty: Any) -> float:
    """δ ≥ sup_{‖v‖₂ ≤ 1} ‖vᵀE‖_* for E (n × T) and the dual norm of ``penalty`` (its
    ``name``: "group" → σ_max(E), "l1" → max_t ‖E_t‖₂, else ‖E‖_F), so that
    ‖φᵀE‖_* ≤ ‖φ‖₂ δ for every φ (n,) (module docstring: a bound despite rounding)."""
    E = np.asarray(E, dtype=float)
    if E.ndim != 2 or E.size == 0:
        return 0.0
    n, T = E.shape
    name = getattr(penalty, "name", None)
    G = E.T @ E if name == "group" and T > 1 else None
    col = np.einsum("ij,ij->j", E, E) if G is None else np.diag(G)   # Σ_i E_it² (T,)
    fro2 = float(col.sum())
    if not np.isfinite(fro2):
        return float("inf")
    frob = np.sqrt(fro2 * (1.0 + _gamma(n * T))) * (1.0 + 4 * _U)
    if name == "l1":
        return min(frob, float(np.sqrt(col.max() * (1.0 + _gamma(n)))) * (1.0 + 4 * _U))
    if G is None:
        return frob
    top = float(np.linalg.eigvalsh(G)[-1])
    slack = (2.0 * _gamma(n + T) + 64 * T * _U) * (1.0 + 2.0 * _gamma(n + T)) * fro2
    return min(frob, float(np.sqrt(max(top, 0.0) + slack)) * (1.0 + 4 * _U))
