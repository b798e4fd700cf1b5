"""`solve_problem`: one limit problem on a fixed direction grid, solved, polished, certified.

The grid problem (MATH.md, "Discretization and certificates")::

    minimize_{V, C}  L(Φ V + F C) + λ Σ_j ‖V_j‖,    Φ_ij = relu(θ_j·x̃_i),

over the M directions θ_j of the grid. The backends of the fallback chain
(:func:`~limitsolver.solvers.solver_chain`) are tried in order; each result is certified on
the whole grid (:func:`~limitsolver.certificate.certify`, free part refit), conic results
are polished on their thresholded support (kept only when certified as well), and the best
point by :func:`~limitsolver.scores.score` is returned with a status that agrees with its
certificate (:mod:`limitsolver.status`). Nothing here moves neurons off the grid: that is
:mod:`limitsolver.refine`, which calls this module.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .budget import expired, make_deadline
from .certificate import (Certificate, certify, dual_candidate, fit_free_part, lam_max,
                          support_dual)
from .exceptions import ConvergenceWarning
from .features import features_matvec
from .penalties import get_penalty
from .pricing import shared_store
from .problem import LimitProblem
from .scores import INTERPOLATION_TOL, score
from .solution import LimitSolution
from .solvers import SolverFailed, SolverResult, run_solver, solver_chain
from .solvers.polish import polish as polish_result
from .status import set_status

__all__ = ["solve_problem", "zero_solution", "score", "INTERPOLATION_TOL", "ZERO_TOL",
           "NEAR_TOL", "TARGET_RANGE", "DEFAULT_TOL"]

#: The default ``tol`` of ``solve``, ``solve_problem`` and ``limit_path``: the target
#: relative duality gap of the grid certificate.
DEFAULT_TOL = 1e-8

#: The closed-form solution for λ ≥ λ_max is labelled optimal when its certified relative
#: gap (0 up to rounding) is at most this.
ZERO_TOL = 1e-8

#: A backend that reports convergence ends the fallback chain when its certified relative
#: gap is within this factor of ``tol``; beyond it the next backend is tried.
NEAR_TOL = 1e3

#: Targets with max|Y| outside this range are solved at unit scale and mapped back
#: (squared loss and interpolation are exactly homogeneous in (Y, V, C, λ)).
TARGET_RANGE = (1e-2, 1e2)


def _check_tol(tol: Any) -> float:
    """``tol`` as a float in (0, 1) (a relative duality gap), or a ValueError."""
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}") from None
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol is a relative duality gap and must lie in (0, 1), got {tol!r}")
    return tol


def solve_problem(problem: LimitProblem, grid: np.ndarray, *, solver: str = "auto",
                  tol: float = DEFAULT_TOL, warm_start: LimitSolution | None = None,
                  polish: bool = True, verbose: bool = False, max_time: float | None = None,
                  deadline: float | None = None, **solver_options: Any) -> LimitSolution:
    """Solve a validated :class:`LimitProblem` on the direction set ``grid`` (M × (d+1)).

    ``max_time`` (seconds; None: ``budget.DEFAULT_MAX_TIME``) or an absolute ``deadline``
    (a ``time.monotonic()`` value; the earlier of the two counts) bounds the call: the
    backends stop at their first check past it, no further backend of the fallback chain
    is started, and the best certified point is returned with ``info["timed_out"] = True``
    and a ConvergenceWarning. The status speaks of the grid gap (:mod:`limitsolver.status`).
    For λ ≥ λ_max the closed form :func:`zero_solution` is returned.
    """
    tol = _check_tol(tol)
    deadline = make_deadline(max_time, deadline)
    t_budget = time.monotonic()
    if warm_start is not None and not isinstance(warm_start, LimitSolution):
        raise ValueError(f"warm_start must be a LimitSolution (a previous solve), got "
                         f"{type(warm_start).__name__}")
    if problem.penalty not in ("group", "l1"):
        raise ValueError(f"penalty={problem.penalty!r} has no grid problem; "
                         "solve_problem takes penalty='group' or 'l1'")
    directions = problem.check_directions(grid)
    chain = solver_chain(solver, problem)
    # one feature store for the λ_max check, the solver's pricing and the certificate
    with shared_store(problem.Xt, directions):
        return _solve_on_grid(problem, directions, chain, tol=tol, warm_start=warm_start,
                              polish=polish, verbose=verbose, deadline=deadline,
                              t_budget=t_budget, **solver_options)


def _solve_on_grid(problem, directions, chain, *, tol, warm_start, polish, verbose,
                   deadline, t_budget, **solver_options) -> LimitSolution:
    """The body of :func:`solve_problem` once its arguments are validated (``deadline``
    an absolute ``time.monotonic()`` value, ``t_budget`` the time it was set): the
    fallback chain, then the solution of the best certified point."""
    if _zero_is_optimal(problem, directions):
        return zero_solution(problem, directions)
    t0 = time.perf_counter()
    scale = _target_scale(problem)
    inner = _scaled(problem, scale)
    if scale != 1.0:
        warm_start = None
    failures, best, result, timed_out = [], None, None, False
    for name in chain:
        if best is not None and expired(deadline):
            timed_out = True
            break
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = run_solver(name, inner, directions, tol=tol, warm_start=warm_start,
                                 verbose=verbose, deadline=deadline, **solver_options)
        except SolverFailed as exc:
            failures.append(f"{name}: {exc}")
            continue
        finally:
            _pass_on(caught)
        res = _unscaled(res, scale)
        why = _unusable(problem, res)
        if why:
            failures.append(f"{name}: {why}")
            continue
        timed_out = timed_out or bool(res.info.get("timed_out"))
        cand, res = _best_of_polish(problem, directions, res, polish=polish, tol=tol,
                                    deadline=deadline)
        if best is None or score(problem, cand[2]) < score(problem, best[2]):
            best, result = cand, res
        gap = score(problem, cand[2])
        if gap <= tol or (res.status == "optimal" and gap <= NEAR_TOL * tol):
            break
        failures.append(f"{name}: status {res.status}, certified relative gap "
                        f"{cand[2].rel_gap:.2e}" + _stopped(res))
    if best is None:
        if expired(deadline):
            failures.append(f"time limit of {deadline - t_budget:.3g} s reached")
        raise SolverFailed("no backend produced a usable point: " + "; ".join(failures))
    if failures and len(chain) > 1:
        warnings.warn("solver fallback: " + "; ".join(failures), RuntimeWarning, stacklevel=4)
    timed_out = timed_out and score(problem, best[2]) > tol
    sol = _grid_solution(problem, directions, best, result, failures=failures, scale=scale,
                         timed_out=timed_out, elapsed=time.perf_counter() - t0)
    if set_status(sol, tol, "grid") != "optimal":
        why = (f"time limit of {deadline - t_budget:.3g} s reached" if timed_out
               else f"backend status {result.status!r}" + _stopped(result))
        cert = sol.certificate
        warnings.warn(
            f"{result.solver}: certified relative duality gap {cert.rel_gap:.3e} "
            f"(absolute {cert.gap:.3e}, interpolation residual {cert.infeasibility:.1e}) "
            f"exceeds tol={tol:g}; {why}",
            ConvergenceWarning, stacklevel=4)
    return sol


def _pass_on(caught: list) -> None:
    """Re-issue a backend's warnings, except its ConvergenceWarnings: the status of the
    result is decided here from the certificate, and a result that is not certified to
    tolerance gets one ConvergenceWarning below (with the backend's reason,
    :func:`_stopped`); a certified one needs none."""
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                   source=w.source)


def _stopped(res: SolverResult) -> str:
    """The backend's own reason for stopping (``info["stopped"]``), as a suffix."""
    why = res.info.get("stopped") if isinstance(res.info, dict) else None
    return f" ({why})" if why and why != "tol" else ""


