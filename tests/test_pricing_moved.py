"""Bounds of dual norms at a moved candidate from a kept float32 pass
(limitsolver.pricing_moved) against dense float64 Φᵀ Z."""
import numpy as np
import pytest

from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.pricing import FeatureStore
from limitsolver.pricing_distance import residual_distance


def _dense(Xt, dirs, Z):
    return np.maximum(Xt @ dirs.T, 0.0).T @ Z


def _setup(rng, n=300, d=4, M=2500, T=6):
    Xt = np.hstack([rng.uniform(-1, 1, (n, d)), np.ones((n, 1))])
    dirs = sphere_grid(d + 1, M, kind="random", random_state=5)
    st = FeatureStore(Xt, dirs, budget=0)            # blocked float32 passes, nothing kept
    assert st.float32_passes and st.dtype is None
    return Xt, dirs, st, rng.standard_normal((n, T))


@pytest.mark.parametrize("name", ["group", "l1"])
def test_moved_bounds_hold_and_beat_the_plain_bound(rng, name):
    Xt, dirs, st, Z0 = _setup(rng)
    pen, n, M = get_penalty(name), Xt.shape[0], dirs.shape[0]
    S0, _ = st.bounded_dual_norms(Z0, pen)
    N = st.norm_bounds()
    rows = np.arange(M)
    K = rng.standard_normal((Z0.shape[1], Z0.shape[1]))
    for eps in (0.0, 1e-3, 0.1, 3.0):
        Z = Z0 @ K + eps * rng.standard_normal(Z0.shape)
        exact = pen.dual_norms(_dense(Xt, dirs, Z)) / n
        B = st.moved_bounds(Z, pen, N, rows)
        assert np.all(B >= exact)
        plain = S0 + N * residual_distance(Z - Z0, pen) / n
        if eps <= 0.1:                                 # Z explained by the kept pass
            assert np.median(B / plain) < 0.5
        if eps == 0.0:
            assert np.all(B <= exact * (1 + 1e-3) + 1e-3 * exact.max())
    # another number of tasks or penalty: no bound
    other = get_penalty("l1" if name == "group" else "group")
    assert np.all(np.isinf(st.moved_bounds(Z0, other, N, rows)))
    assert np.all(np.isinf(st.moved_bounds(Z0[:, :2], pen, N, rows)))


def test_moved_bounds_follow_each_rows_last_pass(rng):
    Xt, dirs, st, Z0 = _setup(rng)
    pen, n, M = get_penalty("group"), Xt.shape[0], dirs.shape[0]
    st.bounded_dual_norms(Z0, pen)
    N = st.norm_bounds()
    Z1 = Z0 + 0.3 * rng.standard_normal(Z0.shape)
    part = np.sort(rng.choice(M, M // 3, replace=False))
    st.bounded_dual_norms(Z1, pen, part)               # a pass over a subset of rows
    Z2 = Z1 + 1e-2 * rng.standard_normal(Z0.shape)
    rows = np.sort(rng.choice(M, 700, replace=False))
    exact = pen.dual_norms(_dense(Xt, dirs[rows], Z2)) / n
    B = st.moved_bounds(Z2, pen, N, rows)
    assert np.all(B >= exact)
    on = np.isin(rows, part)
    assert np.median(B[on] - exact[on]) < np.median(B[~on] - exact[~on])   # the nearer pass
    assert np.all(np.isinf(FeatureStore(Xt, dirs, budget=0).moved_bounds(Z2, pen, N, rows)))
