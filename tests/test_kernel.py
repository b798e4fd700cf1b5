"""The kernel (lazy) baseline against independent routes: Monte Carlo over random first
layers, explicit wide random-feature / fine-grid ridge regression, scikit-learn's KernelRidge,
a generic optimizer for the logistic case, and the group problem's certificate."""
import warnings

import numpy as np
import pytest

from limitsolver import solve
from limitsolver.certificate import primal_value
from limitsolver.features import augment, relu_features
from limitsolver.kernel import (KernelSolution, arccos_kernel, kernel_matrix, ntk_kernel,
                                solve_kernel)
from limitsolver.problem import LimitProblem

from .conftest import random_problem


def _sphere(rng, m, dim):
    G = rng.standard_normal((m, dim))
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def _relerr(A, B):
    return float(np.abs(A - B).max() / np.abs(B).max())


def test_arccos_and_ntk_match_monte_carlo(rng):
    X = rng.uniform(-1.5, 1.5, size=(6, 2))
    Xt = augment(X)
    m = 10**6
    theta = _sphere(rng, m, 3)
    P = np.maximum(Xt @ theta.T, 0)
    K_mc = P @ P.T / m
    assert _relerr(arccos_kernel(Xt, Xt), K_mc) < 1e-2
    ind = (Xt @ theta.T > 0).astype(float)
    ntk_mc = K_mc + (ind @ ind.T / m) * (Xt @ Xt.T)
    assert _relerr(ntk_kernel(Xt, Xt), ntk_mc) < 1e-2
    # a wrong normalization (Gaussian instead of sphere, factor d+1 = 3) must fail
    assert _relerr(3 * arccos_kernel(Xt, Xt), K_mc) > 0.5


@pytest.mark.parametrize("d", [1, 2])
def test_free_bias_kernel_matches_monte_carlo(rng, d):
    X = rng.uniform(-1, 1, size=(5, d))
    R = float(np.linalg.norm(X, axis=1).max())
    m = 10**6
    W = _sphere(rng, m, d)
    b = rng.uniform(-R, R, size=m)
    pre = X @ W.T + b
    P = np.maximum(pre, 0)
    K_mc = P @ P.T / m
    assert _relerr(kernel_matrix(X, X, bias="free", radius=R), K_mc) < 1e-2
    ind = (pre > 0).astype(float)
    ntk_mc = K_mc + (ind @ ind.T / m) * (X @ X.T + 1)
    assert _relerr(kernel_matrix(X, X, bias="free", radius=R, kernel="ntk"), ntk_mc) < 1e-2


def test_ridge_matches_fine_grid_ridge_1d(rng):
    """d = 1: ridge on a fine uniform grid of M directions on S¹ with penalty (λM/2)‖V‖²
    (the mean-field weight decay) converges to the kernel ridge solution."""
    X, Y = random_problem(rng, n=10, d=1, T=2)
    lam = 1e-2
    M = 3000
    phi = (np.arange(M) + 0.5) * 2 * np.pi / M
    grid = np.column_stack([np.cos(phi), np.sin(phi)])
    Phi = relu_features(augment(X), grid)
    n = X.shape[0]
    V = np.linalg.solve(Phi.T @ Phi / n + lam * M * np.eye(M), Phi.T @ Y / n)
    Xtest = np.linspace(-1.3, 1.3, 50)[:, None]
    pred_grid = relu_features(augment(Xtest), grid) @ V
    ker = solve_kernel(X, Y, lam=lam)
    assert _relerr(ker.predict(Xtest), pred_grid) < 1e-4
    obj_grid = 0.5 * np.sum((Phi @ V - Y) ** 2) / n + 0.5 * lam * M * np.sum(V**2)
    assert abs(ker.objective - obj_grid) < 1e-4 * obj_grid


def test_ridge_matches_wide_random_features_2d(rng):
    """d = 2: 200 000 random ReLU features with θ uniform on S², weights v_k and weight
    decay (λm/2)‖v‖² (solved through the push-through identity)."""
    X, Y = random_problem(rng, n=12, d=2, T=2)
    lam, n, m = 1e-2, 12, 200_000
    theta = _sphere(rng, m, 3)
    Phi = np.maximum(augment(X) @ theta.T, 0)
    # v = Φᵀ(ΦΦᵀ + nλm I)⁻¹ Y is the primal ridge solution (ΦᵀΦ/n + λm I) v = Φᵀ Y / n
    V = Phi.T @ np.linalg.solve(Phi @ Phi.T + n * lam * m * np.eye(n), Y)
    Xtest = rng.uniform(-1, 1, size=(20, 2))
    pred_rf = np.maximum(augment(Xtest) @ theta.T, 0) @ V
    ker = solve_kernel(X, Y, lam=lam)
    assert _relerr(ker.predict(Xtest), pred_rf) < 2e-2


