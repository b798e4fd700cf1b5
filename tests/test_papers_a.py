"""The headlines of the uniqueness and feature-learning examples in small form (each fails
if its effect disappears), and the absolute slack of ``prediction_range``."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.grids import sphere_grid

from .conftest import load_example

SQUARE = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)
X_SQ = np.vstack([0.5 * SQUARE, SQUARE])
Y0 = np.r_[np.ones(4), np.zeros(4)]
X_EVAL = np.array([[1.2, 0.0], [0.0, -1.2], [0.75, 0.0], [0.0, 0.0]])



def _load(name):
    return load_example(name, "papers_a")


def _certified_interpolant(Y):
    """A refined min-norm interpolant of the squares' data, certified close to the limit."""
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X_SQ, Y, loss="interpolate", grid=sphere_grid(3, 1000) @ Q.T,
                       refine=True)
    assert sol.lower_bound_exact and sol.limit_gap <= 1e-6 * sol.objective
    return sol


def _widths(sol, J0, eps=(1e-5, 1e-7)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [float(ls.prediction_range(sol, X_EVAL, slack=e * J0).width.max())
                for e in eps]


def test_range_collapses_like_sqrt_eps_with_diverse_tasks_only():
    """Nakhleh et al.'s squares: with no extra task the range of task 0 at slack ε·J₀ is
    wide and does not shrink from ε = 1e-5 to 1e-7 (a flat face of optimal measures); with
    4 Bernoulli tasks it shrinks like √ε (rate ½: a unique optimum); with 4 copies of
    task 0 (the control: same near-optimal set as one task) it stays wide."""
    sol0 = _certified_interpolant(Y0[:, None])
    J0 = sol0.objective
    B = np.random.default_rng(0).integers(0, 2, size=(8, 4)).astype(float)
    cases = {"none": sol0,
             "bernoulli": _certified_interpolant(np.column_stack([Y0, B])),
             "copies": _certified_interpolant(np.repeat(Y0[:, None], 5, axis=1))}
    rate = {}
    for k, sol in cases.items():
        hi, lo = _widths(sol, J0)
        rate[k] = np.log(hi / lo) / np.log(100.0)
        if k != "bernoulli":
            assert lo > 1.0, (k, hi, lo)        # max|f0| = 1: the range spans [-0.4, 1]
    assert rate["none"] < 0.1 and rate["copies"] < 0.1, rate
    assert 0.4 < rate["bernoulli"] < 0.6, rate


def test_absolute_slack_is_the_relative_budget():
    """slack = ε·|J*| is the same budget as eps = ε (independent route: the two keywords),
    and bad slacks raise."""
    sol = _certified_interpolant(np.column_stack([Y0, 1 - Y0[::-1]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a = ls.prediction_range(sol, X_EVAL, eps=1e-5)
        b = ls.prediction_range(sol, X_EVAL, slack=1e-5 * abs(sol.objective))
    assert abs(a.budget - b.budget) <= 1e-12 * abs(a.budget)
    assert abs(b.eps - 1e-5) < 1e-12
    np.testing.assert_allclose(a.width, b.width, rtol=1e-3, atol=1e-9)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError):
            ls.prediction_range(sol, X_EVAL, slack=bad)


def test_exchange_rounds_align_the_features_and_the_probe_profits():
    """Collins et al.'s setting in small form, d = 12, r = 2, 16 tasks: the grid solve's
    atoms are poorly aligned with the relevant subspace; a few exchange rounds (pricing the
    residual, re-solving) move them into it (‖V‖-weighted ‖Uᵀw‖/‖w‖ > 0.85) and lower the
    objective; the probe on them beats random features on new tasks of the subspace, and not
    on tasks of an orthogonal subspace (control)."""
    fl = _load("feature_learning")
    d = 12
    grid = sphere_grid(d + 1, 1000, kind="sobol", random_state=0)
    lam = np.sqrt(fl.T) * 0.005
    before, _, U, _ = fl.upstream(d, 0, lam, "group", grid, rounds=0)
    after, _, U2, ratio = fl.upstream(d, 0, lam, "group", grid, rounds=6)
    np.testing.assert_array_equal(U, U2)
    assert after.objective < 0.9 * before.objective
    a0, a1 = fl.alignment(before, U)[1], fl.alignment(after, U)[1]
    assert a0 < 0.75 and a1 > 0.85 and a1 - a0 > 0.15, (a0, a1)
    feats = {"learned": (after.atom_directions, np.ones(len(after.atom_directions)))}
    G = np.random.default_rng(5).standard_normal((len(after.atom_directions), d + 1))
    feats["random"] = (G / np.linalg.norm(G, axis=1, keepdims=True), feats["learned"][1])
    same = fl.downstream(feats, d, U, 0, (16,))
    ctrl = fl.downstream(feats, d, U, 0, (16,), control=True)
    assert same["learned"][0] < 0.5 * same["random"][0], same
    assert ctrl["learned"][0] > 0.9 * ctrl["random"][0], ctrl
