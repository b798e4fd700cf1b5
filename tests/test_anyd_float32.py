"""Float32 products in continuous pricing (``cellmaps.CellData``, ``price(precision=...)``),
the origins of the priced directions, and reproducible any-d refinements (a round cap and
no time budget)."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.api import solve_problem
from limitsolver.ascent import FROM_DATA, FROM_SAMPLE, price
from limitsolver.cellmaps import CellData
from limitsolver.grids import default_grid
from limitsolver.refine import refine


def _dense_norms(p, Z, thetas, penalty="group"):
    """‖c(θ)‖ recomputed densely in float64: (1/n) relu(X̃ θ)ᵀ Z, then the dual norm."""
    c = np.maximum(p.Xt @ thetas.T, 0.0).T @ Z / p.n
    return np.linalg.norm(c, axis=1) if penalty == "group" else np.abs(c).max(axis=1)


def test_float32_cell_data_agrees_with_dense_float64_products():
    rng = np.random.default_rng(0)
    X, Z = rng.standard_normal((300, 5)), rng.standard_normal((300, 4))
    p = ls.LimitProblem(X, Z, lam=0.1)
    th = p.check_directions(rng.standard_normal((50, 6)))
    dual = lambda C: np.linalg.norm(C, axis=1)          # noqa: E731
    e64, e32 = CellData(p.Xt, Z, dual), CellData(p.Xt, Z, dual, np.float32)
    dense = _dense_norms(p, Z, th)
    assert np.allclose(e64.values(th), dense, rtol=1e-12, atol=0)
    assert np.allclose(e32.values(th), dense, rtol=1e-5, atol=0)
    assert e32.values(th).dtype == np.float64
    # M_A = (1/n) Σ_{i ∈ A} Z_i x̃_iᵀ, summed sample by sample
    act = (th @ p.Xt.T) > 0
    M = np.stack([(Z[a].T @ p.Xt[a]) / p.n for a in act])
    assert np.allclose(e64.cell_maps(th), M, rtol=1e-12, atol=1e-15)
    assert np.allclose(e32.cell_maps(th), M, rtol=0, atol=1e-5 * np.abs(M).max())
    with pytest.raises(ValueError, match="float64 or float32"):
        CellData(p.Xt, Z, dual, np.float16)


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_float32_pricing_returns_float64_values_that_still_violate(penalty):
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((400, 4)), rng.standard_normal((400, 3))
    p = ls.LimitProblem(X, Z, lam=0.1, penalty=penalty)
    out = {}
    for prec in ("float32", "float64"):
        r = price(p, Z, n_samples=512, n_data=128, n_starts=32, top_k=20, precision=prec)
        # every returned value is the true float64 value at its direction
        assert np.allclose(_dense_norms(p, Z, r.directions, penalty), r.values, rtol=1e-12,
                           atol=0)
        out[prec] = r
    thr = 0.9 * out["float64"].value
    r32 = out["float32"]
    assert np.all(_dense_norms(p, Z, r32.directions[r32.values >= thr], penalty) >= thr)
    # the float32 search finds the same best value to float32 accuracy
    assert r32.value >= out["float64"].value * (1 - 1e-5)
    with pytest.raises(ValueError, match="precision"):
        price(p, Z, precision="half")


def test_price_origins_name_the_starts_the_directions_came_from():
    rng = np.random.default_rng(2)
    X, Z = rng.standard_normal((200, 3)), rng.standard_normal((200, 2))
    p = ls.LimitProblem(X, Z, lam=0.1)
    starts = p.check_directions(rng.standard_normal((15, 4)))
    r = price(p, Z, starts=starts, n_samples=0, n_data=0, n_starts=0, top_k=10)
    assert r.origins.shape == r.values.shape and np.all((r.origins >= 0) & (r.origins < 15))
    r = price(p, Z, n_samples=256, n_data=0, n_starts=16, top_k=10)
    assert np.all(r.origins == FROM_SAMPLE)
    r = price(p, Z, n_samples=0, n_data=256, n_starts=16, top_k=10)
    assert np.all(r.origins == FROM_DATA)


def test_a_round_capped_refinement_without_time_budget_is_reproducible():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 3))
    Y = np.maximum(X @ rng.standard_normal((3, 2)), 0) + 0.1 * rng.standard_normal((60, 2))
    p = ls.LimitProblem(X, Y, lam=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = solve_problem(p, default_grid(X, p.bias, 64))
        runs = [refine(p, start, tol=1e-12, max_iter=3, max_time=np.inf) for _ in range(2)]
    a, b = runs
    assert a.objective == b.objective
    assert np.array_equal(a.atom_directions, b.atom_directions)
    assert len(a.info["refine"]) <= 3
    assert a.objective <= start.objective          # never worse than its start
