"""The softmax (multinomial) loss against independent routes: finite differences, the
Fenchel–Young equality, weak duality on random feasible dual points, a dense search for the
best dual scaling, the K = 2 reduction to the logistic loss through the conic backend, and
certified solves against dense independent grid solves."""
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

import limitsolver as ls
from limitsolver.certificate import (certify, fit_free_part, grid_sup, primal_value,
                                     project_free)
from limitsolver.losses import MultinomialLoss as M
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem
from limitsolver.solvers.conic import solve_conic


def _onehot(rng, n, K):
    return np.eye(K)[rng.integers(0, K, n)]


def _naive_value(F, Y):
    return float(np.sum(logsumexp(F, axis=1) - np.sum(Y * F, axis=1))) / Y.shape[0]


def test_value_gradient_hessian_against_finite_differences():
    rng = np.random.default_rng(0)
    n, K = 7, 4
    Y, F = _onehot(rng, n, K), rng.standard_normal((n, K))
    assert M.value(F, Y) == pytest.approx(_naive_value(F, Y), rel=1e-14)
    e = 1e-6
    g_fd = np.zeros_like(F)
    for i in range(n):
        for k in range(K):
            dF = np.zeros_like(F)
            dF[i, k] = e
            g_fd[i, k] = (M.value(F + dF, Y) - M.value(F - dF, Y)) / (2 * e)
    assert np.max(np.abs(M.gradient(F, Y) - g_fd)) <= 1e-9
    # per-sample Hessian blocks: derivative of n·gradient_i = −Z_i in F_i
    Hb = M.hessian_blocks(F, Y)
    for i in range(n):
        Hfd = np.zeros((K, K))
        for k in range(K):
            dF = np.zeros_like(F)
            dF[i, k] = e
            Hfd[:, k] = -(M.residual(F + dF, Y)[i] - M.residual(F - dF, Y)[i]) / (2 * e)
        assert np.max(np.abs(Hb[i] - Hfd)) <= 1e-8
    D = rng.standard_normal((n, K))
    assert np.allclose(M.hessian_matvec(F, Y, D), np.einsum("ikl,il->ik", Hb, D), atol=1e-15)


def test_large_scores_are_stable():
    """Scores of size 1e8: the value is computed from score differences (the naive
    lse − F_y cancels), and the residual's rows sum to 0 even when 1 − p_y underflows."""
    Y = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    base = 1e8
    F = base + np.array([[40.0, 0, 0], [0, 1.0, -1.0], [-800.0, 0.0, 2.0]])
    # exact per-row values: log(1 + Σ_{k≠y} exp(F_k − F_y))
    exact = [np.log1p(2 * np.exp(-40.0)), np.log1p(np.exp(-1.0) + np.exp(-2.0)),
             np.log1p(np.exp(-802.0) + np.exp(-2.0))]
    assert M.value(F, Y) == pytest.approx(np.mean(exact), rel=1e-13)
    Z = M.residual(F, Y)
    assert Z[0, 0] == pytest.approx(2 * np.exp(-40.0), rel=1e-12)   # not 1 − (1 − tiny) = 0
    assert np.all(np.abs(Z.sum(axis=1)) <= 1e-16 * np.abs(Z).max(axis=1))
    assert M.dual_feasible(Z, Y)
    # Fenchel–Young at the residual, row by row (well separated row included)
    Fs = F - base
    assert M.dual_value(Z, Y) == pytest.approx(M.value(Fs, Y) + np.sum(Z * Fs) / 3, rel=1e-12)


def test_fenchel_young_equality_at_the_residual():
    rng = np.random.default_rng(1)
    for K in (2, 3, 6):
        n = 20
        Y, F = _onehot(rng, n, K), 3 * rng.standard_normal((n, K))
        Z = M.residual(F, Y)
        assert M.dual_value(Z, Y) == pytest.approx(M.value(F, Y) + np.sum(Z * F) / n,
                                                   rel=1e-12)


def test_feasibility_slack_is_relative_to_the_candidate():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    Z = 1e-20 * np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert M.dual_feasible(Z, Y)
    bad = Z.copy()
    bad[0] = [1e-20 - 1e-25, 1e-25 - 1e-20 + 2e-25]    # q_01 = −Z_01 < 0 by 1e-5 relative
    bad[0, 1] = 1e-25
    bad[0, 0] = -1e-25
    assert not M.dual_feasible(bad, Y)
    assert M.dual_value(bad, Y) == -np.inf
    off = Z.copy()
    off[0, 1] += 1e-33                                  # rounding-level in relative terms
    off[0, 0] -= 1e-33
    assert M.dual_feasible(off, Y)
    assert not M.dual_feasible(np.array([[0.5, 0.2], [-0.1, 0.1]]), Y)   # rows must sum to 0


