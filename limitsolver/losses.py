"""Datafits: the loss terms L(F) of the grid problem, with the derivatives and duals solvers use.

Notation (MATH.md): predictions F (n × T), targets Y (n × T). Every loss is a sum of
per-sample terms, L(F) = (1/n) Σ_i ℓ_i(F_i) (F_i ∈ R^T the i-th row), and is a class whose
static methods are the protocol below. Solvers name the methods they need and check them
with :func:`require` before they run.

Values and first order
  ``value(F, Y)``        L(F).
  ``gradient(F, Y)``     ∇L(F), shape (n, T) (= −Z/n).
  ``residual(F, Y)``     the generalized residual Z = −n ∇L(F) (Y − F for the squared loss);
                         the correlation of a direction is c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i).
Second order (smooth losses)
  ``hessian_blocks(F, Y)`` the per-sample Hessians ∇²ℓ_i(F_i), shape (n, T, T); so
                         ∇²L(F)[D] = (1/n) (∇²ℓ_i(F_i) D_i)_i.
  ``curvature(F, Y)``    losses that are sums of per-entry terms ℓ(F_it; Y_it) (``separable``)
                         also give ℓ''(F_it; Y_it), shape (n, T): the blocks are diagonal.
  ``hessian_matvec(F, Y, D)`` (∇²ℓ_i(F_i) D_i)_i, shape (n, T), without forming blocks.
Duals
  ``dual_value(Z, Y)``   D(Z) = −(1/n) Σ_i ℓ_i*(−Z_i), the dual objective at Z (−inf when
                         Z is outside the conjugate's domain).
  ``dual_feasible(Z, Y)`` whether Z is in that domain (up to rounding, ``FEAS_TOL``).
  ``project_dual(Z)``    Z projected onto that domain's linear constraints (identity except
                         multinomial: Σ_k Z_ik = 0).
  ``scale_dual(Z, Y, smax)`` the best feasible scaling s ∈ [0, smax] of Z for D.
  ``reference_value(Y)`` J_ref, the loss of the zero predictor: the scale relative gaps are
                         floored at (:data:`limitsolver.certificate.ROUNDING`).
Flags
  ``dual_strong_concavity`` μ: a constant with ∇²ℓ_i ≤ (1/μ) I for every sample (None
  when there is none), so that ℓ_i* is μ-strongly convex and D is (μ/n)-strongly concave;
  gap-safe screening derives its radius √(2 n gap / μ) from it.
  ``name``; ``separable`` (per-entry terms); ``quadratic`` (constant Hessian: the free part
  can be eliminated exactly by a projection, and Gram-form solvers apply); ``smooth`` (has
  second derivatives); ``labels``: what Y holds ("real", "pm1" for ±1 labels, "onehot" for
  one class per sample as a one-hot row).
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp, softmax, xlogy

__all__ = ["Datafit", "SquaredLoss", "LogisticLoss", "MultinomialLoss", "InterpolationLoss",
           "get_loss", "hessian_blocks", "require", "LOSS_NAMES"]


class Datafit:
    """Base of the loss classes: the defaults every loss shares (see the module docstring)."""

    name = ""
    separable = True
    quadratic = False
    smooth = True
    labels = "real"
    #: μ with ∇²ℓ_i ≤ (1/μ) I (None: no such bound, e.g. a constraint).
    dual_strong_concavity: float | None = None
    #: Slack allowed on membership in the conjugate's domain, for rounding.
    FEAS_TOL = 1e-12

    @classmethod
    def gradient(cls, F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """∇L(F) = −Z/n, shape (n, T)."""
        return -cls.residual(F, Y) / Y.shape[0]

    @classmethod
    def hessian_blocks(cls, F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Per-sample Hessians (n, T, T); diag(``curvature``) for a separable loss."""
        h = cls.curvature(F, Y)
        out = np.zeros(h.shape + (h.shape[1],))
        idx = np.arange(h.shape[1])
        out[:, idx, idx] = h
        return out

    @classmethod
    def hessian_matvec(cls, F: np.ndarray, Y: np.ndarray, D: np.ndarray) -> np.ndarray:
        """(∇²ℓ_i(F_i) D_i)_i, shape (n, T); ``curvature ∘ D`` for a separable loss."""
        return cls.curvature(F, Y) * D

    @staticmethod
    def dual_feasible(Z: np.ndarray, Y: np.ndarray) -> bool:
        return True

    @staticmethod
    def project_dual(Z: np.ndarray) -> np.ndarray:
        """Z projected onto the affine constraints of the conjugate's domain that do not
        involve Y (none by default; multinomial: rows summing to 0)."""
        return Z

    @staticmethod
    def scale_dual(Z: np.ndarray, Y: np.ndarray, smax: float) -> float:
        return min(1.0, smax)


