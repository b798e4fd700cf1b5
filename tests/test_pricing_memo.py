"""The feature store's memo: a repeated candidate costs no pass and gives the same numbers,
and one native solve through the API prices the grid only in the solver's own passes."""
import numpy as np

from limitsolver.api import solve_problem
from limitsolver.certificate import certify, lam_max
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.pricing import FeatureStore
from limitsolver.problem import LimitProblem


def _problem(n=60, d=2, T=3, M=400, frac=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, d))
    Y = np.maximum(X @ rng.standard_normal((d, 4)) + 0.3, 0) @ rng.standard_normal((4, T))
    problem = LimitProblem(X, Y + 0.05 * rng.standard_normal((n, T)), lam=1.0)
    dirs = problem.check_directions(sphere_grid(d + 1, M, kind="random", random_state=seed))
    return problem.with_lam(frac * lam_max(problem, dirs)), dirs


def _dense_dual_norms(problem, dirs, Z):
    Phi = np.maximum(problem.Xt @ dirs.T, 0.0)
    return np.linalg.norm(Phi.T @ Z / problem.n, axis=1)


def test_memo_returns_the_same_numbers_and_only_for_the_same_candidate():
    problem, dirs = _problem()
    pen = get_penalty("group")
    Z = np.random.default_rng(1).standard_normal((problem.n, problem.T))
    for dtype in (np.float64, np.float32, None):
        st = FeatureStore(problem.Xt, dirs, budget=2**30, dtype=dtype)
        S1, sup1 = st.dual_norms_and_sup(Z, pen)
        builds = st.n_builds
        S2, sup2 = st.dual_norms_and_sup(Z.copy(), pen)
        assert st.memo_hits == 1 and st.n_builds == builds
        assert sup2 == sup1 and np.array_equal(S1, S2)
        dense = _dense_dual_norms(problem, dirs, Z)
        assert abs(sup1 - dense.max()) <= 1e-12 * dense.max()
        Z2 = Z.copy()
        Z2[0, 0] += 1.0
        S3, sup3 = st.dual_norms_and_sup(Z2, pen)
        assert st.memo_hits == 1
        assert abs(sup3 - _dense_dual_norms(problem, dirs, Z2).max()) <= 1e-12 * sup3
        S1[:] = 0.0                               # the caller's copy, not the memo's
        assert st.dual_norms_and_sup(Z, pen)[1] == sup1
    st = FeatureStore(problem.Xt, dirs, budget=0)          # nothing kept: blocked passes
    c1, nrm = st.correlations_and_norms(Z)
    builds = st.n_builds
    c2 = st.correlations(Z)
    assert st.n_builds == builds and np.array_equal(c1, c2)
    Phi = np.maximum(problem.Xt @ dirs.T, 0.0)
    assert np.allclose(nrm, np.linalg.norm(Phi, axis=0), rtol=1e-13)


def test_kept_features_built_in_blocks_are_the_relu_features():
    problem, dirs = _problem(M=3000)
    import limitsolver.pricing as pricing
    old = pricing.BUILD_BLOCK
    try:
        pricing.BUILD_BLOCK = 8 * problem.n * 7           # 7 rows per block, ragged end
        st = FeatureStore(problem.Xt, dirs, budget=2**30)
        Phi = st.Phi
    finally:
        pricing.BUILD_BLOCK = old
    assert np.allclose(Phi, np.maximum(problem.Xt @ dirs.T, 0.0), rtol=0, atol=1e-14)


def test_one_solve_prices_the_grid_only_in_the_solvers_passes(monkeypatch):
    problem, dirs = _problem(M=2000, frac=0.02)
    full = []
    orig = FeatureStore.products

    def counting(self, Z, idx=None):
        if idx is None:
            full.append(1)
        return orig(self, Z, idx)

    monkeypatch.setattr(FeatureStore, "products", counting)
    sol = solve_problem(problem, dirs, solver="native", tol=1e-10)
    assert sol.status == "optimal"
    # the λ_max check is the first pass's candidate (Y), the API's certificate the last's
    assert len(full) == sol.info["n_pricing_passes"]
    # the certificate it carries agrees with one computed from scratch, with no store
    monkeypatch.setattr(FeatureStore, "products", orig)
    fresh = certify(problem, dirs, sol.grid_weights, sol.free_coef)
    assert fresh.rel_gap <= 1e-10
    assert abs(fresh.primal - sol.certificate.primal) <= 1e-12 * fresh.primal
    assert sol.certificate.dual <= fresh.primal * (1 + 1e-12)
