"""Pricing effort of the any-d refinement: the top singular vectors it steps to, a pricing
cut short by its deadline (still true values, never below a start), the effort plan, and
rounds that skip the certificate while the estimate is far from ``tol`` (the returned
point is certified all the same, its status agreeing with that certificate)."""
import time
import types
import warnings

import numpy as np
import pytest

import limitsolver as ls
import limitsolver.refine_nd as rnd
from limitsolver.api import solve_problem
from limitsolver.ascent import _top_right_vectors, price
from limitsolver.grids import default_grid
from limitsolver.refine import refine


@pytest.mark.parametrize("T,k", [(1, 6), (3, 6), (6, 6), (8, 4)])
def test_top_right_vectors_agree_with_an_svd(T, k):
    rng = np.random.default_rng(T * 10 + k)
    M = rng.standard_normal((7, T, k))
    v = _top_right_vectors(M)
    for s in range(M.shape[0]):
        top = np.linalg.svd(M[s])[2][0]
        assert np.isclose(abs(v[s] @ top), 1.0, atol=1e-10)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)


def test_pricing_past_its_deadline_still_returns_true_values_above_the_starts():
    rng = np.random.default_rng(3)
    X, Z = rng.standard_normal((200, 6)), rng.standard_normal((200, 3))
    p = ls.LimitProblem(X, Z, lam=0.1)
    starts = p.check_directions(rng.standard_normal((20, 7)))
    r = price(p, Z, starts=starts, n_samples=256, n_data=64, n_starts=16, top_k=50,
              deadline=time.monotonic() - 1.0)
    c = np.maximum(p.Xt @ r.directions.T, 0).T @ Z / p.n
    assert np.allclose(np.linalg.norm(c, axis=1), r.values, rtol=1e-12, atol=0)
    c0 = np.linalg.norm(np.maximum(p.Xt @ starts.T, 0).T @ Z / p.n, axis=1)
    assert r.value >= c0.max()
    assert r.iterations == 1                  # one iteration, then the deadline stops it


def test_price_plan_caps_split_starts_by_work_and_time_by_share():
    digits = types.SimpleNamespace(n=1797, d=10, T=10)
    k, unit = 237, 1797 * (10 + 1 + 10)
    n_split, when = rnd.price_plan(digits, k)
    assert n_split == int(rnd.PRICE_WORK / unit / 6) < k and when is None
    small = types.SimpleNamespace(n=30, d=3, T=2)
    assert rnd.price_plan(small, 40)[0] == 40
    assert rnd.price_plan(digits, 237, effort=100)[0] == 8
    now = time.monotonic()
    _, when = rnd.price_plan(small, 5, deadline=now + 100.0)
    assert now + rnd.PRICE_SHARE * 100.0 - 1.0 <= when <= now + rnd.PRICE_SHARE * 100.0 + 1.0
    _, when = rnd.price_plan(small, 5, deadline=now)
    assert when >= now + rnd.PRICE_MIN_TIME - 1e-9


def test_rounds_skip_the_certificate_far_from_tol_and_the_result_is_certified():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((60, 5))
    Y = np.maximum(np.c_[X, np.ones(60)] @ rng.standard_normal((6, 4)), 0) @ \
        rng.standard_normal((4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Y, lam=0.02)
        start = solve_problem(p, default_grid(X, p.bias, 64))
        out = refine(p, start, tol=1e-9, time_limit=6, max_iter=6)
    kinds = [h["bound"] for h in out.info["refine"]]
    assert kinds[0] == "certificate"
    assert "estimate" in kinds[1:]            # far from 1e-9: rounds price and estimate only
    assert out.objective <= start.objective
    assert out.limit_certified and out.lower_bound <= out.objective
    assert (out.status == "optimal") == (out.info["limit_rel_gap"] <= 1e-9)