@pytest.mark.parametrize("kernel", ["arccos", "ntk"])
def test_ridge_matches_sklearn_kernel_ridge(rng, kernel):
    from sklearn.kernel_ridge import KernelRidge
    X, Y = random_problem(rng, n=20, d=3, T=3)
    lam = 3e-3
    K = kernel_matrix(X, X, kernel=kernel)
    kr = KernelRidge(alpha=X.shape[0] * lam, kernel="precomputed").fit(K, Y)
    Xtest = rng.uniform(-1, 1, size=(15, 3))
    ours = solve(X, Y, lam=lam, penalty="kernel", kernel=kernel)
    assert isinstance(ours, KernelSolution)
    ref = kr.predict(kernel_matrix(Xtest, X, kernel=kernel))
    np.testing.assert_allclose(ours.predict(Xtest), ref, rtol=1e-8, atol=1e-10)
    assert ours.status == "optimal" and abs(ours.gap) < 1e-10 * ours.objective


def test_tasks_decouple_exactly_but_group_does_not(rng):
    X, Y = random_problem(rng, n=12, d=1, T=2)
    Y2 = Y.copy()
    Y2[:, 1] = rng.standard_normal(12)
    Xtest = np.linspace(-1, 1, 30)[:, None]
    k1 = solve(X, Y, lam=1e-2, penalty="kernel")
    k2 = solve(X, Y2, lam=1e-2, penalty="kernel")
    np.testing.assert_allclose(k1.predict(Xtest)[:, 0], k2.predict(Xtest)[:, 0],
                               rtol=0, atol=1e-12)
    assert np.abs(k1.predict(Xtest)[:, 1] - k2.predict(Xtest)[:, 1]).max() > 1e-2
    g1 = solve(X, Y, lam=1e-2, penalty="group")
    g2 = solve(X, Y2, lam=1e-2, penalty="group")
    assert np.abs(g1.predict(Xtest)[:, 0] - g2.predict(Xtest)[:, 0]).max() > 1e-3


def test_kernel_measure_is_feasible_for_group_problem(rng):
    """The kernel solution's density g, put on the group solver's grid as V_j = g(θ_j)/M,
    is a feasible grid point, so its group objective is ≥ the group solver's certified
    lower bound; and ∫‖g‖₂ dπ ≤ (∫‖g‖₂² dπ)^{1/2} (Jensen)."""
    X, Y = random_problem(rng, n=10, d=1, T=3)
    lam = 1e-2
    ker = solve(X, Y, lam=lam, penalty="kernel")
    M = 2000
    phi = (np.arange(M) + 0.5) * 2 * np.pi / M
    grid = np.column_stack([np.cos(phi), np.sin(phi)])
    V = ker.density(grid) / M
    prob = LimitProblem(X, Y, lam=lam, penalty="group")
    J_kernel_measure, _ = primal_value(prob, grid, V, np.zeros((0, 3)))
    grp = solve(X, Y, lam=lam, penalty="group", grid=grid)
    assert grp.dual_value <= J_kernel_measure
    assert ker.group_cost(grid) <= ker.penalty_value() * (1 + 1e-9)
    # the discretized density reproduces the kernel fit
    np.testing.assert_allclose(relu_features(augment(X), grid) @ V, ker.predict(X),
                               rtol=1e-4, atol=1e-6)


def test_interpolation_is_minimum_norm(rng):
    X, Y = random_problem(rng, n=9, d=2, T=2)
    ker = solve(X, Y, loss="interpolate", penalty="kernel", free="intercept")
    np.testing.assert_allclose(ker.predict(X), Y, atol=1e-8)
    assert ker.objective == pytest.approx(0.5 * np.sum(ker.rkhs_norms**2))
    # ridge with λ → 0 converges to the interpolant
    small = solve(X, Y, lam=1e-9, penalty="kernel", free="intercept")
    Xtest = rng.uniform(-1, 1, size=(10, 2))
    np.testing.assert_allclose(small.predict(Xtest), ker.predict(Xtest), rtol=1e-4, atol=1e-5)
    # any other interpolant f + h with h(x_i) = 0 in the RKHS has a larger norm:
    # h = Σ_j β_j k(·, z_j) − (its interpolant at the data) — checked via the Gram matrix
    Z = rng.uniform(-1, 1, size=(3, 2))
    XZ = np.vstack([X, Z])
    Kall = kernel_matrix(XZ, XZ)
    a = np.concatenate([ker.alpha[:, 0], np.zeros(3)])
    b = np.concatenate([-np.linalg.solve(Kall[:9, :9], Kall[:9, 9:] @ np.ones(3)),
                        np.ones(3)])
    assert np.allclose(Kall[:9] @ b, 0, atol=1e-8)   # h vanishes on the data
    assert (a + b) @ Kall @ (a + b) > a @ Kall @ a


