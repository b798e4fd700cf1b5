"""The exact sup over the sphere by the faces around every vertex, against independent
routes: the exact d = 2 and d = 3 oracles, the certified branch-and-bound interval at d = 4,
and a dense search; and the oracle's d = 4 lower bound against feasible objectives."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.bound import bounded_sup
from limitsolver.faces3d import exact_sup_3d
from limitsolver.faces_star import exact_sup_star
from limitsolver.oracle import sup_correlation


def _values(Xt, Z, U, penalty):
    C = np.maximum(U @ Xt.T, 0) @ Z / Xt.shape[0]
    return np.linalg.norm(C, axis=1) if penalty == "group" else np.abs(C).max(axis=1)


def _data(m, d, T, seed, grid=False):
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, (m, d)).astype(float) if grid else rng.uniform(-1, 1, (m, d))
    X = np.unique(X, axis=0)
    return np.column_stack([X, np.ones(X.shape[0])]), rng.standard_normal((X.shape[0], T))


@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("T", [1, 3])
@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_equals_the_arc_walk_at_d3(penalty, T, bias):
    Xt, Z = _data(14, 3, T, seed=T)
    R = float(np.linalg.norm(Xt[:, :-1], axis=1).max())
    star = exact_sup_star(Xt, Z, 14, penalty=penalty, bias=bias, radius=R)
    arcs = exact_sup_3d(Xt, Z, 14, penalty=penalty, bias=bias, radius=R, workers=1)
    assert star.value == pytest.approx(arcs.value, rel=1e-10)
    assert np.all(np.abs(star.directions[:, -1]) <= max(R, 1.0) + 1e-12)


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_equals_the_exact_circle_oracle_at_d2(penalty):
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (25, 2))
    Z = rng.standard_normal((25, 2))
    problem = ls.LimitProblem(X, Z, lam=1.0, penalty=penalty)
    ref = sup_correlation(problem, Z, exact=True).value
    star = exact_sup_star(problem.Xt, Z, 25, penalty=penalty)
    assert star.value == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_inside_the_certified_interval_and_above_a_dense_search_at_d4(penalty, grid, bias):
    Xt, Z = _data(14, 4, 2, seed=7, grid=grid)
    m = Xt.shape[0]
    R = float(np.linalg.norm(Xt[:, :-1], axis=1).max())
    star = exact_sup_star(Xt, Z, m, penalty=penalty, bias=bias, radius=R)
    assert star is not None
    b = bounded_sup(Xt, Z, m, penalty=penalty, bias=bias, radius=R, rtol=1e-8,
                    max_time=60, workers=1)
    assert b.lower * (1 - 1e-10) <= star.value <= b.upper * (1 + 1e-10)
    rng = np.random.default_rng(0)
    U = rng.standard_normal((200_000, 5))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    if bias == "free":      # points of the cylinder: ‖w‖ = 1, |b| ≤ R
        U[:, :-1] /= np.linalg.norm(U[:, :-1], axis=1, keepdims=True)
        U[:, -1] = rng.uniform(-R, R, U.shape[0])
    assert _values(Xt, Z, U, penalty).max() <= star.value * (1 + 1e-12)
    # the value is attained at the returned direction
    assert _values(Xt, Z, star.direction[None], penalty)[0] == pytest.approx(star.value,
                                                                              rel=1e-12)


def test_declines_when_the_inputs_do_not_span():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(-1, 1, (10, 3)), np.zeros(10)])   # x₄ = 0 throughout
    Xt = np.column_stack([X, np.ones(10)])
    assert exact_sup_star(Xt, rng.standard_normal((10, 2)), 10) is None
    with pytest.raises(ValueError, match="penalty"):
        exact_sup_star(Xt, np.ones((10, 1)), 10, penalty="nuclear")


def test_d4_lower_bound_is_exact_and_below_feasible_objectives():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((18, 4))
    Y = np.maximum(X @ rng.standard_normal((4, 2)), 0) + 0.1 * rng.standard_normal((18, 2))
    lam = 0.05 * ls.lam_max(ls.LimitProblem(X, Y, lam=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=lam, tol=1e-6, max_time=20)
        G = rng.standard_normal((20_000, 5))
        G /= np.linalg.norm(G, axis=1, keepdims=True)
        dense = ls.solve(X, Y, lam=lam, grid=G, refine=False, tol=1e-9)
    assert sol.info["lower_bound_method"] == "exact" and sol.lower_bound_exact
    assert sol.lower_bound <= sol.objective
    assert sol.lower_bound <= dense.objective * (1 + 1e-12)
    free = ls.LimitProblem(X, Y, lam=lam, bias="free")
    assert sup_correlation(free, Y, exact=True).exact
    with pytest.raises(ValueError, match="d = 1, 2, 3, 4"):
        sup_correlation(ls.LimitProblem(np.ones((6, 5)) * np.arange(6)[:, None], Y[:6],
                                        lam=lam), Y[:6], exact=True)
