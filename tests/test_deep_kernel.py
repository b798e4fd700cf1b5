"""Deep arc-cosine kernels and NTKs against independent routes: finite random deep ReLU
networks (empirical kernels by explicit backpropagation, tolerance from the spread over
independent draws), Cho & Saul's angle recursion, and the depth-1 kernels."""
import warnings

import numpy as np
import pytest

from limitsolver import solve
from limitsolver.features import augment
from limitsolver.kernel import kernel_matrix

N_NETS, WIDTH = 12, 1000


def _sphere(rng, m, dim):
    G = rng.standard_normal((m, dim))
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def _empirical(pre1, first_dot, depth, rng):
    """Empirical arc-cosine kernel and NTK of one random network of width m.

    pre1 (n, m): first-layer pre-activations θ_k·x̃_i; first_dot (n, n): the Gram matrix of
    the first layer's inputs (∂h¹_k/∂θ_k = x̃). Hidden layers h^{l+1} = √(2/m) W relu(h^l),
    W ~ N(0, 1); output f = v·relu(h^L)/√m, v ~ N(0, 1); all parameters differentiated."""
    m = pre1.shape[1]
    H, A, Ws = [pre1], [np.maximum(pre1, 0)], []
    for _ in range(depth - 1):
        W = rng.standard_normal((m, m))
        Ws.append(W)
        H.append(np.sqrt(2 / m) * A[-1] @ W.T)
        A.append(np.maximum(H[-1], 0))
    v = rng.standard_normal(m)
    arc = A[-1] @ A[-1].T / m
    ntk = arc.copy()
    delta = v * (H[-1] > 0) / np.sqrt(m)              # ∂f/∂h^L, (n, m)
    for layer in range(depth - 1, 0, -1):
        ntk += (delta @ delta.T) * (2 / m) * (A[layer - 1] @ A[layer - 1].T)
        delta = np.sqrt(2 / m) * (delta @ Ws[layer - 1]) * (H[layer - 1] > 0)
    ntk += (delta @ delta.T) * first_dot
    return arc, ntk


def _z_scores(samples, K):
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    return np.abs(mean - K) / np.maximum(se, 1e-12 * np.abs(K).max())


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_kernels_match_random_networks(rng, depth):
    X = rng.uniform(-1.5, 1.5, size=(5, 2))
    Xt = augment(X)
    draws = [_empirical(Xt @ _sphere(rng, WIDTH, 3).T, Xt @ Xt.T, depth, rng)
             for _ in range(N_NETS)]
    for i, kern in enumerate(("arccos", "ntk")):
        emp = np.array([d[i] for d in draws])
        K = kernel_matrix(X, X, kernel=kern, depth=depth)
        assert _z_scores(emp, K).max() < 4.5, kern
        # one layer fewer is rejected by the same test
        K_wrong = kernel_matrix(X, X, kernel=kern, depth=depth - 1)
        assert _z_scores(emp, K_wrong).max() > 4.5, kern


def test_deep_free_bias_kernels_match_random_networks(rng):
    X = rng.uniform(-1, 1, size=(5, 2))
    R = float(np.linalg.norm(X, axis=1).max())
    draws = []
    for _ in range(N_NETS):
        W = _sphere(rng, WIDTH, 2)
        b = rng.uniform(-R, R, size=WIDTH)
        draws.append(_empirical(X @ W.T + b, X @ X.T + 1.0, 2, rng))
    for i, kern in enumerate(("arccos", "ntk")):
        emp = np.array([d[i] for d in draws])
        K = kernel_matrix(X, X, kernel=kern, bias="free", radius=R, depth=2)
        assert _z_scores(emp, K).max() < 4.5, kern


def test_deep_arccos_is_cho_saul_recursion(rng):
    """Cho & Saul's degree-1 kernel of depth L keeps ‖x‖ and iterates the angle
    θ ↦ arccos((sin θ + (π − θ) cos θ)/π); ours is it on x̃ divided by 2(d+1)."""
    X = rng.standard_normal((6, 3))
    Xt = augment(X)
    nrm = np.linalg.norm(Xt, axis=1)
    theta = np.arccos(np.clip(Xt @ Xt.T / np.outer(nrm, nrm), -1, 1))
    for depth in range(1, 6):
        J = np.sin(theta) + (np.pi - theta) * np.cos(theta)
        cs = np.outer(nrm, nrm) * J / np.pi
        K = kernel_matrix(X, X, depth=depth)
        np.testing.assert_allclose(K, cs / (2 * Xt.shape[1]), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.diag(K), nrm**2 / 8, rtol=1e-12)
        theta = np.arccos(np.clip(J / np.pi, -1, 1))


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("kern", ["arccos", "ntk"])
def test_depth_one_is_the_two_layer_kernel(rng, bias, kern):
    X = rng.uniform(-1, 1, size=(7, 2))
    Z = rng.uniform(-1, 1, size=(4, 2))
    kw = dict(kernel=kern, bias=bias, radius=1.5 if bias == "free" else None)
    np.testing.assert_array_equal(kernel_matrix(Z, X, depth=1, **kw), kernel_matrix(Z, X, **kw))


def test_solve_deep_kernel_is_kernel_ridge(rng):
    X = rng.uniform(-1, 1, size=(20, 3))
    Y = np.column_stack([np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2]])
    lam = 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = solve(X, Y, lam=lam, penalty="kernel", kernel="ntk", depth=3)
    K = kernel_matrix(X, X, kernel="ntk", depth=3)
    alpha = np.linalg.solve(K + len(X) * lam * np.eye(len(X)), Y)
    Z = rng.uniform(-1, 1, size=(9, 3))
    np.testing.assert_allclose(sol.predict(Z), kernel_matrix(Z, X, kernel="ntk", depth=3) @ alpha,
                               rtol=1e-8, atol=1e-10)
    assert sol.status == "optimal" and sol.depth == 3
    shallow = solve(X, Y, lam=lam, penalty="kernel", kernel="ntk")
    assert np.abs(shallow.predict(Z) - sol.predict(Z)).max() > 1e-3


@pytest.mark.parametrize("depth", [0, -1, 1.5, True, "2"])
def test_bad_depth_raises(depth):
    X = np.linspace(-1, 1, 5)[:, None]
    with pytest.raises(ValueError, match="depth"):
        kernel_matrix(X, X, depth=depth)
    with pytest.raises(ValueError, match="depth"):
        solve(X, X[:, 0], lam=1e-2, penalty="kernel", depth=depth)
