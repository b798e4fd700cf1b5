"""Moves of a refinement iterate between exchange rounds (:mod:`limitsolver.exchange`).

- :func:`merge_directions` — drop directions that meet (closer than ``merge_tol``; with a
  free affine part also antipodal pairs, since relu(−z) = relu(z) − z);
- :func:`slide` — move each active direction θ_j uphill on ⟨c(θ), V_j⟩, projected on Θ;
- :func:`newton_polish` / :func:`polished` — the weights on fixed directions, Newton-polished
  by the support-Newton method;
- :func:`newton_step` — the joint Newton step on kinks and weights (d = 1,
  :func:`~limitsolver.newton.joint_newton`).

Every move returns a new point with its own grid certificate (or the point it was given when
nothing improved); :func:`limitsolver.refine.refine` drives them.
"""
from __future__ import annotations

import numpy as np

from .penalties import get_penalty
from .problem import LimitProblem
from .solution import LimitSolution
from .status import regrade

__all__ = ["merge_directions", "slide", "newton_polish", "polished", "newton_step"]


def _normalize(theta, problem):
    return problem.check_directions(theta)


def merge_directions(problem: LimitProblem, directions: np.ndarray, *,
                     merge_tol: float = 1e-9) -> np.ndarray:
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


def slide(problem: LimitProblem, directions: np.ndarray, V: np.ndarray, Z: np.ndarray, *,
          steps: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3)) -> np.ndarray:
    """Moved copies of the active directions: uphill on a(θ) = ⟨c(θ), u_j⟩, u_j = V_j/‖V_j‖.

    For each neuron a few step lengths along the projected gradient are tried and the one
    with the largest a(θ) is kept (only when it improves on θ_j).

    Parameters
    ----------
    directions : ndarray (k, d+1);  V : ndarray (k, T);  Z : ndarray (n, T) the residual.

    Returns
    -------
    ndarray (k', d+1), k' ≤ k: the moved directions (normalized).
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


def newton_polish(problem: LimitProblem, directions: np.ndarray, V: np.ndarray,
                  C: np.ndarray, *, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method on (V_S, C) with the support S of V fixed, for every smooth loss.

    On a fixed support the objective L(Φ_S V_S + F C) + λ Ω(V_S) is smooth (group:
    Ω's Hessian block (I − u_j u_jᵀ)/‖V_j‖; l1: the nonzero entries keep their signs and Ω
    is linear); this is the support-Newton method of
    :func:`~limitsolver.solvers.support_newton.solve_restricted` with ``fixed_support``
    (nothing enters; a unit whose line search crosses zero leaves). Interior-point weights
    are accurate to ~1e-8; this takes them to rounding level, which the limit gap needs.

    Parameters
    ----------
    directions : ndarray (M, d+1);  V : ndarray (M, T);  C : ndarray (p, T)

    Returns
    -------
    (V, C) of the same shapes: the polished point when its objective is not above that of
    the start, else the start itself (the same objects).
    """
    from .certificate import primal_value
    from .features import relu_features
    from .losses import get_loss
    from .solvers.support_newton import solve_restricted
    loss = get_loss(problem.loss)
    if not loss.smooth:
        return V, C
    rows = get_penalty(problem.penalty).row_norms(V) > 0
    if not rows.any():
        return V, C
    A = relu_features(problem.Xt, directions[rows])
    Vr, Cn, _ = solve_restricted(A, problem.Y, problem.lam, loss, problem.penalty,
                                 F=problem.F, V0=V[rows], C0=C, tol=1e-15,
                                 fixed_support=True, max_newton=max_iter)
    Vn = np.zeros_like(V, dtype=float)
    Vn[rows] = Vr
    if primal_value(problem, directions, Vn, Cn)[0] <= primal_value(problem, directions, V, C)[0]:
        return Vn, Cn
    return V, C


def polished(problem: LimitProblem, sol: LimitSolution) -> LimitSolution:
    """``sol`` with its weights Newton-polished (a new LimitSolution on the same grid), or
    ``sol`` itself when polishing does not lower the objective."""
    from .certificate import certify
    D = sol.grid
    V = np.asarray(getattr(sol, "grid_weights", None), dtype=float)
    if problem.loss == "interpolate" or D is None or V.shape[0] != D.shape[0]:
        return sol
    Vn, Cn = newton_polish(problem, D, V, sol.free_coef)
    if Vn is V:
        return sol
    cert = certify(problem, D, Vn, Cn)
    if cert.primal >= sol.objective:
        return sol
    active = get_penalty(problem.penalty).row_norms(Vn) > 0
    new = LimitSolution(problem, D[active], Vn[active], Cn, cert, status=sol.status,
                        solver=sol.solver, grid=D, info=dict(sol.info, newton_polish=True))
    new.grid_weights = Vn
    regrade(new, sol)
    return new


def newton_step(problem: LimitProblem, sol: LimitSolution) -> LimitSolution:
    """``sol`` moved by the joint Newton method on directions and weights
    (:func:`~limitsolver.newton.joint_newton`, d = 1, squared and logistic losses), then
    weight-polished; or only weight-polished (:func:`polished`) where the joint step does
    not apply. Returns a LimitSolution on the moved atoms, or ``sol`` when nothing improved."""
    from .certificate import certify
    from .newton import joint_newton, supports_joint_newton
    if not supports_joint_newton(problem) or sol.atom_directions.shape[0] == 0:
        return polished(problem, sol)
    D, V, C, info = joint_newton(problem, sol.atom_directions, sol.atom_weights,
                                 sol.free_coef)
    # a point no better in J beyond rounding is still taken: its last (polishing) steps
    # make the KKT residual — what the certificate measures — small
    slack = 1e-13 * abs(sol.objective)
    if not info["objective"] <= sol.objective + slack:
        return polished(problem, sol)
    cert = certify(problem, D, V, C)
    if cert.primal > sol.objective + slack:
        return polished(problem, sol)
    active = get_penalty(problem.penalty).row_norms(V) > 0
    new = LimitSolution(problem, D[active], V[active], C, cert, status=sol.status,
                        solver=sol.solver, grid=D,
                        info=dict(sol.info, joint_newton=info["iterations"]))
    new.grid_weights = V
    regrade(new, sol)
    return new


#: The older private names, which :mod:`limitsolver.exchange` still imports.
