"""`score`: the one number by which a certified grid point is judged.

Every place that compares or grades grid points (the fallback chain of
:func:`~limitsolver.gridsolve.solve_problem`, the refinement's working-set solves,
:mod:`limitsolver.status`) reads the same number from a
:class:`~limitsolver.certificate.Certificate`: its certified relative duality gap, clipped
at 0, or +inf when the point is unusable (a non-finite gap, or for ``loss="interpolate"`` a
point that does not fit the data).
"""
from __future__ import annotations

import numpy as np

from .certificate import Certificate
from .problem import LimitProblem

__all__ = ["score", "INTERPOLATION_TOL"]

#: Largest interpolation residual, relative to max(1, max|Y|), that still counts as an
#: exact fit.
INTERPOLATION_TOL = 1e-7


def score(problem: LimitProblem, cert: Certificate) -> float:
    """The certified relative gap ``max(cert.rel_gap, 0)``, or +inf when it is not finite
    or, for interpolation, when ``cert.infeasibility > INTERPOLATION_TOL · max(1, max|Y|)``.

    Lower is better; a point with score ≤ tol is certified to ``tol``.
    """
    if problem.loss == "interpolate":
        scale = max(1.0, float(np.abs(problem.Y).max()))
        if cert.infeasibility > INTERPOLATION_TOL * scale:
            return np.inf
    if not np.isfinite(cert.rel_gap):
        return np.inf
    return max(float(cert.rel_gap), 0.0)
