"""Polishing: threshold the support of a grid solution and re-solve on it exactly.

First-order backends (SCS) and interior-point backends leave tiny nonzero weights on every
grid direction. Polishing keeps the rows with ‖V_j‖ > ``rel_threshold`` · max_j ‖V_j‖ and
re-solves the restricted problem with an accurate small solver (the native solver where it
applies, else Clarabel), so the result is exactly sparse. The caller keeps the polished
point only if its certificate on the *full* grid is as good (see :func:`limitsolver.gridsolve.solve_problem`).
"""
from __future__ import annotations

import numpy as np

from ..budget import expired, remaining
from ..features import relu_features
from ..penalties import get_penalty
from ..problem import LimitProblem
from .base import SolverFailed, SolverResult
from .conic import ConicModel

__all__ = ["polish"]


def polish(problem: LimitProblem, directions: np.ndarray, result: SolverResult, *, tol: float,
           rel_threshold: float = 1e-6, deadline: float | None = None) -> SolverResult | None:
    """Restricted re-solve on the thresholded support; ``None`` if it cannot be done.

    A row is kept when its contribution ‖Φ_j‖·‖V_j‖ exceeds ``rel_threshold`` times the
    largest one and 1e-9·‖Y‖ (so interior-point round-off around V = 0 is dropped).
    ``deadline`` (``time.monotonic()`` value) is passed to the restricted re-solve; past it
    nothing is done (``None`` is returned).
    """
    if expired(deadline):
        return None
    norms = get_penalty(problem.penalty).row_norms(result.V)
    if not norms.size or float(norms.max()) <= 0.0:
        return None
    col = np.linalg.norm(relu_features(problem.Xt, directions), axis=0)
    contrib = col * norms
    floor = 1e-9 * float(np.linalg.norm(problem.Y))
    keep = contrib > max(rel_threshold * float(contrib.max()), floor)
    if keep.all():
        return None
    if not keep.any():
        return SolverResult(V=np.zeros_like(result.V), C=np.zeros_like(result.C),
                            status=result.status, solver=result.solver, Z=list(result.Z),
                            info=dict(result.info, polished_support=0))
    sub = directions[keep]
    from . import native_supports, run_solver   # the package imports this module's users
    try:
        if native_supports(problem):
            res = run_solver("native", problem, sub, tol=min(tol, 1e-10), deadline=deadline)
        else:
            limit = {} if deadline is None else {"time_limit": remaining(deadline)}
            res = ConicModel(problem, sub).solve(problem.lam, "CLARABEL", min(tol, 1e-10),
                                                 **limit)
    except SolverFailed:
        return None
    if res.status not in ("optimal", "inaccurate"):
        return None
    V = np.zeros_like(result.V)
    V[keep] = res.V
    info = dict(result.info)
    info["polished_support"] = int(keep.sum())
    return SolverResult(V=V, C=res.C, status=result.status, solver=result.solver,
                        Z=list(result.Z) + list(res.Z), info=info)
