"""Primal value, dual value and duality gap: the one certificate every solver and test uses.

For weights V (M × T) on directions Θ (M × (d+1)) and free-part coefficients C (p × T):

    J(V, C) = L(Φ V + F C) + λ Ω(V)                 (interpolation: Ω(V), with Φ V + F C = Y)

A dual candidate is the generalized residual Z = −n ∇L (Y − Φ V − F C for squared loss),
projected orthogonally to the free-part columns F, and scaled by s ≤ λ / S where

    S = max_θ ‖c(θ)‖,   c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i)   (‖·‖ the penalty's dual norm).

With the max over the grid, D(sZ) is a lower bound on the grid problem; with the sup over
the whole direction set Θ (passed as ``sup_norm``) it is a lower bound on the
infinite-width optimum OPT (MATH.md, "Discretization and certificates").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .budget import blas_threads
from .features import features_matvec, features_rmatvec
from .gapscale import ROUNDING, relative_gap
from .losses import get_loss
from .penalties import get_penalty
from .pricing import active_store
from .problem import LimitProblem

__all__ = ["Certificate", "certify", "primal_value", "fit_free_part", "dual_candidate",
           "correlations", "lam_max", "support_dual", "project_free", "reference_value",
           "grid_sup", "ROUNDING"]


@dataclass
class Certificate:
    """Primal/dual values of weights on a direction set.

    Attributes
    ----------
    primal : float
        J(V, C) (for interpolation, the penalty Ω(V)).
    dual : float
        D(sZ), a lower bound on the optimum over the directions the max ran over.
    gap : float
        primal − dual (≥ 0 up to rounding when the dual point is feasible).
    rel_gap : float
        gap / max(|primal|, ROUNDING · J_ref), J_ref the objective's natural scale.
    dual_point : ndarray (n, T)
        The feasible dual point sZ.
    max_correlation : float
        S, the max of the dual norm of c(θ) for the unscaled Z.
    infeasibility : float
        max_i ‖F(x_i) − y_i‖_∞ for interpolation (0 otherwise).
    """

    primal: float
    dual: float
    gap: float
    rel_gap: float
    dual_point: np.ndarray = field(repr=False)
    max_correlation: float
    infeasibility: float = 0.0


def lam_max(problem: LimitProblem, directions: "np.ndarray | None" = None) -> float:
    """λ_max: the smallest λ at which V = 0 (with the optimal free part) is optimal.

    It is max_j ‖(1/n) Φ_jᵀ Z₀‖ over the grid, Z₀ the residual of the free part alone;
    ``directions`` defaults to the problem's default grid.
    """
    if not isinstance(problem, LimitProblem):
        raise ValueError(f"lam_max takes a LimitProblem, got {type(problem).__name__}")
    if problem.loss == "interpolate":
        raise ValueError("lam_max is not defined for loss='interpolate'")
    if directions is None:
        from .grids import default_grid
        directions = default_grid(problem.X, problem.bias)
    if active_store(problem.Xt, directions) is None:    # a shared store's grid is normalized
        directions = problem.check_directions(directions)
    C = fit_free_part(problem, np.zeros((problem.n, problem.T)))
    Z = dual_candidate(problem, problem.F @ C)
    return grid_sup(problem, directions, Z)


def grid_sup(problem: LimitProblem, directions: np.ndarray, Z: np.ndarray) -> float:
    """max_j ‖c(θ_j)‖_* over the grid for the candidate Z (n × T), in float64 (through
    the shared feature store of (X̃, directions) when one is active)."""
    pen = get_penalty(problem.penalty)
    store = active_store(problem.Xt, directions)
    if store is not None:
        return store.dual_norms_and_sup(Z, pen)[1]
    S = pen.dual_norms(correlations(problem, directions, Z))
    return float(S.max()) if S.size else 0.0


#: Free-part fits of a non-quadratic loss stop once the summed loss n·L is below this:
#: when the free part alone separates the labels the infimum 0 is not attained (C → ∞;
#: Newton gains about one unit of margin per step), and a loss this small is far below
#: every gap we report. (The name is historical: it serves every such loss.)
LOGISTIC_LOSS_FLOOR = 1e-25


def fit_free_part(problem: LimitProblem, FV: np.ndarray, C0: np.ndarray | None = None, *,
                  max_iter: int = 200) -> np.ndarray:
    """Optimal free-part coefficients C (p × T) for fixed network output FV (n × T).

    C = argmin_C L(FV + F C): least squares for the squared loss and interpolation (F C =
    Y − FV in the least-squares sense); for the other smooth losses the support-Newton
    method with no feature columns (:func:`~limitsolver.solvers.support_newton.solve_restricted`,
    k = 0; separable losses task by task), stopped when the summed loss is below
    :data:`LOGISTIC_LOSS_FLOOR` (no finite optimum), when a Newton step no longer decreases
    L, or after ``max_iter`` steps. The multinomial loss is invariant under adding one
    constant to every class, so C is defined up to that shift for an intercept.
    """
    F, Y = problem.F, problem.Y
    p, T = F.shape[1], Y.shape[1]
    if p == 0:
        return np.zeros((0, T))
    loss = get_loss(problem.loss)
    if loss.quadratic or not loss.smooth:
        return np.linalg.lstsq(F, Y - FV, rcond=None)[0]
    from .solvers.support_newton import solve_restricted
    _, C, _ = solve_restricted(np.zeros((F.shape[0], 0)), Y, problem.lam, loss,
                               problem.penalty, F=F, C0=C0, offset=np.asarray(FV, dtype=float),
                               tol=1e-15, max_newton=max_iter * max(T, 1),
                               loss_floor=LOGISTIC_LOSS_FLOOR)
    return C


def primal_value(problem: LimitProblem, directions: np.ndarray, V: np.ndarray, C: np.ndarray,
                 *, pred: "np.ndarray | None" = None) -> tuple[float, np.ndarray]:
    """J(V, C) and the predictions Φ V + F C (n × T)."""
    loss = get_loss(problem.loss)
    pen = get_penalty(problem.penalty)
    if pred is None:
        pred = features_matvec(problem.Xt, directions, V) + problem.F @ C
    if problem.loss == "interpolate":
        return pen.value(V), pred
    return loss.value(pred, problem.Y) + problem.lam * pen.value(V), pred


def dual_candidate(problem: LimitProblem, pred: np.ndarray) -> np.ndarray:
    """Generalized residual of predictions (n × T), made orthogonal to the free columns
    (and, multinomial, with rows summing to 0: ``loss.project_dual``)."""
    loss = get_loss(problem.loss)
    return loss.project_dual(project_free(problem, loss.residual(pred, problem.Y)))


def project_free(problem: LimitProblem, Z: np.ndarray) -> np.ndarray:
    """Z minus its least-squares fit by the free columns F (done twice, for accuracy)."""
    F = problem.F
    if F.shape[1] == 0:
        return Z
    for _ in range(2):
        Z = Z - F @ np.linalg.lstsq(F, Z, rcond=None)[0]
    return Z


def support_dual(problem: LimitProblem, directions: np.ndarray, V: np.ndarray,
                 Z0: np.ndarray) -> np.ndarray:
    """Correct a dual candidate so that it satisfies the support conditions exactly.

    At an optimum, every active direction θ_j carries c(θ_j) = λ ∇Ω(V_j) on the entries of
    the penalty's support (group: λ V_j/‖V_j‖ on the whole row; l1: λ sign(V_jt) on the
    active entries; λ = 1 for interpolation) and Z ⊥ F.
    Returns the smallest change of α·Z0 (α the best scale of Z0) meeting these linear
    equations; interior-point multipliers are accurate to ~1e-7, this makes them exact up
    to rounding when the support is right. The result is only a *candidate*: ``certify``
    rescales it to feasibility over the whole direction set.

    Parameters
    ----------
    directions : ndarray (M, d+1);  V : ndarray (M, T);  Z0 : ndarray (n, T)
    """
    from .features import relu_features
    lam = 1.0 if problem.loss == "interpolate" else problem.lam
    pen = get_penalty(problem.penalty)
    active = pen.row_norms(V) > 0
    Z0 = np.asarray(Z0, dtype=float)
    if not active.any():
        return Z0
    Phi = relu_features(problem.Xt, directions[active]) / problem.n
    Va = V[active]
    U = lam * pen.gradient(Va)          # λ V_j/‖V_j‖ (group), λ sign V_jt (l1)
    mask = pen.support(Va)              # whole rows (group), the nonzero entries (l1)
    # best scale (and sign) of Z0 against the support equations
    PZ = Phi.T @ Z0
    den = float(np.sum((PZ * mask) ** 2))
    alpha = float(np.sum(PZ * U * mask)) / den if den > 0 else 0.0
    Z = alpha * Z0
    F = problem.F
    # tasks with the same active rows share the matrix B: one least-squares factorization
    # for all their right-hand sides (the group penalty: one for all T tasks)
    patterns, which = np.unique(mask.T, axis=0, return_inverse=True)
    for k, rows in enumerate(patterns):
        tasks = np.flatnonzero(np.ravel(which) == k)
        B = np.vstack([Phi[:, rows].T, F.T])
        if B.shape[0] == 0:
            continue
        r = np.vstack([U[np.ix_(rows, tasks)], np.zeros((F.shape[1], tasks.size))])
        Z[:, tasks] -= _min_norm_lstsq(B, B @ Z[:, tasks] - r)
    return Z


def _min_norm_lstsq(B: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares solution of B x = g (LAPACK gelsy: QR with column
    pivoting, rank by rcond = machine epsilon), with one BLAS thread: on a shared 2-core
    machine the threaded factorization of a 2044 × 1000 B took 10.5 s against 0.8 s
    (measured; gelsd, the SVD route, 21 s threaded)."""
    import scipy.linalg
    with blas_threads(1):
        return scipy.linalg.lstsq(B, g, lapack_driver="gelsy", check_finite=False)[0]


