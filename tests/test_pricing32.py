"""Float32 blocked pricing against a dense float64 route written out here: the rounding
bound holds entrywise, excluded directions are really below the max, the max and the
certificates are the float64 ones, and the solver's last screened pass serves the caller."""
import numpy as np
import pytest

import limitsolver.pricing as pricing
from limitsolver.certificate import certify, correlations
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.pricing32 import bounded_dual_norms, rmatvec32, usable
from limitsolver.problem import LimitProblem


def _dense(Xt, dirs, Z):
    """Φᵀ Z in float64, Φ written out in full."""
    return np.maximum(Xt @ dirs.T, 0.0).T @ Z


def _data(rng, n=300, d=4, M=2000, T=5):
    Xt = np.hstack([rng.uniform(-1, 1, (n, d)), np.ones((n, 1))])
    dirs = sphere_grid(d + 1, M, kind="random", random_state=3)
    return Xt, dirs, rng.standard_normal((n, T))


@pytest.mark.parametrize("scale", [1.0, 1e-30, 1e25])
def test_entrywise_bound_holds(rng, scale):
    Xt, dirs, Z = _data(rng)
    Z = Z * scale
    Z[:, 0] = scale * (1.0 + 1e-7 * rng.standard_normal(Z.shape[0]))  # near cancellation
    Z[:, 1] -= Z[:, 1].mean()
    C, bound, N = rmatvec32(Xt, dirs, Z, 2**14, norms=True)
    exact = _dense(Xt, dirs, Z)
    E = bound.entries()
    assert np.all(np.abs(C - exact) <= E)
    assert np.max(E / np.max(np.abs(exact))) < 1e-2          # a useful bound, not a vacuous one
    nrm = np.linalg.norm(np.maximum(Xt @ dirs.T, 0.0), axis=0)
    assert np.all(N >= nrm) and np.all(N <= nrm * (1 + 1e-3) + 1e-3)
    for name in ("group", "l1"):
        pen = get_penalty(name)
        err = bound.dual(pen)
        assert np.all(np.abs(pen.dual_norms(C) - pen.dual_norms(exact)) <= err)
        assert np.all(err >= pen.dual_norms(E) * (1 - 1e-12))


@pytest.mark.parametrize("name", ["group", "l1"])
def test_bounded_dual_norms_exact_max_and_excluded_rows(rng, name):
    Xt, dirs, Z = _data(rng, M=3000)
    n = Xt.shape[0]
    pen = get_penalty(name)
    exact = pen.dual_norms(_dense(Xt, dirs, Z)) / n
    # a candidate whose top is flat: many directions near the max
    top = np.argsort(-exact)[:40]
    S, sup, repriced, _ = bounded_dual_norms(Xt, dirs, Z, pen, 2**15)
    assert sup == pytest.approx(float(exact.max()), rel=1e-14, abs=0)
    assert np.all(S >= exact * (1 - 1e-13))                   # upper bounds everywhere
    assert 1 <= repriced < dirs.shape[0] // 10
    # the rows not re-priced are below the max by their bound alone
    below = S < sup * (1 - 1e-12)
    assert np.all(exact[below] < sup) and top[0] not in np.flatnonzero(below)
    # a subset: the max over the subset
    idx = np.sort(rng.choice(dirs.shape[0], 500, replace=False))
    S2, sup2, _, _ = bounded_dual_norms(Xt, dirs[idx], Z, pen, 2**15)
    assert sup2 == pytest.approx(float(exact[idx].max()), rel=1e-14, abs=0)
    assert np.all(S2 >= exact[idx] * (1 - 1e-13))


def test_inputs_out_of_range_use_float64(rng):
    Xt, dirs, Z = _data(rng, M=200)
    assert usable(Xt, dirs)
    tiny = Xt.copy()
    tiny[0, 0] = 1e-30
    assert not usable(tiny, dirs) and not usable(Xt * 1e30, dirs)
    st = pricing.FeatureStore(tiny, dirs, budget=0)
    pen = get_penalty("group")
    S, sup = st.dual_norms_and_sup(Z, pen)
    exact = pen.dual_norms(_dense(tiny, dirs, Z)) / tiny.shape[0]
    assert not st.float32_passes and np.allclose(S, exact, rtol=1e-12)


