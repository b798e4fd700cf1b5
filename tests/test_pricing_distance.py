"""residual_distance against float64 singular values and column norms, and the skipping
and screening bounds that use it on an l1 solve against dense float64 pricing."""
import numpy as np
import pytest

import limitsolver.pricing as pricing
from limitsolver.certificate import correlations
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.pricing_distance import residual_distance
from limitsolver.problem import LimitProblem


def _cases(rng):
    yield rng.standard_normal((500, 10))
    yield np.outer(rng.standard_normal(300), rng.standard_normal(7)) * 1e-20   # rank one
    yield rng.standard_normal((200, 1)) * 1e30
    yield np.zeros((50, 4))
    E = rng.standard_normal((400, 6))
    E[:, 0] *= 1e8                                                           # one large column
    yield E


@pytest.mark.parametrize("name", ["group", "l1"])
def test_distance_bounds_every_unit_vector(rng, name):
    pen = get_penalty(name)
    for E in _cases(rng):
        delta = residual_distance(E, pen)
        sv = np.linalg.svd(E, compute_uv=False)
        true = float(sv[0]) if name == "group" else float(np.sqrt((E * E).sum(axis=0)).max())
        fro = float(np.linalg.norm(E))
        assert true * (1 - 1e-13) <= delta <= fro * (1 + 1e-12) + 1e-300
        assert delta <= true * (1 + 1e-9) + 1e-300                          # tight
        # the vectors that come closest to the sup, and random nonnegative columns
        U = np.linalg.svd(E, full_matrices=False)[0] if E.any() else np.eye(E.shape[0])[:, :2]
        V = np.hstack([U, np.abs(rng.standard_normal((E.shape[0], 20)))])
        V /= np.linalg.norm(V, axis=0)
        vals = pen.dual_norms(V.T @ E)
        assert np.all(vals <= delta * (1 + 1e-12) + 1e-300)


def test_group_distance_below_frobenius_on_spread_changes(rng):
    E = rng.standard_normal((1000, 10))
    assert residual_distance(E, get_penalty("group")) < 0.5 * np.linalg.norm(E)
    assert residual_distance(E, get_penalty("l1")) < 0.5 * np.linalg.norm(E)
    assert residual_distance(E, None) == pytest.approx(np.linalg.norm(E), rel=1e-12)


def test_l1_skipped_and_screened_rows_are_bounded_by_dense_values(rng, monkeypatch):
    from limitsolver.gridsolve import solve_problem
    from limitsolver.solvers.working_set import WorkingSetLoop
    monkeypatch.setattr(pricing, "KEEP_AT_ONCE", 0)           # blocked (float32) passes
    n, d, T = 400, 4, 3
    X = rng.uniform(-1, 1, (n, d))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ rng.standard_normal((6, d + 1)).T, 0)
    Y = H @ rng.standard_normal((6, T)) + 0.1 * rng.standard_normal((n, T))
    pb = LimitProblem(X, Y, lam=1.0, penalty="l1")
    dirs = pb.check_directions(sphere_grid(d + 1, 5000, kind="random", random_state=1))
    lmax = float(np.max(np.abs(correlations(pb, dirs, pb.Y))))
    pb = pb.with_lam(0.03 * lmax)
    seen, checked = [], []
    price = WorkingSetLoop.price

    def spy(self, Z):
        dense = np.max(np.abs(np.maximum(pb.Xt @ dirs.T, 0.0).T @ Z), axis=1) / pb.n
        if self.refs:                  # the bound a pass skips by, on every row
            dist = [residual_distance(Z - ref, self.pen) for ref in self.refs]
            bound = self.S_last + self.norms * np.take(dist, self.ref_id) / pb.n
            assert np.all(bound >= dense * (1 - 1e-13))
            checked.append(float(np.min(bound - dense)))
        idx, S, sup = price(self, Z)
        rest = np.setdiff1d(np.arange(self.M), idx)
        assert np.all(self.upper >= dense * (1 - 1e-13))
        assert np.all(dense[rest[self.alive[rest]]] < self.lam)
        assert np.all(dense[~self.alive] < self.lam)
        assert sup >= dense.max() * (1 - 1e-14)
        seen.append(rest.size)
        return idx, S, sup
    monkeypatch.setattr(WorkingSetLoop, "price", spy)
    sol = solve_problem(pb, dirs, solver="native", tol=1e-10)
    assert sol.status == "optimal" and max(seen) > 0 and checked
