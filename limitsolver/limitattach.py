"""The limit lower bound of a :class:`~limitsolver.solution.LimitSolution`: the certificate
on all of Θ (:func:`limitsolver.limitcert.limit_certificate`, the dual candidate scaled by the
oracle's certified upper end of sup_θ ‖c(θ)‖) stored on the solution as ``lower_bound``,
``limit_gap`` and ``lower_bound_exact``, with how it was certified in ``info``; and the one
warning (:func:`warn_limit_gap`) a solution whose limit gap is above ``tol`` or only
estimated issues.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .limitcert import limit_certificate
from .solution import LimitSolution
from .status import relative_limit_gap
from .suptools import SupResult

__all__ = ["attach_limit_certificate", "tighten_limit_certificate", "warn_limit_gap",
           "BOUND_QUICK_TIME"]

#: First-pass budget of :func:`attach_limit_certificate` with a ``target_rel_gap``.
BOUND_QUICK_TIME = 0.25


def attach_limit_certificate(solution: LimitSolution, *,
                             Z: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...]
                             | None = None,
                             exact: "bool | None" = None,
                             target_rel_gap: "float | None" = None,
                             **oracle_options: Any) -> "SupResult":
    """Set ``lower_bound``, ``limit_gap`` and ``lower_bound_exact`` on a LimitSolution.

    The dual candidates are the solution's grid dual point, any ``Z`` given, and (every loss
    but interpolation) the residual; the best bound is kept. ``lower_bound`` is always a certified
    lower bound on OPT; ``info`` records how: ``lower_bound_method`` ("exact" or
    "bounded"), ``sup_interval`` = (best value found, certified upper bound) of the sup
    behind it, and ``sup_rtol`` its relative width. Oracle options (``bound_rtol``,
    ``bound_max_time``, ...) are passed on. Returns the SupResult of the oracle.

    With ``target_rel_gap`` (refinement's tolerance) and a bounded oracle, a first pass
    runs with ``BOUND_QUICK_TIME``; the full budget is spent only when that bound misses
    the target while the estimate (the same dual point scaled with the best value found
    instead of the certified upper end; ``info["estimated_lower_bound"]``,
    ``info["estimated_limit_gap"]``) says the target may be reachable. Either way the
    stored ``lower_bound`` is certified.
    """
    from .oracle import sup_correlation
    if solution.problem.loss == "interpolate" and solution.objective == 0.0:
        # the free part interpolates: OPT = 0 exactly (a dual point would be rounding noise)
        solution.lower_bound, solution.limit_gap, solution.lower_bound_exact = 0.0, 0.0, True
        solution.info["limit_rel_gap"] = 0.0
        sup = sup_correlation(solution.problem, np.zeros_like(solution.problem.Y),
                              exact=exact, **oracle_options)
        _record_sup(solution, sup)
        solution.info["lower_bound_method"] = "exact"
        return sup
    Zs = [solution.certificate.dual_point]
    if Z is not None:
        Zs += [Z] if isinstance(Z, np.ndarray) else list(Z)
    def run(**extra):
        return limit_certificate(solution.problem, solution.atom_directions,
                                 solution.atom_weights, solution.free_coef, Z=Zs,
                                 exact=exact, **{**oracle_options, **extra})
    staged = (target_rel_gap is not None and "bound_max_time" not in oracle_options
              and not exact)
    cert, sup = run(bound_max_time=BOUND_QUICK_TIME) if staged else run()
    if not sup.exact:
        est = _estimated_dual(solution.problem, cert, sup)
        if staged and cert.rel_gap > target_rel_gap and est is not None and \
                (solution.objective - est) <= target_rel_gap * abs(solution.objective):
            cert, sup = run()
            est = _estimated_dual(solution.problem, cert, sup)
        if est is not None:
            solution.info["estimated_lower_bound"] = float(est)
            solution.info["estimated_limit_gap"] = float(solution.objective - est)
    solution.lower_bound = float(cert.dual)
    solution.limit_gap = float(solution.objective - cert.dual)
    solution.lower_bound_exact = bool(sup.exact)
    _record_sup(solution, sup)
    solution.info["limit_rel_gap"] = float(cert.rel_gap)
    return sup


#: The info keys that say how a lower bound was certified (kept with the bound).
_HOW = ("lower_bound_method", "sup_interval", "sup_rtol", "limit_rel_gap")


def tighten_limit_certificate(solution: LimitSolution, tol: float,
                              deadline: "float | None") -> LimitSolution:
    """Spend the time left before ``deadline`` (a ``time.monotonic()`` time) on the limit
    certificate when its certified relative gap misses ``tol`` while the estimate
    (``info["estimated_limit_gap"]``) says ``tol`` is reached: the oracle's branch and bound
    then runs with ``bound_rtol = tol / 2`` for 90 % of the time left. Of the two certified lower
    bounds (each valid on OPT) the larger is kept. Returns ``solution`` (changed in place);
    nothing is done without a deadline, without a certified bound, or when under
    ``2 · oracle.BOUND_MAX_TIME`` seconds are left."""
    from .oracle import BOUND_MAX_TIME
    if deadline is None or solution.lower_bound is None or not solution.limit_certified:
        return solution
    left = deadline - time.monotonic()
    est = solution.info.get("estimated_limit_gap")
    if relative_limit_gap(solution) <= tol or left <= 2 * BOUND_MAX_TIME or est is None \
            or est > tol * abs(solution.objective):
        return solution
    keep = (solution.lower_bound, solution.limit_gap, solution.lower_bound_exact,
            {k: solution.info[k] for k in _HOW if k in solution.info})
    # 10 % of what is left covers the last batch of boxes past the search's deadline
    attach_limit_certificate(solution, bound_max_time=0.9 * left, bound_rtol=tol / 2)
    if solution.lower_bound < keep[0]:
        solution.lower_bound, solution.limit_gap, solution.lower_bound_exact = keep[:3]
        solution.info.update(keep[3])
    rel = relative_limit_gap(solution)
    solution.info["limit_rel_gap"] = rel
    solution.info["limit_gap_certified"] = True
    solution.info["refine_converged"] = bool(solution.info.get("refine_converged")
                                             or rel <= tol)
    solution.info["certificate_tightened"] = True
    return solution


def _estimated_dual(problem, cert, sup):
    """The dual value of the certificate's dual point rescaled by upper / value (as if the
    sup were the best value found): an estimate, never a bound. None when undefined."""
    from .losses import get_loss
    if not (sup.value > 0 and np.isfinite(sup.upper)) or not np.any(cert.dual_point):
        return None
    loss = get_loss(problem.loss)
    Zd = cert.dual_point
    f = sup.upper / sup.value
    if not loss.dual_feasible(f * Zd, problem.Y):
        return None
    return max(float(loss.dual_value(f * Zd, problem.Y)), float(cert.dual))


def _record_sup(solution, sup):
    """How the lower bound was certified, in ``solution.info``."""
    solution.info["limit_sup"] = float(sup.value)
    solution.info["lower_bound_method"] = sup.method
    solution.info["sup_interval"] = (float(sup.value), float(sup.upper))
    solution.info["sup_rtol"] = float(sup.rtol)


def warn_limit_gap(sol: LimitSolution, tol: float, *, stacklevel: int = 3) -> bool:
    """Issue one :class:`~limitsolver.exceptions.LimitGapWarning` when the solution's
    relative limit gap exceeds ``tol`` or is only an estimate; returns whether it warned."""
    from .exceptions import LimitGapWarning
    if sol.lower_bound is None or getattr(sol, "limit_certified", None) is None:
        return False
    rel = sol.info.get("limit_rel_gap")
    if rel is None:
        rel = sol.limit_gap / max(abs(sol.objective), 1e-300)
    certified = sol.limit_certified
    if certified and rel <= tol:
        return False
    what = (f"certified relative limit gap {rel:.2e} exceeds tol={tol:g}" if certified else
            f"the distance to the infinite-width optimum is only estimated ({rel:.2e} "
            f"relative; no certified lower bound on OPT)" + (
                f", above tol={tol:g}" if rel > tol else ""))
    if "refine" not in sol.info:
        hint = "to tighten: refine=True (moves neurons off the grid) or a larger tol"
    elif rel > tol:
        hint = "to tighten: a larger time budget (max_time) or a larger tol"
    else:
        hint = ("the estimate comes from sampled directions: a certified gap needs an exact "
                "or rigorously bounded sup over all directions")
    warnings.warn(f"{what} (objective {sol.objective:.8g}, limit gap {sol.limit_gap:.2e}); "
                  f"{hint}", LimitGapWarning, stacklevel=stacklevel)
    return True
