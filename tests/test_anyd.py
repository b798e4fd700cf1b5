"""Grid-free solutions for d ≥ 3: continuous pricing, the joint Newton step in any d, and
refinement (exchange + Newton), each against an independent route."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.api import solve_problem
from limitsolver.grids import default_grid
from limitsolver.newton_nd import _retract, _unpack, joint_newton_nd, newton_model, objective
from limitsolver.oracle import sup_correlation
from limitsolver.ascent import price
from limitsolver.refine import refine


def _planted(rng, n, d, T, loss, neurons=3, noise=0.1):
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((neurons, d + 1))
    Y = np.maximum(np.c_[X, np.ones(n)] @ W.T, 0) @ rng.standard_normal((neurons, T))
    Y = Y + noise * rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Y >= np.median(Y, axis=0), 1.0, -1.0)
    return X, Y


def _problem(X, Y, frac=0.05, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p0 = ls.LimitProblem(X, Y, lam=1.0, **kw)
        lm = ls.lam_max(p0, default_grid(X, p0.bias, 4096))
        return ls.LimitProblem(X, Y, lam=frac * lm, **kw)


# ---------------------------------------------------------------------------------------
# the Newton model: gradient and Hessian against finite differences
# ---------------------------------------------------------------------------------------
CASES = [(loss, pen, bias, free)
         for loss in ("squared", "logistic") for pen in ("group", "l1")
         for bias, free in (("regularized", "none"), ("free", "intercept"),
                            ("regularized", "affine"), ("free", "affine"))]


@pytest.mark.parametrize("loss,pen,bias,free", CASES)
def test_newton_model_matches_finite_differences(loss, pen, bias, free):
    rng = np.random.default_rng(CASES.index((loss, pen, bias, free)))
    n, d, T, k = 20, 3, 2, 3
    X, Y = _planted(rng, n, d, T, loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Y, lam=0.05, loss=loss, penalty=pen, bias=bias, free=free)
    while True:     # no sample within the finite-difference steps of a hyperplane
        D = p.check_directions(rng.standard_normal((k, d + 1)))
        if bias == "free":
            D[:, -1] = np.clip(D[:, -1], -0.5, 0.5)
        if np.abs(p.Xt @ D.T).min() > 1e-2:
            break
    V, C = rng.standard_normal((k, T)), rng.standard_normal((p.F.shape[1], T))
    mask = np.ones_like(V, dtype=bool)
    g, H, G = newton_model(p, D, V, C)
    N = len(g)

    def J(z):
        dt, dV, dC = _unpack(z, k, d, T, p.F.shape[1], mask)
        return objective(p, _retract(D, G, dt, bias), V + dV, C + dC)

    def grad(z, h=1e-6):
        return np.array([(J(z + h * e) - J(z - h * e)) / (2 * h) for e in np.eye(N)])
    assert np.allclose(grad(np.zeros(N)), g, rtol=0, atol=1e-7 * np.abs(g).max())
    h2 = 1e-4
    Hf = np.array([(grad(h2 * e) - grad(-h2 * e)) / (2 * h2) for e in np.eye(N)])
    assert np.allclose(Hf, H, rtol=0, atol=1e-4 * np.abs(H).max())
    assert np.allclose(H, H.T)


# ---------------------------------------------------------------------------------------
# quadratic convergence where the optimal patterns are known
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss,pen,bias", [("squared", "group", "regularized"),
                                           ("squared", "l1", "free"),
                                           ("logistic", "group", "free"),
                                           ("logistic", "l1", "regularized")])
def test_newton_converges_quadratically_on_a_planted_neuron(loss, pen, bias):
    """Targets from one neuron θ* in d = 3, small λ: the optimum is one atom near θ* in the
    cell of θ* (its patterns are known). From a start 1e-3 away the errors of J contract
    quadratically: e_{k+1} ≤ K e_k² with a moderate K."""
    rng = np.random.default_rng(7)
    n, d, T = 40, 3, 2
    X = rng.standard_normal((n, d))
    th = np.append(rng.standard_normal(d), 0.0)
    th[:-1] /= np.linalg.norm(th[:-1])
    th[-1] = 0.3                                 # about 60 % of the samples active
    if bias == "regularized":
        th /= np.linalg.norm(th)
    v = np.array([2.0, -1.0])
    Y = np.outer(np.maximum(np.c_[X, np.ones(n)] @ th, 0), v)
    if loss == "logistic":       # noisy labels: a finite optimum
        Y = np.where(Y + 0.5 * rng.standard_normal(Y.shape) > 0.3, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Y, lam=1e-2, loss=loss, penalty=pen, bias=bias,
                            free="intercept")
    # the optimum: Newton from the planted atom, run to convergence
    D, V, C, _ = joint_newton_nd(p, th[None], v[None], np.zeros((1, T)), max_iter=100,
                                 rtol=0)
    assert D.shape[0] == 1
    act = p.Xt @ D[0] > 0
    start = D + 2e-3 * rng.standard_normal(D.shape)
    assert np.array_equal(p.Xt @ start[0] > 0, act)     # the same cell
    D2, V2, C2, info = joint_newton_nd(p, start, V * 1.02, C, max_iter=20, rtol=0)
    assert np.allclose(D2, D, atol=1e-7)
    e = np.array(info["history"]) - objective(p, D, V, C)
    e = e[e > 1e-13 * abs(objective(p, D, V, C))]
    assert len(e) >= 2
    ratios = e[1:] / e[:-1] ** 2
    assert np.all(ratios < 1e3 / abs(objective(p, D, V, C))), ratios


# ---------------------------------------------------------------------------------------
# pricing
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("pen,bias", [("group", "regularized"), ("l1", "free")])
def test_pricing_values_are_true_and_near_the_exact_sup_in_2d(pen, bias):
    """d = 2, where the oracle is exact: pricing never exceeds the exact sup (its values
    are true ‖c‖) and comes within 1 % of it; every returned value is recomputed here."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    Z = rng.standard_normal((40, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Z, lam=0.1, penalty=pen, bias=bias, free="intercept")
    exact = sup_correlation(p, Z, exact=True)
    r = price(p, Z, n_samples=256, n_data=64, n_starts=16)
    c = np.maximum(p.Xt @ r.directions.T, 0).T @ Z / p.n
    again = np.linalg.norm(c, axis=1) if pen == "group" else np.abs(c).max(axis=1)
    assert np.allclose(again, r.values, rtol=1e-12, atol=0)
    assert r.value <= exact.value * (1 + 1e-12)
    assert r.value >= 0.99 * exact.value


