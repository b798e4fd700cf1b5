"""The kernel of a solution's neurons, frozen-neuron heads and the prediction range, each
against an independent route: explicit sums, NumPy least squares, kernel ridge formulas,
closed-form 1-D ranges and connect-the-dots."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.grids import breakpoint_directions

from .conftest import random_problem


@pytest.fixture(scope="module")
def group_fit():
    X, Y = random_problem(np.random.default_rng(3), n=14, d=1, T=3)
    sol = ls.solve(X, Y, lam=3e-3, penalty="group", free="none", refine=True, tol=1e-11)
    assert sol.status == "optimal"
    return X, Y, sol


def _relu(X, D):
    return np.maximum(np.column_stack([X, np.ones(len(X))]) @ D.T, 0.0)


def test_neuron_kernel_is_the_weighted_feature_sum(group_fit):
    X, _, sol = group_fit
    D, V = sol.atom_directions, sol.atom_weights
    keep = np.linalg.norm(V, axis=1) > 0
    D, V = D[keep], V[keep]
    X2 = np.linspace(-1.5, 1.5, 7)[:, None]
    for weights, tasks, s in (("output_norm", None, np.linalg.norm(V, axis=1)),
                              ("output_norm", [1, 2], np.linalg.norm(V[:, 1:], axis=1)),
                              ("uniform", None, np.ones(len(V)))):
        K = ls.neuron_kernel(sol, X, X2, weights=weights, tasks=tasks)
        ref = np.zeros((len(X), len(X2)))
        for j in range(len(D)):       # the sum, one neuron at a time
            ref += s[j] * np.outer(_relu(X, D[j:j + 1])[:, 0], _relu(X2, D[j:j + 1])[:, 0])
        np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-14)
    K = ls.neuron_kernel(sol, X)
    np.testing.assert_allclose(K, K.T)
    assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()


def test_group_tasks_are_kernel_ridge_in_their_own_neurons(group_fit):
    """s_j = ‖V_j‖₂: task t of the group optimum is the ridge head on √s_j φ_j at the same
    λ (variational form of ‖·‖₂), and that head is kernel ridge regression in K."""
    X, Y, sol = group_fit
    lam = sol.problem.lam
    head = ls.fit_frozen(sol, X, Y, lam=lam, weights="output_norm")
    assert head.rel_gap < 1e-10
    Xs = np.linspace(-1.2, 1.2, 31)[:, None]
    np.testing.assert_allclose(head.predict(Xs), sol.predict(Xs), atol=1e-4)
    K = ls.neuron_kernel(sol, X, weights="output_norm")
    n = len(X)
    alpha = np.linalg.solve(K + n * lam * np.eye(n), Y)
    kr = ls.neuron_kernel(sol, Xs, X, weights="output_norm") @ alpha
    np.testing.assert_allclose(head.predict(Xs), kr, atol=1e-8)


def test_fit_frozen_ridge_equals_numpy_lstsq_and_is_certified(group_fit):
    X, _, sol = group_fit
    rng = np.random.default_rng(5)
    Ynew = np.column_stack([np.sin(3 * X[:, 0]), rng.standard_normal(len(X))])
    lam = 1e-2
    head = ls.fit_frozen(sol, X, Ynew, lam=lam, free="intercept")
    D = sol.atom_directions[np.linalg.norm(sol.atom_weights, axis=1) > 0]
    Phi = _relu(X, D)
    n, k = Phi.shape
    A = np.block([[Phi, np.ones((n, 1))], [np.sqrt(n * lam) * np.eye(k), np.zeros((k, 1))]])
    coef = np.linalg.lstsq(A, np.vstack([Ynew, np.zeros((k, 2))]), rcond=None)[0]
    np.testing.assert_allclose(head.coef, coef[:k], atol=1e-9)
    np.testing.assert_allclose(head.free_coef, coef[k:], atol=1e-9)
    Xs = np.linspace(-1, 1, 9)[:, None]
    np.testing.assert_allclose(head.predict(Xs), _relu(Xs, D) @ coef[:k] + coef[k], atol=1e-9)
    assert 0 <= head.gap <= 1e-10 * np.sum(head.objective)
    # the dual value is below the objective of any head (weak duality), tested at random heads
    for _ in range(5):
        W = head.coef + 0.1 * rng.standard_normal(head.coef.shape)
        c = head.free_coef + 0.1 * rng.standard_normal(head.free_coef.shape)
        R = Ynew - Phi @ W - c
        P = 0.5 * np.sum(R * R, 0) / n + 0.5 * lam * np.sum(W * W, 0)
        assert np.all(head.dual_value <= P + 1e-12)


def test_fit_frozen_min_norm_is_the_pseudo_inverse(group_fit):
    X, _, sol = group_fit
    y = np.cos(2 * X[:, 0])
    head = ls.fit_frozen(sol, X, y, ridge=False, weights="output_norm", free="none")
    D = sol.atom_directions[np.linalg.norm(sol.atom_weights, axis=1) > 0]
    s = np.linalg.norm(sol.atom_weights[np.linalg.norm(sol.atom_weights, axis=1) > 0], axis=1)
    Psi = _relu(X, D) * np.sqrt(s)
    np.testing.assert_allclose(head.coef[:, 0], np.linalg.pinv(Psi) @ y, atol=1e-8)
    assert head.normal_residual < 1e-10 and np.isnan(head.gap)


def test_analysis_input_errors(group_fit):
    X, Y, sol = group_fit
    with pytest.raises(ValueError, match="lam"):
        ls.fit_frozen(sol, X, Y, lam=0.0)
    with pytest.raises(ValueError, match="Y_new"):
        ls.fit_frozen(sol, X, Y[:-1], lam=1e-2)
    with pytest.raises(ValueError, match="weights"):
        ls.neuron_kernel(sol, X, weights="ntk")
    with pytest.raises(ValueError, match="tasks"):
        ls.neuron_kernel(sol, X, tasks=[5])
    with pytest.raises(ValueError, match="shape"):
        ls.neuron_kernel(sol, np.ones((3, 2)))
    with pytest.raises(ValueError, match="eps"):
        ls.prediction_range(sol, X[:2], eps=-1)
    with pytest.raises(ValueError, match="tasks"):
        ls.prediction_range(sol, X[:2], tasks=[3])


# ---- prediction range --------------------------------------------------------------------
X4 = np.arange(4.0)[:, None]
Y4 = np.array([0.0, 0.0, 1.0, 3.0])     # slopes 0, 1, 2: convex data


def _kinks(offsets):
    b = np.asarray(offsets, dtype=float)
    return np.vstack([np.column_stack([np.ones_like(b), -b]),
                      np.column_stack([-np.ones_like(b), b])])


def test_range_single_task_closed_form_and_contains_other_optima():
    """1-D, bias free, free affine: cost ∫|f''|. For this convex data every convex
    interpolant with f' ∈ [0, 2] is optimal (cost 2): f = 0 on [0, 1], f = 2x − 3 on [2, 3],
    and on [1, 2] f' is any non-decreasing function with mean 1, so f(1.5) ∈ [0, 0.5],
    f(1.25) ∈ [0, 0.25]. Solutions on different grids are different optima; the range
    computed from one of them (support: its atoms, a grid, the others' atoms) holds them all."""
    grids = [_kinks(np.linspace(-0.5, 3.5, 41)), _kinks(np.linspace(-0.5, 3.5, 17)),
             breakpoint_directions(X4, "free")]
    sols = [ls.solve(X4, Y4, loss="interpolate", bias="free", free="affine", grid=g,
                     refine=False) for g in grids]
    for s in sols:
        assert s.objective == pytest.approx(2.0, abs=1e-7)
    xe = np.array([0.5, 1.25, 1.5, 2.5])
    preds = np.column_stack([s.predict(xe[:, None])[:, 0] for s in sols])
    assert np.ptp(preds[2]) > 0.1          # the optima differ (otherwise the test is empty)
    extra = np.vstack([grids[0]] + [s.atom_directions for s in sols[1:]])
    r = ls.prediction_range(sols[0], xe, eps=1e-6, grid=extra)
    lo, hi = r.lower[:, 0], r.upper[:, 0]
    assert np.all(lo[:, None] <= preds + 1e-6) and np.all(preds <= hi[:, None] + 1e-6)
    np.testing.assert_allclose(lo, [0, 0, 0, 2], atol=1e-4)
    np.testing.assert_allclose(hi, [0, 0.25, 0.5, 2], atol=1e-3)
    assert r.excess is not None and r.excess < 1e-5 and r.infeasibility < 1e-6


def test_range_collapses_for_multitask_connect_the_dots():
    """1-D multi-task interpolation (bias free, free affine) has the unique solution
    connect-the-dots: the range shrinks with ε (linearly here), unlike the single-task case."""
    X = np.linspace(0, 1, 6)[:, None]
    Y = np.array([[0, 1], [1, 0], [0.5, 0.7], [1.2, 0.1], [0.3, 0.9], [0.8, 0.2]])
    sol = ls.solve(X, Y, loss="interpolate", bias="free", free="affine")
    xe = np.linspace(0.05, 0.95, 7)
    dots = np.column_stack([np.interp(xe, X[:, 0], Y[:, t]) for t in range(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wide = ls.prediction_range(sol, xe, eps=1e-4, tasks=(0, 1))
        tight = ls.prediction_range(sol, xe, eps=1e-6, tasks=(0, 1))
    assert np.all(tight.lower <= dots + 1e-6) and np.all(dots <= tight.upper + 1e-6)
    assert tight.width.max() < 1e-4 * np.abs(Y).max()
    assert wide.width.max() > 10 * tight.width.max()
    np.testing.assert_allclose(tight.prediction, dots, atol=1e-6)
