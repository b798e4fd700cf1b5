"""What every oracle path shares: the result type, and evaluating correlations at candidate
directions.

c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i) ∈ R^T for a dual candidate Z (n × T); ‖·‖ is the penalty's
dual norm (‖·‖₂ group, ‖·‖_∞ l1). See :mod:`limitsolver.oracle`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .features import features_rmatvec
from .penalties import get_penalty

__all__ = ["SupResult", "SUP_SAFETY", "unique_rows", "values_at", "verify_candidates",
           "dual_norm", "distinct_top"]

#: The exact sup is inflated by this relative margin before it scales a dual point, so
#: rounding in c(θ) cannot make a certified lower bound overshoot.
SUP_SAFETY = 1e-12

#: Candidates whose claimed value is within this relative margin of the best verified value
#: are not evaluated (their true value can exceed it only by rounding).
_VERIFY_RTOL = 1e-12

@dataclass
class SupResult:
    """Result of :func:`sup_correlation`.

    Attributes
    ----------
    value : float
        S = sup_θ ‖c(θ)‖ when ``exact``; otherwise the best value found (≤ S).
    direction : ndarray (d+1,)
        A maximizing direction (normalized like the problem's grid directions).
    directions : ndarray (k, d+1)
        Distinct directions with the largest values found, best first (candidates for an
        exchange step).
    values : ndarray (k,)
        ‖c‖ at ``directions``.
    exact : bool
        Whether ``value`` is the exact sup (face enumeration, d ≤ 2).
    n_candidates : int
        How many candidate directions were generated.
    n_evaluated : int
        How many of them were evaluated with the feature map.
    upper : float
        A certified upper bound on S: ``value · (1 + SUP_SAFETY)`` when exact, else the
        branch-and-bound bound (:func:`limitsolver.bound.bounded_sup`).
    rtol : float
        upper / value − 1, the relative width reached.
    method : {"exact", "bounded"}
    """

    value: float
    direction: np.ndarray
    directions: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    exact: bool
    n_candidates: int = 0
    n_evaluated: int = 0
    upper: float | None = None
    rtol: float | None = None
    method: str | None = None

    def __post_init__(self):
        if self.upper is None:
            self.upper = (self.value * (1 + SUP_SAFETY) if self.exact
                          else float(np.inf))
        if self.rtol is None:
            self.rtol = (self.upper / self.value - 1 if self.value > 0
                         else (0.0 if self.upper == 0 else float(np.inf)))
        if self.method is None:
            self.method = "exact" if self.exact else "bounded"


def unique_rows(X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge samples with identical inputs (their hyperplanes coincide): Z rows summed."""
    Xu, inv = np.unique(X, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    if Xu.shape[0] == X.shape[0]:
        order = np.argsort(inv)
        return X[order], Z[order]
    Zu = np.zeros((Xu.shape[0], Z.shape[1]))
    np.add.at(Zu, inv, Z)
    return Xu, Zu


def values_at(Xt: np.ndarray, Z: np.ndarray, n: int, thetas: np.ndarray,
              dual: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """‖c(θ)‖ for directions (m × (d+1)) — the true values, through the feature map."""
    if thetas.shape[0] == 0:
        return np.zeros(0)
    return dual(features_rmatvec(Xt, thetas, Z) / n)


def verify_candidates(Xt: np.ndarray, Z: np.ndarray, n: int, cand: np.ndarray,
                      claimed: np.ndarray, dual: Callable[[np.ndarray], np.ndarray],
                      threshold: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate candidates in decreasing order of claimed value until no unevaluated
    candidate can beat the best verified one, nor has a claimed value above ``threshold``;
    returns (values, evaluated mask)."""
    m = cand.shape[0]
    order = np.argsort(-claimed, kind="stable")
    vals = np.full(m, -np.inf)
    best, pos, batch = -np.inf, 0, 512
    while pos < m:
        if np.isfinite(best) and claimed[order[pos]] <= min(best * (1 + _VERIFY_RTOL),
                                                             threshold):
            break
        idx = order[pos:pos + batch]
        vals[idx] = values_at(Xt, Z, n, cand[idx], dual)
        best = max(best, float(vals[idx].max()))
        pos += batch
        batch *= 2
    return vals, np.isfinite(vals)


def dual_norm(penalty: str) -> Callable[[np.ndarray], np.ndarray]:
    return get_penalty(penalty).dual_norms


def distinct_top(cand: np.ndarray, vals: np.ndarray, k: int,
                 atol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best candidates (finite values), skipping any within ``atol`` (max-norm)
    of a better one kept."""
    order = np.argsort(-vals, kind="stable")
    order = order[np.isfinite(vals[order])]
    keep = []
    kept = np.empty((min(k, len(order)), cand.shape[1]))
    for i in order:
        m = len(keep)
        if m == 0 or np.max(np.abs(kept[:m] - cand[i]), axis=1).min() > atol:
            kept[m] = cand[i]
            keep.append(i)
            if len(keep) >= k:
                break
    keep = np.array(keep, dtype=int)
    return cand[keep], vals[keep]

