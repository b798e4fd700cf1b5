"""The ascent's cheaper products, each against a direct route: both signs of c from one
float32 product (``CellData.values_pm``), the gradient step from the cell maps (against
``features.correlation_norm_gradient``), top vectors by repeated squaring (against an SVD),
the blocked ``_distinct_top`` (against the one-by-one greedy loop), and the pricing floor in
CPU seconds (``price_plan`` with ``budget.cpu_share``)."""
import time

import numpy as np
import pytest

import limitsolver as ls
from limitsolver import refine_nd as rnd
from limitsolver.ascent import _distinct_top, _gradient_step
from limitsolver.budget import MIN_CPU_SHARE, cpu_share
from limitsolver.cellmaps import CellData, top_right_vectors
from limitsolver.features import correlation_norm_gradient
from limitsolver.starts import project


def _dual(penalty):
    if penalty == "group":
        return lambda C: np.linalg.norm(C, axis=1)
    return lambda C: np.abs(C).max(axis=1)


def _dense(p, Z, th, penalty):
    """‖c(θ)‖ densely in float64: (1/n) relu(X̃ θ)ᵀ Z, then the dual norm."""
    return _dual(penalty)(np.maximum(p.Xt @ th.T, 0.0).T @ Z / p.n)


@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_pm_gives_both_signs_as_direct_products(penalty, dtype):
    rng = np.random.default_rng(0)
    X, Z = rng.standard_normal((400, 6)), rng.standard_normal((400, 3))
    p = ls.LimitProblem(X, Z, lam=0.1, penalty=penalty)
    th = p.check_directions(rng.standard_normal((60, 7)))
    ev = CellData(p.Xt, Z, _dual(penalty), dtype)
    vp, vm = ev.values_pm(th)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.allclose(vp, _dense(p, Z, th, penalty), rtol=rtol, atol=0)
    assert np.allclose(vm, _dense(p, Z, -th, penalty), rtol=rtol, atol=0)
    e0 = ev.values_pm(th[:0])
    assert e0[0].shape == e0[1].shape == (0,)


@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_gradient_step_from_cell_maps_matches_the_direct_gradient(penalty, bias):
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((300, 4)), rng.standard_normal((300, 3))
    p = ls.LimitProblem(X, Z, lam=0.1, penalty=penalty, bias=bias)
    th = p.check_directions(rng.standard_normal((40, 5)))
    step = rng.uniform(1e-3, 0.3, 40)
    ev = CellData(p.Xt, Z, _dual(penalty))
    got = _gradient_step(ev.cell_maps(th), th, step, penalty, bias, p.radius)
    g = correlation_norm_gradient(p.Xt, th, Z, penalty)
    want = project(th + step[:, None] * g / np.linalg.norm(g, axis=1, keepdims=True), bias,
                   p.radius)
    assert np.allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("T,k", [(10, 11), (12, 9), (9, 12), (3, 8), (1, 10), (4, 3)])
def test_top_vectors_by_squaring_reach_the_top_singular_value(T, k):
    rng = np.random.default_rng(2)
    M = rng.standard_normal((300, T, k)) * np.linspace(1.0, 0.2, k)
    # near-degenerate top pairs and a zero map
    M[1:40] = np.einsum("st,sd->std", rng.standard_normal((39, T)),
                        rng.standard_normal((39, k)))
    M[40:80] += 1e-3 * rng.standard_normal((40, T, k))
    M[0] = 0.0
    s1 = np.linalg.svd(M, compute_uv=False)[:, 0]
    for exact in (True, False):
        v = top_right_vectors(M, exact=exact)
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
        gain = np.linalg.norm(np.einsum("std,sd->st", M, v), axis=1)
        assert np.all(gain[1:] >= s1[1:] * (1 - 1e-8))       # v[0]: any unit vector


def _greedy(cand, vals, k, atol):
    """The one-by-one greedy selection, best value first."""
    kept = []
    for i in np.argsort(-vals, kind="stable"):
        if not np.isfinite(vals[i]):
            continue
        if kept and np.max(np.abs(cand[kept] - cand[i]), axis=1).min() <= atol:
            continue
        kept.append(i)
        if len(kept) >= k:
            break
    return np.array(kept, dtype=int)


def test_blocked_distinct_top_keeps_what_the_greedy_loop_keeps():
    rng = np.random.default_rng(3)
    for _ in range(60):
        n, dim = int(rng.integers(0, 700)), int(rng.integers(1, 12))
        base = rng.standard_normal((max(1, n // 5), dim))
        noise = float(rng.choice([0.0, 1e-3, 1e-2, 3e-2]))
        cand = base[rng.integers(0, len(base), n)] + noise * rng.standard_normal((n, dim))
        vals = rng.standard_normal(n)
        vals[rng.random(n) < 0.05] = np.nan
        if rng.random() < 0.3:
            vals = np.round(vals, 1)                            # ties
        k, atol = int(rng.integers(1, 200)), float(rng.choice([1e-7, 1e-2, 5e-2]))
        assert np.array_equal(_distinct_top(cand, vals, k, atol), _greedy(cand, vals, k, atol))


def test_pricing_floor_is_cpu_seconds():
    p = ls.LimitProblem(np.random.default_rng(4).standard_normal((50, 3)), np.ones(50),
                        lam=0.1)
    now = time.monotonic()
    for cpu in (1.0, 0.5, MIN_CPU_SHARE, 0.01):
        _, when = rnd.price_plan(p, 5, deadline=now, cpu=cpu)
        floor = rnd.PRICE_MIN_TIME / max(cpu, MIN_CPU_SHARE)
        assert now + floor - 1e-9 <= when <= time.monotonic() + floor + 1e-9
    # sleeping takes no CPU time: the share is clipped to its floor
    w0, c0 = time.monotonic(), time.process_time()
    time.sleep(0.2)
    assert MIN_CPU_SHARE <= cpu_share(w0, c0) <= 0.5
    assert cpu_share(time.monotonic(), time.process_time()) == 1.0