def test_projection_orthogonal_to_free_columns_keeps_rows_summing_to_zero():
    rng = np.random.default_rng(2)
    n, d, K = 40, 3, 4
    X = rng.standard_normal((n, d))
    y = rng.integers(0, K, n)
    p = LimitProblem(X, y, lam=0.1, loss="multinomial", free="affine")
    F = rng.standard_normal((n, K))
    Zp = project_free(p, M.residual(F, p.Y))
    assert np.max(np.abs(Zp.sum(axis=1))) <= 1e-15
    assert np.max(np.abs(p.F.T @ Zp)) <= 1e-13


def test_scale_dual_is_the_best_scaling():
    rng = np.random.default_rng(3)
    n, K = 30, 3
    Y = _onehot(rng, n, K)
    for smax in (0.2, 0.7, 1.0, 5.0):
        # a feasible Z whose dual value falls for large s: q_y small in many rows
        q = rng.dirichlet(0.3 * np.ones(K), n)
        Z = Y - q
        s = M.scale_dual(Z, Y, smax)
        grid = np.linspace(0, min(1.0, smax), 801)
        vals = [M.dual_value(t * Z, Y) for t in grid]
        assert 0 <= s <= min(1.0, smax)
        assert M.dual_value(s * Z, Y) >= max(vals) - 1e-12


@pytest.mark.parametrize("penalty,free", [("group", "none"), ("l1", "intercept"),
                                          ("group", "affine")])
def test_weak_duality_on_random_points(penalty, free):
    """D(sZ) ≤ J(V, C) for random feasible dual points Z (rows in the simplex after the
    projection orthogonal to the free columns, scaled to the sup over all of Θ) and random
    (V, C) on random grids: the sup over Θ makes the bound hold on every grid."""
    rng = np.random.default_rng(4)
    n, K = 25, 3
    X = rng.standard_normal((n, 1))
    p = LimitProblem(X, rng.integers(0, K, n), lam=0.05, loss="multinomial",
                     penalty=penalty, free=free)
    kept = 0
    for _ in range(40):
        q = 0.6 * p.Y.mean(axis=0) + 0.4 * rng.dirichlet(np.ones(K), n)
        Z = project_free(p, p.Y - q)
        if not M.dual_feasible(Z, p.Y):
            continue
        kept += 1
        S = sup_correlation(p, Z, exact=True).upper
        s = M.scale_dual(Z, p.Y, p.lam / S)
        D = M.dual_value(s * Z, p.Y)
        for _ in range(3):
            dirs = p.check_directions(rng.standard_normal((15, 2)))
            V = rng.standard_normal((15, K)) * rng.uniform(0, 0.5)
            C = rng.standard_normal((p.F.shape[1], K))
            assert D <= primal_value(p, dirs, V, C)[0] + 1e-12
    assert kept >= 10


def _logistic_pair(rng, n, d):
    X = rng.standard_normal((n, d))
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X, y, np.where(y == 0, 1.0, -1.0)


@pytest.mark.parametrize("penalty,free", [("group", "none"), ("group", "intercept"),
                                          ("l1", "none"), ("l1", "affine")])
def test_two_classes_equal_the_logistic_loss(penalty, free):
    """K = 2: scores enter only through F_0 − F_1, so V = (v/2, −v/2), C = (c/2, −c/2)
    maps a logistic point (labels +1 for class 0, −1 for class 1) to a multinomial one with
    the same loss, and ‖V_j‖₂ ≥ |V_j0 − V_j1|/√2 (group; equality when antisymmetric),
    |V_j0| + |V_j1| ≥ |V_j0 − V_j1| (l1): the optima agree at λ/√2 (group) and λ (l1)."""
    rng = np.random.default_rng(5)
    X, y, s = _logistic_pair(rng, 30, 1)
    lam = 0.02
    grid = ls.grids.default_grid(X, "regularized", 64)
    pm = LimitProblem(X, y, lam=lam, loss="multinomial", penalty=penalty, free=free)
    pl = LimitProblem(X, s, lam=lam / np.sqrt(2) if penalty == "group" else lam,
                      loss="logistic", penalty=penalty, free=free)
    G = pm.check_directions(grid)
    rm = solve_conic(pm, G, solver="CLARABEL", tol=1e-10)
    rl = solve_conic(pl, G, solver="CLARABEL", tol=1e-10)
    Jm = primal_value(pm, G, rm.V, rm.C)[0]
    Jl = primal_value(pl, G, rl.V, rl.C)[0]
    assert Jm == pytest.approx(Jl, rel=1e-7)
    # the antisymmetric lift of the logistic solution has the logistic objective exactly
    Vm = np.column_stack([rl.V[:, 0] / 2, -rl.V[:, 0] / 2])
    Cm = np.column_stack([rl.C[:, 0] / 2, -rl.C[:, 0] / 2]) if free != "none" else rl.C[:, :0]
    Cm = Cm.reshape(pm.F.shape[1], 2)
    assert primal_value(pm, G, Vm, Cm)[0] == pytest.approx(Jl, rel=1e-12)


