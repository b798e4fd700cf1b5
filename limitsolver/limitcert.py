"""Certificates against the infinite-width optimum: the dual candidate scaled by the
oracle's certified upper end of sup_θ ‖c(θ)‖ (:func:`limitsolver.oracle.sup_correlation`),
so that its dual value is a lower bound on OPT in every dimension (set on a solution by
:func:`limitsolver.limitattach.attach_limit_certificate`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .problem import LimitProblem

__all__ = ["shortcut_sup_bound", "limit_certificate"]

def shortcut_sup_bound(problem: LimitProblem, Zc: np.ndarray, Zp: np.ndarray, Sp: float, *,
                       penalty: "str | None" = None) -> "tuple[float, float] | None":
    """Bound sup_θ ‖c_{Zc}(θ)‖ through a candidate Zp whose sup is bounded by Sp.

    With a = ⟨Zc, Zp⟩ / ⟨Zp, Zp⟩ > 0 and E = Zc − a Zp, c is linear in the candidate, so
    for every θ ∈ Θ

        ‖c_{Zc}(θ)‖ ≤ a ‖c_{Zp}(θ)‖ + (1/n) Σ_i ‖E_i‖ relu(θ·x̃_i)
                    ≤ a Sp + (1/n) Σ_i ‖E_i‖ ρ_i,     ρ_i = max_{θ ∈ Θ} relu(θ·x̃_i),

    ‖·‖ the dual norm (‖·‖₂ for group, ‖·‖_∞ for l1, applied to the rows E_i), and
    ρ_i = ‖x̃_i‖ on the sphere (Cauchy–Schwarz, ‖θ‖ = 1) and ρ_i = ‖x_i‖ + R on the cylinder
    (|w·x_i + b| ≤ ‖w‖‖x_i‖ + |b|, ‖w‖ = 1, |b| ≤ R).

    Returns
    -------
    (a, slack) with the bound a·Sp + slack, or None when a ≤ 0 (no bound of this form).
    """
    penalty = penalty or problem.penalty
    Zc = np.asarray(Zc, dtype=float)
    Zp = np.asarray(Zp, dtype=float)
    den = float(np.sum(Zp * Zp))
    a = float(np.sum(Zc * Zp)) / den if den > 0 else 0.0
    if a <= 0:
        return None
    E = Zc - a * Zp
    if problem.bias == "free":
        reach = np.linalg.norm(problem.X, axis=1) + problem.radius
    else:
        reach = np.linalg.norm(problem.Xt, axis=1)
    rows = np.abs(E).max(axis=1) if penalty == "l1" else np.linalg.norm(E, axis=1)
    return a, float(rows @ reach) / problem.n


def limit_certificate(problem: LimitProblem, directions: np.ndarray, V: np.ndarray,
                      C: np.ndarray, *,
                      Z: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...] | None = None,
                      exact: "bool | None" = None, **oracle_options: Any) -> tuple:
    """The certificate of (V, C) on ``directions`` against the infinite-width optimum.

    Runs :func:`~limitsolver.certificate.certify` with ``sup_norm`` the oracle's sup over Θ
    replaced by its certified upper end ``SupResult.upper`` (the exact sup inflated by
    ``SUP_SAFETY``, or the branch-and-bound bound): the dual candidate scaled by λ / upper
    is feasible for the continuous problem, so ``certificate.dual`` is a certified lower
    bound on OPT in every dimension.

    Parameters
    ----------
    directions : ndarray (M, d+1);  V : ndarray (M, T);  C : ndarray (p, T)
    Z : ndarray (n, T) or list of them, optional
        Dual candidates (the residual of (V, C) is always added, except for interpolation,
        which needs the solver's multipliers here).

    Returns
    -------
    certificate : Certificate
    sup : SupResult
        The oracle's result for the candidate that gave the bound (or the last one tried).
    """
    from .certificate import certify, primal_value
    from .losses import get_loss
    from .oracle import sup_correlation
    raw = [] if Z is None else ([Z] if isinstance(Z, np.ndarray) else list(Z))
    if problem.loss != "interpolate":
        _, pred = primal_value(problem, directions, V, C)
        raw = raw + [get_loss(problem.loss).residual(pred, problem.Y)]
    seen = []
    penalty = oracle_options.get("penalty") or problem.penalty

    def sup_norm(Zc):
        # a candidate nearly parallel to one already seen (the grid dual point is a scaled
        # residual): bounded through the one seen, without a second oracle call
        for Zp, Sp, res in seen:
            short = shortcut_sup_bound(problem, Zc, Zp, Sp, penalty=penalty)
            if short is not None and short[1] <= 1e-10 * short[0] * Sp:
                S = short[0] * Sp + short[1]
                seen.append((Zc, S, res))
                return S
        opts = dict(oracle_options)
        if len(directions):
            opts.setdefault("seeds", directions)
        res = sup_correlation(problem, Zc, exact=exact, **opts)
        S = res.upper
        seen.append((Zc, S, res))
        return S

    cert = certify(problem, directions, V, C, Z=raw or None, sup_norm=sup_norm)
    match = [res for _, S, res in seen if S == cert.max_correlation]
    sup = match[0] if match else (seen[-1][2] if seen else None)
    if sup is None:  # no usable candidate: the bound is 0 (Z = 0); report the residual's sup
        sup = sup_correlation(problem, cert.dual_point, exact=exact, **oracle_options)
    return cert, sup
