"""The float32-factored, float64-refined Newton step, the trial values of the Gram-form line
search and the warm restricted solve, each against an independent route: the dense
float64 solve, the objective recomputed from the samples, a cold solve and Clarabel."""
import warnings

import numpy as np
import pytest

from limitsolver.penalties import GroupPenalty
from limitsolver.solvers import mixed, restricted, support_newton
from limitsolver.solvers.bcd import coordinate_sweep
from limitsolver.solvers.structured import (WoodburyFactor, dense_group_hessian,
                                            group_hessian_scale, group_newton_solve)
solve_restricted = support_newton.solve_restricted


def _system(rng, s, T, n, lam=0.05):
    A = np.maximum(rng.standard_normal((n, s)) + 0.2, 0.0)
    G = A.T @ A / n
    V = rng.standard_normal((s, T))
    nrm = np.linalg.norm(V, axis=1)
    return G, V, V / nrm[:, None], lam / nrm


@pytest.mark.parametrize("s,T,n", [(40, 6, 100), (60, 4, 30)])     # G_SS regular, singular
def test_refined_step_equals_the_dense_float64_solve(rng, s, T, n):
    G, _, U, c = _system(rng, s, T, n)
    g = rng.standard_normal((s, T))
    rho = 1e-13 * group_hessian_scale(G, c, T)
    H = dense_group_hessian(G, U, c) + rho * np.eye(s * T)
    dense = np.linalg.solve(H, g.ravel()).reshape(s, T)
    X = mixed.refined_step(G, U, c, rho, g)
    assert X is not None and X.dtype == np.float64
    assert np.max(np.abs(X - dense)) <= 1e-9 * np.max(np.abs(dense))
    # the float32 factor alone is only a preconditioner: far from float64 accuracy
    X32 = WoodburyFactor(G, U, c, rho, single=True).solve(g)
    assert np.max(np.abs(X32 - dense)) > 1e-10 * np.max(np.abs(dense))
    assert np.allclose(mixed.hessian_apply(G, U, c, rho, dense), g, atol=1e-9)


def test_refined_step_gives_up_when_float32_cannot_precondition(rng):
    # c spanning 1e-12 … 1: the float32 capacitance diag(1/c) − B⁻¹∘UUᵀ overflows or
    # loses every digit; the step must be None or exact, never a wrong step
    s, T, n = 30, 5, 10
    G, _, U, _ = _system(rng, s, T, n)
    c = np.logspace(-12, 0, s)
    g = rng.standard_normal((s, T))
    rho = 1e-13 * group_hessian_scale(G, c, T)
    X = mixed.refined_step(G, U, c, rho, g, maxiter=2)
    if X is not None:
        res = np.linalg.norm(mixed.hessian_apply(G, U, c, rho, X) - g) / np.linalg.norm(g)
        assert res <= 10 * mixed.MIXED_RTOL


def test_ladder_takes_the_refined_step_on_large_supports(rng, monkeypatch):
    s, T = 120, 3
    G, V, U, c = _system(rng, s, T, 200)
    g = rng.standard_normal((s, T))
    rho = restricted.LEVENBERG[0] * group_hessian_scale(G, c, T)
    exact = group_newton_solve(G, U, c, g, rho)
    calls = []
    real = mixed.refined_step
    monkeypatch.setattr(restricted, "MIXED_MIN_ROWS", 100)
    monkeypatch.setattr(restricted, "refined_step",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    steps = list(restricted.woodbury_ladder(G, V, 0.05, g))
    assert calls and len(steps) == len(restricted.LEVENBERG)   # float64 rung 0 skipped
    assert np.max(np.abs(steps[0] - exact)) <= 1e-9 * np.max(np.abs(exact))
    # when the refined step fails, the float64 ladder is whole
    monkeypatch.setattr(restricted, "refined_step", lambda *a, **k: None)
    steps = list(restricted.woodbury_ladder(G, V, 0.05, g))
    assert len(steps) == len(restricted.LEVENBERG)
    assert np.max(np.abs(steps[0] - exact)) <= 1e-12 * np.max(np.abs(exact))


def test_warm_restricted_solve_skips_sweeps_and_matches_cold_and_clarabel(rng, monkeypatch):
    cvxpy = pytest.importorskip("cvxpy")
    n, k, T = 60, 240, 3                  # k above WARMUP_ROWS: a cold start sweeps
    A = np.maximum(rng.standard_normal((n, k)) + 0.2, 0.0)
    Y = A[:, :4] @ rng.standard_normal((4, T)) + 0.1 * rng.standard_normal((n, T))
    lam = 0.05 * float(np.max(np.linalg.norm(A.T @ Y / n, axis=1)))
    sweeps = []
    monkeypatch.setattr(support_newton, "coordinate_sweep",
                        lambda *a, **kw: sweeps.append(1) or coordinate_sweep(*a, **kw))
    Vc, _, ic = solve_restricted(A, Y, lam, "squared", "group", tol=1e-13)
    assert ic["converged"] and len(sweeps) > 0
    cold = len(sweeps)
    V0 = Vc * (1.0 + 0.1 * rng.standard_normal(Vc.shape))
    V0[np.flatnonzero(~np.any(Vc != 0, axis=1))[:20]] = 0.01   # rows that must leave
    Vw, _, iw = solve_restricted(A, Y, lam, "squared", "group", V0=V0, tol=1e-13)
    assert iw["converged"] and len(sweeps) == cold               # no sweeps when warm

    def J(V):
        return 0.5 * np.sum((Y - A @ V) ** 2) / n + lam * GroupPenalty.value(V)
    W = cvxpy.Variable((k, T))
    prob = cvxpy.Problem(cvxpy.Minimize(0.5 * cvxpy.sum_squares(Y - A @ W) / n
                                        + lam * cvxpy.sum(cvxpy.norm(W, 2, axis=1))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL")
    assert abs(J(Vw) - J(Vc)) <= 1e-12 * J(Vc)
    assert J(Vw) <= prob.value + 1e-7 * abs(prob.value)
