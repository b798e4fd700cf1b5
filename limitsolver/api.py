"""`solve`: the one entry point from data to a certified `LimitSolution`."""
from __future__ import annotations

import time
import warnings

import numpy as np

from .certificate import certify, fit_free_part, lam_max, support_dual
from .exceptions import ConvergenceWarning
from .grids import check_random_state, default_grid
from .penalties import get_penalty
from .pricing import shared_store
from .problem import LimitProblem
from .solution import LimitSolution
from .status import set_status
from .solvers import SolverFailed, run_solver, solver_chain
from .solvers.polish import polish as polish_result

__all__ = ["solve", "solve_problem", "zero_solution"]


def solve(X, Y, *, lam=None, loss="squared", penalty="group", bias="regularized",
          free="none", grid=None, n_directions=None, solver="auto", tol=1e-8,
          warm_start=None, polish=True, random_state=0, verbose=False, refine=None,
          certify_limit=True, max_time=None, progress=None, **solver_options) -> LimitSolution:
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
        (``COARSE_SIZES``) when no grid is given. ``None`` (auto) refines when neither
        ``grid`` nor ``n_directions`` is given and the problem is cheap: d = 1 with
        n ≤ ``AUTO_REFINE_MAX_N[1]`` (200), or d = 2 with n ≤ ``AUTO_REFINE_MAX_N[2]`` (40)
        and a squared or logistic loss (2-D interpolants need many neurons; refining them
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
    from .budget import make_deadline
    t_start = time.monotonic()
    deadline = make_deadline(max_time)
    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
    check_random_state(random_state)
    if problem.penalty == "kernel":
        # the lazy baseline has no grid: exact kernel ridge / logistic / interpolation
        if grid is not None:
            raise ValueError("penalty='kernel' is solved without a direction grid; "
                             "do not pass grid=")
        from .kernel import solve_kernel_problem
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
        # refinement moves the neurons itself: a coarse start is enough
        from .newton import supports_joint_newton
        if refine and n_directions is None and supports_joint_newton(problem):
            from .refine import coarse_grid
            grid = coarse_grid(problem)         # the joint Newton step moves the kinks
        else:
            size = n_directions if n_directions is not None or not refine else \
                COARSE_SIZES.get(problem.d)
            grid = default_grid(problem.X, problem.bias, size, random_state=random_state)
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
            sol = refine_solution(problem, sol, tol=max(tol, 1e-11), solver=solver,
                                  deadline=rounds_deadline, progress=callback,
                                  verbose=verbose, **budget)
    elif certify_limit:
        from .oracle import attach_limit_certificate
        from .refine_nd import warn_limit_gap
        attach_limit_certificate(sol)
        warn_limit_gap(sol, max(tol, 1e-11))
    if plan is not None:
        sol.info["budget"] = dict(plan, deadline=deadline - t_start,
                                  rounds_deadline=deadline - plan["final_reserve"] - t_start,
                                  elapsed=time.monotonic() - t_start)
    return sol


def _auto_refine(problem) -> bool:
    """The rule of ``solve(refine=None)`` (no grid given): refine d = 1 up to
    ``AUTO_REFINE_MAX_N[1]`` samples and d = 2 up to ``AUTO_REFINE_MAX_N[2]`` (not for
    interpolation); for d ≥ 3 with a squared or logistic loss, refine when n·T is at most
    ``AUTO_REFINE_MAX_NT`` (within ``AUTO_REFINE_TIME`` seconds in all)."""
    if problem.d <= 2:
        return (problem.n <= AUTO_REFINE_MAX_N.get(problem.d, 0)
                and (problem.d == 1 or problem.loss != "interpolate"))
    return (problem.loss in ("squared", "logistic")
            and problem.n * problem.T <= AUTO_REFINE_MAX_NT)


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


def any_d_budget(problem, max_time=None) -> dict:
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


#: Size of the starting grid when ``solve`` refines and no grid was given (d = 1 also
#: gets the 2n data breakpoints), except where the joint Newton step applies (d = 1,
#: squared or logistic loss): there ``refine.coarse_grid``.
COARSE_SIZES = {1: 64, 2: 256}


def _check_tol(tol) -> float:
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}") from None
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol is a relative duality gap and must lie in (0, 1), got {tol!r}")
    return tol