def correlations(problem: LimitProblem, directions: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """c(θ_j) = (1/n) Σ_i Z_i relu(θ_j·x̃_i) for every grid direction, shape (M, T)
    (from the shared feature store of (X̃, directions) when one is active)."""
    store = active_store(problem.Xt, directions)
    if store is not None:
        return store.correlations(Z)
    return features_rmatvec(problem.Xt, directions, Z) / problem.n


def reference_value(problem: LimitProblem) -> float:
    """J_ref: the loss of the zero predictor (``reference_value`` of the loss: (1/(2n))‖Y‖²
    squared, T·log 2 logistic, log K multinomial), or max|Y| for interpolation."""
    return get_loss(problem.loss).reference_value(problem.Y)


def certify(problem: LimitProblem, directions: np.ndarray, V: np.ndarray, C: np.ndarray, *,
            Z: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...] | None = None,
            sup_norm: "Callable[[np.ndarray], float] | None" = None,
            pred: "np.ndarray | None" = None) -> Certificate:
    """Certificate of weights V (M × T), free part C (p × T) on ``directions`` (M × (d+1)).

    Parameters
    ----------
    Z : ndarray (n, T), optional
        Dual candidate; by default the generalized residual of (V, C). Interpolation has no
        residual to use, so pass the solver's equality-constraint multipliers (any scale or
        sign; it is rescaled). Several candidates may be passed as a list: the best is kept.
    sup_norm : callable, optional
        ``sup_norm(Z) -> float``: the sup over a continuous direction set of the dual norm of
        c(θ). Without it the max runs over ``directions``.
    """
    primal, pred = primal_value(problem, directions, V, C, pred=pred)
    infeas = float(np.max(np.abs(pred - problem.Y))) if problem.loss == "interpolate" else 0.0
    if Z is None:
        raw = [get_loss(problem.loss).residual(pred, problem.Y)]
    elif isinstance(Z, (list, tuple)):
        raw = [np.asarray(z, dtype=float) for z in Z]
    else:
        raw = [np.asarray(Z, dtype=float)]
    loss = get_loss(problem.loss)
    candidates = []
    for z in raw:
        # Fᵀ Z = 0 (free columns) and the loss's own linear constraints (multinomial:
        # Σ_k Z_ik = 0); the two projections commute (columns vs rows)
        zp = loss.project_dual(project_free(problem, z))
        # what survives the projection at rounding level is noise, not a dual direction
        if np.max(np.abs(zp), initial=0.0) > 1e-11 * np.max(np.abs(z), initial=0.0):
            candidates.append(zp)
    pen = get_penalty(problem.penalty)
    lam = 1.0 if problem.loss == "interpolate" else problem.lam
    # Z = 0 is always dual feasible (value 0): the bound never goes below it.
    best = (0.0, np.zeros_like(problem.Y), 0.0)
    # Below this, S is rounding noise and λ/S would amplify noise into a bound.
    s_floor = 1e-13 * np.max(np.linalg.norm(problem.Xt, axis=1))
    for Zc in candidates:
        scale_z = float(np.max(np.abs(Zc))) if Zc.size else 0.0
        if scale_z == 0.0:
            continue
        if sup_norm is None:
            S = grid_sup(problem, directions, Zc)
        else:
            S = float(sup_norm(Zc))
        if S <= s_floor * scale_z:
            if problem.loss == "interpolate":
                continue
            smax = 1.0
        else:
            smax = lam / S
        s = loss.scale_dual(Zc, problem.Y, smax)
        if not loss.dual_feasible(s * Zc, problem.Y):
            continue
        dual = loss.dual_value(s * Zc, problem.Y)
        if dual > best[0]:
            best = (dual, s * Zc, S)
    dual, Zs, S = best
    gap = primal - dual
    rel = relative_gap(primal, dual, reference_value(problem))
    return Certificate(primal=primal, dual=dual, gap=gap, rel_gap=rel, dual_point=Zs,
                       max_correlation=S, infeasibility=infeas)
