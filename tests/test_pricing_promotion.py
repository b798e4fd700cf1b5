"""A feature store that starts with blocked passes keeps Φ once they add up, and its numbers
stay the dense products written out here (blocked float32 passes: upper bounds within their
rounding bound, the max exact)."""
import numpy as np

import limitsolver.pricing as pricing
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty


def _data(rng, n=50, M=600, T=3):
    Xt = np.hstack([rng.uniform(-1, 1, (n, 2)), np.ones((n, 1))])
    dirs = sphere_grid(3, M, kind="random", random_state=2)
    return Xt, dirs, rng.standard_normal((n, T))


def _dense(Xt, dirs, Z):
    return np.maximum(Xt @ dirs.T, 0.0).T @ Z / Xt.shape[0]


def test_blocked_store_keeps_phi_after_enough_passes(rng, monkeypatch):
    Xt, dirs, Z = _data(rng)
    monkeypatch.setattr(pricing, "KEEP_AT_ONCE", 0)          # not kept at once
    st = pricing.FeatureStore(Xt, dirs, budget=2**30)
    assert st.dtype is None and not st.cached
    pen = get_penalty("group")
    for p in range(pricing.PROMOTE_AFTER + 2):
        Zp = Z + p
        S, sup = st.dual_norms_and_sup(Zp, pen)
        dense = np.linalg.norm(_dense(Xt, dirs, Zp), axis=1)
        if st.cached:
            assert np.allclose(S, dense, rtol=1e-12)
        else:                                                  # float32 upper bounds
            assert np.all(S >= dense * (1 - 1e-12)) and np.allclose(S, dense, rtol=0, atol=1e-3 * sup)
        assert abs(sup - dense.max()) <= 1e-12 * sup
        # blocked until PROMOTE_AFTER passes' worth of rows were rebuilt, kept afterwards
        assert st.cached == (p >= pricing.PROMOTE_AFTER)
    builds = st.n_builds
    idx = np.array([3, 500, 7])
    assert np.allclose(st.correlations(Z, idx), _dense(Xt, dirs, Z)[idx], rtol=1e-12)
    assert st.n_builds == builds                               # read from the kept Φ


def test_store_without_budget_never_keeps_phi(rng):
    Xt, dirs, Z = _data(rng)
    st = pricing.FeatureStore(Xt, dirs, budget=0)
    pen = get_penalty("l1")
    for p in range(pricing.PROMOTE_AFTER + 2):
        S, sup = st.dual_norms_and_sup(Z + p, pen)
        dense = np.max(np.abs(_dense(Xt, dirs, Z + p)), axis=1)
        assert np.all(S >= dense * (1 - 1e-12)) and np.allclose(S, dense, rtol=0, atol=1e-3 * sup)
        assert abs(sup - dense.max()) <= 1e-12 * sup
    assert st.dtype is None and not st.cached and st.rows_rebuilt >= 10 * dirs.shape[0]


def test_small_store_keeps_phi_at_once(rng):
    Xt, dirs, _ = _data(rng)
    assert 8 * Xt.shape[0] * dirs.shape[0] <= pricing.KEEP_AT_ONCE
    assert pricing.FeatureStore(Xt, dirs).cached
