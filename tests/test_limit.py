"""The exact limit: the oracle sup_θ ‖c(θ)‖, the certified lower bound on OPT, refinement.

Every check compares against an independent route: dense sampling of Θ, closed forms from
the literature (MATH.md), solutions on grids, finite networks built by hand.
"""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from limitsolver.features import features_rmatvec, relu_features
from limitsolver import faces3d
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem

from .conftest import random_problem


def _dense_directions(problem, N):
    """A dense sample of Θ, built without the oracle's code."""
    d, R = problem.d, problem.radius
    if d == 1 and problem.bias == "regularized":
        a = np.linspace(0, 2 * np.pi, N, endpoint=False)
        return np.column_stack([np.cos(a), np.sin(a)])
    if d == 1:
        b = np.linspace(-R, R, N)
        return np.vstack([np.column_stack([np.ones(N), b]), np.column_stack([-np.ones(N), b])])
    if problem.bias == "regularized":
        G = np.random.default_rng(1).standard_normal((N, 3))
        return G / np.linalg.norm(G, axis=1, keepdims=True)
    k = int(np.sqrt(N))
    A, B = np.meshgrid(np.linspace(0, 2 * np.pi, k, endpoint=False), np.linspace(-R, R, k))
    return np.column_stack([np.cos(A.ravel()), np.sin(A.ravel()), B.ravel()])


def _norms(C, penalty):
    return np.linalg.norm(C, axis=1) if penalty == "group" else np.max(np.abs(C), axis=1)


def _c(problem, thetas, Z):
    """c(θ) by the textbook formula (1/n) Σ_i Z_i relu(θ·x̃_i)."""
    Xt = np.column_stack([problem.X, np.ones(problem.n)])
    return np.maximum(np.atleast_2d(thetas) @ Xt.T, 0) @ Z / problem.n


def _local_max(problem, Z, theta0, penalty):
    """Nelder–Mead on an unconstrained parametrization of Θ, from theta0."""
    R = problem.radius

    def to_theta(u):
        if problem.bias == "regularized":
            return u / np.linalg.norm(u)
        w = u[:-1] / np.linalg.norm(u[:-1])
        return np.append(w, R * np.tanh(u[-1]))

    if problem.bias == "regularized":
        u0 = theta0.copy()
    else:
        u0 = np.append(theta0[:-1], np.arctanh(np.clip(theta0[-1] / R, -1 + 1e-12, 1 - 1e-12)))
    res = minimize(lambda u: -_norms(_c(problem, to_theta(u), Z), penalty)[0], u0,
                   method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-15, maxiter=4000))
    return -res.fun


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_oracle_is_the_sup_of_a_dense_sampling(d, bias, penalty):
    rng = np.random.default_rng(10 * d + (bias == "free") + 3 * (penalty == "l1"))
    for n in (1, 3, 25):
        X = rng.uniform(-1, 1, (n, d))
        Z = rng.standard_normal((n, 3))
        p = LimitProblem(X, Z, lam=1.0, bias=bias, free="intercept", penalty=penalty)
        res = sup_correlation(p, Z)
        assert res.exact
        # the value is the true ‖c‖ at the returned direction
        assert np.isclose(res.value, _norms(_c(p, res.direction, Z), penalty)[0], rtol=1e-13)
        G = _dense_directions(p, 200_000)
        dense = float(_norms(features_rmatvec(p.Xt, G, Z) / n, penalty).max())
        assert res.value >= dense * (1 - 1e-13)
        # a dense sample misses the sup only by its resolution
        assert res.value <= dense * (1 + (1e-5 if d == 1 else 1e-3))
        # local ascent from the best dense points never beats the oracle
        C = _norms(features_rmatvec(p.Xt, G, Z) / n, penalty)
        for j in np.argsort(-C)[:3]:
            assert _local_max(p, Z, G[j], penalty) <= res.value * (1 + 1e-12)


