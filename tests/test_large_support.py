"""Supports larger than n (the grid optimum is not unique): native against Clarabel, and the
blocked coordinate sweep against the row-by-row sweep."""
import warnings

import numpy as np
import pytest

from limitsolver.api import solve_problem
from limitsolver.certificate import certify, lam_max
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.problem import LimitProblem
from limitsolver.solvers.bcd import bcd_anderson, coordinate_sweep


def _wide_problem(n=20, d=4, T=3, M=1500, frac=1e-3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, d))
    Y = rng.standard_normal((n, T))
    pb = LimitProblem(X, Y, lam=1.0)
    G = pb.check_directions(sphere_grid(d + 1, M, kind="random", random_state=seed))
    return pb.with_lam(frac * lam_max(pb, G)), G


def _clarabel_value(pb, G):
    """The grid problem written out directly in cvxpy, solved by Clarabel."""
    import cvxpy as cp
    Phi = np.maximum(pb.Xt @ G.T, 0.0)
    V = cp.Variable((G.shape[0], pb.T))
    pred = Phi @ V
    if pb.F.shape[1]:
        pred = pred + pb.F @ cp.Variable((pb.F.shape[1], pb.T))
    obj = cp.sum_squares(pb.Y - pred) / (2 * pb.n) + pb.lam * cp.sum(cp.norm(V, 2, axis=1))
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return float(prob.value)


def test_support_larger_than_n_matches_clarabel():
    pb, G = _wide_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_problem(pb, G, solver="native", tol=1e-10)
    atoms = int(np.count_nonzero(np.any(sol.grid_weights != 0, axis=1)))
    assert atoms > pb.n                       # the regime where G_SS is singular
    assert sol.status == "optimal"
    cert = certify(pb, G, sol.grid_weights, sol.free_coef)
    assert cert.rel_gap <= 1e-9
    ref = _clarabel_value(pb, G)
    assert abs(cert.primal - ref) <= 1e-7 * abs(ref)


def _row_sweep(G, Gr, V, lam, penalty):
    """The plain cyclic sweep, one row at a time (the reference)."""
    for j in range(G.shape[0]):
        g = G[j, j]
        new = penalty.prox_row(V[j] - Gr[j] / g, lam / g)
        delta = new - V[j]
        if delta.any():
            V[j] = new
            Gr += G[:, j:j + 1] * delta


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_blocked_sweep_reaches_the_row_sweep_objective(penalty):
    rng = np.random.default_rng(3)
    n, k, T = 30, 60, 3
    A = np.maximum(rng.standard_normal((n, k)), 0.0)
    Y = rng.standard_normal((n, T))
    G, B = A.T @ A / n, A.T @ Y / n
    pen = get_penalty(penalty)
    lam = 0.05 * float(np.max(pen.dual_norms(B)))

    def objective(V):
        return 0.5 * np.sum(V * (G @ V)) - np.sum(B * V) + lam * pen.value(V)

    V1, V2 = np.zeros((k, T)), np.zeros((k, T))
    Gr1, Gr2 = -B.copy(), -B.copy()
    for _ in range(400):
        _row_sweep(G, Gr1, V1, lam, pen)
        coordinate_sweep(G, Gr2, V2, lam, pen, range(k), block=16)
    np.testing.assert_allclose(Gr2, G @ V2 - B, atol=1e-12)   # the kept product is exact
    assert abs(objective(V1) - objective(V2)) <= 1e-10 * abs(objective(V1))
    # the first sweep from zero is the row sweep's exactly when no zero row is pushed
    # across λ inside a block (block of one row)
    V3, Gr3 = np.zeros((k, T)), -B.copy()
    V4, Gr4 = np.zeros((k, T)), -B.copy()
    _row_sweep(G, Gr3, V3, lam, pen)
    coordinate_sweep(G, Gr4, V4, lam, pen, range(k), block=1)
    np.testing.assert_allclose(V4, V3, atol=1e-13)


def test_bcd_anderson_on_a_wide_gram_matches_clarabel_objective():
    """k > n: G singular; the restricted objective from the blocked sweeps agrees with an
    independent cvxpy solve of the same quadratic."""
    import cvxpy as cp
    rng = np.random.default_rng(4)
    n, k, T = 15, 60, 2
    A = np.maximum(rng.standard_normal((n, k)), 0.0)
    Y = rng.standard_normal((n, T))
    G, B = A.T @ A / n, A.T @ Y / n
    pen = get_penalty("group")
    lam = 0.02 * float(np.max(pen.dual_norms(B)))

    def value(V):
        return float(np.sum((Y - A @ V) ** 2) / (2 * n) + lam * pen.value(V))

    def rel(V):
        Z = Y - A @ V
        s = min(1.0, lam / float(np.max(pen.dual_norms(A.T @ Z / n))))
        dual = float(np.sum(Y * s * Z) - 0.5 * np.sum((s * Z) ** 2)) / n
        return (value(V) - dual) / value(V)

    V, _, r = bcd_anderson(G, B, lam, pen, np.zeros((k, T)), rel_gap=rel, tol=1e-11,
                           max_epochs=200000)
    W = cp.Variable((k, T))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(Y - A @ W) / (2 * n)
                                  + lam * cp.sum(cp.norm(W, 2, axis=1))))
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert abs(value(V) - prob.value) <= 1e-8 * abs(prob.value)
