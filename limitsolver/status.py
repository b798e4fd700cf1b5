"""What a status means, decided in one place.

A solution's ``status`` is ``"optimal"`` iff the certificate it carries for the problem it
claims to solve meets ``tol``; otherwise ``"inaccurate"``. Which problem it claims:

- ``basis="grid"`` — a plain grid solve claims the grid problem: its relative grid gap
  (objective − dual_value) / max(|objective|, ROUNDING · J_ref) must be ≤ tol;
- ``basis="limit"`` — a refined solution claims the infinite-width problem: its relative
  limit gap (objective − lower_bound) / max(|objective|, ROUNDING · J_ref) must be ≤ tol,
  and the lower bound must be certified (``LimitSolution.limit_certified``: an exact sup
  over Θ, or a rigorous upper bound on it; a sampled estimate never makes a solution
  optimal). The inner grid solves' verdicts play no part.

For ``loss="interpolate"`` a point whose interpolation residual exceeds
``scores.INTERPOLATION_TOL`` · max(1, max|Y|) is never optimal, on either basis.
The basis is recorded in ``solution.info["status_basis"]`` and the tolerance in
``solution.info["status_tol"]``.
"""
from __future__ import annotations

import numpy as np

from .solution import LimitSolution

__all__ = ["BASES", "certified_gap", "regrade", "relative_limit_gap", "set_status"]

BASES = ("grid", "limit")


def relative_limit_gap(solution: LimitSolution) -> float:
    """(objective − lower_bound) / max(|objective|, ROUNDING · J_ref); +inf without a bound."""
    from .certificate import ROUNDING, reference_value
    if solution.lower_bound is None or not np.isfinite(solution.lower_bound):
        return np.inf
    scale = max(abs(solution.objective), ROUNDING * reference_value(solution.problem), 1e-300)
    return float(solution.objective - solution.lower_bound) / scale


def certified_gap(solution: LimitSolution, basis: str) -> float:
    """The certified relative gap that ``basis`` speaks of (+inf when there is none)."""
    from .scores import score
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    grid = score(solution.problem, solution.certificate)
    if basis == "grid" or not np.isfinite(grid):
        return grid
    if not solution.limit_certified:
        return np.inf
    return max(relative_limit_gap(solution), 0.0)


def set_status(solution: LimitSolution, tol: float, basis: str) -> str:
    """Set ``solution.status`` from its own certificate (module docstring); returns it."""
    gap = certified_gap(solution, basis)
    solution.status = "optimal" if gap <= tol else "inaccurate"
    solution.info["status_basis"] = basis
    solution.info["status_tol"] = float(tol)
    return solution.status


def regrade(new: LimitSolution, old: LimitSolution) -> str:
    """Status of ``new``, a point derived from ``old`` (moved atoms, re-fitted weights) with a
    certificate of its own: decided from that certificate on the grid basis (its atom set),
    at the tolerance ``old`` was judged by — never copied from ``old``."""
    return set_status(new, old.info.get("status_tol", 1e-8), "grid")
