"""The closed-form difference-of-convex box bound and the two-process paths (branch and bound,
exact d = 3 walk), each checked against an independent route written here."""
import itertools
import multiprocessing

import numpy as np
import pytest

from limitsolver import bound, faces3d_pool
from limitsolver.bound import bounded_sup
from limitsolver.boxbounds import BoxSetup, dc_bound, first_order
from limitsolver.faces3d import exact_sup_3d


def _values(Xt, Z, thetas, penalty):
    C = np.maximum(thetas @ Xt.T, 0.0) @ Z / Xt.shape[0]
    return np.linalg.norm(C, axis=1) if penalty == "group" else np.abs(C).max(axis=1)


def _data(d, n, T, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, d))
    return np.column_stack([X, np.ones(n)]), rng.standard_normal((n, T)), \
        float(np.linalg.norm(X, axis=1).max())


def _sphere_search(Xt, Z, penalty, n_samples=100_000, seed=0):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n_samples, Xt.shape[1]))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    return float(_values(Xt, Z, S, penalty).max())


def _vertex_test(Xt, Z, c, h, tau, penalty):
    """The difference-of-convex test at one τ, written from its definition: max over the
    box's vertices v of Σ_{a>0} a relu(s) + Σ_{a<0} a λ s − τ ν̂_c·v ≤ 0 (l1: every ±Z_t;
    group: the first rotated component with the β²/(τ ν_min) term)."""
    n = Xt.shape[0]
    free = np.flatnonzero(h > 0)
    V = []
    for xi in itertools.product((-1.0, 1.0), repeat=free.size):
        v = c.copy()
        v[free] += np.array(xi) * h[free]
        V.append(v)
    V = np.array(V)
    S = V @ Xt.T
    sc, sr = c @ Xt.T, np.abs(Xt) @ h
    lo, hi = sc - sr, sc + sr
    lam = np.where(hi <= 0, 0.0, np.where(lo >= 0, 1.0, hi / np.where(hi > lo, hi - lo, 1)))
    nvec = V @ (c / np.linalg.norm(c))

    def p(a):
        return np.maximum(S, 0) @ np.maximum(a, 0) + S @ (np.minimum(a, 0) * lam)
    if penalty == "l1":
        return all(np.max(p(sg * Z[:, t] / n) - tau * nvec) <= 0
                   for t in range(Z.shape[1]) for sg in (1, -1))
    g = np.maximum(sc, 0) @ Z / n
    e1 = g / np.linalg.norm(g)
    w = np.eye(len(e1))[0] - e1                 # the reflection that maps e_1 to e1
    Q = np.eye(len(e1)) - 2 * np.outer(w, w) / (w @ w) if w @ w > 1e-24 else np.eye(len(e1))
    beta2 = sum(max(np.max(p(Z @ Q[:, t] / n)), np.max(p(-Z @ Q[:, t] / n)), 0.0) ** 2
                for t in range(1, Z.shape[1]))
    lo_u = c - h
    nu_min = np.sqrt(np.sum(np.where((lo_u <= 0) & (c + h >= 0), 0,
                                     np.minimum(lo_u ** 2, (c + h) ** 2))))
    main = max(np.max(p(sg * Z @ e1 / n) - tau * nvec) for sg in (1, -1))
    return bool(main + beta2 / (tau * nu_min) <= 0 and tau * nu_min >= np.sqrt(beta2))


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_closed_form_dc_bound_is_the_smallest_passing_tau(penalty):
    Xt, Z, R = _data(3, 25, 3, seed=5)
    s = BoxSetup(Xt, Z, 25, penalty, "regularized", R)
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(30):
        c = np.concatenate([[1.0], rng.uniform(-1, 1, 3)])
        h = np.concatenate([[0.0], np.full(3, rng.choice([0.02, 0.05, 0.1]))])
        _, _, _, hi, lo, nu = first_order(s, c[None], h[None])
        tau = float(dc_bound(s, c[None], h[None], lo, hi, nu)[0])
        if not np.isfinite(tau):
            continue
        checked += 1
        # a bound: above the values inside the box
        P = c + rng.uniform(-1, 1, (5000, 4)) * h
        assert _values(Xt, Z, P / np.linalg.norm(P, axis=1, keepdims=True),
                       penalty).max() <= tau * (1 + 1e-12)
        # the smallest τ of the test: it passes just above, fails just below
        assert _vertex_test(Xt, Z, c, h, tau * (1 + 1e-9), penalty)
        if tau > 0:
            assert not _vertex_test(Xt, Z, c, h, tau * (1 - 1e-6), penalty)
    assert checked >= 20


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_two_process_branch_and_bound_is_above_a_dense_search(bias, penalty, monkeypatch):
    monkeypatch.setattr(bound, "SPLIT_AT_BOXES", 64)
    calls = []
    halves = bound._two_halves
    monkeypatch.setattr(bound, "_two_halves", lambda *a: calls.append(1) or halves(*a))
    Xt, Z, R = _data(4, 10, 3, seed=3)
    res = {}
    for w in (1, 2):
        res[w] = bounded_sup(Xt, Z, 10, penalty=penalty, bias=bias, radius=R, rtol=1e-3,
                             max_time=np.inf, max_boxes=6_000, workers=w)
        th = res[w].direction[None]
        assert res[w].lower == pytest.approx(_values(Xt, Z, th, penalty)[0], rel=1e-12)
    rng = np.random.default_rng(0)
    if bias == "regularized":
        S = rng.standard_normal((100_000, 5))
        S /= np.linalg.norm(S, axis=1, keepdims=True)
    else:
        W = rng.standard_normal((100_000, 4))
        S = np.column_stack([W / np.linalg.norm(W, axis=1, keepdims=True),
                             rng.uniform(-R, R, 100_000)])
    assert calls == [1]                      # the two-process path ran (workers=2 only)
    found = max(_values(Xt, Z, S, penalty).max(), res[1].lower, res[2].lower)
    for w in (1, 2):
        assert found <= res[w].upper
        if res[w].complete:
            assert res[w].upper <= res[w].lower * (1 + 1e-3) * (1 + 1e-9)


