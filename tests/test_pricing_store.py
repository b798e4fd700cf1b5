"""The shared feature store: same numbers as the blocked products, Φ built once per solve."""
import numpy as np
import pytest

import limitsolver.pricing as pricing
from limitsolver.api import solve_problem
from limitsolver.certificate import certify, lam_max
from limitsolver.features import features_rmatvec, relu_features
from limitsolver.grids import sphere_grid
from limitsolver.problem import LimitProblem
from limitsolver.solvers.native import solve_native


def _problem(rng, n=60, d=3, T=4, M=800):
    X = rng.uniform(-1, 1, (n, d))
    Y = np.maximum(np.hstack([X, np.ones((n, 1))]) @ rng.standard_normal((d + 1, 3)), 0) \
        @ rng.standard_normal((3, T))
    pb = LimitProblem(X, Y, lam=1.0)
    G = pb.check_directions(sphere_grid(d + 1, M, kind="random", random_state=1))
    return pb.with_lam(0.05 * lam_max(pb, G)), G


def test_store_products_equal_blocked_products(rng):
    pb, G = _problem(rng)
    Z = rng.standard_normal((pb.n, pb.T))
    kept = pricing.FeatureStore(pb.Xt, G)
    blocked = pricing.FeatureStore(pb.Xt, G, budget=0, block_bytes=8 * pb.n * 37)
    assert kept.cached and not blocked.cached
    ref = features_rmatvec(pb.Xt, G, Z) / pb.n
    idx = np.array([5, 2, 700])
    for st in (kept, blocked):
        assert np.allclose(st.correlations(Z), ref, rtol=1e-13, atol=1e-15)
        assert np.allclose(st.correlations(Z, idx), ref[idx], rtol=1e-13, atol=1e-15)
        assert np.allclose(st.norms(), np.linalg.norm(relu_features(pb.Xt, G), axis=0))
        assert np.array_equal(st.columns(idx), relu_features(pb.Xt, G[idx]))


def test_default_budget_is_a_quarter_of_available_memory_capped():
    avail = pricing.available_memory()
    assert avail > 0
    assert pricing.default_budget() <= min(0.25 * avail, pricing.MAX_BUDGET) + 1


def test_one_store_per_solve_and_same_certificate(rng, monkeypatch):
    pb, G = _problem(rng)
    made = []
    real = pricing.FeatureStore.__init__

    def counting(self, *a, **k):
        made.append(1)
        real(self, *a, **k)

    monkeypatch.setattr(pricing.FeatureStore, "__init__", counting)

    def no_blocked_pass(*a, **k):
        raise AssertionError("a full blocked pricing pass outside the shared store")

    with monkeypatch.context() as m:
        import limitsolver.certificate as certificate
        m.setattr(certificate, "features_rmatvec", no_blocked_pass)
        m.setattr(pricing, "features_rmatvec", no_blocked_pass)
        sol = solve_problem(pb, G, solver="native", tol=1e-10)
    # λ_max check, every pricing pass and the final certificate used one store
    assert len(made) == 1 and sol.info.get("phi_cached")
    assert not pricing._ACTIVE
    # the certificate equals the one computed without any store (blocked route)
    ref = certify(pb, sol.grid, sol.grid_weights, sol.free_coef)
    assert sol.status == "optimal" and ref.rel_gap <= 1e-10
    assert abs(sol.certificate.primal - ref.primal) <= 1e-12 * abs(ref.primal)
    # and the solver alone, outside a shared block, agrees with the blocked solver
    a = solve_native(pb, G, tol=1e-10)
    b = solve_native(pb, G, tol=1e-10, memory_budget=0)
    assert a.info["phi_cached"] and not b.info["phi_cached"]
    assert abs(certify(pb, G, a.V, a.C).primal - certify(pb, G, b.V, b.C).primal) \
        <= 1e-9 * abs(ref.primal)


def test_float32_store_sup_equals_float64_max(rng):
    from limitsolver.penalties import get_penalty
    pb, G = _problem(rng, n=200, M=3000)
    sol = solve_native(pb, G, tol=1e-11)
    R = pb.Y - relu_features(pb.Xt, G) @ sol.V          # near ties at the support
    st = pricing.FeatureStore(pb.Xt, G, dtype="float32")
    assert st.dtype == np.float32 and not st.cached
    for pen_name in ("group", "l1"):
        pen = get_penalty(pen_name)
        for Z in (R, rng.standard_normal((pb.n, pb.T)), 1e-30 * R):
            exact = pen.dual_norms(features_rmatvec(pb.Xt, G, Z) / pb.n)
            S, sup = st.dual_norms_and_sup(Z, pen)
            assert sup == pytest.approx(float(exact.max()), rel=1e-13, abs=0.0)
            # float32 values are close, and no direction is above the returned max
            assert np.allclose(S, exact, rtol=1e-3, atol=1e-5 * float(exact.max()))
            assert float(np.max(S)) == sup
            assert np.all(S >= exact * (1 - 1e-13))            # upper bounds
    # an exact tie broken only in float64: the second copy of a direction, slightly better
    G2 = np.vstack([G, G[:1]])
    st2 = pricing.FeatureStore(pb.Xt, G2, dtype="float32")
    pen = get_penalty("group")
    exact = pen.dual_norms(features_rmatvec(pb.Xt, G2, R) / pb.n)
    assert st2.dual_norms_and_sup(R, pen)[1] == pytest.approx(float(exact.max()), rel=1e-14)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_with_float32_store_certifies_like_float64(rng, loss):
    pb, G = _problem(rng, n=80, M=1500)
    if loss == "logistic":
        pb = LimitProblem(pb.X, np.where(pb.Y >= np.median(pb.Y), 1.0, -1.0), lam=1.0,
                          loss="logistic")
        pb = pb.with_lam(0.05 * lam_max(pb, G))
    a = solve_native(pb, G, tol=1e-10, feature_dtype="float32")
    b = solve_native(pb, G, tol=1e-10, feature_dtype="float64")
    assert a.info["phi_dtype"] == "float32" and b.info["phi_dtype"] == "float64"
    ca, cb = certify(pb, G, a.V, a.C), certify(pb, G, b.V, b.C)
    assert a.status == "optimal" and ca.rel_gap <= 1e-9
    # the solver's own certified gap is never below the independent float64 one
    assert a.info["rel_gap"] >= ca.rel_gap - 1e-13
    assert abs(ca.primal - cb.primal) <= 1e-9 * abs(cb.primal)
