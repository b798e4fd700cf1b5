"""The scale every relative duality gap is measured against (one formula for all certificates).

For a primal value J, a dual value D ≤ OPT and J_ref the objective's natural scale (the
loss of the zero predictor, ``reference_value`` of the loss; max|Y| for interpolation)::

    rel_gap = (J − D) / max(|J|, ROUNDING · J_ref, 1e-300)

so that an optimum of 0 (a free part that fits the data) is certified at rounding level
instead of dividing by zero. This module imports nothing from the package: the full-grid
certificate (:mod:`limitsolver.certificate`) and the restricted solvers' stopping rules both
use it.
"""
from __future__ import annotations

__all__ = ["ROUNDING", "relative_gap"]

#: Relative gaps are measured against max(|J|, ROUNDING · J_ref), J_ref the objective's
#: natural scale, so that an optimum of 0 is certified at rounding level.
ROUNDING = 1e-13


def relative_gap(primal: float, dual: float, reference: float) -> float:
    """(primal − dual) / max(|primal|, ROUNDING · reference, 1e-300)."""
    return (primal - dual) / max(abs(primal), ROUNDING * reference, 1e-300)
