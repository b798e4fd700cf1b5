"""Structured linear algebra of the native solver against the dense routes it replaces."""
import warnings

import numpy as np
import pytest

from limitsolver.certificate import certify, lam_max, support_dual
from limitsolver.features import relu_features
from limitsolver.grids import default_grid
from limitsolver.penalties import GroupPenalty
from limitsolver.problem import LimitProblem
from limitsolver.solvers import restricted
from limitsolver.solvers.bcd import bcd_anderson
from limitsolver.solvers.support_newton import solve_restricted
from limitsolver.solvers.structured import (dense_group_hessian, group_hessian_scale,
                                            group_newton_solve)

from .conftest import random_problem


def _hessian_data(rng, s, T, n, lam=0.1):
    A = np.maximum(rng.standard_normal((n, s)), 0.0)
    G = A.T @ A / n
    V = rng.standard_normal((s, T))
    nrm = np.linalg.norm(V, axis=1)
    return G, V / nrm[:, None], lam / nrm


@pytest.mark.parametrize("s,T,n", [(7, 5, 50), (30, 10, 20), (12, 40, 200)])
def test_woodbury_newton_step_equals_dense_solve(rng, s, T, n):
    G, U, c = _hessian_data(rng, s, T, n)
    g = rng.standard_normal((s, T))
    for ridge in (1e-13, 1e-6, 1e-2):
        rho = ridge * group_hessian_scale(G, c, T)
        H = dense_group_hessian(G, U, c) + rho * np.eye(s * T)
        dense = np.linalg.solve(H, g.ravel()).reshape(s, T)
        fast = group_newton_solve(G, U, c, g, rho)
        assert np.max(np.abs(fast - dense)) <= 1e-10 * np.max(np.abs(dense))
        # the dense scale formula is the one the structured route uses
        assert np.isclose(group_hessian_scale(G, c, T), np.mean(np.diag(H - rho * np.eye(s * T))))


def test_woodbury_step_on_singular_gram_has_dense_residual(rng):
    # two copies of one column with parallel rows: H is singular up to the ridge
    s, T, n = 10, 6, 60
    A = np.maximum(rng.standard_normal((n, s)), 0.0)
    A[:, 1] = A[:, 0]
    G = A.T @ A / n
    V = rng.standard_normal((s, T))
    V[1] = 0.5 * V[0]
    nrm = np.linalg.norm(V, axis=1)
    U, c = V / nrm[:, None], 0.01 / nrm
    g = rng.standard_normal((s, T))
    rho = 1e-6 * group_hessian_scale(G, c, T)
    H = dense_group_hessian(G, U, c) + rho * np.eye(s * T)
    fast = group_newton_solve(G, U, c, g, rho)
    res = np.max(np.abs(H @ fast.ravel() - g.ravel()))
    dense = np.linalg.solve(H, g.ravel())
    assert res <= 100 * max(np.max(np.abs(H @ dense - g.ravel())), 1e-14 * np.max(np.abs(g)))


def test_restricted_lasso_structured_and_dense_newton_agree(rng, monkeypatch):
    n, k, T = 80, 25, 12
    A = np.maximum(rng.standard_normal((n, k)), 0.0)
    Y = A[:, :4] @ rng.standard_normal((4, T)) + 0.05 * rng.standard_normal((n, T))
    lam = 0.05 * float(np.max(np.linalg.norm(A.T @ Y / n, axis=1)))
    out = []
    for size in (10**9, 0):            # dense only, structured always
        monkeypatch.setattr(restricted, "DENSE_NEWTON_SIZE", size)
        V, _, info = solve_restricted(A, Y, lam, "squared", "group", tol=1e-13)
        assert info["rel_gap"] <= 1e-12 and info["newton"] > 0
        out.append(V)
    assert np.max(np.abs(out[0] - out[1])) <= 1e-8 * np.max(np.abs(out[0]))


