"""The support-corrected dual candidate of the working-set loop's certificate."""
from __future__ import annotations

import numpy as np

from ..certificate import Certificate, certify, project_free, support_dual
from ..losses import get_loss
from ..penalties import get_penalty
from ..pricing import FeatureStore
from ..problem import LimitProblem

__all__ = ["support_dual_retry", "SUPPORT_DUAL_SLACK"]

#: The support-corrected dual candidate is tried once the grid's max correlation is within
#: this factor of λ (the support is then final up to rounding) and the plain gap is > tol.
SUPPORT_DUAL_SLACK = 1e-4


def support_dual_retry(problem: LimitProblem, dirs: np.ndarray, W: np.ndarray, VW: np.ndarray,
                       C: np.ndarray, Z: np.ndarray, pred: np.ndarray, cert: Certificate,
                       sup: float, pricer: FeatureStore) -> Certificate:
    """The better of ``cert`` and the certificate of the support-corrected dual candidate.

    Near interpolation (λ ≪ λ_max) the restricted problem is flat along the null space of
    the support's Gram matrix: the primal value is optimal to ~1e-12 while the residual's
    correlations still miss λ by ~1e-8, and the scaled residual cannot certify below that.
    The candidate corrected to meet the support conditions exactly
    (:func:`~limitsolver.certificate.support_dual`), priced over every direction (so the
    bound stays rigorous, screened directions included), can. Tried only once the grid sup
    is within :data:`SUPPORT_DUAL_SLACK` of λ.

    W, VW : working-set rows and their weights;  C : free part;  Z : the (projected)
    residual candidate;  pred : predictions Φ V + F C;  sup : the residual's max dual norm.
    """
    if not W.size or sup > problem.lam * (1.0 + SUPPORT_DUAL_SLACK):
        return cert
    # projected as certify projects it (free part, the loss's own constraints), so that
    # the sup priced here is the sup at the candidate certify scales
    Zs = get_loss(problem.loss).project_dual(
        project_free(problem, support_dual(problem, dirs[W], VW, Z)))
    S_s = pricer.dual_norms_and_sup(Zs, get_penalty(problem.penalty))[1]
    cert_s = certify(problem, dirs[W], VW, C, Z=Zs, pred=pred, sup_norm=lambda _, s=S_s: s)
    return cert_s if cert_s.dual > cert.dual else cert
