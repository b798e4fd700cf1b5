"""Backends for the grid problem, behind one interface.

Every backend is a function ``(problem, directions, *, tol, warm_start, verbose, **options)
-> SolverResult``. Names: ``"native"`` (our working-set solver, where it supports the
problem) and any installed cvxpy solver (``"clarabel"``, ``"scs"``, ``"ecos"``, ...).
``solver="auto"`` tries the native solver first where it applies, then the conic backends
in :data:`~limitsolver.solvers.conic.PREFERENCE` order, falling back on failure.
"""
from __future__ import annotations

import importlib

from .base import STATUSES, SolverFailed, SolverResult
from .conic import PREFERENCE, installed_conic_solvers, solve_conic

__all__ = ["SolverResult", "SolverFailed", "STATUSES", "available_solvers", "solver_chain",
           "run_solver", "native_supports"]


def _native():
    try:
        return importlib.import_module(".native", __name__)
    except ImportError:
        return None


def native_supports(problem) -> bool:
    """Whether the native solver handles this problem's loss/penalty/bias/free options."""
    mod = _native()
    return bool(mod is not None and mod.supports(problem))


def available_solvers() -> list[str]:
    """Solver names accepted by ``solve(..., solver=...)`` on this machine."""
    names = ["auto"]
    if _native() is not None:
        names.append("native")
    return names + [s.lower() for s in installed_conic_solvers()]


def solver_chain(solver: str, problem) -> list[str]:
    """The backends to try, in order, for ``solver`` on ``problem``."""
    if not isinstance(solver, str):
        raise ValueError(f"solver must be a string, got {solver!r}")
    name = solver.lower()
    if name == "auto":
        installed = set(installed_conic_solvers())
        chain = ["native"] if native_supports(problem) else []
        return chain + [s.lower() for s in PREFERENCE if s in installed]
    if name == "native":
        if _native() is None:
            raise ValueError("the native solver is not available in this build")
        if not native_supports(problem):
            raise ValueError(
                f"the native solver does not support loss={problem.loss!r}, "
                f"penalty={problem.penalty!r}; use solver='auto' or a conic solver")
        return ["native"]
    installed = installed_conic_solvers()
    if name.upper() not in installed:
        raise ValueError(
            f"unknown or uninstalled solver {solver!r}; available here: "
            f"{', '.join(available_solvers())}")
    return [name]


def run_solver(name: str, problem, directions, *, tol: float, warm_start=None,
               verbose=False, deadline=None, **options) -> SolverResult:
    """Run one backend by name. ``deadline`` (a ``time.monotonic()`` value or None): the
    backend stops at its first check past it and returns its current point with
    ``info["timed_out"] = True``."""
    if name == "native":
        return _native().solve_native(problem, directions, tol=tol, warm_start=warm_start,
                                      verbose=verbose, deadline=deadline, **options)
    return solve_conic(problem, directions, solver=name, tol=tol, verbose=verbose,
                       deadline=deadline, **options)
