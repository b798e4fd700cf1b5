"""Backends for the grid problem, behind one interface.

Every backend is a function ``(problem, directions, *, tol, warm_start, verbose, **options)
-> SolverResult``. Names: ``"native"`` (our working-set solver, where it supports the
problem) and any installed cvxpy solver (``"clarabel"``, ``"scs"``, ``"ecos"``, ...).
``solver="auto"`` tries the native solver first where it applies, then the conic backends
in :data:`~limitsolver.solvers.conic.PREFERENCE` order, falling back on failure.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..problem import LimitProblem
from . import native as _native_mod
from .base import STATUSES, SolverFailed, SolverResult
from .conic import PREFERENCE, installed_conic_solvers, solve_conic

__all__ = ["SolverResult", "SolverFailed", "STATUSES", "available_solvers", "solver_chain",
           "run_solver", "native_supports", "solver_capabilities", "PROBLEM_CLASSES"]


def native_supports(problem: LimitProblem) -> bool:
    """Whether the native solver handles this problem's loss/penalty/bias/free options
    (decided from the loss and penalty protocols: :func:`.native.supports`)."""
    return bool(_native_mod.supports(problem))


#: The cone class each grid problem (loss, penalty) needs: the group norm is a second-order
#: cone, the logistic and multinomial losses an exponential cone, the squared loss with the l1 penalty a
#: quadratic program, and interpolation with the l1 penalty a linear program.
PROBLEM_CLASSES = {("squared", "group"): "SOC", ("squared", "l1"): "QP",
                   ("logistic", "group"): "EXP", ("logistic", "l1"): "EXP",
                   ("multinomial", "group"): "EXP", ("multinomial", "l1"): "EXP",
                   ("interpolate", "group"): "SOC", ("interpolate", "l1"): "LP"}


#: Problems a backend's cones cover but on which it fails numerically, measured: ECOS (and
#: ECOS_BB, the same interior) stops with "Solver 'ECOS' failed" on small softmax problems with the l1 penalty (e.g. 6 points
#: in 1-D, every label pattern tried; ``tests/test_trust_io.py``), while Clarabel and SCS
#: solve them. Such pairs are not claimed and ``auto`` skips the backend for them.
UNRELIABLE = {("ECOS", "multinomial", "l1"), ("ECOS_BB", "multinomial", "l1")}


def _conic_classes(name: str) -> set:
    """Problem classes a cvxpy solver handles, from the cones cvxpy says it supports: LP
    always for a conic solver; QP for a QP solver or a conic one with second-order cones
    (cvxpy rewrites the square); SOC and EXP when it has those cones."""
    try:
        from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC, SOLVER_MAP_QP
    except ImportError:  # pragma: no cover - layout of another cvxpy version
        return {"LP", "QP", "SOC", "EXP"} if name in PREFERENCE else set()
    classes = set()
    conic = SOLVER_MAP_CONIC.get(name)
    if conic is not None:
        cones = {c.__name__ for c in getattr(conic, "SUPPORTED_CONSTRAINTS", ())}
        classes.add("LP")
        if "SOC" in cones:
            classes |= {"QP", "SOC"}
        if "ExpCone" in cones:
            classes.add("EXP")
    if name in SOLVER_MAP_QP:
        classes |= {"LP", "QP"}
    return classes


def solver_capabilities() -> dict:
    """{solver name: [(loss, penalty), ...]}: the grid problems each usable backend on
    this machine can solve (``"auto"``: all of them, falling back between backends;
    ``"native"``: the pairs :func:`.native.supports` accepts). Backends that can solve
    none are left out."""
    problems = list(PROBLEM_CLASSES)
    caps = {"auto": problems}
    caps["native"] = [lp for lp in problems if _native_mod.handles(*lp)]
    for name in installed_conic_solvers():
        classes = _conic_classes(name)
        handled = [lp for lp in problems if PROBLEM_CLASSES[lp] in classes
                   and (name, *lp) not in UNRELIABLE]
        if handled:
            caps[name.lower()] = handled
    return caps


def available_solvers() -> list[str]:
    """Solver names that ``solve(..., solver=...)`` can use on this machine: ``"auto"``,
    ``"native"`` and the installed cvxpy solvers able to solve at least one of the grid
    problems. Which (loss, penalty) pairs each handles: :func:`solver_capabilities`."""
    return list(solver_capabilities())


def solver_chain(solver: str, problem: LimitProblem) -> list[str]:
    """The backends to try, in order, for ``solver`` on ``problem``."""
    if not isinstance(solver, str):
        raise ValueError(f"solver must be a string, got {solver!r}")
    name = solver.lower()
    if name == "auto":
        installed = set(installed_conic_solvers())
        chain = ["native"] if native_supports(problem) else []
        return chain + [s.lower() for s in PREFERENCE if s in installed
                        and (s, problem.loss, problem.penalty) not in UNRELIABLE]
    if name == "native":
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
    key = (problem.loss, problem.penalty)
    if key in PROBLEM_CLASSES and key not in solver_capabilities().get(name, []):
        able = [s for s, handled in solver_capabilities().items() if key in handled]
        raise ValueError(
            f"solver {solver!r} cannot solve loss={problem.loss!r} with "
            f"penalty={problem.penalty!r} (a {PROBLEM_CLASSES[key]} problem); solvers that "
            f"can: {', '.join(able)}")
    return [name]


def run_solver(name: str, problem: LimitProblem, directions: np.ndarray, *, tol: float,
               warm_start: Any = None, verbose: bool | int = False,
               deadline: float | None = None, **options: Any) -> SolverResult:
    """Run one backend by name. ``deadline`` (a ``time.monotonic()`` value or None): the
    backend stops at its first check past it and returns its current point with
    ``info["timed_out"] = True``."""
    if name == "native":
        return _native_mod.solve_native(problem, directions, tol=tol, warm_start=warm_start,
                                      verbose=verbose, deadline=deadline, **options)
    return solve_conic(problem, directions, solver=name, tol=tol, verbose=verbose,
                       deadline=deadline, **options)
