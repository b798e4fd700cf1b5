"""Grid-free refinement: an exchange method with sliding neurons, run until the continuous
certificate (the limit gap) holds.

Starting from a grid solution, repeat:

1. **certify** — the oracle (:mod:`limitsolver.oracle`) gives S = sup_θ ‖c(θ)‖ for the
   current dual point Z; Z·λ/S is feasible for the infinite-width dual, so its value is a
   lower bound on OPT. Stop when objective − best lower bound ≤ ``tol`` · |objective|.
2. **exchange** — add to the working set every local maximizer θ of ‖c(θ)‖ whose value is
   at least (1 − ``exchange_margin``) λ (the violated and the nearly active constraints);
3. **slide** — move each active direction θ_j uphill on ⟨c(θ), V_j⟩ (the reduced
   objective's gradient in θ_j is −(1/n) Σ_i (Z_i·V_j) 1[θ_j·x̃_i > 0] x̃_i for every loss,
   Z the generalized residual or the interpolation multipliers), projected on Θ, and add
   the moved directions;
4. **re-solve** the weights on the working set (warm-started, through
   :func:`~limitsolver.api.solve_problem`), drop the inactive directions and merge those
   that meet (closer than ``merge_tol``; with a free affine part also antipodal pairs, since
   relu(−z) = relu(z) − z);
5. **joint Newton** (d = 1, squared and logistic losses; replaces step 3) — move the kinks
   and the weights of the active neurons together by Newton's method on the smooth pieces
   of J (:func:`~limitsolver.newton.joint_newton`): once the activation patterns are right
   it converges quadratically, where sliding gains a constant factor per exchange. The
   starting grid is then ``coarse_grid`` (equally spaced directions, no data breakpoints).

For d ≥ 3 (``ANY_D_MIN_DIM``) with a squared or logistic loss, :func:`refine` runs
:func:`~limitsolver.refine_nd.refine_any_d` instead: exchange by continuous pricing over Θ
(:mod:`limitsolver.ascent`) and a joint Newton step on every atom's direction and weights
(:mod:`limitsolver.newton_nd`).

The bound of every iteration is a valid lower bound on OPT, so the best one is kept; the
objective is that of the best solution found (never worse than the start), and the status
follows its limit gap. A 1-D refinement that stalls from a start without the data
breakpoints restarts once from the breakpoint grid (:mod:`limitsolver.exchange`). For d ≤ 2 the oracle is exact and the
limit gap is certified; for d ≥ 3 the lower bound is an estimate.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np

from .exceptions import SolverFailed
from .problem import LimitProblem
from .solution import LimitSolution
from .budget import blas_threads
from .moves import merge_directions, newton_polish, newton_step, polished, slide

__all__ = ["refine", "merge_directions", "coarse_grid", "newton_polish", "polished",
           "newton_step", "slide"]


def coarse_grid(problem: LimitProblem) -> np.ndarray:
    """The default starting grid of :func:`refine`: :func:`limitsolver.grids.coarse_grid`
    (``NEWTON_COARSE_SIZE`` equally spaced directions where the joint Newton step moves the
    kinks, d = 1; else ``COARSE_GRID_SIZES``)."""
    from .grids import coarse_grid as _coarse
    from .newton import supports_joint_newton
    return _coarse(problem.X, problem.bias, newton=supports_joint_newton(problem))


def refine(problem: LimitProblem, solution: LimitSolution | None = None, *, tol: float = 1e-9,
           max_iter: int = 40, exchange_margin: float = 1e-2, max_new: int | None = None,
           slide: bool = True, joint: bool = True, merge_tol: float = 1e-9,
           solver: str = "auto", inner_tol: float = 1e-11, time_limit: float | None = None,
           max_time: float | None = None, deadline: float | None = None,
           restart: bool = True, verbose: bool = False,
           progress: Callable[[dict], object] | None = None) -> LimitSolution:
    """Refine a solution off the grid until its limit gap is at most ``tol`` (relative).

    Parameters
    ----------
    problem : LimitProblem
    solution : LimitSolution, optional
        Starting point (its active atoms form the first working set). By default a solve on
        a coarse grid (:func:`coarse_grid`): where the joint Newton step applies (d = 1,
        squared or logistic loss) ``grids.NEWTON_COARSE_SIZE`` = 128 equally spaced directions and
        no breakpoints; otherwise ``default_grid`` with ``grids.COARSE_GRID_SIZES[d]`` directions
        (for d = 1 plus the 2n data breakpoints).
    tol : float
        Target relative limit gap (objective − lower bound) / |objective|.
    max_iter : int
        Exchange iterations (in all, restart included).
    exchange_margin : float
        Local maximizers with ‖c(θ)‖ ≥ (1 − margin) λ enter the working set.
    max_new : int or None
        At most this many oracle directions enter per iteration (None: 32; for d ≥ 3
        ``refine_nd.EXCHANGE_TOP_K``).
    slide : bool
        Also add each active neuron's direction moved uphill (see the module docstring);
        not done when the joint Newton step runs.
    joint : bool
        For d = 1 with a squared or logistic loss, move directions and weights together by
        Newton's method (:func:`~limitsolver.newton.joint_newton`) after every weight
        solve, including on the starting solution.
    merge_tol : float
        Directions closer than this (max-norm) are merged.
    solver, inner_tol :
        Backend and target relative gap of the working-set solves; ``"auto"`` is the same
        fallback chain as :func:`~limitsolver.api.solve_problem`. A working-set solve that
        fails on every backend ends the refinement with the best point so far.
    max_time : float, optional
        Seconds (``time_limit`` is the older name of the same budget); ``None`` with no
        ``deadline`` means ``budget.DEFAULT_MAX_TIME``. ``deadline`` is an absolute
        ``time.monotonic()`` value (the earlier of the two counts); it is passed to every
        working-set solve. On time-out ``info["timed_out"] = True``. For d ≥ 3 (the
        exchange + joint Newton method of :mod:`limitsolver.refine_nd`, squared and logistic
        losses) no new round or Newton iteration starts after it, and one
        :class:`~limitsolver.exceptions.LimitGapWarning` is issued when the limit gap is
        above ``tol`` or not certified. ``max_time=np.inf`` sets no time budget: for d ≥ 3
        a run of ``max_iter`` rounds is then reproducible (the same objective every time;
        see :func:`~limitsolver.refine_nd.refine_any_d`).
    restart : bool
        d = 1: when the refinement stalls (the relative limit gap not halved over
        ``exchange.STALL_WINDOW`` iterations) from a start whose grid lacks the data breakpoints,
        restart once from a solve on ``default_grid`` (which has them; near interpolation
        the optimal kinks sit at data points, where the joint Newton step cannot carry them
        from a coarse start).
    progress : callable, optional
        Called after every iteration with that iteration's history entry (a dict; see
        Returns), e.g. :func:`limitsolver.progress.refine_callback`'s bar.

    Returns
    -------
    LimitSolution
        The point of lowest objective among all iterations (never worse than the start),
        with its own grid certificate; ``lower_bound`` is the best of all iterations (each
        is a valid lower bound on OPT, whatever the point), ``limit_gap`` = objective −
        lower_bound, ``lower_bound_exact``. ``status`` follows the relative limit gap
        against ``tol`` (:mod:`limitsolver.status`, basis "limit"), never the inner solves'
        verdicts; a ConvergenceWarning says when it is not met. ``info["refine"]`` holds
        the history (iteration, working-set size, objective, lower bound, relative limit
        gap, time, start).
    """
    from .budget import make_deadline
    from .exchange import can_restart, solve_working_set, restart_grid, RefineRun
    if problem.penalty not in ("group", "l1"):
        raise ValueError(f"refine: penalty={problem.penalty!r} has no grid problem")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"refine: max_iter must be an integer >= 1, got {max_iter!r}")
    deadline = make_deadline(max_time if max_time is not None else time_limit, deadline)
    run = RefineRun(problem, t0=time.perf_counter(), deadline=deadline, tol=tol, verbose=verbose,
               progress=progress)
    if solution is None:
        solution = solve_working_set(problem, coarse_grid(problem), solver, inner_tol, None,
                                deadline)
        if solution is None:
            raise SolverFailed("refine: no backend solved the starting grid problem")
    if problem.d >= ANY_D_MIN_DIM and joint:
        from .newton_nd import supports_joint_newton_nd
        if supports_joint_newton_nd(problem):
            return _refine_any_d(problem, solution, tol=tol, max_iter=max_iter,
                                 exchange_margin=exchange_margin, max_new=max_new,
                                 solver=solver, inner_tol=inner_tol, deadline=deadline,
                                 verbose=verbose)
    opts = dict(exchange_margin=exchange_margin, max_new=32 if max_new is None else max_new,
                slide=slide, joint=joint,
                merge_tol=merge_tol, solver=solver, inner_tol=inner_tol)
    run.best_sol = solution
    # small dense products (oracle, Newton): on a busy machine several BLAS threads
    # mostly wait on each other, as inside the native solver
    with (blas_threads(1) if problem.d == 1 else nullcontext()):
        reason = run.exchange(solution, max_iter, stall=restart and can_restart(problem,
                                                                                solution),
                              **opts)
        if reason == "stalled":
            second = solve_working_set(problem, restart_grid(problem), solver, inner_tol, None,
                                  deadline)
            if second is not None:
                run.start = "restart"
                reason = run.exchange(second, max_iter - len(run.history), stall=False,
                                      **opts)
    return run.finish(solution, reason)


#: Input dimensions from which :func:`refine` uses the exchange + joint Newton method of
#: :mod:`limitsolver.refine_nd` (for the squared and logistic losses).
ANY_D_MIN_DIM = 3


def _refine_any_d(problem, solution, *, tol, max_iter, exchange_margin, max_new, solver,
                  inner_tol, deadline, verbose):
    """:func:`~limitsolver.refine_nd.refine_any_d` with the working-set solves of
    :func:`refine` (the same fallback chain; a solve that fails on every backend keeps the
    current point), the status from the limit gap, and one LimitGapWarning."""
    from .exchange import solve_working_set
    from .refine_nd import refine_any_d, warn_limit_gap
    from .status import set_status

    if deadline is not None and not np.isfinite(deadline):
        deadline = None                 # max_time=np.inf: no time budget (reproducible)

    def inner_solve(D, warm):
        sol = solve_working_set(problem, D, solver, inner_tol, warm, deadline)
        return warm if sol is None else sol
    with blas_threads(1):
        out = refine_any_d(problem, solution, tol=tol, deadline=deadline,
                           inner_solve=inner_solve, verbose=verbose, max_iter=max_iter,
                           max_new=max_new, exchange_margin=exchange_margin)
    if deadline is not None and time.monotonic() >= deadline:
        out.info["timed_out"] = True
    set_status(out, tol, "limit")
    warn_limit_gap(out, tol, stacklevel=4)
    return out