def test_fit_free_part_is_optimal_for_multinomial():
    """The free part for fixed network outputs minimizes the softmax loss: its gradient
    Fᵀ(Y − softmax(FV + F C))/n vanishes, and no C found by a generic minimizer is lower."""
    from scipy.optimize import minimize
    rng = np.random.default_rng(6)
    n, K = 40, 3
    X = rng.standard_normal((n, 2))
    p = LimitProblem(X, rng.integers(0, K, n), lam=0.1, loss="multinomial", free="affine")
    FV = rng.standard_normal((n, K))
    C = fit_free_part(p, FV)
    grad = p.F.T @ M.residual(FV + p.F @ C, p.Y) / n
    assert np.max(np.abs(grad)) <= 1e-9

    def f(c):
        return M.value(FV + p.F @ c.reshape(C.shape), p.Y)
    best = minimize(f, np.zeros(C.size), method="BFGS", options=dict(gtol=1e-12)).fun
    assert f(C.ravel()) <= best + 1e-12


def _dense_grid_objective(problem, grid):
    """Objective of a grid solve through the backends' fallback chain (any point's objective
    is ≥ the grid optimum ≥ OPT: accuracy does not matter for the comparisons here)."""
    from limitsolver.api import solve_problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve_problem(problem, grid, tol=1e-5).objective


@pytest.mark.parametrize("d,penalty", [(1, "group"), (2, "l1")])
def test_solve_is_certified_and_below_a_dense_grid(d, penalty):
    rng = np.random.default_rng(7 + d)
    n, K = 24, 3
    X = rng.standard_normal((n, d))
    y = (X[:, 0] > 0.3).astype(int) + (X.sum(axis=1) > -0.2).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ls.exceptions.LimitGapWarning)
        sol = ls.solve(X, y, lam=0.02, loss="multinomial", penalty=penalty, tol=1e-8,
                       max_time=60)
    assert sol.status == "optimal" and sol.info["status_basis"] == "limit"
    assert sol.limit_certified and sol.lower_bound_exact
    assert sol.limit_gap <= 1e-8 * abs(sol.objective)
    dense = ls.grids.default_grid(X, "regularized", 400 if d == 1 else 1200)
    J_dense = _dense_grid_objective(LimitProblem(X, y, lam=0.02, loss="multinomial",
                                                 penalty=penalty), dense)
    assert sol.lower_bound <= J_dense + 1e-12
    assert sol.objective <= J_dense + 1e-9 * J_dense


def test_d3_bounded_lower_bound_and_refinement_not_worse_than_start(monkeypatch):
    from limitsolver import faces3d
    from limitsolver.api import solve_problem
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 0)     # the bounded oracle, not the exact one
    from limitsolver.refine import refine
    rng = np.random.default_rng(9)
    n, K = 16, 3
    X = rng.standard_normal((n, 3))
    y = rng.integers(0, K, n)
    p = LimitProblem(X, y, lam=0.03, loss="multinomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = solve_problem(p, ls.grids.default_grid(X, "regularized", 256))
        sol = refine(p, start, tol=1e-3, max_time=4)
    assert sol.objective <= start.objective + 1e-12 * abs(start.objective)
    assert sol.info["lower_bound_method"] == "bounded"
    dense = _dense_grid_objective(p, ls.grids.default_grid(X, "regularized", 1000))
    assert sol.lower_bound <= min(dense, sol.objective) + 1e-12
    cert = certify(p, sol.atom_directions, sol.atom_weights, sol.free_coef)
    assert cert.primal == pytest.approx(sol.objective, rel=1e-12)
    assert (sol.status == "optimal") == (sol.limit_certified and
                                         sol.limit_gap <= 1e-3 * abs(sol.objective))


def test_grid_sup_scales_the_candidate_to_feasibility():
    """certify's dual point on a grid: feasible for the loss and with grid correlations
    ≤ λ (checked on the grid directly)."""
    rng = np.random.default_rng(10)
    n, K = 20, 4
    X = rng.standard_normal((n, 2))
    p = LimitProblem(X, rng.integers(0, K, n), lam=0.01, loss="multinomial")
    G = p.check_directions(ls.grids.default_grid(X, "regularized", 200))
    V = 0.1 * rng.standard_normal((G.shape[0], K))
    cert = certify(p, G, V, np.zeros((0, K)))
    assert M.dual_feasible(cert.dual_point, p.Y)
    assert grid_sup(p, G, cert.dual_point) <= p.lam * (1 + 1e-12)
    assert cert.dual <= cert.primal