def solve_problem(problem: LimitProblem, grid, *, solver="auto", tol=1e-8, warm_start=None,
                  polish=True, verbose=False, max_time=None, deadline=None,
                  **solver_options) -> LimitSolution:
    """Solve a validated :class:`LimitProblem` on the direction set ``grid`` (M × (d+1)).

    ``max_time`` (seconds; None: ``budget.DEFAULT_MAX_TIME``) or an absolute ``deadline``
    (a ``time.monotonic()`` value; the earlier of the two counts) bounds the call: the
    backends stop at their first check past it, no further backend of the fallback chain
    is started, and the best certified point is returned with ``info["timed_out"] = True``
    and a ConvergenceWarning. The status speaks of the grid gap (:mod:`limitsolver.status`).
    """
    from .budget import expired, make_deadline
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
    an absolute ``time.monotonic()`` value, ``t_budget`` the time it was set)."""
    from .budget import expired
    if _zero_is_optimal(problem, directions):
        return zero_solution(problem, directions)
    t0 = time.perf_counter()
    scale = _target_scale(problem)
    inner = _scaled(problem, scale)
    if scale != 1.0:
        warm_start = None
    failures, best, result = [], None, None
    timed_out = False
    for name in chain:
        if best is not None and expired(deadline):
            timed_out = True
            break
        try:
            res = run_solver(name, inner, directions, tol=tol, warm_start=warm_start,
                             verbose=verbose, deadline=deadline, **solver_options)
        except SolverFailed as exc:
            failures.append(f"{name}: {exc}")
            continue
        if scale != 1.0:
            res.V = np.asarray(res.V, dtype=float) * scale
            res.C = np.asarray(res.C, dtype=float) * scale
            res.Z = [np.asarray(z, dtype=float) * scale for z in res.Z]
        if res.status == "infeasible" and problem.loss == "interpolate":
            raise ValueError("the data cannot be interpolated on this grid (the solver "
                             "reports the equality constraints infeasible)")
        if res.status == "failed":
            failures.append(f"{name}: status failed")
            continue
        if not (np.all(np.isfinite(res.V)) and np.all(np.isfinite(res.C))):
            failures.append(f"{name}: returned non-finite weights")
            continue
        timed_out = timed_out or bool(res.info.get("timed_out"))
        cand = _certified(problem, directions, res, tol=tol)
        if polish and res.solver != "native":
            pol = polish_result(problem, directions, res, tol=tol, deadline=deadline)
            if pol is not None:
                cand_p = _certified(problem, directions, pol, tol=tol)
                if _score(problem, cand_p[2]) <= max(_score(problem, cand[2]), tol):
                    cand, res = cand_p, pol
        if best is None or _score(problem, cand[2]) < _score(problem, best[2]):
            best, result = cand, res
        score = _score(problem, cand[2])
        if score <= tol or (res.status == "optimal" and score <= NEAR_TOL * tol):
            break
        failures.append(f"{name}: status {res.status}, certified relative gap "
                        f"{cand[2].rel_gap:.2e}")
    if best is None:
        if expired(deadline):
            failures.append(f"time limit of {deadline - t_budget:.3g} s reached")
        raise SolverFailed("no backend produced a usable point: " + "; ".join(failures))
    if failures and len(chain) > 1:
        warnings.warn("solver fallback: " + "; ".join(failures), RuntimeWarning, stacklevel=4)
    V, C, cert = best
    info = dict(result.info)
    info["time_total"] = time.perf_counter() - t0
    info["grid_size"] = int(directions.shape[0])
    if failures:
        info["fallbacks"] = failures
    active = get_penalty(problem.penalty).row_norms(V) > 0
    info["backend_status"] = result.status
    if scale != 1.0:
        info["target_scale"] = scale
    timed_out = timed_out and _score(problem, cert) > tol
    if timed_out:
        info["timed_out"] = True
    sol = LimitSolution(problem, directions[active], V[active], C, cert,
                        status="inaccurate", solver=result.solver, grid=directions, info=info)
    sol.grid_weights = V
    if set_status(sol, tol, "grid") != "optimal":
        why = (f"time limit of {deadline - t_budget:.3g} s reached" if timed_out
               else f"backend status {result.status!r}")
        warnings.warn(
            f"{result.solver}: certified relative duality gap {cert.rel_gap:.3e} "
            f"(absolute {cert.gap:.3e}, interpolation residual {cert.infeasibility:.1e}) "
            f"exceeds tol={tol:g}; {why}",
            ConvergenceWarning, stacklevel=4)
    return sol


def zero_solution(problem, directions) -> LimitSolution:
    """The exact solution for λ ≥ λ_max: no neurons, the free part fitted alone, certified
    on ``directions`` by :func:`~limitsolver.certificate.certify` (gap 0 up to rounding)."""
    V = np.zeros((directions.shape[0], problem.T))
    C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
    # (for interpolation the caller has checked that the free part fits Y exactly)
    cert = certify(problem, directions, V, C)
    # exact up to rounding; a larger gap would mean the free-part fit failed
    sol = LimitSolution(problem, directions[:0], V[:0], C, cert, status="inaccurate",
                        solver="closed-form", grid=directions,
                        info={"grid_size": int(directions.shape[0]), "lam_ge_lam_max": True})
    sol.grid_weights = V
    set_status(sol, ZERO_TOL, "grid")
    return sol


#: The closed-form solution for λ ≥ λ_max is labelled optimal when its certified relative
#: gap (0 up to rounding) is at most this.
ZERO_TOL = 1e-8


def _zero_is_optimal(problem, directions) -> bool:
    """λ ≥ λ_max on the grid, or for interpolation a free part that fits Y exactly."""
    if problem.loss == "interpolate":
        if problem.F.shape[1] == 0:
            return not np.any(problem.Y)
        C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
        fit = float(np.max(np.abs(problem.F @ C - problem.Y)))
        return fit <= 1e-12 * max(1.0, float(np.max(np.abs(problem.Y))))
    return problem.lam >= lam_max(problem, directions)


#: A backend that reports convergence ends the fallback chain when its certified relative
#: gap is within this factor of ``tol``; beyond it the next backend is tried.
NEAR_TOL = 1e3

#: Targets with max|Y| outside this range are solved at unit scale and mapped back
#: (squared loss and interpolation are exactly homogeneous in (Y, V, C, λ)).
TARGET_RANGE = (1e-2, 1e2)


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


#: Largest interpolation residual, relative to max|Y|, that still counts as an exact fit.
INTERPOLATION_TOL = 1e-7


def _score(problem, cert) -> float:
    """Relative gap, or +inf for an interpolation that does not fit the data."""
    if problem.loss == "interpolate":
        scale = max(1.0, float(np.abs(problem.Y).max()))
        if cert.infeasibility > INTERPOLATION_TOL * scale:
            return np.inf
    if not np.isfinite(cert.rel_gap):
        return np.inf
    return max(cert.rel_gap, 0.0)


def _certified(problem, directions, res, *, tol=0.0):
    """(V, C, Certificate) of a backend result; for the
    squared and logistic losses, the free part refit optimally for the given V.

    When the plain certificate misses ``tol``, the dual candidate corrected to meet the
    support conditions exactly (:func:`~limitsolver.certificate.support_dual`) is tried as
    well: near interpolation the primal point is optimal far below the accuracy with which
    its residual's correlations hit λ, and only the corrected candidate shows it."""
    V = np.array(res.V, dtype=float)
    C = np.array(res.C, dtype=float)
    from .features import features_matvec
    FV = features_matvec(problem.Xt, directions, V)
    if problem.loss != "interpolate" and problem.F.shape[1]:
        C = fit_free_part(problem, FV, C0=C)
    Z = list(res.Z) or None
    if problem.loss == "interpolate" and Z:
        # interior-point multipliers made exact on the support (an extra candidate)
        Z = Z + [support_dual(problem, directions, V, Z[-1])]
    pred = FV + problem.F @ C
    cert = certify(problem, directions, V, C, Z=Z, pred=pred)
    if problem.loss != "interpolate" and _score(problem, cert) > tol:
        from .certificate import dual_candidate
        Z0 = dual_candidate(problem, pred)      # the residual, already scored in ``cert``
        fixed = certify(problem, directions, V, C, pred=pred,
                        Z=support_dual(problem, directions, V, Z0))
        if fixed.dual > cert.dual:
            cert = fixed
    return V, C, cert