def test_logistic_matches_generic_optimizer(rng):
    from scipy.optimize import minimize
    X, Y = random_problem(rng, n=16, d=2, T=2, loss="logistic")
    lam = 1e-2
    ker = solve(X, Y, lam=lam, loss="logistic", penalty="kernel", free="intercept")
    K = kernel_matrix(X, X)
    n = 16
    for t in range(2):
        y = Y[:, t]

        def fun(z):
            a, c = z[:n], z[n]
            f = K @ a + c
            return np.mean(np.logaddexp(0, -y * f)) + 0.5 * lam * a @ K @ a

        res = minimize(fun, np.zeros(n + 1), method="BFGS", options=dict(gtol=1e-10))
        t_obj = np.mean(np.logaddexp(0, -y * ker._train_pred()[:, t])) + \
            0.5 * lam * ker.rkhs_norms[t] ** 2
        assert t_obj <= res.fun + 1e-9
        assert t_obj == pytest.approx(res.fun, rel=1e-6)
    assert ker.status == "optimal" and ker.grad_norm < 1e-8 and abs(ker.gap) < 1e-8


@pytest.mark.parametrize("free", ["intercept", "affine"])
def test_free_part_is_unpenalized(rng, free):
    """Adding a constant (or affine function) to the targets shifts the fit by exactly it."""
    X, Y = random_problem(rng, n=12, d=2, T=2)
    A = rng.standard_normal((2, 2)) if free == "affine" else np.zeros((2, 2))
    c = np.array([3.0, -2.0])
    s1 = solve(X, Y, lam=1e-2, penalty="kernel", free=free)
    s2 = solve(X, Y + c + X @ A, lam=1e-2, penalty="kernel", free=free)
    Xtest = rng.uniform(-1, 1, size=(7, 2))
    np.testing.assert_allclose(s2.predict(Xtest), s1.predict(Xtest) + c + Xtest @ A,
                               atol=1e-9)
    assert s2.objective == pytest.approx(s1.objective, rel=1e-9)


def test_free_bias_kernel_ridge_1d_matches_cylinder_grid(rng):
    """bias='free', d = 1: π uniform over w = ±1 and b ∈ [−R, R]; a fine midpoint grid of
    the cylinder with weight decay (λM/2)‖V‖² converges to the kernel fit."""
    X, Y = random_problem(rng, n=10, d=1, T=2)
    R = float(np.abs(X).max())
    lam, half = 1e-2, 1500
    b = -R + (np.arange(half) + 0.5) * 2 * R / half
    grid = np.vstack([np.column_stack([np.ones(half), b]), np.column_stack([-np.ones(half), b])])
    M, n = grid.shape[0], 10
    Phi = relu_features(augment(X), grid)
    V = np.linalg.solve(Phi.T @ Phi / n + lam * M * np.eye(M), Phi.T @ Y / n)
    ker = solve(X, Y, lam=lam, penalty="kernel", bias="free", free="intercept")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ker_none = solve(X, Y, lam=lam, penalty="kernel", bias="free", free="none")
    Xtest = np.linspace(-R, R, 40)[:, None]
    pred_grid = relu_features(augment(Xtest), grid) @ V
    assert _relerr(ker_none.predict(Xtest), pred_grid) < 1e-4
    assert ker.status == "optimal"


def test_bad_inputs():
    X = np.linspace(-1, 1, 5)
    Y = X**2
    with pytest.raises(ValueError, match="kernel"):
        solve(X, Y, lam=1e-2, penalty="kernel", kernel="rbf")
    with pytest.raises(ValueError, match="grid"):
        solve(X, Y, lam=1e-2, penalty="kernel", grid=np.eye(2))
    with pytest.raises(ValueError, match="lam"):
        solve(X, Y, lam=-1.0, penalty="kernel")
    sol = solve(X, Y, lam=1e-2, penalty="kernel")
    with pytest.raises(ValueError, match="shape"):
        sol.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="radius"):
        kernel_matrix(X[:, None], X[:, None], bias="free")
    ntk = solve(X, Y, lam=1e-2, penalty="kernel", kernel="ntk")
    with pytest.raises(ValueError, match="arccos"):
        ntk.density(np.eye(2))
    assert "KernelSolution" in sol.summary() and np.isinf(sol.n_neurons)
