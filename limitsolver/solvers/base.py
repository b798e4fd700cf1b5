"""What every backend returns, and the shared statuses."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SolverResult", "STATUSES", "SolverFailed"]

#: Shared statuses: ``optimal`` (the backend reports convergence), ``inaccurate`` (it stopped
#: with reduced accuracy), ``failed`` (no usable point), ``infeasible``.
STATUSES = ("optimal", "inaccurate", "failed", "infeasible")


class SolverFailed(RuntimeError):
    """A backend could not produce a usable point."""


@dataclass
class SolverResult:
    """Raw output of a backend on a grid problem.

    Attributes
    ----------
    V : ndarray (M, T)      output weights on the grid directions.
    C : ndarray (p, T)      free-part coefficients.
    status : str            one of :data:`STATUSES`.
    solver : str            backend name.
    Z : list of ndarray (n, T)
        Dual candidates from the backend (e.g. equality multipliers for interpolation).
    info : dict             iterations, timings, anything the backend reports.
    """

    V: np.ndarray
    C: np.ndarray
    status: str
    solver: str
    Z: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
