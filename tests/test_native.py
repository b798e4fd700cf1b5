"""The native working-set solver against independent routes (Clarabel, closed forms)."""
import itertools
import warnings

import numpy as np
import pytest

from limitsolver import solve
from limitsolver.api import solve_problem
from limitsolver.certificate import certify, lam_max
from limitsolver.features import relu_features
from limitsolver.grids import default_grid, sphere_grid
from limitsolver.problem import LimitProblem
from limitsolver.solvers import solver_chain
from limitsolver.solvers.conic import solve_conic
from limitsolver.solvers.native import solve_native, supports
from limitsolver.solvers.support_newton import solve_restricted

from .conftest import random_problem

COMBOS = list(itertools.product(["group", "l1"], ["regularized", "free"],
                                ["none", "intercept", "affine"]))


def _problem(rng, penalty, bias, free, *, n=15, d=2, T=3, M=250, frac=0.05):
    X, Y = random_problem(rng, n=n, d=d, T=T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pb = LimitProblem(X, Y, lam=1.0, penalty=penalty, bias=bias, free=free)
    G = pb.check_directions(default_grid(pb.X, bias, M))
    return pb.with_lam(frac * lam_max(pb, G)), G


@pytest.mark.parametrize("penalty,bias,free", COMBOS)
def test_native_agrees_with_clarabel(rng, penalty, bias, free):
    pb, G = _problem(rng, penalty, bias, free)
    nat = solve_native(pb, G, tol=1e-10)
    ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-10)
    cn, cr = certify(pb, G, nat.V, nat.C), certify(pb, G, ref.V, ref.C)
    assert nat.status == "optimal"
    assert cn.rel_gap <= 1e-10
    assert abs(cn.primal - cr.primal) <= 1e-7 * abs(cr.primal)
    # the native point is never worse than the interior-point one beyond rounding
    assert cn.primal <= cr.primal + 1e-12 * abs(cr.primal)


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_exactly_sparse_optimum_recovered_neuron_for_neuron(penalty):
    # 1-D, coarse grid: the optimum is unique and sparse; Clarabel's support after a
    # relative threshold must equal the native support exactly
    rng = np.random.default_rng(3)
    X = np.sort(rng.uniform(-1, 1, 30))[:, None]
    G = sphere_grid(2, 40)
    Phi = relu_features(np.hstack([X, np.ones_like(X)]), G)
    Y = Phi[:, [3, 17, 29]] @ rng.standard_normal((3, 2))
    pb = LimitProblem(X, Y, lam=1.0, penalty=penalty)
    G = pb.check_directions(G)
    pb = pb.with_lam(0.01 * lam_max(pb, G))
    nat = solve_native(pb, G, tol=1e-12)
    ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-12)
    rn = np.abs(nat.V).max(axis=1)
    rr = np.abs(ref.V).max(axis=1)
    assert np.array_equal(np.flatnonzero(rn > 0), np.flatnonzero(rr > 1e-5 * rr.max()))
    np.testing.assert_allclose(nat.V, ref.V, atol=1e-5 * rr.max())


def test_returned_gap_is_certified_independently(rng):
    X, Y = random_problem(rng, n=40, d=1, T=3)
    sol = solve(X, Y, lam=0.01, solver="native", tol=1e-9)
    assert sol.solver == "native" and sol.status == "optimal"
    # recompute from the weights alone: primal from Φ V + F C, dual from the residual
    pb, G = sol.problem, sol.grid
    cert = certify(pb, G, sol.grid_weights, sol.free_coef)
    assert cert.rel_gap <= 1e-9
    assert cert.primal == pytest.approx(sol.objective, rel=1e-12)
    assert cert.dual == pytest.approx(sol.dual_value, rel=1e-12)


def test_warm_start_same_answer_fewer_passes(rng):
    pb, G = _problem(rng, "group", "regularized", "intercept", n=60, d=1, M=2000, frac=0.002)
    first = solve_problem(pb.with_lam(pb.lam * 1.3), G, solver="native", tol=1e-10)
    # a small pool between full passes, so that the cold solve needs several passes
    cold = solve_native(pb, G, tol=1e-10, pool=100)
    warm = solve_native(pb, G, tol=1e-10, warm_start=first, pool=100)
    cc, cw = certify(pb, G, cold.V, cold.C), certify(pb, G, warm.V, warm.C)
    assert cw.rel_gap <= 1e-10
    assert cw.primal == pytest.approx(cc.primal, rel=1e-9)
    assert warm.info["n_pricing_passes"] < cold.info["n_pricing_passes"]
    assert warm.info["restricted_solves"] < cold.info["restricted_solves"]


def test_warm_start_from_another_grid(rng):
    pb, G = _problem(rng, "group", "regularized", "none", n=30, d=1, M=300)
    coarse = solve_problem(pb, sphere_grid(2, 100), solver="native", tol=1e-10)
    warm = solve_native(pb, G, tol=1e-10, warm_start=coarse)
    cold = solve_native(pb, G, tol=1e-10)
    assert warm.status == "optimal"
    assert certify(pb, G, warm.V, warm.C).primal == pytest.approx(
        certify(pb, G, cold.V, cold.C).primal, rel=1e-9)


