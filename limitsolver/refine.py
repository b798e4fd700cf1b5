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

The bound of every iteration is a valid lower bound on OPT, so the best one is kept; the
objective is that of the best solution found. For d ≤ 2 the oracle is exact and the
limit gap is certified; for d ≥ 3 the lower bound is an estimate.
"""
from __future__ import annotations

import time
import warnings
from contextlib import nullcontext

import numpy as np

from .exceptions import ConvergenceWarning
from .oracle import attach_limit_certificate
from .penalties import get_penalty
from .solvers.native import _blas_threads

__all__ = ["refine", "merge_directions", "coarse_grid"]


def _normalize(theta, problem):
    return problem.check_directions(theta)


def merge_directions(problem, directions, *, merge_tol=1e-9):
    """Drop directions closer than ``merge_tol`` to an earlier one (in max-norm); with
    ``free="affine"`` also those antipodal to an earlier one (relu(−z) = relu(z) − z makes
    them redundant). Order is kept; returns (k, d+1)."""
    directions = np.asarray(directions, dtype=float).reshape(-1, problem.dim)
    kept = np.empty_like(directions)
    m = 0
    for theta in directions:
        if m:
            near = np.max(np.abs(kept[:m] - theta), axis=1).min() <= merge_tol
            if not near and problem.free == "affine":
                near = np.max(np.abs(kept[:m] + theta), axis=1).min() <= merge_tol
            if near:
                continue
        kept[m] = theta
        m += 1
    return kept[:m].copy()


def _slide(problem, directions, V, Z, *, steps=(1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3)):
    """Moved copies of the active directions: uphill on a(θ) = ⟨c(θ), u_j⟩, u_j = V_j/‖V_j‖.

    For each neuron a few step lengths along the projected gradient are tried and the one
    with the largest a(θ) is kept (only when it improves on θ_j).
    """
    n, Xt = problem.n, problem.Xt
    out = []
    for theta, v in zip(directions, V):
        nv = np.linalg.norm(v)
        if nv == 0:
            continue
        u = v / nv
        zu = Z @ u                                              # (n,)
        act = Xt @ theta > 0
        grad = (zu * act) @ Xt / n
        if problem.bias == "regularized":
            grad = grad - (grad @ theta) * theta
        else:
            grad[:-1] = grad[:-1] - (grad[:-1] @ theta[:-1]) * theta[:-1]
        g = np.linalg.norm(grad)
        if g == 0:
            continue
        trial = np.array([theta + s * grad / g for s in steps])
        if problem.bias == "free":
            trial[:, -1] = np.clip(trial[:, -1], -problem.radius, problem.radius)
        trial = _normalize(trial, problem)
        a = np.maximum(trial @ Xt.T, 0.0) @ zu / n
        a0 = float(np.maximum(Xt @ theta, 0.0) @ zu / n)
        k = int(np.argmax(a))
        if a[k] > a0:
            out.append(trial[k])
    return np.array(out).reshape(-1, problem.dim)


def _newton_polish(problem, directions, V, C, *, max_iter=30):
    """Newton's method on (V_S, C) with the support S of V fixed (squared, logistic loss).

    On a fixed support the objective L(Φ_S V_S + F C) + λ Ω(V_S) is smooth: for ``group``
    Ω = Σ_j ‖V_j‖ with Hessian (I − u_j u_jᵀ)/‖V_j‖; for ``l1`` the nonzero entries keep
    their signs and Ω is linear. The loss Hessian is (1/n) Φ̃ᵀ diag(ℓ'') Φ̃ per task,
    Φ̃ = [Φ_S, F]. Steps are damped by backtracking; returns (V, C) (unchanged when
    nothing improves). Interior-point weights are accurate to ~1e-8; this takes them to
    rounding level, which the limit gap needs.
    """
    from .certificate import primal_value
    from .features import relu_features
    if problem.loss == "interpolate":
        return V, C
    pen = get_penalty(problem.penalty)
    rows = pen.row_norms(V) > 0
    if not rows.any():
        return V, C
    n, T, lam = problem.n, problem.T, problem.lam
    A = np.hstack([relu_features(problem.Xt, directions[rows]), problem.F])   # (n, q)
    k, q = int(rows.sum()), A.shape[1]
    mask = np.ones((q, T), dtype=bool)
    if problem.penalty == "l1":
        mask[:k] = V[rows] != 0
    W = np.vstack([V[rows], C])                                 # (q, T)
    Y = problem.Y
    group = problem.penalty == "group"
    signs = np.sign(W[:k])

    def value(W):
        P = A @ W
        if problem.loss == "squared":
            L = 0.5 * float(np.sum((P - Y) ** 2)) / n
        else:
            L = float(np.sum(np.logaddexp(0.0, -Y * P))) / n
        Om = float(np.sum(np.linalg.norm(W[:k], axis=1))) if group else float(
            np.sum(signs * W[:k]))
        return L + lam * Om

    idx = np.flatnonzero(mask.T.ravel())                        # task-major variable order
    f = value(W)
    for _ in range(max_iter):
        P = A @ W
        if problem.loss == "squared":
            G = A.T @ (P - Y) / n
            curv = np.ones((n, T))
        else:
            from scipy.special import expit
            s = expit(-Y * P)
            G = -A.T @ (Y * s) / n
            curv = s * (1 - s)
        H = np.zeros((q * T, q * T))
        for t in range(T):
            H[t * q:(t + 1) * q, t * q:(t + 1) * q] = (A.T * curv[:, t]) @ A / n
        Vk = W[:k]
        if group:
            nr = np.linalg.norm(Vk, axis=1)
            if np.any(nr == 0):
                break
            U = Vk / nr[:, None]
            G[:k] += lam * U
            for j in range(k):
                blk = lam * (np.eye(T) - np.outer(U[j], U[j])) / nr[j]
                ix = j + q * np.arange(T)
                H[np.ix_(ix, ix)] += blk
        else:
            G[:k] += lam * signs
        g = G.T.ravel()[idx]
        Hs = H[np.ix_(idx, idx)] + 1e-14 * np.eye(len(idx))
        try:
            step = np.linalg.solve(Hs, g)
        except np.linalg.LinAlgError:
            break
        a, improved = 1.0, False
        while a > 1e-8:
            Wn = W.copy().T.ravel()
            Wn[idx] -= a * step
            Wn = Wn.reshape(T, q).T
            if not group and np.any(np.sign(Wn[:k][mask[:k]]) != signs[mask[:k]]):
                a *= 0.5
                continue
            fn = value(Wn)
            if fn < f:
                improved = True
                break
            a *= 0.5
        if not improved:
            break
        done = f - fn <= 1e-16 * abs(f)
        W, f = Wn, fn
        if done:
            break
    Vn = np.zeros_like(V)
    Vn[rows] = W[:k]
    Cn = W[k:]
    if primal_value(problem, directions, Vn, Cn)[0] <= primal_value(problem, directions, V, C)[0]:
        return Vn, Cn
    return V, C


def _polished(problem, sol):
    """``sol`` with its weights Newton-polished (a new LimitSolution on the same grid), or
    ``sol`` itself when polishing does not lower the objective."""
    from .certificate import certify
    from .solution import LimitSolution
    D = sol.grid
    V = np.asarray(getattr(sol, "grid_weights", None), dtype=float)
    if problem.loss == "interpolate" or D is None or V.shape[0] != D.shape[0]:
        return sol
    Vn, Cn = _newton_polish(problem, D, V, sol.free_coef)
    if Vn is V:
        return sol
    cert = certify(problem, D, Vn, Cn)
    if cert.primal >= sol.objective:
        return sol
    active = get_penalty(problem.penalty).row_norms(Vn) > 0
    new = LimitSolution(problem, D[active], Vn[active], Cn, cert, status=sol.status,
                        solver=sol.solver, grid=D, info=dict(sol.info, newton_polish=True))
    new.grid_weights = Vn
    return new


def _newton_step(problem, sol):
    """``sol`` moved by the joint Newton method on directions and weights
    (:func:`~limitsolver.newton.joint_newton`, d = 1, squared and logistic losses), then
    weight-polished; or only weight-polished (:func:`_polished`) where the joint step does
    not apply. Returns a LimitSolution on the moved atoms, or ``sol`` when nothing improved."""
    from .certificate import certify
    from .newton import joint_newton, supports_joint_newton
    from .solution import LimitSolution
    if not supports_joint_newton(problem) or sol.atom_directions.shape[0] == 0:
        return _polished(problem, sol)
    D, V, C, info = joint_newton(problem, sol.atom_directions, sol.atom_weights,
                                 sol.free_coef)
    # a point no better in J beyond rounding is still taken: its last (polishing) steps
    # make the KKT residual — what the certificate measures — small
    slack = 1e-13 * abs(sol.objective)
    if not info["objective"] <= sol.objective + slack:
        return _polished(problem, sol)
    cert = certify(problem, D, V, C)
    if cert.primal > sol.objective + slack:
        return _polished(problem, sol)
    active = get_penalty(problem.penalty).row_norms(V) > 0
    new = LimitSolution(problem, D[active], V[active], C, cert, status=sol.status,
                        solver=sol.solver, grid=D,
                        info=dict(sol.info, joint_newton=info["iterations"]))
    new.grid_weights = V
    return new


def _inner_solver(solver, problem):
    """The backend of the working-set solves: with ``solver="auto"``, the native solver
    where it applies, else Clarabel alone (the fallback chain would run first-order SCS to
    its iteration limit whenever a 1e-12 gap is out of reach)."""
    from .solvers import installed_conic_solvers, native_supports
    if solver != "auto":
        return solver
    if native_supports(problem):
        return "auto"
    return "clarabel" if "CLARABEL" in installed_conic_solvers() else "auto"


#: Directions of the default starting grid of :func:`refine` (``default_grid``, so d = 1
#: also gets the 2n data breakpoints) ...
COARSE_SIZE = 64

#: ... and, where the joint Newton step moves the kinks (d = 1, squared or logistic loss),
#: the number of equally spaced directions alone (no breakpoints): the exchange step finds
#: the breakpoints that matter (they are candidates of the oracle), and a solve on 2n
#: breakpoint directions costs more than the refinement after it.
NEWTON_COARSE_SIZE = 128


def coarse_grid(problem):
    """The default starting grid of :func:`refine` (see ``COARSE_SIZE`` and
    ``NEWTON_COARSE_SIZE``)."""
    from .grids import cylinder_grid, default_grid, sphere_grid
    from .newton import supports_joint_newton
    if supports_joint_newton(problem):
        if problem.bias == "regularized":
            return sphere_grid(2, NEWTON_COARSE_SIZE)
        return cylinder_grid(1, 2, NEWTON_COARSE_SIZE // 2, problem.radius)
    return default_grid(problem.X, problem.bias, COARSE_SIZE)


#: With a bounded (non-exact) oracle, refinement stops after this many iterations without
#: a decrease of the objective.
STALL_ITERATIONS = 4


def refine(problem, solution=None, *, tol=1e-9, max_iter=40, exchange_margin=1e-2,
           max_new=32, slide=True, joint=True, merge_tol=1e-9, solver="auto",
           inner_tol=1e-11, time_limit=None, verbose=False) -> "LimitSolution":
    """Refine a solution off the grid until its limit gap is at most ``tol`` (relative).

    Parameters
    ----------
    problem : LimitProblem
    solution : LimitSolution, optional
        Starting point (its active atoms form the first working set). By default a solve on
        a coarse grid (:func:`coarse_grid`: 64 directions, plus the data breakpoints for
        d = 1 when the joint Newton step does not apply).
    tol : float
        Target relative limit gap (objective − lower bound) / |objective|.
    max_iter : int
        Exchange iterations.
    exchange_margin : float
        Local maximizers with ‖c(θ)‖ ≥ (1 − margin) λ enter the working set.
    max_new : int
        At most this many oracle directions enter per iteration.
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
        Backend and target relative gap of the working-set solves.
    time_limit : float, optional
        Seconds; the loop stops (with a ConvergenceWarning) when exceeded.

    Returns
    -------
    LimitSolution
        With ``lower_bound`` (the best of all iterations), ``limit_gap``,
        ``lower_bound_exact``; ``info["refine"]`` holds the history (iteration, working-set
        size, objective, lower bound, relative limit gap, time).
    """
    from .api import solve_problem
    from .newton import supports_joint_newton
    if problem.penalty not in ("group", "l1"):
        raise ValueError(f"refine: penalty={problem.penalty!r} has no grid problem")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"refine: max_iter must be an integer >= 1, got {max_iter!r}")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if solution is None:
            solution = solve_problem(problem, coarse_grid(problem), solver=solver,
                                     tol=inner_tol)
    lam = 1.0 if problem.loss == "interpolate" else problem.lam
    inner = _inner_solver(solver, problem)
    exact = True if problem.d <= 2 else None
    from .certificate import ROUNDING, _reference_value
    floor = max(ROUNDING * _reference_value(problem), 1e-300)

    def scale(objective):
        """Relative gaps as in the certificate: against max(|J|, ROUNDING · J_ref)."""
        return max(abs(objective), floor)
    best_sol, best_lb, best_exact, best_how = solution, -np.inf, True, {}
    history = []
    newton = joint and supports_joint_newton(problem)
    sol = solution
    converged = False
    stalled = -1
    # small dense products (oracle, Newton): on a busy machine several BLAS threads
    # mostly wait on each other, as inside the native solver
    with (_blas_threads(1) if problem.d == 1 else nullcontext()):
        for it in range(max_iter):
            sup = attach_limit_certificate(sol, threshold=(1 - exchange_margin) * lam,
                                           top_k=max_new, exact=exact, target_rel_gap=tol)
            if sol.lower_bound > best_lb:
                best_lb, best_exact = sol.lower_bound, sol.lower_bound_exact
                best_how = {k: sol.info[k] for k in ("lower_bound_method", "sup_interval",
                                                     "sup_rtol") if k in sol.info}
            stalled = 0 if sol.objective < best_sol.objective * (1 - 1e-14) else stalled + 1
            if sol.objective < best_sol.objective:
                best_sol = sol
            rel = (best_sol.objective - best_lb) / scale(best_sol.objective)
            history.append(dict(iteration=it, working_set=int(sol.grid.shape[0])
                                if sol.grid is not None else 0,
                                objective=float(sol.objective), lower_bound=float(sol.lower_bound),
                                rel_limit_gap=float(rel), time=time.perf_counter() - t0))
            if verbose:
                print(f"refine {it:3d}: objective {sol.objective:.12g}  lower bound "
                      f"{sol.lower_bound:.12g}  rel. limit gap {rel:.2e}  "
                      f"working set {history[-1]['working_set']}  t {history[-1]['time']:.2f}s")
            if rel <= tol:
                converged = True
                break
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
            if not sol.lower_bound_exact and stalled >= STALL_ITERATIONS:
                break  # bounded oracle: the exchange finds nothing that lowers J
            # local maximizers of ‖c‖ for the dual point that gave the bound
            new = [sup.directions[sup.values >= (1 - exchange_margin) * sup.value]]
            Z = np.asarray(sol.certificate.dual_point, dtype=float)
            active = sol.atom_directions
            if slide and not newton and active.shape[0]:
                new.append(_slide(problem, active, sol.atom_weights, Z))
            D = merge_directions(problem, np.vstack([active] + new), merge_tol=merge_tol)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                sol = solve_problem(problem, D, solver=inner, tol=inner_tol, warm_start=sol)
            sol = _newton_step(problem, sol) if newton else _polished(problem, sol)
    out = best_sol
    if solution.grid is not None and out is not solution and out.grid is not None:
        # keep the starting grid (for warm starts), with the working set appended
        out.grid = np.vstack([solution.grid, out.grid])
        gw = getattr(out, "grid_weights", None)
        if gw is not None:
            out.grid_weights = np.vstack([np.zeros((solution.grid.shape[0], problem.T)), gw])
    out.lower_bound = float(best_lb)
    out.limit_gap = float(out.objective - best_lb)
    out.lower_bound_exact = bool(best_exact)
    out.info.update(best_how)
    out.info["limit_rel_gap"] = float(out.limit_gap / scale(out.objective))
    out.info["refine"] = history
    out.info["refine_converged"] = converged
    out.info["time_refine"] = time.perf_counter() - t0
    if not converged:
        warnings.warn(f"refine: relative limit gap {out.info['limit_rel_gap']:.3e} after "
                      f"{len(history)} iterations exceeds tol={tol:g}", ConvergenceWarning,
                      stacklevel=2)
    return out
