"""The exchange loop of :func:`~limitsolver.refine.refine` and what keeps it safe.

- ``RefineRun`` holds one refinement's state: the point of lowest objective seen (only points
  that fit the data, for interpolation), the best lower bound on OPT (every iteration's
  bound is valid whatever the point, so the best is kept), the history; ``finish`` sets
  the status from the returned point's limit gap (:mod:`limitsolver.status`);
- ``solve_working_set``: working-set solves with the fallback chain of ``solve_problem``;
- ``can_restart`` / ``restart_grid``: a stalled 1-D refinement restarts once from the
  data-breakpoint grid.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from . import moves
from .exceptions import ConvergenceWarning, LimitGapWarning, SolverFailed
from .limitattach import attach_limit_certificate
from .status import set_status

__all__ = ["STALL_WINDOW", "FALLBACK_TOL"]


#: ``refine(restart=True)``: the refinement has stalled when its relative limit gap has not
#: halved over this many iterations.
STALL_WINDOW = 8


def restart_grid(problem):
    """The grid of the restart: ``default_grid`` with ``COARSE_GRID_SIZES[1]`` directions plus
    the 2n data breakpoints (d = 1)."""
    from .grids import COARSE_GRID_SIZES, default_grid
    return problem.check_directions(
        default_grid(problem.X, problem.bias, COARSE_GRID_SIZES[problem.d]))


def can_restart(problem, solution) -> bool:
    """d = 1 and the start's grid lacks some data-breakpoint direction."""
    from .grids import breakpoint_directions
    if problem.d != 1:
        return False
    grid = solution.grid if solution.grid is not None else solution.atom_directions
    bp = problem.check_directions(breakpoint_directions(problem.X, problem.bias))
    if grid is None or len(grid) == 0:
        return True
    dist = np.max(np.abs(bp[:, None, :] - np.asarray(grid)[None, :, :]), axis=2).min(axis=1)
    return bool(np.any(dist > 1e-12))


def solve_working_set(problem, directions, solver, tol, warm_start, deadline):
    """A working-set solve through ``solve_problem``, its warnings silenced (the refinement
    judges the result by its own certificates); None when every backend fails.

    With ``solver="auto"`` the first backend alone is tried first (the native solver where
    it applies, else Clarabel): the whole chain would run first-order SCS to its iteration
    limit whenever a 1e-12 gap is out of reach. Only when it fails — no point, or an
    interpolation that does not fit the data — does the full fallback chain of
    ``solve_problem`` run, asked for a relative gap of ``max(tol, FALLBACK_TOL)`` (SCS
    asked for 1e-11 runs to its iteration limit: minutes)."""
    from .gridsolve import solve_problem
    from .scores import score
    from .solvers import solver_chain
    chain = solver_chain(solver, problem)
    tries = [chain[0], solver] if solver == "auto" and len(chain) > 1 else [solver]
    for name in tries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                sol = solve_problem(problem, directions, solver=name,
                                    tol=tol if name != solver else max(tol, FALLBACK_TOL),
                                    warm_start=warm_start, deadline=deadline)
            except SolverFailed:
                continue
        if np.isfinite(score(problem, sol.certificate)) or name == tries[-1]:
            return sol
    return None


#: Target relative gap of the fallback chain in working-set solves (see ``solve_working_set``).
FALLBACK_TOL = 1e-8


#: Losses whose working-set weights :func:`limitsolver.moves.polished` takes to rounding
#: level; for the other smooth losses (multinomial) the joint Newton step of any d
#: (:func:`limitsolver.refine_nd.newton_solution`) polishes the weights and moves the atoms.
WEIGHT_POLISH_LOSSES = ("squared", "logistic", "interpolate")


def _moved(problem, sol):
    """``sol`` after the joint Newton step of :mod:`limitsolver.newton_nd` (or ``sol`` when
    it does not apply or does not improve)."""
    from .newton_nd import supports_joint_newton_nd
    from .refine_nd import newton_solution
    if not supports_joint_newton_nd(problem):
        return sol
    return newton_solution(problem, sol)


