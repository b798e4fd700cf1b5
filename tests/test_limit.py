"""The exact limit: the oracle sup_θ ‖c(θ)‖, the certified lower bound on OPT, refinement.

Every check compares against an independent route: dense sampling of Θ, closed forms from
the literature (MATH.md), solutions on grids, finite networks built by hand.
"""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from limitsolver.features import features_rmatvec, relu_features
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem


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


def test_oracle_high_dimension_is_an_estimate():
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
