"""The layout's behaviour: one grid solve under its public names, declared grid weights,
a sweep's single summary warning, and the direction counts the grid docstrings state."""
import warnings

import numpy as np

import limitsolver
from limitsolver.exceptions import ConvergenceWarning, LimitGapWarning


def test_grid_solve_is_one_function_under_three_names():
    import limitsolver.api as api
    import limitsolver.gridsolve as gridsolve
    assert limitsolver.solve_problem is api.solve_problem is gridsolve.solve_problem
    assert api.zero_solution is gridsolve.zero_solution


def test_grid_weights_declared_checked_and_saved(tmp_path):
    from limitsolver.certificate import certify
    X = np.linspace(-1, 1, 9)
    Y = np.column_stack([np.abs(X), X ** 2])
    grid = limitsolver.sphere_grid(2, 24)
    sol = limitsolver.solve(X, Y, lam=0.05, grid=grid, certify_limit=False)
    assert sol.grid_weights.shape == (sol.grid.shape[0], 2)
    # the full grid point is the certified one: an independent certificate agrees
    cert = certify(sol.problem, sol.grid, sol.grid_weights, sol.free_coef)
    assert abs(cert.primal - sol.objective) <= 1e-12 * abs(sol.objective)
    back = limitsolver.LimitSolution.load(sol.save(tmp_path / "s.npz"))
    assert np.array_equal(back.grid_weights, sol.grid_weights) and back.extras == {}
    try:
        limitsolver.LimitSolution(sol.problem, sol.atom_directions, sol.atom_weights,
                                  sol.free_coef, sol.certificate, status="inaccurate",
                                  solver="x", grid=sol.grid, grid_weights=sol.grid_weights[1:])
    except ValueError as exc:
        assert "grid_weights" in str(exc)
    else:
        raise AssertionError("a grid_weights of the wrong shape was accepted")


def test_sweep_summarizes_uncertified_rows_in_one_warning():
    X = np.linspace(-1, 1, 12)
    Y = np.column_stack([np.abs(X), np.sin(3 * X)])
    coarse = limitsolver.sphere_grid(2, 16)         # a coarse grid: the limit gap is large
    jobs = [dict(X=X, Y=Y, lam=lam, grid=coarse) for lam in (0.003, 0.001)]
    jobs.append(dict(X=X, Y=Y, lam=10.0, grid=coarse))     # λ ≥ λ_max: exact, no warning
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = limitsolver.sweep(jobs)
    flagged = [r for r in res if any(w.startswith("LimitGapWarning") for w in r.warnings)]
    assert len(flagged) == 2 and not res[2].warnings
    mine = [w for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert len(mine) == 1, [str(w.message) for w in rec]
    assert mine[0].category is LimitGapWarning
    assert "2 of 3" in str(mine[0].message)


def test_default_grid_sizes_are_as_documented():
    """The counts the ``default_grid`` docstring states, counted independently."""
    rng = np.random.default_rng(0)
    for d, bias, expected in [(1, "regularized", 512 + 2 * 10), (1, "free", 512 + 2 * 10),
                              (2, "regularized", 2000), (2, "free", 63 * 32),
                              (3, "regularized", 4096), (3, "free", 256 * 16)]:
        X = rng.uniform(-1, 1, (10, d))
        assert limitsolver.default_grid(X, bias).shape == (expected, d + 1), (d, bias)


def test_coarse_grid_is_the_documented_start():
    """``grids.coarse_grid``: the Newton start (128 angles, or 64 offsets per sign of w) and
    otherwise ``default_grid`` with ``COARSE_GRID_SIZES[d]``, built here directly."""
    from limitsolver.grids import COARSE_GRID_SIZES, coarse_grid
    X = np.linspace(-2, 1, 7)[:, None]
    theta = 2 * np.pi * np.arange(128) / 128
    assert np.allclose(coarse_grid(X, "regularized", newton=True),
                       np.column_stack([np.cos(theta), np.sin(theta)]))
    b = np.linspace(-2, 2, 64)
    expected = np.vstack([np.column_stack([np.full(64, s), b]) for s in (1.0, -1.0)])
    assert np.allclose(coarse_grid(X, "free", newton=True), expected)
    assert coarse_grid(X, "regularized").shape == (COARSE_GRID_SIZES[1] + 2 * 7, 2)
    X2 = np.random.default_rng(0).uniform(-1, 1, (5, 2))
    assert coarse_grid(X2, "regularized").shape == (COARSE_GRID_SIZES[2], 3)
