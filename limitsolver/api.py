"""`solve`: the one entry point from data to a certified `LimitSolution`."""
from __future__ import annotations

import time
import warnings

import numpy as np

from .certificate import certify, fit_free_part, lam_max, support_dual
from .exceptions import ConvergenceWarning
from .grids import check_random_state, default_grid
from .penalties import get_penalty
from .problem import LimitProblem
from .solution import LimitSolution
from .solvers import SolverFailed, run_solver, solver_chain
from .solvers.polish import polish as polish_result

__all__ = ["solve", "solve_problem", "zero_solution"]


def solve(X, Y, *, lam=None, loss="squared", penalty="group", bias="regularized",
          free="none", grid=None, n_directions=None, solver="auto", tol=1e-8,
          warm_start=None, polish=True, random_state=0, verbose=False, refine=None,
          certify_limit=True, **solver_options) -> LimitSolution:
    """Solve the infinite-width limit problem on a direction grid and certify the result.

    The grid problem (MATH.md, "Discretization and certificates")::

        minimize_{V, C}  L(Φ V + F C) + λ Σ_j ‖V_j‖,    Φ_ij = relu(θ_j·x̃_i)

    with ‖·‖ the Euclidean norm across tasks (``penalty="group"``) or the l1 norm
    (``penalty="l1"``). Its minimum is an upper bound on the infinite-width optimum OPT.

    ``penalty="kernel"`` solves the lazy baseline instead (no grid; keyword options
    ``kernel="arccos"|"ntk"`` and ``n_quadrature``) and returns a
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
        step on directions and weights (:mod:`limitsolver.refine_nd`) for at most
        ``AUTO_REFINE_TIME`` (40) seconds, after the default grid solve. Pass
        ``refine=True`` to refine anything. A result whose limit gap exceeds ``tol`` or is
        only estimated gives one :class:`~limitsolver.exceptions.LimitGapWarning`.
    certify_limit : bool
        Compute ``lower_bound`` / ``limit_gap`` / ``lower_bound_exact`` on the solution: a
        lower bound on the infinite-width optimum from the oracle's sup over all of Θ
        (:mod:`limitsolver.oracle`; exact for d = 1, and d = 2 up to
        ``oracle.EXACT_MAX_N_2D`` = 100 distinct inputs, a sampled estimate otherwise,
        flagged by ``lower_bound_exact=False``).
    **solver_options
        Passed to the backend (e.g. ``max_iter`` for Clarabel).

    Returns
    -------
    LimitSolution
    """
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
                        polish=polish, verbose=verbose, **solver_options)
    if refine:
        from .refine import refine as refine_solution
        # d ≥ 3: rounds until the limit gap is ≤ tol, no progress, or the time budget
        budget = dict(time_limit=AUTO_REFINE_TIME, max_iter=10**4) if problem.d >= 3 else {}
        sol = refine_solution(problem, sol, tol=max(tol, 1e-11), solver=solver,
                              verbose=verbose, **budget)
    elif certify_limit:
        from .oracle import attach_limit_certificate
        from .refine_nd import warn_limit_gap
        attach_limit_certificate(sol)
        warn_limit_gap(sol, max(tol, 1e-11))
    return sol


def _auto_refine(problem) -> bool:
    """The rule of ``solve(refine=None)`` (no grid given): refine d = 1 up to
    ``AUTO_REFINE_MAX_N[1]`` samples and d = 2 up to ``AUTO_REFINE_MAX_N[2]`` (not for
    interpolation); for d ≥ 3 with a squared or logistic loss, refine when n·T is at most
    ``AUTO_REFINE_MAX_NT`` (within ``AUTO_REFINE_TIME`` seconds)."""
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

#: ... with this time budget in seconds for the refinement (its rounds stop after it).
AUTO_REFINE_TIME = 40.0

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
                  polish=True, verbose=False, **solver_options) -> LimitSolution:
    """Solve a validated :class:`LimitProblem` on the direction set ``grid`` (M × (d+1))."""
    tol = _check_tol(tol)
    if warm_start is not None and not isinstance(warm_start, LimitSolution):
        raise ValueError(f"warm_start must be a LimitSolution (a previous solve), got "
                         f"{type(warm_start).__name__}")
    if problem.penalty not in ("group", "l1"):
        raise ValueError(f"penalty={problem.penalty!r} has no grid problem; "
                         "solve_problem takes penalty='group' or 'l1'")
    directions = problem.check_directions(grid)
    chain = solver_chain(solver, problem)
    if _zero_is_optimal(problem, directions):
        return zero_solution(problem, directions)
    t0 = time.perf_counter()
    scale = _target_scale(problem)
    inner = _scaled(problem, scale)
    if scale != 1.0:
        warm_start = None
    failures, best, result = [], None, None
    for name in chain:
        try:
            res = run_solver(name, inner, directions, tol=tol, warm_start=warm_start,
                             verbose=verbose, **solver_options)
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
        cand = _certified(problem, directions, res, tol=tol)
        if polish and res.solver != "native":
            pol = polish_result(problem, directions, res, tol=tol)
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
        raise SolverFailed("no backend produced a usable point: " + "; ".join(failures))
    if failures and len(chain) > 1:
        warnings.warn("solver fallback: " + "; ".join(failures), RuntimeWarning, stacklevel=3)
    V, C, cert = best
    info = dict(result.info)
    info["time_total"] = time.perf_counter() - t0
    info["grid_size"] = int(directions.shape[0])
    if failures:
        info["fallbacks"] = failures
    active = get_penalty(problem.penalty).row_norms(V) > 0
    certified = _score(problem, cert) <= tol
    status = "optimal" if certified else "inaccurate"
    info["backend_status"] = result.status
    if scale != 1.0:
        info["target_scale"] = scale
    sol = LimitSolution(problem, directions[active], V[active], C, cert,
                        status=status, solver=result.solver, grid=directions, info=info)
    sol.grid_weights = V
    if not certified:
        warnings.warn(
            f"{result.solver}: certified relative duality gap {cert.rel_gap:.3e} "
            f"(absolute {cert.gap:.3e}, interpolation residual {cert.infeasibility:.1e}) "
            f"exceeds tol={tol:g}; backend status {result.status!r}",
            ConvergenceWarning, stacklevel=3)
    return sol


def zero_solution(problem, directions) -> LimitSolution:
    """The exact solution for λ ≥ λ_max: no neurons, the free part fitted alone, certified
    on ``directions`` by :func:`~limitsolver.certificate.certify` (gap 0 up to rounding)."""
    V = np.zeros((directions.shape[0], problem.T))
    C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
    # (for interpolation the caller has checked that the free part fits Y exactly)
    cert = certify(problem, directions, V, C)
    # exact up to rounding; a larger gap would mean the free-part fit failed
    status = "optimal" if cert.rel_gap <= 1e-8 else "inaccurate"
    sol = LimitSolution(problem, directions[:0], V[:0], C, cert, status=status,
                        solver="closed-form", grid=directions,
                        info={"grid_size": int(directions.shape[0]), "lam_ge_lam_max": True})
    sol.grid_weights = V
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