def _per_task_support_dual(problem, directions, V, Z0):
    """The per-task least-squares route (one factorization per task)."""
    lam = problem.lam
    active = np.any(V != 0, axis=1) if problem.penalty == "l1" else np.linalg.norm(V, axis=1) > 0
    Phi = relu_features(problem.Xt, directions[active]) / problem.n
    Va = V[active]
    if problem.penalty == "group":
        U = lam * Va / np.linalg.norm(Va, axis=1, keepdims=True)
        mask = np.ones_like(U, dtype=bool)
    else:
        U, mask = lam * np.sign(Va), Va != 0
    PZ = Phi.T @ Z0
    den = float(np.sum((PZ * mask) ** 2))
    Z = (float(np.sum(PZ * U * mask)) / den) * Z0
    F = problem.F
    for t in range(problem.T):
        rows = mask[:, t]
        B = np.vstack([Phi[:, rows].T, F.T])
        r = np.concatenate([U[rows, t], np.zeros(F.shape[1])])
        Z[:, t] -= np.linalg.lstsq(B, B @ Z[:, t] - r, rcond=None)[0]
    return Z


@pytest.mark.parametrize("penalty,free", [("group", "none"), ("group", "affine"),
                                          ("l1", "intercept")])
def test_support_dual_one_factorization_equals_per_task_lstsq(rng, penalty, free):
    X, Y = random_problem(rng, n=30, d=2, T=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pb = LimitProblem(X, Y, lam=1.0, penalty=penalty, free=free)
    G = pb.check_directions(default_grid(pb.X, "regularized", 200))
    pb = pb.with_lam(0.05 * lam_max(pb, G))
    V = np.zeros((G.shape[0], pb.T))
    live = np.flatnonzero(np.count_nonzero(relu_features(pb.Xt, G), axis=0) >= 5)
    rows = rng.choice(live, 6, replace=False)
    V[rows] = rng.standard_normal((6, pb.T))
    if penalty == "l1":
        V[rows[:3], :2] = 0.0             # tasks with different active sets
    Z0 = rng.standard_normal((pb.n, pb.T))
    fast = support_dual(pb, G, V, Z0)
    ref = _per_task_support_dual(pb, G, V, Z0)
    assert np.max(np.abs(fast - ref)) <= 1e-10 * np.max(np.abs(ref))
    # and it meets the support equations (consistent without a free part)
    c = relu_features(pb.Xt, G[rows]).T @ fast / pb.n
    if penalty == "group" and free == "none":
        want = pb.lam * V[rows] / np.linalg.norm(V[rows], axis=1, keepdims=True)
        assert np.allclose(c, want, atol=1e-10)
    cert = certify(pb, G, V, np.zeros((pb.F.shape[1], pb.T)), Z=fast)
    assert np.isfinite(cert.dual)


def test_newton_sheds_many_rows_and_matches_coordinate_descent(rng):
    # a start with every row active, most of which must leave the support
    n, k, T = 120, 60, 4
    A = np.maximum(rng.standard_normal((n, k)), 0.0)
    Y = A[:, :3] @ rng.standard_normal((3, T)) + 0.01 * rng.standard_normal((n, T))
    lam = 0.1 * float(np.max(np.linalg.norm(A.T @ Y / n, axis=1)))
    V0 = 0.1 * rng.standard_normal((k, T))
    # on the fixed support of V0 (nothing enters) Newton alone must shed the rows
    Vf, _, inf = solve_restricted(A, Y, lam, "squared", "group", V0=V0, tol=1e-13,
                                  fixed_support=True)
    left = k - int(np.count_nonzero(np.any(Vf != 0, axis=1)))
    assert left > 20 and inf["newton"] < left    # several rows leave per Newton step
    V, _, info = solve_restricted(A, Y, lam, "squared", "group", V0=V0, tol=1e-13)
    G, B = A.T @ A / n, A.T @ Y / n

    def J(W):
        return 0.5 * float(np.sum((Y - A @ W) ** 2)) / n + lam * float(
            np.sum(np.linalg.norm(W, axis=1)))

    def gap(W):                           # the squared-loss dual of the residual, scaled
        R = Y - A @ W
        s = min(1.0, lam / float(np.max(np.linalg.norm(A.T @ R / n, axis=1))))
        return (J(W) - (float(np.sum(Y * s * R)) - 0.5 * s * s * float(np.sum(R * R))) / n) / J(W)
    Vb, _, _ = bcd_anderson(G, B, lam, GroupPenalty, np.zeros((k, T)), rel_gap=gap,
                            tol=1e-13, max_epochs=200000)
    assert gap(V) <= 1e-11 and info["rel_gap"] <= 1e-12
    assert J(V) <= J(Vb) * (1 + 1e-11)
    assert np.max(np.abs(V - Vb)) <= 1e-5 * np.max(np.abs(Vb))