def test_pricing_never_lowers_a_start():
    rng = np.random.default_rng(2)
    X, Z = rng.standard_normal((50, 5)), rng.standard_normal((50, 2))
    p = ls.LimitProblem(X, Z, lam=0.1)
    starts = p.check_directions(rng.standard_normal((8, 6)))
    r = price(p, Z, starts=starts, n_samples=0, n_data=0, n_starts=0, top_k=100, atol=0)
    c0 = np.linalg.norm(np.maximum(p.Xt @ starts.T, 0).T @ Z / p.n, axis=1)
    assert r.value >= c0.max()
    assert len(r.values) >= 1


# ---------------------------------------------------------------------------------------
# refinement against a large grid and trained finite networks
# ---------------------------------------------------------------------------------------
#: Directions of the reference grid: n = 30 samples make a 1e5-direction native solve
#: about a second.
REF_GRID = 100_000


@pytest.mark.parametrize("d,loss,pen", [(d, loss, pen) for d in (3, 5)
                                        for loss in ("squared", "logistic")
                                        for pen in ("group", "l1")])
def test_refined_beats_a_large_grid_and_trained_networks(d, loss, pen):
    rng = np.random.default_rng(d)
    X, Y = _planted(rng, 30, d, 2, loss)
    p = _problem(X, Y, loss=loss, penalty=pen, free="intercept")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = solve_problem(p, default_grid(X, p.bias, REF_GRID, random_state=1))
        start = solve_problem(p, default_grid(X, p.bias, 128))
        ref = refine(p, start, tol=1e-9, time_limit=8)
    assert ref.objective <= start.objective
    assert ref.objective <= grid.objective * (1 + 1e-12)
    # a finite network is a feasible point of the limit problem
    for seed in range(3):
        net = ls.train(X, Y, lam=p.lam, width=12, loss=loss, penalty=pen, free="intercept",
                       random_state=seed, steps=400)
        assert ref.objective <= net.objective(X, Y, p.lam, loss) + max(ref.limit_gap, 0.0) \
            + 1e-12
    assert ref.lower_bound <= ref.objective
    assert ref.info["refine"]


def test_default_solve_refines_in_3d_and_says_how_close_it_is():
    rng = np.random.default_rng(5)
    X, Y = _planted(rng, 40, 3, 2, "squared")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = ls.solve(X, Y, lam=0.05, free="intercept")
    gaps = [w for w in caught if issubclass(w.category, ls.LimitGapWarning)]
    assert "refine" in sol.info
    grid = ls.solve(X, Y, lam=0.05, free="intercept", n_directions=4096, refine=False)
    assert sol.objective <= grid.objective
    text = sol.summary() + repr(sol)
    assert ("certified" in text) or ("estimated" in text)
    certified = sol.limit_certified
    assert len(gaps) == (0 if certified and sol.info["limit_rel_gap"] <= 1e-8 else 1)
    if gaps:
        msg = str(gaps[0].message)
        assert ("time" in msg) or ("sampled" in msg)
    assert issubclass(ls.LimitGapWarning, ls.ConvergenceWarning)


def test_newton_model_with_per_sample_hessian_blocks_agrees(monkeypatch):
    """A loss that gives its per-sample T × T Hessians (as a multinomial loss would) goes
    through the dense route; on a separable loss both routes give the same model."""
    import limitsolver.newton_nd as nn
    from limitsolver.losses import LogisticLoss, hessian_blocks
    rng = np.random.default_rng(4)
    X, Y = _planted(rng, 25, 3, 3, "logistic")
    p = ls.LimitProblem(X, Y, lam=0.05, loss="logistic", free="intercept")
    D = p.check_directions(rng.standard_normal((4, 4)))
    V, C = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    g1, H1, _ = newton_model(p, D, V, C)

    class Blocks(LogisticLoss):
        curvature = None

        @staticmethod
        def hessian_blocks(F, Y):
            return hessian_blocks(LogisticLoss, F, Y)
    monkeypatch.setattr(nn, "get_loss", lambda name: Blocks)
    g2, H2, _ = nn.newton_model(p, D, V, C)
    assert np.allclose(g1, g2, rtol=1e-12, atol=1e-15)
    assert np.allclose(H1, H2, rtol=1e-12, atol=1e-15)
