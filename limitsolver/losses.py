"""Data-fit terms: value, generalized residual, dual (conjugate) value.

Notation (MATH.md): predictions F (n × T), targets Y (n × T). Each loss is
L(F) = (1/n) Σ_{i,t} ℓ(F_it; Y_it) and exposes

- ``value(F, Y)``      — L(F);
- ``residual(F, Y)``   — the generalized residual Z = −n ∇L(F) (Y − F for squared loss), so
  the correlation of a direction is c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i);
- ``dual_value(Z, Y)`` — (1/n) Σ −ℓ*(−Z_it), the dual objective of a feasible Z;
- ``scale_dual(Z, Y, smax)`` — the best feasible scaling s ∈ [0, smax] of Z for that dual;
- ``dual_feasible(Z, Y)`` — whether Z lies in the domain of the conjugate (always true
  except for the logistic loss, whose dual needs Y∘Z ∈ [0, 1]).

Smooth losses also expose their second derivative, for Newton's method
(:mod:`limitsolver.newton_nd`): a loss that is a sum of per-entry terms ℓ(F_it; Y_it) gives
``curvature(F, Y)`` — ℓ''(F_it; Y_it), shape (n, T); a loss coupling the T outputs of a
sample (as a multinomial loss would) gives ``hessian_blocks(F, Y)`` instead — the (n, T, T)
Hessians of its per-sample terms. :func:`hessian_blocks` returns the blocks of either kind.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

__all__ = ["SquaredLoss", "LogisticLoss", "InterpolationLoss", "get_loss", "hessian_blocks"]


class SquaredLoss:
    """L(F) = (1/(2n)) ‖F − Y‖²;  dual D(Z) = (1/n)⟨Y, Z⟩ − (1/(2n))‖Z‖²."""

    name = "squared"

    @staticmethod
    def value(F, Y) -> float:
        return 0.5 * float(np.sum((F - Y) ** 2)) / Y.shape[0]

    @staticmethod
    def residual(F, Y):
        return Y - F

    @staticmethod
    def curvature(F, Y):
        """ℓ''(F_it; Y_it) = 1 for ℓ = (F − Y)²/2; shape (n, T)."""
        return np.ones_like(np.asarray(F, dtype=float))

    @staticmethod
    def dual_value(Z, Y) -> float:
        return (float(np.sum(Y * Z)) - 0.5 * float(np.sum(Z * Z))) / Y.shape[0]

    @staticmethod
    def scale_dual(Z, Y, smax: float) -> float:
        """argmax of D(sZ) over s ∈ [0, min(1, smax)] (MATH.md: Z = R · min(1, λ/S)).

        Capping s at 1 keeps a residual that is pure rounding noise (a free part that fits
        the data) from being amplified into a meaningless bound.
        """
        smax = min(1.0, smax)
        a, b = float(np.sum(Y * Z)), float(np.sum(Z * Z))
        if b <= 0.0:
            return smax
        return float(np.clip(a / b, 0.0, smax))

    @staticmethod
    def dual_feasible(Z, Y) -> bool:
        return True


class LogisticLoss:
    """L(F) = (1/n) Σ log(1 + exp(−Y∘F)) with labels ±1.

    Z = Y ∘ σ(−Y∘F); the dual is D(Z) = (1/n) Σ H(Y∘Z) with H the binary entropy (natural
    log), feasible when Y∘Z ∈ [0, 1].
    """

    name = "logistic"

    @staticmethod
    def value(F, Y) -> float:
        return float(np.sum(np.logaddexp(0.0, -Y * F))) / Y.shape[0]

    @staticmethod
    def residual(F, Y):
        return Y * expit(-Y * F)

    @staticmethod
    def curvature(F, Y):
        """ℓ''(F_it; Y_it) = σ(m)(1 − σ(m)), m = −Y_it F_it, for ℓ = log(1 + e^m) and Y = ±1."""
        s = expit(-Y * F)
        return s * (1.0 - s)

    #: Slack allowed on Y∘Z ∈ [0, 1] for rounding in the projection onto the free part,
    #: relative to the candidate's scale min(1, max Y∘Z): when every sample is well
    #: separated, Y∘Z is tiny, the entropy H(p) ≈ p log(1/p) is steep there, and an
    #: absolute slack would let a projection that moved Z by O(Z) pass as rounding.
    FEAS_TOL = 1e-12

    @classmethod
    def dual_feasible(cls, Z, Y) -> bool:
        p = Y * Z
        scale = min(1.0, float(np.max(np.abs(p), initial=0.0)))
        tol = cls.FEAS_TOL * scale
        return bool(np.all(p >= -tol) and np.all(p <= 1.0 + tol))

    @classmethod
    def dual_value(cls, Z, Y) -> float:
        """(1/n) Σ H(Y∘Z), or −inf when Y∘Z leaves [0, 1] (outside the conjugate's domain)."""
        if not cls.dual_feasible(Z, Y):
            return -np.inf
        p = np.clip(Y * Z, 0.0, 1.0)
        # H(p) = −p log p − (1−p) log(1−p), with log(1−p) as log1p(−p): for the tiny p of
        # a well-separated sample, log(1 − p) from the rounded 1 − p would lose all digits
        small = np.minimum(p, 1.0 - p)        # exact: 1 − p is exact for p ≥ 1/2
        H = -xlogy(small, small) - (1.0 - small) * np.log1p(-small)
        return float(np.sum(H)) / Y.shape[0]

    @staticmethod
    def scale_dual(Z, Y, smax: float) -> float:
        return min(1.0, smax)


class InterpolationLoss:
    """The constraint F = Y (λ → 0). Dual D(Z) = (1/n)⟨Y, Z⟩, feasible when
    sup_θ ‖(1/n) Σ_i Z_i relu(θ·x̃_i)‖ ≤ 1; it is homogeneous, so any Z scales to feasibility."""

    name = "interpolate"

    @staticmethod
    def value(F, Y) -> float:
        return 0.0

    @staticmethod
    def residual(F, Y):
        return Y - F

    @staticmethod
    def dual_value(Z, Y) -> float:
        return float(np.sum(Y * Z)) / Y.shape[0]

    @staticmethod
    def scale_dual(Z, Y, smax: float) -> float:
        return smax if float(np.sum(Y * Z)) >= 0 else -smax

    @staticmethod
    def dual_feasible(Z, Y) -> bool:
        return True


_LOSSES = {c.name: c for c in (SquaredLoss, LogisticLoss, InterpolationLoss)}


def hessian_blocks(loss, F, Y):
    """Per-sample Hessians of the loss terms w.r.t. the T outputs, shape (n, T, T): the
    loss's own ``hessian_blocks`` when it has one, else diag(``curvature``)."""
    own = getattr(loss, "hessian_blocks", None)
    if own is not None:
        return own(F, Y)
    curv = getattr(loss, "curvature", None)
    if curv is None:
        raise ValueError(f"loss {loss.name!r} has no second derivative")
    h = curv(F, Y)
    out = np.zeros(h.shape + (h.shape[1],))
    idx = np.arange(h.shape[1])
    out[:, idx, idx] = h
    return out


def get_loss(name: str):
    """The loss class for ``name``."""
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss={name!r}; expected one of {', '.join(map(repr, _LOSSES))}") from None
