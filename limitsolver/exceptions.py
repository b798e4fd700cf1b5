"""Warnings and errors of limitsolver."""

__all__ = ["ConvergenceWarning", "SolverFailed"]

from .solvers.base import SolverFailed


class ConvergenceWarning(UserWarning):
    """A result whose certified duality gap exceeds the requested tolerance."""