class SquaredLoss(Datafit):
    """ℓ(f; y) = (f − y)²/2:  L(F) = (1/(2n)) ‖F − Y‖²;  D(Z) = (1/n)⟨Y, Z⟩ − (1/(2n))‖Z‖²."""

    name = "squared"
    quadratic = True
    #: ∇²ℓ_i = I, so μ = 1.
    dual_strong_concavity = 1.0

    @staticmethod
    def value(F: np.ndarray, Y: np.ndarray) -> float:
        return 0.5 * float(np.sum((F - Y) ** 2)) / Y.shape[0]

    @staticmethod
    def residual(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return Y - F

    @staticmethod
    def curvature(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ℓ''(F_it; Y_it) = 1; shape (n, T)."""
        return np.ones_like(np.asarray(F, dtype=float))

    @staticmethod
    def dual_value(Z: np.ndarray, Y: np.ndarray) -> float:
        return (float(np.sum(Y * Z)) - 0.5 * float(np.sum(Z * Z))) / Y.shape[0]

    @staticmethod
    def scale_dual(Z: np.ndarray, Y: np.ndarray, smax: float) -> float:
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
    def reference_value(Y: np.ndarray) -> float:
        return 0.5 * float(np.sum(Y * Y)) / Y.shape[0]


def _entropy_terms(p):
    """−p log p elementwise for p ∈ [0, 1] (0 at p = 0)."""
    return -xlogy(p, p)


class LogisticLoss(Datafit):
    """ℓ(f; y) = log(1 + exp(−y f)), labels y = ±1.

    Z = Y ∘ σ(−Y∘F); the dual is D(Z) = (1/n) Σ H(Y∘Z) with H the binary entropy (natural
    log), feasible when Y∘Z ∈ [0, 1].
    """

    name = "logistic"
    labels = "pm1"
    #: ∇²ℓ_i = diag(σ(m_t)(1 − σ(m_t))) and σ(1 − σ) ≤ 1/4 (AM–GM), so μ = 4.
    dual_strong_concavity = 4.0

    @staticmethod
    def value(F: np.ndarray, Y: np.ndarray) -> float:
        return float(np.sum(np.logaddexp(0.0, -Y * F))) / Y.shape[0]

    @staticmethod
    def residual(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return Y * expit(-Y * F)

    @staticmethod
    def curvature(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ℓ''(F_it; Y_it) = σ(m)(1 − σ(m)), m = −Y_it F_it; shape (n, T)."""
        s = expit(-Y * F)
        return s * (1.0 - s)

    #: The slack on Y∘Z ∈ [0, 1] is relative to the candidate's scale min(1, max Y∘Z): when
    #: every sample is well separated, Y∘Z is tiny, the entropy H(p) ≈ p log(1/p) is steep
    #: there, and an absolute slack would let a projection that moved Z by O(Z) pass as
    #: rounding.
    FEAS_TOL = 1e-12

    @classmethod
    def dual_feasible(cls, Z: np.ndarray, Y: np.ndarray) -> bool:
        p = Y * Z
        scale = min(1.0, float(np.max(np.abs(p), initial=0.0)))
        tol = cls.FEAS_TOL * scale
        return bool(np.all(p >= -tol) and np.all(p <= 1.0 + tol))

    @classmethod
    def dual_value(cls, Z: np.ndarray, Y: np.ndarray) -> float:
        """(1/n) Σ H(Y∘Z), or −inf when Y∘Z leaves [0, 1] (outside the conjugate's domain)."""
        if not cls.dual_feasible(Z, Y):
            return -np.inf
        p = np.clip(Y * Z, 0.0, 1.0)
        # H(p) = −p log p − (1−p) log(1−p), with log(1−p) as log1p(−p): for the tiny p of
        # a well-separated sample, log(1 − p) from the rounded 1 − p would lose all digits
        small = np.minimum(p, 1.0 - p)        # exact: 1 − p is exact for p ≥ 1/2
        H = _entropy_terms(small) - (1.0 - small) * np.log1p(-small)
        return float(np.sum(H)) / Y.shape[0]

    @staticmethod
    def reference_value(Y: np.ndarray) -> float:
        return Y.shape[1] * float(np.log(2.0))


class MultinomialLoss(Datafit):
    """Softmax cross-entropy over the T = K outputs: ℓ_i(f) = logsumexp(f) − ⟨e_{y_i}, f⟩.

    Y holds one-hot rows e_{y_i} (n × K). With p_i = softmax(F_i):

    - Z_i = e_{y_i} − p_i (so Σ_k Z_ik = 0), ∇²ℓ_i = diag(p_i) − p_i p_iᵀ;
    - conjugate ℓ_i*(u) = Σ_k q_k log q_k with q = u + e_{y_i} in the simplex (+∞ outside),
      so D(Z) = −(1/n) Σ_i ℓ_i*(−Z_i) = (1/n) Σ_i H(e_{y_i} − Z_i), H(q) = −Σ_k q_k log q_k,
      feasible when every q_i = e_{y_i} − Z_i lies in the simplex (q_i ≥ 0, Σ_k q_ik = 1);
    - scaling Z by s ∈ [0, 1] keeps q = (1 − s) e_y + s (e_y − Z) in the simplex.

    Weak duality (why D bounds J): ℓ_i(f) ≥ ⟨u, f⟩ − ℓ_i*(u) for every u (Fenchel–Young);
    with u = −Z_i, summed, L(P) ≥ −(1/n)⟨Z, P⟩ + D(Z), and for P = Φ V + F C with
    Fᵀ Z = 0 and every ‖(1/n) Φ_jᵀ Z‖_* ≤ λ, −(1/n)⟨Z, P⟩ ≥ −λ Ω(V). Equality holds at
    Z = e_y − softmax(P): D(Z) = L(P) + ⟨Z, P⟩/n.

    Rounding. Values are computed from the score differences F_ik − F_{i,y_i} (no
    cancellation between two large sums for large scores); the residual's class entry is
    Z_iy = Σ_{k≠y} p_ik, so Σ_k Z_ik = 0 to relative rounding even when 1 − p_iy underflows;
    the entropy of q_iy = 1 − Z_iy uses log1p. Feasibility allows a slack relative to the
    candidate's scale min(1, max|Z|) (as for the logistic loss).
    """

    name = "multinomial"
    separable = False
    labels = "onehot"
    #: vᵀ(diag p − ppᵀ)v = Var_{k∼p}(v_k) ≤ (max v − min v)²/4 (Popoviciu) ≤ ‖v‖²/2, since
    #: v_a − v_b ≤ √2 (v_a² + v_b²)^{1/2} ≤ √2 ‖v‖; so ∇²ℓ_i ≤ I/2 and μ = 2.
    dual_strong_concavity = 2.0
    FEAS_TOL = 1e-12

    @staticmethod
    def _margins(F: np.ndarray, Y: np.ndarray):
        """F_ik − F_{i,y_i}, shape (n, K) (0 on the class entries)."""
        F = np.asarray(F, dtype=float)
        return F - np.sum(Y * F, axis=1, keepdims=True)

    @classmethod
    def value(cls, F: np.ndarray, Y: np.ndarray) -> float:
        """(1/n) Σ_i log Σ_k exp(F_ik − F_{i,y_i}), stable for large scores."""
        M = cls._margins(F, Y)
        others = np.where(Y > 0, -np.inf, M)
        with np.errstate(divide="ignore"):
            rest = logsumexp(others, axis=1)                  # −inf when K = 1
        return float(np.sum(np.logaddexp(0.0, rest))) / Y.shape[0]

    @classmethod
    def residual(cls, F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Z = e_y − softmax(F), with the class entry Z_iy = Σ_{k≠y} p_ik (n × K)."""
        p = softmax(cls._margins(F, Y), axis=1)
        off = np.where(Y > 0, 0.0, p)
        return np.where(Y > 0, np.sum(off, axis=1, keepdims=True), -off)

    @staticmethod
    def hessian_blocks(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """diag(p_i) − p_i p_iᵀ, shape (n, K, K)."""
        p = softmax(F, axis=1)
        out = -p[:, :, None] * p[:, None, :]
        idx = np.arange(p.shape[1])
        out[:, idx, idx] += p
        return out

    @staticmethod
    def hessian_matvec(F: np.ndarray, Y: np.ndarray, D: np.ndarray) -> np.ndarray:
        """p_i ∘ D_i − p_i ⟨p_i, D_i⟩, shape (n, K)."""
        p = softmax(F, axis=1)
        return p * D - p * np.sum(p * D, axis=1, keepdims=True)

    @staticmethod
    def project_dual(Z: np.ndarray) -> np.ndarray:
        """Z with its row means removed (Σ_k Z_ik = 0 exactly up to rounding). Commutes
        with the projection orthogonal to the free columns (one acts on rows, the other on
        columns), so both constraints of the dual hold together."""
        Z = np.asarray(Z, dtype=float)
        return Z - np.mean(Z, axis=1, keepdims=True)

    @classmethod
    def _slack(cls, Z) -> float:
        return cls.FEAS_TOL * max(min(1.0, float(np.max(np.abs(Z), initial=0.0))), 1e-300)

    @classmethod
    def dual_feasible(cls, Z: np.ndarray, Y: np.ndarray) -> bool:
        """e_y − Z_i ≥ −tol entrywise and |Σ_k Z_ik| ≤ K·tol, tol = FEAS_TOL·min(1, max|Z|)."""
        Z = np.asarray(Z, dtype=float)
        tol = cls._slack(Z)
        q = Y - Z
        return bool(np.all(q >= -tol) and np.all(np.abs(np.sum(Z, axis=1)) <= tol * Z.shape[1]))

    @staticmethod
    def _entropy(Z: np.ndarray, Y: np.ndarray):
        """Σ_i H(e_{y_i} − Z_i), the class entry through log1p (no feasibility check)."""
        off = np.clip(np.where(Y > 0, 0.0, -Z), 0.0, 1.0)
        zy = np.clip(np.sum(Y * Z, axis=1), 0.0, 1.0)       # 1 − q_iy
        Hy = -(1.0 - zy) * np.log1p(-np.minimum(zy, 1.0 - 1e-300))
        return float(np.sum(_entropy_terms(off)) + np.sum(Hy))

    @classmethod
    def dual_value(cls, Z: np.ndarray, Y: np.ndarray) -> float:
        """(1/n) Σ_i H(e_{y_i} − Z_i), or −inf outside the simplex."""
        if not cls.dual_feasible(Z, Y):
            return -np.inf
        return cls._entropy(np.asarray(Z, dtype=float), Y) / Y.shape[0]

    @classmethod
    def scale_dual(cls, Z: np.ndarray, Y: np.ndarray, smax: float) -> float:
        """argmax of D(sZ) over s ∈ [0, min(1, smax)] for a feasible Z.

        s ↦ D(sZ) is concave (H is concave, s ↦ e_y − sZ affine) with derivative
        (1/n) Σ_{i,k} Z_ik log q_ik(s), q(s) = e_y − sZ (the ``+1`` of −d(q log q)/dq
        cancels since Σ_k Z_ik = 0), which is +∞ at s = 0+: the maximizer is min(1, smax)
        when the derivative there is ≥ 0, else its root, found by bisection.
        """
        hi = min(1.0, float(smax))
        Z = np.asarray(Z, dtype=float)
        if hi <= 0.0 or not cls.dual_feasible(Z, Y):
            return max(hi, 0.0)

        def slope(s):
            q = np.maximum(Y - s * Z, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return float(np.sum(xlogy(Z, q)))
        if not slope(hi) < 0.0:
            return hi
        lo = 0.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if slope(mid) >= 0.0:
                lo = mid
            else:
                hi = mid
        return lo

    @staticmethod
    def reference_value(Y: np.ndarray) -> float:
        return float(np.log(Y.shape[1]))


class InterpolationLoss(Datafit):
    """The constraint F = Y (λ → 0). Dual D(Z) = (1/n)⟨Y, Z⟩, feasible when
    sup_θ ‖(1/n) Σ_i Z_i relu(θ·x̃_i)‖ ≤ 1; it is homogeneous, so any Z scales to feasibility."""

    name = "interpolate"
    smooth = False

    @staticmethod
    def value(F: np.ndarray, Y: np.ndarray) -> float:
        return 0.0

    @staticmethod
    def residual(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return Y - F

    @staticmethod
    def dual_value(Z: np.ndarray, Y: np.ndarray) -> float:
        return float(np.sum(Y * Z)) / Y.shape[0]

    @staticmethod
    def scale_dual(Z: np.ndarray, Y: np.ndarray, smax: float) -> float:
        return smax if float(np.sum(Y * Z)) >= 0 else -smax

    @staticmethod
    def reference_value(Y: np.ndarray) -> float:
        return float(np.max(np.abs(Y)))


_LOSSES = {c.name: c for c in (SquaredLoss, LogisticLoss, MultinomialLoss, InterpolationLoss)}

#: Every loss name, in the order the documentation lists them.
LOSS_NAMES = tuple(_LOSSES)

_SECOND_ORDER = ("hessian_blocks", "hessian_matvec", "curvature")


def require(loss: type[Datafit], *methods: str, who: str = "this solver") -> None:
    """Raise ValueError unless ``loss`` provides every method in ``methods``.

    ``"curvature"`` is only provided by separable losses; the other second-order methods
    only by smooth ones."""
    missing = []
    for m in methods:
        if m in _SECOND_ORDER and not getattr(loss, "smooth", False):
            missing.append(m)
        elif m == "curvature" and not getattr(loss, "separable", False):
            missing.append(m)
        elif not callable(getattr(loss, m, None)):
            missing.append(m)
    if missing:
        raise ValueError(f"{who} needs {', '.join(missing)} from the loss, which "
                         f"loss={loss.name!r} does not provide")


def hessian_blocks(loss: type[Datafit], F: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Per-sample Hessians of the loss terms w.r.t. the T outputs, shape (n, T, T)."""
    require(loss, "hessian_blocks", who="a second-order method")
    return loss.hessian_blocks(F, Y)


def get_loss(name: str) -> type:
    """The loss class for ``name``."""
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss={name!r}; expected one of {', '.join(map(repr, _LOSSES))}") from None