def _unscaled(res: SolverResult, scale: float) -> SolverResult:
    """A backend result on targets Y/c mapped back to Y: (V, C, Z) multiplied by c."""
    if scale != 1.0:
        res.V = np.asarray(res.V, dtype=float) * scale
        res.C = np.asarray(res.C, dtype=float) * scale
        res.Z = [np.asarray(z, dtype=float) * scale for z in res.Z]
    return res


def _unusable(problem, res: SolverResult) -> str:
    """Why a backend result cannot be used ("" when it can); a ValueError when the
    interpolation constraints are reported infeasible (no backend can do better)."""
    if res.status == "infeasible" and problem.loss == "interpolate":
        raise ValueError("the data cannot be interpolated on this grid (the solver "
                         "reports the equality constraints infeasible)")
    if res.status == "failed":
        return "status failed"
    if not (np.all(np.isfinite(res.V)) and np.all(np.isfinite(res.C))):
        return "returned non-finite weights"
    return ""


def _best_of_polish(problem, directions, res, *, polish, tol, deadline):
    """((V, C, Certificate), result) of a backend result, or of its polished re-solve
    (:func:`~limitsolver.solvers.polish.polish`, conic backends only) when that is
    certified at least as well (or to ``tol``)."""
    cand = _certified(problem, directions, res, tol=tol)
    if polish and res.solver != "native":
        pol = polish_result(problem, directions, res, tol=tol, deadline=deadline)
        if pol is not None:
            cand_p = _certified(problem, directions, pol, tol=tol)
            if score(problem, cand_p[2]) <= max(score(problem, cand[2]), tol):
                return cand_p, pol
    return cand, res


