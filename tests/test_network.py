"""Finite-width networks (limitsolver.network): exact gradients, conversions to and from
measures, training, and the finite-network-vs-limit checks of issue 8."""
import numpy as np
import pytest

import limitsolver as ls
from limitsolver.network import Network, train
from limitsolver.losses import get_loss

from .conftest import random_problem

OPTIONS = [(loss, bias, free, pen)
           for loss in ("squared", "logistic")
           for bias in ("regularized", "free")
           for free in ("none", "intercept", "affine")
           for pen in ("group", "l1")]


def _random_network(rng, d, T, m, bias, free, pen):
    W = rng.standard_normal((m, d))
    b = rng.standard_normal(m)
    V = rng.standard_normal((m, T))
    tasks = None
    if pen == "l1":
        tasks = rng.integers(0, T, m)
        off = np.ones((m, T), bool)
        off[np.arange(m), tasks] = False
        V[off] = 0.0
    c = rng.standard_normal(T) if free != "none" else None
    A = rng.standard_normal((d, T)) if free == "affine" else None
    return Network(W, b, V, bias=bias, free=free, intercept=c, affine=A, tasks=tasks)


@pytest.mark.parametrize("loss,bias,free,pen", OPTIONS)
def test_gradient_matches_finite_differences(rng, loss, bias, free, pen):
    X, Y = random_problem(rng, n=15, d=2, T=3, loss=loss)
    net = _random_network(rng, 2, 3, 7, bias, free, pen)
    lam = 0.3
    theta = net.get_params()
    _, grads = net.objective_and_gradient(X, Y, lam, loss)
    g = net.flat_gradient(grads)

    def f(th):
        net.set_params(th)
        return net.objective(X, Y, lam, loss)

    # central differences; step small enough that no ReLU changes sign (random data)
    h = 1e-6
    fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h)
                   for e in np.eye(len(theta))])
    net.set_params(theta)
    assert np.linalg.norm(fd - g) <= 1e-6 * np.linalg.norm(g)
    # the masked (off-task) entries of V have zero gradient and are not parameters
    if pen == "l1":
        assert len(theta) == 7 * 2 + 7 + 7 + (3 if free != "none" else 0) + \
            (6 if free == "affine" else 0)


def test_objective_uses_library_losses_and_penalty_formula(rng):
    X, Y = random_problem(rng, n=10, d=1, T=2)
    for bias in ("regularized", "free"):
        net = _random_network(rng, 1, 2, 5, bias, "affine", "group")
        H = np.maximum(X @ net.W.T + net.b, 0)
        F = H @ net.V + net.intercept + X @ net.affine
        pen = np.sum(net.V ** 2) + np.sum(net.W ** 2)
        if bias == "regularized":
            pen += np.sum(net.b ** 2)
        expect = 0.5 * np.sum((F - Y) ** 2) / 10 + 0.7 / 2 * pen
        assert np.isclose(net.objective(X, Y, 0.7, "squared"), expect, rtol=1e-13)
        assert np.allclose(net.predict(X), F)
        Yl = np.where(Y > 0, 1.0, -1.0)
        assert np.isclose(net.objective(X, Yl, 0.7, "logistic"),
                          get_loss("logistic").value(F, Yl) + 0.35 * pen, rtol=1e-13)


def test_interpolate_is_not_a_training_loss(rng):
    X, Y = random_problem(rng)
    net = _random_network(rng, 1, 2, 4, "regularized", "none", "group")
    with pytest.raises(ValueError, match="interpolate"):
        net.objective(X, Y, 0.1, "interpolate")
    with pytest.raises(ValueError, match="interpolate"):
        train(X, Y, lam=0.1, width=4, loss="interpolate")


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("pen", ["group", "l1"])
def test_measure_round_trip_and_balanced_penalty(rng, bias, pen):
    X, _ = random_problem(rng, n=20, d=2, T=3)
    net = _random_network(rng, 2, 3, 9, bias, "intercept", pen)
    dirs, weights = net.to_measure()
    # the function is unchanged
    F = ls.relu_features(ls.augment(X), dirs) @ weights + net.intercept
    assert np.allclose(F, net.predict(X), rtol=1e-12, atol=1e-12)
    # directions on S^d or on the cylinder ‖w‖ = 1
    nrm = np.linalg.norm(dirs if bias == "regularized" else dirs[:, :-1], axis=1)
    assert np.allclose(nrm, 1.0)
    # λ Ω(μ) equals the balanced network's penalty, which is ≤ the unbalanced one
    lam = 0.37
    bal = net.balanced()
    omega = ls.penalties.get_penalty(pen).value(weights)
    assert np.isclose(lam * omega, bal.penalty(lam), rtol=1e-12)
    assert bal.penalty(lam) <= net.penalty(lam) + 1e-12
    assert np.allclose(bal.predict(X), net.predict(X), rtol=1e-12, atol=1e-12)
    # and back: a balanced network with the same function and the same penalty
    back = Network.from_measure(dirs, weights, bias=bias, free="intercept",
                                intercept=net.intercept, penalty=pen)
    assert np.allclose(back.predict(X), net.predict(X), rtol=1e-12, atol=1e-12)
    assert np.isclose(back.penalty(lam), lam * omega, rtol=1e-12)


def test_from_measure_l1_splits_atoms_per_task(rng):
    dirs = rng.standard_normal((4, 2))
    W = rng.standard_normal((4, 3))
    W[1, 2] = 0.0
    net = Network.from_measure(dirs, W, penalty="l1")
    assert net.width == 11 and net.tasks is not None
    assert np.isclose(net.penalty(2.0), 2.0 * np.abs(W).sum(), rtol=1e-12)
    grp = Network.from_measure(dirs, W, penalty="group")
    assert grp.width == 4
    assert np.isclose(grp.penalty(2.0), 2.0 * np.linalg.norm(W, axis=1).sum(), rtol=1e-12)
    X = rng.standard_normal((6, 1))
    assert np.allclose(net.predict(X), grp.predict(X))


def test_bad_inputs_are_clear_errors(rng):
    X, Y = random_problem(rng)
    with pytest.raises(ValueError, match="width"):
        train(X, Y, lam=0.1, width=0)
    with pytest.raises(ValueError, match="method"):
        train(X, Y, lam=0.1, width=3, method="sgd")
    with pytest.raises(ValueError, match="lam"):
        train(X, Y, lam=-1.0, width=3)
    with pytest.raises(ValueError, match="NaN"):
        train(np.full((12, 1), np.nan), Y, lam=0.1, width=3)
    with pytest.raises(ValueError, match="different numbers of samples"):
        train(X[:5], Y, lam=0.1, width=3)
    with pytest.raises(ValueError, match="kernel"):
        train(X, Y, lam=0.1, width=3, penalty="kernel")
    with pytest.raises(ValueError, match="inconsistent widths"):
        Network(np.ones((3, 1)), np.ones(2), np.ones((3, 2)))
    with pytest.raises(ValueError, match="intercept"):
        Network(np.ones((3, 1)), np.ones(3), np.ones((3, 2)), intercept=[1.0, 2.0])