def test_oracle_breakpoint_maxima_and_duplicates():
    """Duplicated inputs, collinear 2-D inputs (3 circles through one vertex) and maxima
    that sit exactly on a breakpoint are handled."""
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [-1.0, 0.5], [0.5, -1.0]])
    Z = np.array([[1.0], [-2.0], [1.5], [0.5], [-0.7], [0.3]])
    for bias in ("regularized", "free"):
        p = LimitProblem(X, Z, lam=1.0, bias=bias, free="intercept")
        res = sup_correlation(p, Z)
        G = _dense_directions(p, 400_000)
        dense = float(np.linalg.norm(features_rmatvec(p.Xt, G, Z) / p.n, axis=1).max())
        assert dense * (1 - 1e-13) <= res.value <= dense * (1 + 1e-3)
    # 1-D: Z = e_i - e_j style residual peaks exactly at a data breakpoint
    x = np.array([-1.0, 0.0, 1.0])
    Z = np.array([[1.0], [-2.0], [1.0]])
    p = LimitProblem(x, Z, lam=1.0, bias="free", free="intercept")
    res = sup_correlation(p, Z)
    G = _dense_directions(p, 100_001)
    assert np.isclose(res.value, np.abs(features_rmatvec(p.Xt, G, Z) / 3).max(), rtol=1e-14)


def test_oracle_high_dimension_is_an_estimate(monkeypatch):
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 0)      # the bounded path in d = 3
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (20, 3))
    Z = rng.standard_normal((20, 2))
    p = LimitProblem(X, Z, lam=1.0)
    res = sup_correlation(p, Z, n_samples=512)
    assert not res.exact
    assert np.isclose(res.value, np.linalg.norm(_c(p, res.direction, Z)), rtol=1e-13)
    # the ascent ends at least as high as a fresh random sample's best point
    S = np.random.default_rng(9).standard_normal((2000, 4))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    assert res.value >= np.linalg.norm(_c(p, S, Z), axis=1).max() * (1 - 1e-2)


def test_oracle_bad_input():
    p = LimitProblem(np.arange(4.0), np.arange(4.0), lam=1.0)
    with pytest.raises(ValueError, match="shape"):
        sup_correlation(p, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        sup_correlation(p, np.full(4, np.nan))
    with pytest.raises(ValueError, match="penalty"):
        sup_correlation(p, np.ones(4), penalty="kernel")


# ---------------------------------------------------------------------------------------
# the lower bound and refinement, against closed forms
# ---------------------------------------------------------------------------------------
from limitsolver import api  # noqa: E402
from limitsolver.api import solve  # noqa: E402
from limitsolver.certificate import fit_free_part, primal_value  # noqa: E402
from limitsolver.features import features_matvec  # noqa: E402
from limitsolver.solution import LimitSolution  # noqa: E402


def test_one_kink_between_data_points():
    """x = (−3, 2, 3), y = (0, 0, 1), bias regularized, free affine part, interpolation.

    One kink at ξ ∈ (−3, 2) with the affine part fitting the rest costs
    5·√(1 + ξ²)/(ξ + 3) (by hand), minimized at ξ = 1/3 with value √10/2.
    """
    x, y = np.array([-3.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0])
    hand = minimize(lambda z: 5 * np.sqrt(1 + z[0] ** 2) / (z[0] + 3), [0.0],
                    method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-15))
    assert abs(hand.x[0] - 1 / 3) < 1e-6 and np.isclose(hand.fun, np.sqrt(10) / 2, rtol=1e-12)
    opt = np.sqrt(10) / 2
    sol = solve(x, y, loss="interpolate", bias="regularized", free="affine")  # auto refine
    assert sol.n_neurons == 1
    assert abs(sol.kinks()[0] - 1 / 3) < 1e-6
    assert abs(sol.objective - opt) <= 1e-9 * opt
    assert sol.lower_bound_exact and sol.lower_bound <= sol.objective
    assert sol.limit_gap <= 1e-9 * opt
    assert abs(sol.lower_bound - opt) <= 1e-9 * opt
    assert np.allclose(sol.predict(x), y[:, None], atol=1e-9)
    # a fixed grid cannot put the kink there: every active grid neuron is off 1/3, the
    # objective is above the optimum, and the (still valid) lower bound shows the gap
    grid = solve(x, y, loss="interpolate", bias="regularized", free="affine",
                 n_directions=512, refine=False)
    w, b = grid.atom_directions[:, 0], grid.atom_directions[:, 1]
    assert np.all(np.abs(-b / w - 1 / 3) > 1e-6)
    assert grid.objective > opt * (1 + 1e-7)
    assert grid.limit_gap > 1e-7 * opt
    assert grid.lower_bound <= opt * (1 + 1e-12)


