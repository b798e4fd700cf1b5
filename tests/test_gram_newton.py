"""The Gram-form support-Newton method against dense solves, KKT conditions written here and
an independent coordinate-descent solve."""
from types import SimpleNamespace

import numpy as np
import pytest

from limitsolver.penalties import GroupPenalty, L1Penalty
from limitsolver.solvers.bcd import bcd_anderson
from limitsolver.solvers.gram_newton import gram_active_set, gram_newton_steps
from limitsolver.solvers.support_newton import solve_restricted
from limitsolver.solvers.structured import dense_group_hessian


def _gram_problem(rng, n, k, T):
    A = np.maximum(rng.standard_normal((n, k)) + 0.3, 0.0)
    Y = A[:, :3] @ rng.standard_normal((3, T)) + 0.1 * rng.standard_normal((n, T))
    G = A.T @ A / n
    B = A.T @ Y / n
    return A, Y, G, B


def _control(max_newton=500):
    return SimpleNamespace(tol_kkt=1e-13, kkt_scale=1.0, max_newton=max_newton,
                           deadline=None, steps=0, too_large=False)


@pytest.mark.parametrize("s,T", [(6, 1), (8, 4), (30, 10)])     # T = 1, dense, Woodbury
def test_first_newton_step_is_the_dense_solve(rng, s, T):
    _, _, G, _ = _gram_problem(rng, 40, s, T)
    V = rng.standard_normal((s, T))
    grad = rng.standard_normal((s, T))
    lam = 0.05
    nrm = np.linalg.norm(V, axis=1)
    H = dense_group_hessian(G, V / nrm[:, None], lam / nrm)
    rho = 1e-13 * np.mean(np.diag(H))
    dense = np.linalg.solve(H + rho * np.eye(s * T), grad.ravel()).reshape(s, T)
    step = next(gram_newton_steps(G, V, lam, grad))
    assert np.max(np.abs(step - dense)) <= 1e-9 * np.max(np.abs(dense))


def _kkt(G, B, V, lam, penalty):
    """max over rows of the KKT violation, relative to λ (written out here)."""
    R = G @ V - B
    worst = 0.0
    for j in range(V.shape[0]):
        if np.any(V[j]):
            if penalty == "group":
                g = R[j] + lam * V[j] / np.linalg.norm(V[j])
            else:
                on = V[j] != 0
                g = np.where(on, R[j] + lam * np.sign(V[j]), np.maximum(np.abs(R[j]) - lam, 0))
            worst = max(worst, float(np.max(np.abs(g))) / lam)
        else:
            dual = np.linalg.norm(R[j]) if penalty == "group" else np.max(np.abs(R[j]))
            worst = max(worst, max(dual - lam, 0.0) / lam)
    return worst


@pytest.mark.parametrize("penalty,T", [("group", 1), ("group", 3), ("group", 12), ("l1", 3)])
def test_restricted_solve_meets_kkt_and_agrees_with_coordinate_descent(rng, penalty, T):
    n, k = 80, 40
    A, Y, G, B = _gram_problem(rng, n, k, T)
    pen = GroupPenalty if penalty == "group" else L1Penalty
    lam = 0.1 * float(np.max(pen.dual_norms(B)))
    V, _, info = solve_restricted(A, Y, lam, "squared", penalty, tol=1e-13)
    assert info["converged"] and info["epochs"] == 0 and info["newton"] > 0
    assert _kkt(G, B, V, lam, penalty) <= 1e-9
    W, _, rel = bcd_anderson(G, B, lam, pen, np.zeros((k, T)), tol=1e-14, max_epochs=20000,
                             rel_gap=lambda W: 1.0)
    J = lambda V: 0.5 * np.sum((Y - A @ V) ** 2) / n + lam * pen.value(V)   # noqa: E731
    assert J(V) <= J(W) + 1e-12 * J(W)
    assert np.max(np.abs(V - W)) <= 1e-6 * np.max(np.abs(W))


def test_active_set_from_every_violator_leaves_the_right_support(rng):
    _, _, G, B = _gram_problem(rng, 60, 25, 5)
    lam = 0.05 * float(np.max(np.linalg.norm(B, axis=1)))
    V, ok = gram_active_set(G, B, lam, GroupPenalty, np.zeros((25, 5)), _control())
    assert ok and _kkt(G, B, V, lam, "group") <= 1e-9
    # warm start from the answer: nothing to do but check it
    ctl = _control()
    V2, ok2 = gram_active_set(G, B, lam, GroupPenalty, V, ctl)
    assert ok2 and ctl.steps <= 2 and np.max(np.abs(V2 - V)) <= 1e-12 * np.max(np.abs(V))


def test_one_shot_woodbury_solve_equals_the_factor_and_dense_solves_and_fails_loudly(rng):
    """group_newton_solve (one dposv for the capacitance) against WoodburyFactor.solve and
    the dense system; an indefinite B (a negative ridge) and a capacitance that is not
    positive definite (curvatures c ≤ 0) raise LinAlgError instead of returning a step."""
    from limitsolver.solvers.structured import WoodburyFactor, group_newton_solve
    for s, T in [(1, 2), (9, 3), (45, 10)]:
        A = np.maximum(rng.standard_normal((80, s)), 0.0)
        G = A.T @ A / 80
        V = rng.standard_normal((s, T))
        nrm = np.linalg.norm(V, axis=1)
        U, c = V / nrm[:, None], 0.05 / nrm
        g = rng.standard_normal((s, T))
        X = group_newton_solve(G, U, c, g, 1e-9)
        H = dense_group_hessian(G, U, c) + 1e-9 * np.eye(s * T)
        dense = np.linalg.solve(H, g.ravel()).reshape(s, T)
        assert np.max(np.abs(X - dense)) <= 1e-10 * np.max(np.abs(dense))
        assert np.max(np.abs(X - WoodburyFactor(G, U, c, 1e-9).solve(g))) <= \
            1e-12 * np.max(np.abs(dense))
        with pytest.raises(np.linalg.LinAlgError):
            group_newton_solve(G, U, c, g, -10.0 * (np.trace(G) + c.sum()))
        with pytest.raises(np.linalg.LinAlgError):
            group_newton_solve(G, U, -c, g, 1e-9)