class _DeadProcess:
    """A process that never runs: the parent must keep the second half's boxes."""

    def __init__(self, target=None, args=(), daemon=None):
        pass

    def start(self):
        pass

    def join(self):
        pass

    def terminate(self):
        pass


def test_a_failed_second_process_keeps_its_boxes(monkeypatch):
    monkeypatch.setattr(bound, "SPLIT_AT_BOXES", 64)
    monkeypatch.setattr(multiprocessing.get_context("fork"), "Process", _DeadProcess)
    Xt, Z, R = _data(4, 10, 2, seed=9)
    res = bounded_sup(Xt, Z, 10, penalty="group", bias="regularized", radius=R, rtol=1e-6,
                      max_time=np.inf, max_boxes=4_000, workers=2)
    assert not res.complete
    assert _sphere_search(Xt, Z, "group") <= res.upper


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_two_process_exact_walk_equals_one_process(bias, penalty, monkeypatch):
    monkeypatch.setattr(faces3d_pool, "PARALLEL_MIN_INPUTS", 2)
    Xt, Z, R = _data(3, 24, 3, seed=21)
    one = exact_sup_3d(Xt, Z, 24, penalty=penalty, bias=bias, radius=R, workers=1)
    two = exact_sup_3d(Xt, Z, 24, penalty=penalty, bias=bias, radius=R, workers=2)
    assert two.value == pytest.approx(one.value, rel=1e-12)
    assert np.allclose(_values(Xt, Z, two.direction[None], penalty), two.value, rtol=1e-12)
    again = exact_sup_3d(Xt, Z, 24, penalty=penalty, bias=bias, radius=R, workers=2)
    assert np.array_equal(again.directions, two.directions)
    with pytest.raises(ValueError, match="workers"):
        exact_sup_3d(Xt, Z, 24, penalty=penalty, bias=bias, radius=R, workers=0)
