"""Warnings and errors of limitsolver."""

__all__ = ["ConvergenceWarning", "LimitGapWarning", "SolverFailed"]

from .solvers.base import SolverFailed


class ConvergenceWarning(UserWarning):
    """A result whose certified duality gap exceeds the requested tolerance."""


class LimitGapWarning(ConvergenceWarning):
    """A solution whose distance to the infinite-width optimum (its limit gap) exceeds the
    requested tolerance, or is only estimated (no certified lower bound on OPT)."""