class RefineRun:
    """The state of one refinement: best point (by objective), best lower bound, history."""

    def __init__(self, problem, *, t0, deadline, tol, verbose, progress=None):
        from .certificate import ROUNDING, reference_value
        self.problem, self.t0, self.deadline, self.tol = problem, t0, deadline, tol
        self.budget = deadline - time.monotonic()
        self.verbose, self.progress = verbose, progress
        self.floor = max(ROUNDING * reference_value(problem), 1e-300)
        self.best_sol, self.best_lb, self.best_exact, self.best_how = None, -np.inf, True, {}
        self.history, self.start = [], "initial"
        self.lam = 1.0 if problem.loss == "interpolate" else problem.lam
        self.exact = True if problem.d <= 2 else None

    def usable(self, sol) -> bool:
        """A point that may be returned: for interpolation, one that fits the data."""
        from .scores import score
        return bool(np.isfinite(score(self.problem, sol.certificate)))

    def rel(self) -> float:
        """Relative gaps as in the certificate: against max(|J|, ROUNDING · J_ref)."""
        J = self.best_sol.objective
        return (J - self.best_lb) / max(abs(J), self.floor)

    def record(self, sol):
        """Certify ``sol`` against OPT (oracle), update the bests, log; returns the sup."""
        sup = attach_limit_certificate(sol, threshold=(1 - self.margin) * self.lam,
                                       top_k=self.max_new, exact=self.exact,
                                       target_rel_gap=self.tol)
        if sol.lower_bound > self.best_lb:
            self.best_lb, self.best_exact = sol.lower_bound, sol.lower_bound_exact
            self.best_how = {k: sol.info[k] for k in ("lower_bound_method", "sup_interval",
                                                      "sup_rtol") if k in sol.info}
        if sol.objective < self.best_sol.objective and self.usable(sol):
            self.best_sol = sol
        h = dict(iteration=len(self.history),
                 working_set=int(sol.grid.shape[0]) if sol.grid is not None else 0,
                 objective=float(sol.objective), lower_bound=float(sol.lower_bound),
                 rel_limit_gap=float(self.rel()), time=time.perf_counter() - self.t0,
                 start=self.start)
        self.history.append(h)
        if self.progress is not None:
            self.progress(h)
        if self.verbose:
            print(f"refine {h['iteration']:3d}: objective {sol.objective:.12g}  lower bound "
                  f"{sol.lower_bound:.12g}  rel. limit gap {h['rel_limit_gap']:.2e}  "
                  f"working set {h['working_set']}  t {h['time']:.2f}s")
        return sup

    def exchange(self, sol, max_iter, *, stall, exchange_margin, max_new, slide, joint,
                 merge_tol, solver, inner_tol) -> str:
        """Run the exchange loop from ``sol``; returns why it ended: "converged",
        "max_iter", "timed_out", "failed" (no backend solved a working set) or
        "stalled" (only with ``stall``)."""
        from .budget import expired
        from .newton import supports_joint_newton
        self.margin, self.max_new = exchange_margin, max_new
        problem = self.problem
        newton = joint and supports_joint_newton(problem)
        polish = moves.polished if problem.loss in WEIGHT_POLISH_LOSSES else _moved
        first = len(self.history)
        for it in range(max(max_iter, 1)):
            sup = self.record(sol)
            rel = self.rel()
            if rel <= self.tol:
                return "converged"
            if it + 1 >= max_iter:
                return "max_iter"
            if expired(self.deadline):
                return "timed_out"
            k = len(self.history) - 1 - STALL_WINDOW
            if stall and k >= first and rel > 0.5 * self.history[k]["rel_limit_gap"]:
                return "stalled"
            # local maximizers of ‖c‖ for the dual point that gave the bound
            new = [sup.directions[sup.values >= (1 - exchange_margin) * sup.value]]
            Z = np.asarray(sol.certificate.dual_point, dtype=float)
            active = sol.atom_directions
            if slide and not newton and active.shape[0]:
                new.append(moves.slide(problem, active, sol.atom_weights, Z))
            D = moves.merge_directions(problem, np.vstack([active] + new), merge_tol=merge_tol)
            nxt = solve_working_set(problem, D, solver, inner_tol, sol, self.deadline)
            if nxt is None:
                return "failed"
            sol = moves.newton_step(problem, nxt) if newton else polish(problem, nxt)
        return "max_iter"

    def finish(self, solution, reason):
        """The best point with the best bound, its status from its limit gap; warnings."""
        problem, out = self.problem, self.best_sol
        if solution.grid is not None and out is not solution and out.grid is not None:
            # keep the starting grid (for warm starts), with the working set appended
            out.grid = np.vstack([solution.grid, out.grid])
            gw = getattr(out, "grid_weights", None)
            if gw is not None:
                out.grid_weights = np.vstack([np.zeros((solution.grid.shape[0], problem.T)),
                                              gw])
        out.lower_bound = float(self.best_lb)
        out.limit_gap = float(out.objective - self.best_lb)
        out.lower_bound_exact = bool(self.best_exact)
        out.info.update(self.best_how)      # how the kept bound was certified
        out.info["limit_rel_gap"] = float(out.limit_gap / max(abs(out.objective), self.floor))
        out.info["refine"] = self.history
        out.info["refine_converged"] = reason == "converged"
        out.info["refine_stop"] = reason
        out.info["time_refine"] = time.perf_counter() - self.t0
        if reason == "timed_out":
            out.info["timed_out"] = True
        set_status(out, self.tol, "limit")
        if out.status != "optimal":
            why = {"timed_out": f"the time limit of {self.budget:.3g} s was reached",
                   "failed": "a working-set solve failed on every backend",
                   }.get(reason, f"{len(self.history)} iterations")
            kind = "" if out.lower_bound_exact else " (lower bound estimated, not certified)"
            warnings.warn(f"refine: relative limit gap {out.info['limit_rel_gap']:.3e}{kind} "
                          f"exceeds tol={self.tol:g} after {why}; returning the best point "
                          "found", LimitGapWarning, stacklevel=3)
        return out