def _problem(rng, n=400, d=4, T=3, M=6000, frac=0.05):
    X = rng.uniform(-1, 1, (n, d))
    W = rng.standard_normal((6, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0.0)
    Y = H @ rng.standard_normal((6, T)) + 0.1 * rng.standard_normal((n, T))
    pb = LimitProblem(X, Y, lam=1.0)
    dirs = pb.check_directions(sphere_grid(d + 1, M, kind="random", random_state=1))
    lmax = float(np.max(np.linalg.norm(correlations(pb, dirs, pb.Y), axis=1)))
    return pb.with_lam(frac * lmax), dirs


def test_screened_solve_certificate_is_the_dense_one(rng, monkeypatch):
    from limitsolver.gridsolve import solve_problem
    monkeypatch.setattr(pricing, "KEEP_AT_ONCE", 0)          # blocked (float32) passes
    pb, dirs = _problem(rng)
    built = []
    orig = pricing.FeatureStore.__init__

    def spy(self, *a, **k):
        orig(self, *a, **k)
        built.append(self)
    monkeypatch.setattr(pricing.FeatureStore, "__init__", spy)
    from limitsolver.solvers.working_set import WorkingSetLoop
    after_solver = []
    run = WorkingSetLoop.run

    def run_spy(self, *a, **k):
        res = run(self, *a, **k)
        after_solver.append(self.pricer.rows_rebuilt)
        return res
    monkeypatch.setattr(WorkingSetLoop, "run", run_spy)
    sol = solve_problem(pb, dirs, solver="native", tol=1e-10)
    st = built[0]
    assert st.float32_passes and st.dtype is None and sol.info["screened"] > 0
    assert sol.status == "optimal" and sol.certificate.rel_gap <= 1e-10
    # the same point and dual candidate certified with dense float64 pricing (no store)
    V, C = sol.grid_weights, sol.free_coef
    Zd = sol.certificate.dual_point
    dense = certify(pb, dirs, V, C, Z=Zd)
    S_dense = float(np.max(np.linalg.norm(_dense(pb.Xt, dirs, Zd), axis=1))) / pb.n
    assert dense.max_correlation == pytest.approx(S_dense, rel=1e-13)
    assert sol.certificate.max_correlation == pytest.approx(S_dense, rel=1e-12)
    assert sol.certificate.dual == pytest.approx(dense.dual, rel=1e-12)
    # the caller's certificate priced nothing beyond the solver's passes
    assert st.rows_rebuilt == after_solver[0]


def test_skipped_and_screened_rows_are_bounded_by_dense_values(rng, monkeypatch):
    from limitsolver.gridsolve import solve_problem
    from limitsolver.solvers.working_set import WorkingSetLoop
    monkeypatch.setattr(pricing, "KEEP_AT_ONCE", 0)
    pb, dirs = _problem(rng, M=5000, frac=0.03)
    seen = []
    price = WorkingSetLoop.price

    def spy(self, Z):
        idx, S, sup = price(self, Z)
        dense = np.linalg.norm(_dense(pb.Xt, dirs, Z), axis=1) / pb.n
        rest = np.setdiff1d(np.arange(self.M), idx)
        assert np.all(self.upper >= dense * (1 - 1e-13))          # bounds of every row
        assert np.all(dense[rest[self.alive[rest]]] < self.lam)   # skipped: no violator
        assert sup >= dense.max() * (1 - 1e-14)
        if dense.max() >= self.lam:
            assert sup == pytest.approx(dense.max(), rel=1e-13)
        seen.append(rest.size)
        return idx, S, sup
    monkeypatch.setattr(WorkingSetLoop, "price", spy)
    sol = solve_problem(pb, dirs, solver="native", tol=1e-10)
    assert sol.status == "optimal" and max(seen) > 0           # some pass priced a part


@pytest.mark.parametrize("name", ["group", "l1"])
def test_pool_threshold_tests_are_the_float64_ones(rng, name):
    from limitsolver.pricing32 import Pool32
    Xt, dirs, Z = _data(rng, M=1500)
    pen = get_penalty(name)
    n = Xt.shape[0]
    exact = pen.dual_norms(_dense(Xt, dirs, Z)) / n
    pool = Pool32(Xt, dirs)
    asked = []

    def cols(rows):
        asked.append(len(rows))
        return np.maximum(Xt @ dirs[rows].T, 0.0)
    # a threshold 1e-12 above a value, not at it: at a value, two float64 routes (this
    # dense product and the re-pricing's columns) may round it to either side
    for t in (float(np.median(exact)), float(np.sort(exact)[-3]) * (1.0 + 1e-12),
              float(exact.max()) * 2):
        S = pool.dual_norms(Z, pen, t, cols)
        assert np.array_equal(S > t, exact > t)
        # float32 values where priced; where an earlier bound placed a row below t, it
        assert np.allclose(S[S >= t], exact[S >= t], rtol=1e-3)
        assert np.all(S >= exact * (1 - 1e-3))
    assert 0 < max(asked) < dirs.shape[0] // 5                 # few re-priced in float64


@pytest.mark.parametrize("name", ["group", "l1"])
def test_pool_skips_rows_bounded_below_the_threshold(rng, name, monkeypatch):
    import limitsolver.pricing32 as p32
    from limitsolver.pricing32 import Pool32
    monkeypatch.setattr(p32, "POOL_SKIP_ABOVE", 0)            # a small pool that skips
    Xt, dirs, Z = _data(rng, M=2000)
    pen = get_penalty(name)
    n = Xt.shape[0]
    pool = Pool32(Xt, dirs)
    nrm = np.linalg.norm(np.maximum(Xt @ dirs.T, 0.0), axis=0)
    assert np.all(pool.N >= nrm) and np.all(pool.N <= nrm * (1 + 1e-3) + 1e-3)

    def cols(rows):
        return np.maximum(Xt @ dirs[rows].T, 0.0)
    t = float(np.quantile(pen.dual_norms(_dense(Xt, dirs, Z)) / n, 0.9))
    priced = []
    for it in range(6):
        Zk = Z + (0.02 / (it + 1)) * rng.standard_normal(Z.shape)   # a candidate that moves
        exact = pen.dual_norms(_dense(Xt, dirs, Zk)) / n
        B = pool.skip_bounds(Zk, pen)
        if B is not None:
            assert np.all(B >= exact * (1 - 1e-12))                 # the skip bound
        S = pool.dual_norms(Zk, pen, t, cols)
        assert np.array_equal(S > t, exact > t)
        assert np.all(S >= exact * (1 - 1e-3))
        priced.append(pool.last_priced)
    assert priced[0] == dirs.shape[0] and min(priced) < dirs.shape[0] // 2
    # another penalty starts afresh (the bounds are of one dual norm)
    other = get_penalty("l1" if name == "group" else "group")
    assert pool.skip_bounds(Z, other) is None
    pool.dual_norms(Z, other, t, cols)
    assert pool.last_priced == dirs.shape[0]


@pytest.mark.parametrize("tile", [64, 100])
def test_sample_tiles_keep_the_bound(rng, monkeypatch, tile):
    import limitsolver.pricing32 as p32
    monkeypatch.setattr(p32, "TILE_SAMPLES", tile)            # n = 300: tiles of the samples
    Xt, dirs, Z = _data(rng, M=700)
    assert p32.tile_width(Xt.shape[0]) == tile
    C, bound, N = rmatvec32(Xt, dirs, Z, 2**13, norms=True)
    exact = _dense(Xt, dirs, Z)
    assert np.all(np.abs(C - exact) <= bound.entries())
    nrm = np.linalg.norm(np.maximum(Xt @ dirs.T, 0.0), axis=0)
    assert np.all(N >= nrm) and np.all(N <= nrm * (1 + 1e-3) + 1e-3)
    whole = rmatvec32(Xt, dirs, Z, 2**13)[0]
    monkeypatch.setattr(p32, "TILE_SAMPLES", 10**6)
    assert not np.array_equal(whole, rmatvec32(Xt, dirs, Z, 2**13)[0])   # another order
    assert np.allclose(whole, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())
