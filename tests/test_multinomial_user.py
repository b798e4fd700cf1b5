"""Multinomial (softmax) loss on the user side: finite networks, estimators, kernel, CLI."""
import numpy as np
import pytest

import limitsolver as ls
from limitsolver.network import Network


def _labels(rng, n=12, d=1, K=3):
    X = rng.normal(size=(n, d))
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)
    return X, y


def test_trainer_gradient_matches_finite_differences(rng):
    X, y = _labels(rng, n=9, d=2, K=3)
    net = Network(rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(5, 3)),
                  free="intercept", intercept=rng.normal(size=3))
    Y = np.eye(3)[y]
    value, grads = net.objective_and_gradient(X, y, 0.1, loss="multinomial")
    assert value == pytest.approx(net.objective(X, Y, 0.1, loss="multinomial"), rel=1e-14)
    # the loss term is the softmax cross-entropy, written out here independently
    F = net.predict(X)
    ce = np.mean(np.log(np.exp(F).sum(1)) - F[np.arange(9), y])
    assert value == pytest.approx(ce + net.penalty(0.1), rel=1e-12)
    theta = net.get_params()
    g = net.flat_gradient(grads)
    h = 1e-6
    for k in rng.choice(theta.size, 12, replace=False):
        e = np.zeros_like(theta)
        e[k] = h
        a, b = net.copy(), net.copy()
        a.set_params(theta + e)
        b.set_params(theta - e)
        fd = (a.objective(X, y, 0.1, "multinomial") - b.objective(X, y, 0.1, "multinomial")) / (2 * h)
        assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_trained_networks_approach_the_multinomial_limit(rng):
    X, y = _labels(rng, n=12, d=1, K=3)
    lam = 0.05
    sol = ls.solve(X, y, lam=lam, loss="multinomial")
    assert sol.lower_bound is not None and sol.limit_certified
    excess = {}
    for m in (1, 8):
        nets = [ls.train(X, y, lam=lam, width=m, loss="multinomial", random_state=s)
                for s in range(3)]
        net = min(nets, key=lambda n: n.info["objective"])
        best = net.info["objective"]
        # no finite network goes below a certified lower bound on OPT
        assert best >= sol.lower_bound - 1e-10 * abs(sol.lower_bound)
        excess[m] = (best - sol.objective) / sol.objective
    assert excess[1] > 1e-5            # one neuron cannot carry the limit's atoms
    assert abs(excess[8]) < 1e-7       # wide enough: the finite network is the limit
    # scores are shift-invariant per sample: compare the class probabilities
    from scipy.special import softmax
    np.testing.assert_allclose(softmax(net.predict(X), axis=1), softmax(sol.predict(X), axis=1),
                               atol=1e-6)


def test_validate_multinomial(rng):
    X, y = _labels(rng, n=10, d=1, K=3)
    res = ls.validate(X, y, lam=0.05, loss="multinomial", widths=(8,), seeds=(0,),
                      verbose=False)
    assert abs(res.rel_excess[0, 0]) < 1e-6 and not res.below_bound.any()
