"""Regularization path: λ_max computed on the grid, warm starts, equals cold solves."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
import limitsolver.path as lpath
from limitsolver.features import relu_features

from .conftest import random_problem


def _quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ls.ConvergenceWarning)
        return f(*args, **kw)


@pytest.mark.parametrize("loss,penalty,free", [("squared", "group", "intercept"),
                                               ("logistic", "l1", "none")])
def test_path_objectives_equal_cold_solves(rng, loss, penalty, free):
    X, Y = random_problem(rng, n=16, d=2, T=2, loss=loss)
    grid = ls.sphere_grid(3, 120)
    kw = dict(loss=loss, penalty=penalty, free=free)
    path = _quiet(ls.limit_path, X, Y, n_lams=8, eps=1e-2, grid=grid, **kw)
    assert len(path) == 8 and np.all(np.diff(path.lams) < 0)
    assert path.lams[0] == path.lam_max
    assert path.lams[-1] == pytest.approx(1e-2 * path.lam_max, rel=1e-12)
    assert np.allclose(np.diff(np.log(path.lams)), np.log(1e-2) / 7)
    assert np.array_equal(path.grid, grid / np.linalg.norm(grid, axis=1, keepdims=True))
    for k in (0, 1, 4, 7):
        cold = _quiet(ls.solve, X, Y, lam=path.lams[k], grid=path.grid, solver="clarabel",
                      **kw)
        assert abs(path.objectives[k] - cold.objective) <= 1e-8 * max(1.0, abs(cold.objective))
    assert path.n_neurons[0] == 0 and path.n_neurons[-1] > 0
    assert np.all(path.gaps <= 1e-8 * np.abs(path.objectives) + 1e-14)
    assert path.lower_bounds == [s.lower_bound for s in path.solutions]
    assert path.objectives.tolist() == [s.objective for s in path.solutions]


def test_lam_max_is_computed_on_the_grid(rng):
    """Independent route: λ_max = max_j ‖Φ_jᵀ (Y − Ȳ)‖ / n for a free intercept."""
    X, Y = random_problem(rng, n=15, d=1, T=3)
    grid = ls.sphere_grid(2, 90)
    path = _quiet(ls.limit_path, X, Y, n_lams=3, grid=grid, free="intercept")
    Phi = relu_features(np.hstack([X, np.ones((15, 1))]), grid)
    expected = np.max(np.linalg.norm(Phi.T @ (Y - Y.mean(0)), axis=1)) / 15
    assert path.lam_max == pytest.approx(expected, rel=1e-12)
    # just below λ_max the network is no longer zero
    below = _quiet(ls.solve, X, Y, lam=0.97 * expected, grid=grid, free="intercept")
    assert below.n_neurons > 0 and path.n_neurons[0] == 0


def test_warm_starts_are_passed_along(rng, monkeypatch):
    X, Y = random_problem(rng, n=10, d=1, T=2)
    seen = []
    real = lpath.solve_problem

    def spy(problem, grid, **kw):
        seen.append((problem.lam, kw["warm_start"]))
        return real(problem, grid, **kw)

    monkeypatch.setattr(lpath, "solve_problem", spy)
    path = _quiet(ls.limit_path, X, Y, lams=[0.01, 0.1, 0.05], grid=ls.sphere_grid(2, 40))
    assert path.lams.tolist() == [0.1, 0.05, 0.01]
    assert [lam for lam, _ in seen] == [0.1, 0.05, 0.01]
    assert seen[0][1] is None
    assert seen[1][1] is path.solutions[0] and seen[2][1] is path.solutions[1]
    seen.clear()
    _quiet(ls.limit_path, X, Y, lams=[0.1, 0.05], grid=ls.sphere_grid(2, 40), warm_start=False)
    assert [w for _, w in seen] == [None, None]


def test_progress_bar_and_table(rng, capsys):
    X, Y = random_problem(rng, n=10, d=1, T=2)
    path = _quiet(ls.limit_path, X, Y, n_lams=3, grid=ls.sphere_grid(2, 30), verbose=True)
    err = capsys.readouterr().err
    assert "limit_path" in err
    _quiet(ls.limit_path, X, Y, n_lams=2, grid=ls.sphere_grid(2, 30))
    assert capsys.readouterr().err == ""
    table = path.table().splitlines()
    assert len(table) == 2 + 3 and "objective" in table[0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_lams=0), "n_lams"), (dict(eps=0.0), "eps"), (dict(eps=2.0), "eps"),
    (dict(lams=[0.1, -1.0]), "lams"), (dict(lams=[]), "empty"),
    (dict(loss="interpolate"), "interpolate"),
])
def test_bad_path_arguments(rng, kwargs, match):
    X, Y = random_problem(rng, n=8, d=1, T=1)
    with pytest.raises(ValueError, match=match):
        ls.limit_path(X, Y, grid=ls.sphere_grid(2, 20), **kwargs)