def _grid_solution(problem, directions, best, result, *, failures, scale, timed_out,
                   elapsed) -> LimitSolution:
    """The LimitSolution of the chosen point (status still to be set)."""
    V, C, cert = best
    info = dict(result.info)
    info["time_total"] = elapsed
    info["grid_size"] = int(directions.shape[0])
    if failures:
        info["fallbacks"] = failures
    info["backend_status"] = result.status
    if scale != 1.0:
        info["target_scale"] = scale
    if timed_out:
        info["timed_out"] = True
    active = get_penalty(problem.penalty).row_norms(V) > 0
    return LimitSolution(problem, directions[active], V[active], C, cert,
                         status="inaccurate", solver=result.solver, grid=directions,
                         info=info, grid_weights=V)


def zero_solution(problem: LimitProblem, directions: np.ndarray) -> LimitSolution:
    """The exact solution for λ ≥ λ_max: no neurons, the free part fitted alone, certified
    on ``directions`` (M, d+1) by :func:`~limitsolver.certificate.certify` (gap 0 up to
    rounding; "optimal" when its relative gap is ≤ ``ZERO_TOL``)."""
    V = np.zeros((directions.shape[0], problem.T))
    C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
    # (for interpolation the caller has checked that the free part fits Y exactly)
    cert = certify(problem, directions, V, C)
    sol = LimitSolution(problem, directions[:0], V[:0], C, cert, status="inaccurate",
                        solver="closed-form", grid=directions, grid_weights=V,
                        info={"grid_size": int(directions.shape[0]), "lam_ge_lam_max": True})
    set_status(sol, ZERO_TOL, "grid")
    return sol


def _zero_is_optimal(problem, directions) -> bool:
    """λ ≥ λ_max on the grid, or for interpolation a free part that fits Y exactly."""
    if problem.loss == "interpolate":
        if problem.F.shape[1] == 0:
            return not np.any(problem.Y)
        C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
        fit = float(np.max(np.abs(problem.F @ C - problem.Y)))
        return fit <= 1e-12 * max(1.0, float(np.max(np.abs(problem.Y))))
    return problem.lam >= lam_max(problem, directions)


def _target_scale(problem) -> float:
    """The factor c by which Y is divided before the backends see it (1 when not needed)."""
    if problem.loss == "logistic":
        return 1.0
    m = float(np.abs(problem.Y).max())
    if m == 0.0 or TARGET_RANGE[0] <= m <= TARGET_RANGE[1]:
        return 1.0
    return m


def _scaled(problem, c: float):
    """The problem with targets Y/c and λ/c, whose solution (V, C) maps back to (cV, cC)
    with objective c² J (squared loss) or c J (interpolation)."""
    if c == 1.0:
        return problem
    new = problem.with_lam(problem.lam / c)
    new.Y = problem.Y / c
    return new


def _certified(problem, directions, res, *, tol=0.0) -> tuple[np.ndarray, np.ndarray,
                                                              Certificate]:
    """(V, C, Certificate) of a backend result; for the
    squared and logistic losses, the free part refit optimally for the given V.

    When the plain certificate misses ``tol``, the dual candidate corrected to meet the
    support conditions exactly (:func:`~limitsolver.certificate.support_dual`) is tried as
    well: near interpolation the primal point is optimal far below the accuracy with which
    its residual's correlations hit λ, and only the corrected candidate shows it."""
    V = np.array(res.V, dtype=float)
    C = np.array(res.C, dtype=float)
    FV = features_matvec(problem.Xt, directions, V)
    if problem.loss != "interpolate" and problem.F.shape[1]:
        C = fit_free_part(problem, FV, C0=C)
    Z = list(res.Z) or None
    if problem.loss == "interpolate" and Z:
        # interior-point multipliers made exact on the support (an extra candidate)
        Z = Z + [support_dual(problem, directions, V, Z[-1])]
    pred = FV + problem.F @ C
    cert = certify(problem, directions, V, C, Z=Z, pred=pred)
    if problem.loss != "interpolate" and score(problem, cert) > tol:
        Z0 = dual_candidate(problem, pred)      # the residual, already scored in ``cert``
        fixed = certify(problem, directions, V, C, pred=pred,
                        Z=support_dual(problem, directions, V, Z0))
        if fixed.dual > cert.dual:
            cert = fixed
    return V, C, cert
