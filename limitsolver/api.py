"""`solve`: the one entry point from data to a certified `LimitSolution`.

``solve`` builds the :class:`~limitsolver.problem.LimitProblem`, picks the start grid,
solves on it (:func:`~limitsolver.gridsolve.solve_problem`, re-exported here), and either
refines off the grid (:mod:`limitsolver.refine`) or attaches the limit certificate
(:mod:`limitsolver.oracle`). The time plan of a refining solve in d >= 3 is
:func:`any_d_budget`.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .budget import make_deadline
from .grids import check_random_state, coarse_grid, default_grid
from .gridsolve import DEFAULT_TOL, solve_problem, zero_solution
from .kernel import KernelSolution, solve_kernel_problem
from .problem import LimitProblem
from .solution import LimitSolution

__all__ = ["solve", "solve_problem", "zero_solution", "any_d_budget", "AUTO_REFINE_MAX_N",
           "AUTO_REFINE_MAX_NT", "AUTO_REFINE_TIME", "ANY_D_START_WORK", "ANY_D_START_SIZES",
           "FINAL_RESERVE", "LIMIT_TOL_FLOOR"]


def solve(X: Any, Y: Any, *, lam: float | None = None, loss: str = "squared",
          penalty: str = "group", bias: str = "regularized", free: str = "none",
          grid: np.ndarray | None = None, n_directions: int | None = None,
          solver: str = "auto", tol: float = DEFAULT_TOL, warm_start: LimitSolution | None = None,
          polish: bool = True, random_state: Any = 0, verbose: bool = False,
          refine: bool | None = None, certify_limit: bool = True,
          max_time: float | None = None, progress: bool | None = None,
          **solver_options: Any) -> LimitSolution | KernelSolution:
    """Solve the infinite-width limit problem on a direction grid and certify the result.

    The grid problem (MATH.md, "Discretization and certificates")::

        minimize_{V, C}  L(Φ V + F C) + λ Σ_j ‖V_j‖,    Φ_ij = relu(θ_j·x̃_i)

    with ‖·‖ the Euclidean norm across tasks (``penalty="group"``) or the l1 norm
    (``penalty="l1"``). Its minimum is an upper bound on the infinite-width optimum OPT.

    ``penalty="kernel"`` solves the lazy baseline instead (no grid; keyword options
    ``kernel="arccos"|"ntk"``, ``depth`` (hidden ReLU layers, default 1) and
    ``n_quadrature``) and returns a
    :class:`~limitsolver.kernel.KernelSolution`; see :mod:`limitsolver.kernel`.

    Parameters
    ----------
    X : array_like (n, d) or (n,)
    Y : array_like (n, T) or (n,)
    lam : float
        λ > 0; ignored (may be None) for ``loss="interpolate"``.
    loss, penalty, bias, free : str
        See :class:`~limitsolver.problem.LimitProblem`.
    grid : array_like (M, d+1), optional
        Directions θ = (w, b); rows are normalized (‖θ‖ = 1, or ‖w‖ = 1 for free bias).
    n_directions : int, optional
        Size of the default grid (:func:`~limitsolver.grids.default_grid`: 512 + 2n data
        breakpoints for d = 1, a 2000-point Fibonacci lattice for d = 2, 4096 Sobol points
        for d ≥ 3).
    solver : str
        ``"auto"`` (native where it applies, else Clarabel → ECOS → SCS, falling back on
        failure), ``"native"``, or any installed cvxpy solver name.
    tol : float
        Target relative duality gap of the grid certificate; a larger certified gap gives
        a :class:`~limitsolver.exceptions.ConvergenceWarning`.
    warm_start : LimitSolution, optional
        A previous solution (used by backends that can start from it).
    polish : bool
        Re-solve the conic backends' result on its thresholded support (exactly sparse
        weights); kept only when its certificate is as good.
    refine : bool, optional
        Move neurons off the grid (:func:`~limitsolver.refine.refine`: exchange + sliding)
        until the limit gap is ≤ ``tol`` relative, starting from a coarse grid
        (:func:`~limitsolver.grids.coarse_grid`) when no grid is given. ``None`` (auto)
        refines when neither ``grid`` nor ``n_directions`` is given and the problem is
        cheap: d = 1 with n ≤ ``AUTO_REFINE_MAX_N[1]`` (200), or d = 2 with n ≤ ``AUTO_REFINE_MAX_N[2]`` (40)
        and any loss but interpolation (2-D interpolants need many neurons; refining them
        can take minutes), or d ≥ 3 with a squared or logistic loss and n·T ≤
        ``AUTO_REFINE_MAX_NT`` (25,000): exchange by continuous pricing plus a joint Newton
        step on directions and weights (:mod:`limitsolver.refine_nd`). Pass
        ``refine=True`` to refine anything. A result whose limit gap exceeds ``tol`` or is
        only estimated gives one :class:`~limitsolver.exceptions.LimitGapWarning`.

        Budget of a refining solve in d ≥ 3 (see :func:`any_d_budget`): the whole call
        (start grid, refinement, final certificate) gets ``max_time`` seconds, or
        ``AUTO_REFINE_TIME`` (45) when ``max_time`` is None, counted from the start of
        ``solve``. The start grid has ``min(4096, max(512, ANY_D_START_WORK // (n·T)))``
        Sobol directions (4096 up to n·T = 20,000; n·T·M is what one pass over the grid
        costs). Refinement rounds end ``min(FINAL_RESERVE, 0.1·budget)`` seconds before
        the deadline (no round starts unless the previous round's length still fits),
        which is left to the final certificate (the branch and bound's short first pass
        per round, its full budget once at the end). ``info["budget"]`` records the
        budget, start-grid size and both deadlines (in seconds from the start).
    certify_limit : bool
        Compute ``lower_bound`` / ``limit_gap`` / ``lower_bound_exact`` on the solution: a
        lower bound on the infinite-width optimum from the oracle's sup over all of Θ
        (:mod:`limitsolver.oracle`; exact for d = 1, and d = 2 up to
        ``oracle.EXACT_MAX_N_2D`` = 100 distinct inputs; otherwise a certified upper bound
        on the sup by branch and bound (:mod:`limitsolver.bound`), so ``lower_bound`` is
        always a valid bound, possibly loose: ``lower_bound_exact=False`` and
        ``info["lower_bound_method"] = "bounded"``, with ``info["sup_interval"]``).
    max_time : float, optional
        Wall-clock budget in seconds for the whole call (grid solve and refinement);
        ``None`` means ``budget.DEFAULT_MAX_TIME`` = 600 s, except for a refining solve
        in d ≥ 3: ``AUTO_REFINE_TIME`` = 45 s (see ``refine``). Every backend checks the
        deadline between its iterations; on time-out the best certified point found so
        far is returned with its gap, ``info["timed_out"] = True``, a status that is
        "optimal" only if that point is certified, and a ConvergenceWarning.
    progress : bool, optional
        A progress bar over the refinement iterations (:mod:`limitsolver.progress`;
        default: on for interactive terminals only).
    **solver_options
        Passed to the backend (e.g. ``max_iter`` for Clarabel).

    Returns
    -------
    LimitSolution
        ``status`` is "optimal" iff the certificate it carries meets ``tol``
        (:mod:`limitsolver.status`): the limit gap for a refined solution
        (``info["status_basis"] = "limit"``), else the grid gap (``"grid"``).
    """
    t_start = time.monotonic()
    deadline = make_deadline(max_time, now=t_start)
    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
    check_random_state(random_state)
    if problem.penalty == "kernel":
        # the lazy baseline has no grid: exact kernel ridge / logistic / interpolation
        if grid is not None:
            raise ValueError("penalty='kernel' is solved without a direction grid; "
                             "do not pass grid=")
        return solve_kernel_problem(problem, tol=tol, verbose=verbose, **solver_options)
    if refine is None:
        refine = grid is None and n_directions is None and _auto_refine(problem)
    plan = None
    if refine and problem.d >= 3:
        plan = any_d_budget(problem, max_time)
        deadline = min(deadline, t_start + plan["max_time"])
        if grid is None and n_directions is None:
            n_directions = plan["start_grid"]
    if grid is None:
        grid = _start_grid(problem, n_directions, refine, random_state)
    sol = solve_problem(problem, grid, solver=solver, tol=tol, warm_start=warm_start,
                        polish=polish, verbose=verbose, deadline=deadline, **solver_options)
    if refine and not sol.info.get("timed_out"):
        from .progress import refine_callback
        from .refine import refine as refine_solution
        # d ≥ 3: rounds until the limit gap is ≤ tol, no progress, or the rounds' deadline
        budget, rounds_deadline = {}, deadline
        if plan is not None:
            budget = dict(max_iter=10**4)
            rounds_deadline = deadline - plan["final_reserve"]
        callback, bar = refine_callback(progress)
        with bar:
            sol = refine_solution(problem, sol, tol=max(tol, LIMIT_TOL_FLOOR), solver=solver,
                                  deadline=rounds_deadline, progress=callback,
                                  verbose=verbose, **budget)
    elif certify_limit:
        from .limitattach import attach_limit_certificate
        from .refine_nd import warn_limit_gap
        attach_limit_certificate(sol)
        warn_limit_gap(sol, max(tol, LIMIT_TOL_FLOOR))
    if plan is not None:
        sol.info["budget"] = dict(plan, deadline=deadline - t_start,
                                  rounds_deadline=deadline - plan["final_reserve"] - t_start,
                                  elapsed=time.monotonic() - t_start)
    return sol


def _start_grid(problem: LimitProblem, n_directions: int | None, refine: bool,
                random_state: Any) -> np.ndarray:
    """The grid ``solve`` starts from when none is given: ``default_grid`` with
    ``n_directions``; when refining without a size, the coarse grid
    (:func:`~limitsolver.grids.coarse_grid`: refinement moves the neurons itself)."""
    if refine and n_directions is None:
        from .newton import supports_joint_newton
        return coarse_grid(problem.X, problem.bias, newton=supports_joint_newton(problem),
                           random_state=random_state)
    return default_grid(problem.X, problem.bias, n_directions, random_state=random_state)


def _auto_refine(problem: LimitProblem) -> bool:
    """The rule of ``solve(refine=None)`` (no grid given): refine d = 1 up to
    ``AUTO_REFINE_MAX_N[1]`` samples and d = 2 up to ``AUTO_REFINE_MAX_N[2]`` (not for
    interpolation); for d ≥ 3 with a smooth loss (squared, logistic, multinomial: the joint
    Newton step of :mod:`limitsolver.newton_nd` applies), refine when n·T is at most
    ``AUTO_REFINE_MAX_NT`` (within ``AUTO_REFINE_TIME`` seconds in all)."""
    if problem.d <= 2:
        return (problem.n <= AUTO_REFINE_MAX_N.get(problem.d, 0)
                and (problem.d == 1 or problem.loss != "interpolate"))
    from .newton_nd import supports_joint_newton_nd
    return supports_joint_newton_nd(problem) and problem.n * problem.T <= AUTO_REFINE_MAX_NT



#: The limit gap a ``solve`` aims at (when refining) or warns about is ``max(tol, this)``:
#: relative gaps below it are rounding.
LIMIT_TOL_FLOOR = 1e-11

#: ``solve(refine=None)`` refines by default for inputs of dimension d with at most this
#: many samples (refinement costs a few oracle calls: O(n²) for d = 1, O(n³) for d = 2).
AUTO_REFINE_MAX_N = {1: 200, 2: 40}

#: ... and for d ≥ 3 (squared, logistic loss) when n·T is at most this, ...
AUTO_REFINE_MAX_NT = 25_000

#: ... with this time budget in seconds for the whole call (grid start, refinement and
#: final certificate) when ``max_time`` is None; a given ``max_time`` replaces it.
AUTO_REFINE_TIME = 45.0

#: Start grid of a refining d ≥ 3 solve: about this many feature entries n·T·M (4096
#: directions up to n·T = 20,000, where that grid solve takes ~1 s: digits, n·T = 17,970),
#: between ``ANY_D_START_SIZES`` = (smallest, largest) M.
ANY_D_START_WORK = 20_000 * 4096
ANY_D_START_SIZES = (512, 4096)

#: Seconds before the deadline at which refinement rounds stop (at most a tenth of the
#: budget), left to the final certificate.
FINAL_RESERVE = 5.0


def any_d_budget(problem: LimitProblem, max_time: float | None = None) -> dict:
    """The time plan of a refining ``solve`` in d ≥ 3.

    Returns ``dict(max_time, start_grid, final_reserve)``: the budget in seconds for the
    whole call (``max_time``, or ``AUTO_REFINE_TIME`` when None), the start grid size
    ``M = min(hi, max(lo, ANY_D_START_WORK // (n·T)))`` with (lo, hi) =
    ``ANY_D_START_SIZES`` (a pass over the grid costs O(n·T·M)), and the reserve
    ``min(FINAL_RESERVE, 0.1·max_time)`` kept free of refinement rounds for the final
    certificate."""
    budget = AUTO_REFINE_TIME if max_time is None else float(max_time)
    lo, hi = ANY_D_START_SIZES
    size = int(min(hi, max(lo, ANY_D_START_WORK // (problem.n * problem.T))))
    return dict(max_time=budget, start_grid=size,
                final_reserve=min(FINAL_RESERVE, 0.1 * budget))
