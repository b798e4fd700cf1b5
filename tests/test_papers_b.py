"""Deep ReLU trainer (gradient against finite differences, input checks, training fits),
and the headlines of examples/locality_globality.py and examples/implicit_vs_explicit.py
in small form: each fails if its effect disappears."""
import os
import sys

import numpy as np
import pytest

from limitsolver.deep_network import init_deep, objective_and_gradient, train_deep

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))


@pytest.mark.parametrize("depth", [1, 3])
def test_gradient_matches_central_differences(depth):
    rng = np.random.default_rng(depth)
    X, y = rng.standard_normal((7, 4)), rng.standard_normal(7)
    net = init_deep(4, 5, depth, seed=3)
    for p in net.params[1::2]:       # nonzero biases and intercept: every branch active
        p += 0.1 * rng.standard_normal(p.shape)
    wd, h = 0.05, 1e-6
    _, grads = objective_and_gradient(net.params, X, y, wd)
    for p, g in zip(net.params, grads):
        for idx in np.ndindex(p.shape):
            old = p[idx].copy()
            p[idx] = old + h
            jp, _ = objective_and_gradient(net.params, X, y, wd)
            p[idx] = old - h
            jm, _ = objective_and_gradient(net.params, X, y, wd)
            p[idx] = old
            assert abs((jp - jm) / (2 * h) - g[idx]) < 1e-7 * max(1.0, abs(g[idx]))


def test_objective_is_loss_plus_weight_decay():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    net = init_deep(3, 4, 2, seed=0)
    W1, b1, W2, b2, v, c = net.params
    f = np.maximum(np.maximum(X @ W1.T + b1, 0) @ W2.T + b2, 0) @ v + c
    want = 0.5 * np.mean((f - y) ** 2) + 0.5 * 0.1 * (np.sum(W1**2) + np.sum(W2**2)
                                                      + np.sum(v**2))
    assert objective_and_gradient(net.params, X, y, 0.1)[0] == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(net.predict(X), f, rtol=1e-12)


def test_training_fits_and_is_deterministic():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 3))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    a = train_deep(X, y, depth=2, width=32, lr=1e-2, steps=800, seed=5)
    b = train_deep(X, y, depth=2, width=32, lr=1e-2, steps=800, seed=5)
    assert np.mean((a.predict(X) - y) ** 2) < 1e-2 * np.var(y)
    assert a.history[-1] < a.history[0]
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = train_deep(X, y, depth=2, width=32, lr=1e-2, steps=50, batch_size=10, seed=5,
                   optimizer="sgd")
    assert np.all(np.isfinite(c.predict(X)))


@pytest.mark.parametrize("kw", [dict(depth=0), dict(depth=2, width=0), dict(depth=1, lr=0.0),
                                dict(depth=1, weight_decay=-1.0), dict(depth=1, steps=-1),
                                dict(depth=1, optimizer="lbfgs"), dict(depth=1, batch_size=0)])
def test_bad_training_input_raises(kw):
    X, y = np.ones((3, 2)), np.ones(3)
    with pytest.raises(ValueError):
        train_deep(X, y, **kw)
    with pytest.raises(ValueError):
        train_deep(np.ones((3, 2)), np.ones(4), depth=1)


def test_implicit_bias_depends_on_the_data_set_but_the_limit_does_not():
    """S ⊂ S′ with GD(S) interpolating S′: a data-independent rule would force
    GD(S′) = GD(S); one-neuron GD from the same start returns a different function,
    the min-norm interpolant (explicit limit) the same one."""
    import implicit_vs_explicit as ive
    x, y = ive.CASES["two points"]
    init = ive.initial_network(np.random.default_rng(2))
    net_s, drift_s = ive.run_gd(x, y, init, 1000)
    x_new = 0.5 * (ive.kink(init) + ive.kink(net_s))
    x2, y2 = np.append(x, x_new), np.append(y, 0.0)
    net_s2, drift_s2 = ive.run_gd(x2, y2, init, 1000)
    for net in (net_s, net_s2):                       # both interpolate S′
        assert np.abs(net.predict(x2[:, None])[:, 0] - y2).max() < 1e-8
    gap = abs(ive.kink(net_s2) - ive.kink(net_s))
    assert gap > 1e-3 and gap > 100 * max(drift_s, drift_s2)
    grid = np.linspace(-4.0, 1.5, 1101)[:, None]
    assert np.abs(net_s.predict(grid) - net_s2.predict(grid)).max() > 1e-3
    lim = ive.limit_pair(x, y, x_new)
    assert lim["fits_s2"] < 1e-8 and lim["sup"] < 1e-8


def test_trained_deep_net_learns_the_k_local_target_and_the_ntk_does_not():
    """Boolean inputs, d = 11, k = 3, n = 200: a trained depth-3 ReLU network (weight decay
    1e-3) classifies the k-local target almost perfectly and the k-global one barely
    better than chance; the NTKs of depths 1 and 3 (the lazy limit of the same networks)
    stay far from learning the k-local one."""
    import warnings

    import limitsolver as ls
    import locality_globality as lg
    d, k, n = 11, 3, 200
    X = lg.cube_sample(0, d, n + 500)
    err = {}
    for name, f in (("local", lg.k_local), ("global", lg.k_global)):
        y = f(X, k)
        assert set(np.unique(y)) == {-1.0, 1.0}
        net = train_deep(X[:n], y[:n], depth=3, width=32, weight_decay=1e-3, lr=3e-3,
                         steps=800, seed=3)
        err[name] = float(np.mean(np.sign(net.predict(X[n:])) != y[n:]))
        if name == "local":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for L in (1, 3):
                    s = ls.solve(X[:n], y[:n], lam=1e-4, penalty="kernel", kernel="ntk",
                                 depth=L, free="intercept")
                    assert np.mean(np.sign(s.predict(X[n:])[:, 0]) != y[n:]) > 0.25
    assert err["local"] < 0.1 and err["global"] > 0.3, err


def test_k_targets_match_their_definitions():
    import locality_globality as lg
    X = np.array([[1, -1, 1, 1, -1], [-1, -1, -1, 1, 1]], dtype=float)
    np.testing.assert_array_equal(lg.k_local(X, 2), [-1.0, 1.0])
    # row 0: ξ_iξ_{i+1} (cyclic) = -1, -1, 1, -1, -1 → sum -3; row 1: 1, 1, -1, 1, -1 → 1
    np.testing.assert_array_equal(lg.k_global(X, 2), [-1.0, 1.0])
    with pytest.raises(ValueError):
        lg.k_global(np.ones((1, 4)), 2)