def test_auto_picks_native_for_squared_and_logistic_loss(rng):
    X, Y = random_problem(rng, n=20, d=1, T=2)
    Yl = np.where(Y > np.median(Y, axis=0), 1.0, -1.0)
    for penalty in ("group", "l1"):
        for loss, lab in (("squared", Y), ("logistic", Yl)):
            pb = LimitProblem(X, lab, lam=0.01, penalty=penalty, loss=loss)
            assert supports(pb) and solver_chain("auto", pb)[0] == "native"
            assert solve(X, lab, lam=0.01, penalty=penalty, loss=loss).solver == "native"
    pb = LimitProblem(X, Y, lam=0.01, loss="interpolate")
    assert not supports(pb) and "native" not in solver_chain("auto", pb)
    with pytest.raises(ValueError, match="native"):
        solve_native(pb, default_grid(pb.X, pb.bias, 50), tol=1e-8)


@pytest.mark.parametrize("free", ["none", "affine"])
def test_lam_above_lam_max_gives_zero(rng, free):
    pb, G = _problem(rng, "group", "regularized", free)
    lmax = lam_max(pb, G)
    res = solve_native(pb.with_lam(lmax * 1.0001), G, tol=1e-10)
    assert not np.any(res.V) and res.status == "optimal"
    assert res.info["n_pricing_passes"] == 1
    res = solve_native(pb.with_lam(lmax * 0.9), G, tol=1e-10)
    assert np.any(res.V)


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_blocked_pricing_with_tiny_budget_equals_cached(rng, penalty):
    pb, G = _problem(rng, penalty, "free", "intercept", n=30, d=2, M=800, frac=0.02)
    cached = solve_native(pb, G, tol=1e-11)
    blocked = solve_native(pb, G, tol=1e-11, memory_budget=0, block_bytes=8 * 30 * 64)
    assert cached.info["phi_cached"] and not blocked.info["phi_cached"]
    assert blocked.status == "optimal"
    scale = np.abs(cached.V).max()
    np.testing.assert_allclose(blocked.V, cached.V, atol=1e-6 * scale)
    assert certify(pb, G, blocked.V, blocked.C).primal == pytest.approx(
        certify(pb, G, cached.V, cached.C).primal, rel=1e-10)
    unscreened = solve_native(pb, G, tol=1e-11, memory_budget=0, screening=False)
    assert unscreened.info["screened"] == 0
    assert certify(pb, G, unscreened.V, unscreened.C).primal == pytest.approx(
        certify(pb, G, cached.V, cached.C).primal, rel=1e-10)


def test_bad_options_are_value_errors(rng):
    pb, G = _problem(rng, "group", "regularized", "none")
    with pytest.raises(ValueError, match="max_iters"):
        solve_native(pb, G, tol=1e-8, max_iters=10)
    with pytest.raises(ValueError, match="memory_budget"):
        solve_native(pb, G, tol=1e-8, memory_budget=-1)
    with pytest.raises(ValueError, match="ws_min"):
        solve_native(pb, G, tol=1e-8, ws_min=0)
    with pytest.raises(ValueError, match="screening"):
        solve_native(pb, G, tol=1e-8, screening="yes")
    with pytest.raises(ValueError, match="tol"):
        solve_native(pb, G, tol=-1.0)
    with pytest.raises(ValueError, match="directions"):
        solve_native(pb, G[:, :2], tol=1e-8)
    with pytest.raises(ValueError, match="warm_start"):
        solve_native(pb, G, tol=1e-8, warm_start=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="bogus"):
        solve(pb.X, pb.Y, lam=pb.lam, solver="native", bogus=1)


def test_restricted_solver_on_dependent_columns(rng):
    # three directions with the same activation pattern: their features are linearly
    # dependent (a singular Gram matrix); the active-set Newton method must still be exact
    X = np.linspace(-1, 1, 20)[:, None]
    Xt = np.hstack([X, np.ones_like(X)])
    G = np.array([[1.0, 0.01], [1.0, 0.02], [1.0, 0.03], [-1.0, 0.5], [1.0, -0.5]])
    A = relu_features(Xt, G)
    Y = rng.standard_normal((20, 2))
    Gram = A.T @ A / 20
    assert np.linalg.eigvalsh(Gram)[0] < 1e-12 * np.linalg.eigvalsh(Gram)[-1]
    V, _, info = solve_restricted(A, Y, 0.01, "squared", "group", tol=1e-13)
    assert info["rel_gap"] <= 1e-13

    def J(W):
        return float(np.sum((Y - A @ W) ** 2)) / 40 + 0.01 * float(np.sum(np.linalg.norm(W, axis=1)))
    import cvxpy as cp
    W = cp.Variable((5, 2))
    cp.Problem(cp.Minimize(cp.sum_squares(Y - A @ W) / 40 + 0.01 * cp.sum(cp.norm(W, 2, axis=1)))
               ).solve(solver="CLARABEL")
    assert J(V) <= J(W.value) + 1e-12