def test_connect_the_dots_is_the_multitask_interpolant():
    """1-D, bias free, free affine part: the min-norm interpolant is connect-the-dots with
    cost Σ_i ‖s_i − s_{i−1}‖₂ over consecutive slope vectors (MATH.md)."""
    rng = np.random.default_rng(7)
    for trial in range(3):
        n, T = 6 + trial, 3
        x = np.sort(rng.uniform(-2, 2, n))
        Y = rng.standard_normal((n, T))
        s = np.diff(Y, axis=0) / np.diff(x)[:, None]
        cost = float(np.sum(np.linalg.norm(np.diff(s, axis=0), axis=1)))
        sol = solve(x, Y, loss="interpolate", bias="free", free="affine")
        assert np.isclose(sol.objective, cost, rtol=1e-7)
        assert sol.lower_bound_exact and sol.lower_bound <= sol.objective * (1 + 1e-12)
        assert sol.limit_gap <= 1e-7 * cost
        mid = 0.5 * (x[1:] + x[:-1])
        assert np.allclose(sol.predict(mid), 0.5 * (Y[1:] + Y[:-1]), atol=1e-6)
        assert np.all(np.min(np.abs(sol.kinks()[:, None] - x[None, 1:-1]), axis=1) < 1e-6)


def test_absolute_value_costs_two():
    sol = solve([-1.0, 0.0, 1.0], [1.0, 0.0, 1.0], loss="interpolate", bias="free",
                free="affine")
    assert np.isclose(sol.objective, 2.0, rtol=1e-9)
    assert sol.lower_bound_exact and 2.0 * (1 - 1e-9) <= sol.lower_bound <= 2.0 * (1 + 1e-12)


def _random_networks(problem, rng, count=4, width=7):
    """Objectives of finite networks with random directions: weights fitted by least
    squares (interpolation, exact) or random, free part optimal."""
    out = []
    for _ in range(count):
        D = problem.check_directions(rng.standard_normal((width, problem.dim)))
        if problem.bias == "free":
            D[:, -1] = np.clip(D[:, -1], -problem.radius, problem.radius)
        if problem.loss == "interpolate":
            A = np.hstack([relu_features(problem.Xt, D), problem.F])
            W = np.linalg.lstsq(A, problem.Y, rcond=None)[0]
            if np.max(np.abs(A @ W - problem.Y)) > 1e-9:
                continue
            V, C = W[:width], W[width:]
        else:
            V = 0.3 * rng.standard_normal((width, problem.T))
            C = fit_free_part(problem, features_matvec(problem.Xt, D, V))
        out.append(primal_value(problem, D, V, C)[0])
    return out


def _trained_network(X, Y, lam, width=12, seed=0):
    """A finite network trained by L-BFGS on the weight-decay objective
    (1/2n)‖relu(X̃Θᵀ)V − Y‖² + (λ/2)(‖V‖² + ‖Θ‖²) (squared loss, regularized bias)."""
    n, T = Y.shape
    Xt = np.column_stack([X, np.ones(n)])
    k = Xt.shape[1]
    rng = np.random.default_rng(seed)

    def f(p):
        Th, V = p[:width * k].reshape(width, k), p[width * k:].reshape(width, T)
        H = Xt @ Th.T
        A = np.maximum(H, 0)
        R = A @ V - Y
        val = 0.5 * np.sum(R * R) / n + 0.5 * lam * (np.sum(V * V) + np.sum(Th * Th))
        gV = A.T @ R / n + lam * V
        gT = ((R @ V.T) * (H > 0)).T @ Xt / n + lam * Th
        return val, np.concatenate([gT.ravel(), gV.ravel()])

    p0 = 0.5 * rng.standard_normal(width * (k + T))
    return minimize(f, p0, jac=True, method="L-BFGS-B", options=dict(maxiter=3000)).fun


