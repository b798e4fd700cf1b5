"""The certified upper bound on sup_θ ‖c(θ)‖ (branch and bound) and the lower bound on OPT
it gives in d ≥ 3, checked against an independent dense search written here."""
import numpy as np
import pytest

import limitsolver as ls
from limitsolver.bound import bounded_sup
from limitsolver import faces3d
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem
from limitsolver.refine import refine


def _values(Xt, Z, thetas, penalty):
    C = np.maximum(thetas @ Xt.T, 0.0) @ Z / Xt.shape[0]
    return np.linalg.norm(C, axis=1) if penalty == "group" else np.abs(C).max(axis=1)


def _into_theta(T, bias, R):
    if bias == "regularized":
        return T / np.linalg.norm(T, axis=1, keepdims=True)
    W = T[:, :-1] / np.linalg.norm(T[:, :-1], axis=1, keepdims=True)
    return np.column_stack([W, np.clip(T[:, -1], -R, R)])


def dense_search(Xt, Z, penalty, bias, R, *, n_samples=100_000, seeds=None, rng=None,
                 n_best=4, steps=300):
    """Largest ‖c‖ over random points of Θ, then random-perturbation hill climbing."""
    rng = np.random.default_rng(0) if rng is None else rng
    D = Xt.shape[1]
    if bias == "regularized":
        S = rng.standard_normal((n_samples, D))
    else:
        S = np.column_stack([rng.standard_normal((n_samples, D - 1)),
                             rng.uniform(-R, R, n_samples)])
    S = _into_theta(S, bias, R)
    if seeds is not None:
        S = np.vstack([S, seeds])
    v = _values(Xt, Z, S, penalty)
    top = np.argsort(-v)[:n_best]
    P, pv = S[top].copy(), v[top].copy()
    step = np.full(len(top), 0.05)
    for _ in range(steps):
        Q = _into_theta(P + step[:, None] * rng.standard_normal(P.shape), bias, R)
        qv = _values(Xt, Z, Q, penalty)
        up = qv > pv
        P[up], pv[up] = Q[up], qv[up]
        step = np.where(up, step * 1.3, step * 0.8)
        step = np.maximum(step, 1e-12)
    return float(max(pv.max(), v.max()))


def _data(d, n, T, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, d))
    return np.column_stack([X, np.ones(n)]), rng.standard_normal((n, T)), \
        float(np.linalg.norm(X, axis=1).max())


@pytest.mark.parametrize("d", [3, 4, 5])
@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("T", [1, 3])
def test_upper_bound_is_above_a_dense_search(d, bias, penalty, T):
    Xt, Z, R = _data(d, 10, T, seed=d * 7 + T)
    res = bounded_sup(Xt, Z, Xt.shape[0], penalty=penalty, bias=bias, radius=R,
                      rtol=1e-3, max_time=np.inf, max_boxes=1_500)
    found = dense_search(Xt, Z, penalty, bias, R, n_samples=10_000, steps=100)
    assert res.lower <= res.upper
    assert found <= res.upper
    # the returned value is the value at the returned direction, a point of Θ
    th = res.direction[None]
    assert res.lower == pytest.approx(_values(Xt, Z, th, penalty)[0], rel=1e-12)
    if bias == "free":
        assert abs(th[0, -1]) <= R and np.linalg.norm(th[0, :-1]) == pytest.approx(1.0)
    else:
        assert np.linalg.norm(th) == pytest.approx(1.0)
    if res.complete:
        assert res.upper <= res.lower * (1 + 1e-3) * (1 + 1e-9)


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_d3_tight_interval_agrees_with_a_seeded_search(bias, penalty):
    Xt, Z, R = _data(3, 30, 3, seed=11)
    res = bounded_sup(Xt, Z, 30, penalty=penalty, bias=bias, radius=R, rtol=1e-10,
                      max_time=np.inf)
    assert res.complete and res.rtol <= 2.1e-10
    found = dense_search(Xt, Z, penalty, bias, R, n_samples=100_000,
                         seeds=res.direction[None])
    # the search cannot beat the certified bound, and its best value is the bound's
    assert found <= res.upper
    assert found == pytest.approx(res.upper, rel=1e-9)


def test_tolerance_shrinks_with_the_budget():
    Xt, Z, R = _data(5, 15, 2, seed=4)
    widths = [bounded_sup(Xt, Z, 15, penalty="group", bias="regularized", radius=R,
                          rtol=1e-9, max_time=np.inf, max_boxes=b).rtol
              for b in (300, 3_000, 15_000)]
    assert widths[0] >= widths[1] >= widths[2]
    assert widths[2] < widths[0]


def test_oracle_reports_the_interval(monkeypatch):
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 0)      # the bounded path in d = 3
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (25, 3))
    Z = rng.standard_normal((25, 2))
    p = LimitProblem(X, Z, lam=1.0)
    res = sup_correlation(p, Z, bound_rtol=1e-6, bound_max_time=30.0)
    assert not res.exact and res.method == "bounded"
    assert res.value <= res.upper <= res.value * (1 + 1.01e-6)
    found = dense_search(p.Xt, Z, "group", "regularized", p.radius)
    assert found <= res.upper
    with pytest.raises(ValueError, match="bound_rtol"):
        sup_correlation(p, Z, bound_rtol=0.0)
    # the exact path carries its inflated value as the upper end
    p2 = LimitProblem(X[:, :2], Z, lam=1.0)
    r2 = sup_correlation(p2, Z)
    assert r2.exact and r2.method == "exact" and r2.upper >= r2.value


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_lower_bound_below_grid_refined_and_trained_objectives(bias, monkeypatch):
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 0)      # the bounded path in d = 3
    rng = np.random.default_rng(8)
    n, d, T = 20, 3, 2
    X = rng.uniform(-1, 1, (n, d))
    Y = np.maximum(X @ rng.standard_normal((d, 2)) + 0.2, 0) @ rng.standard_normal((2, T))
    lam = 0.02
    free = "intercept" if bias == "free" else "none"
    grid = ls.solve(X, Y, lam=lam, bias=bias, free=free, n_directions=200, refine=False)
    assert grid.info["lower_bound_method"] == "bounded"
    lo, up = grid.info["sup_interval"]
    assert lo <= up
    with pytest.warns(ls.ConvergenceWarning):
        ref = refine(grid.problem, grid, max_iter=2, tol=1e-12)
    assert ref.objective <= grid.objective
    assert ref.info["lower_bound_method"] == "bounded" and not ref.lower_bound_exact
    # the estimate (dual point scaled with the best value found) is reported apart, above
    assert grid.info["estimated_lower_bound"] >= grid.lower_bound
    assert grid.info["estimated_limit_gap"] <= grid.limit_gap
    net = ls.train(X, Y, lam=lam, width=12, bias=bias, free=free, steps=300,
                   random_state=1)
    net_obj = net.objective(X, Y, lam)
    for sol in (grid, ref):
        for other in (grid.objective, ref.objective, net_obj):
            assert sol.lower_bound <= other * (1 + 1e-12)