@pytest.mark.parametrize("d", [1, 2])
def test_lower_bound_below_every_objective(d):
    """On random 1-D and 2-D problems the certified lower bound never exceeds the objective
    of any solution (any grid, refined) or any finite network (random, or trained)."""
    rng = np.random.default_rng(100 + d)
    cases = [("squared", "group", "regularized", "none"),
             ("squared", "l1", "free", "intercept"),
             ("logistic", "group", "regularized", "intercept"),
             ("interpolate", "group", "free", "affine")]
    for loss, penalty, bias, free in cases:
        X, Y = random_problem(rng, n=8, d=d, T=2, loss=loss)
        lam = None if loss == "interpolate" else 0.02
        kw = dict(lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coarse = solve(X, Y, n_directions=16, refine=False, **kw)
            fine = solve(X, Y, n_directions=600 if d == 2 else 256, refine=False, **kw)
            ref = solve(X, Y, refine=True, **kw)
        p = ref.problem
        lbs = [s.lower_bound for s in (coarse, fine, ref)]
        assert all(s.lower_bound_exact for s in (coarse, fine, ref))
        objs = [coarse.objective, fine.objective, ref.objective]
        objs += _random_networks(p, rng)
        if loss == "squared" and free == "none" and bias == "regularized":
            objs.append(_trained_network(X, Y, lam))
        for lb in lbs:
            for obj in objs:
                assert lb <= obj + 1e-12 * abs(obj), (loss, penalty, bias, lb, obj)
        # refinement closes the gap to the true limit
        assert ref.info["limit_rel_gap"] <= (1e-7 if loss != "logistic" else 1e-6), \
            (loss, penalty, bias, ref.info["limit_rel_gap"])
        assert ref.objective <= fine.objective * (1 + 1e-9)


def test_refined_solution_round_trip(tmp_path):
    x = np.array([-3.0, 2.0, 3.0])
    sol = solve(x, np.array([0.0, 0.0, 1.0]), loss="interpolate", free="affine")
    assert "lower bound" in sol.summary() and "certified" in sol.summary()
    back = LimitSolution.load(sol.save(tmp_path / "s.npz"))
    assert (back.lower_bound, back.limit_gap, back.lower_bound_exact) == (
        sol.lower_bound, sol.limit_gap, sol.lower_bound_exact)
    assert back.info["refine"] == sol.info["refine"]


def test_high_dimension_lower_bound_is_bounded(monkeypatch):
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 0)      # the bounded path in d = 3
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (10, 3))
    Y = rng.standard_normal((10, 1))
    sol = solve(X, Y, lam=0.05, n_directions=256)
    assert sol.lower_bound_exact is False
    assert sol.info["lower_bound_method"] == "bounded"
    lo, up = sol.info["sup_interval"]
    assert lo <= up
    assert "certified, sup bounded" in sol.summary()
    assert sol.lower_bound <= sol.objective


def test_solve_options_for_the_limit():
    x, y = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0])
    off = solve(x, y, lam=0.1, refine=False, certify_limit=False)
    assert off.lower_bound is None and off.limit_gap is None
    auto = solve(x, y, lam=0.1)      # d = 1 and no grid given: refined by default
    assert "refine" in auto.info
    assert "refine" not in solve(x, y, lam=0.1, n_directions=64).info
    # the default answer is the limit: a dense circle written here, solved by Clarabel,
    # is an upper bound on OPT within O(1/M²) of it
    a = np.linspace(0.0, 2 * np.pi, 4000, endpoint=False)
    dense = solve(x, y, lam=0.1, grid=np.column_stack([np.cos(a), np.sin(a)]),
                  solver="clarabel", certify_limit=False)
    assert auto.lower_bound <= dense.objective
    assert auto.objective <= dense.objective * (1 + 1e-9)
    assert dense.objective - auto.objective <= 1e-5 * dense.objective
    assert auto.limit_gap <= 1e-8 * auto.objective + 1e-15
    # above the documented size the default does not refine
    n_big = api.AUTO_REFINE_MAX_N[1] + 1
    xb = np.linspace(-1.0, 1.0, n_big)
    big = solve(xb, np.abs(xb), lam=0.1, certify_limit=False)
    assert "refine" not in big.info


def test_free_part_alone_is_exact_without_warnings():
    """Targets the free part fits: OPT = 0; the bound is 0 and refinement stops at once."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loss in ("squared", "interpolate"):
            for free in ("intercept", "affine"):
                sol = solve(np.arange(5.0), np.full(5, 3.0), lam=0.1, loss=loss, free=free)
                assert sol.lower_bound_exact
                assert 0.0 <= sol.lower_bound <= sol.objective <= 1e-20
