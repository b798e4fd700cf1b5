"""The joint Newton step of refinement (d = 1): its derivatives against finite differences,
and refined solutions against independent routes (a one-neuron closed form minimized by a
scalar search, the exact breakpoint grid of bias-free problems)."""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import limitsolver as ls
from limitsolver.certificate import primal_value
from limitsolver.losses import get_loss
from limitsolver.newton import _model, _Param, joint_newton
from limitsolver.problem import LimitProblem
from limitsolver.refine import refine


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("penalty,bias,free", [("group", "regularized", "intercept"),
                                               ("group", "free", "affine"),
                                               ("l1", "regularized", "none"),
                                               ("l1", "free", "intercept")])
def test_model_matches_finite_differences(loss, penalty, bias, free):
    """Gradient and Hessian of J on fixed activation patterns, against central differences
    of J itself (evaluated with the patterns frozen, where J is smooth)."""
    rng = np.random.default_rng(11)
    n, T, k = 25, 2, 3
    X = rng.uniform(-1, 1, (n, 1))
    Y = rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.sign(Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = LimitProblem(X, Y, lam=0.05, loss=loss, penalty=penalty, bias=bias, free=free)
    par = _Param(p)
    t = rng.uniform(-3, 3, k) if bias == "regularized" else rng.uniform(-0.8, 0.8, k)
    s = np.sign(rng.standard_normal(k))
    V = rng.standard_normal((k, T))
    C = rng.standard_normal((p.F.shape[1], T))
    act = p.Xt @ par.theta(t, s).T > 0
    jf = np.array([0, 2])                     # neuron 1 held fixed
    signs = np.sign(V)
    g, H = _model(p, par, t, s, V, C, act, jf)

    def J(x):
        tt = t.copy()
        tt[jf] = x[:len(jf)]
        VV = x[len(jf):len(jf) + k * T].reshape(k, T)
        CC = x[len(jf) + k * T:].reshape(-1, T)
        P = ((p.Xt @ par.theta(tt, s).T) * act) @ VV + p.F @ CC
        om = np.sum(np.linalg.norm(VV, axis=1)) if penalty == "group" else np.sum(signs * VV)
        return get_loss(loss).value(P, p.Y) + p.lam * om

    x0 = np.concatenate([t[jf], V.ravel(), C.ravel()])
    N, I = len(x0), np.eye(len(x0))
    e = 1e-6
    g_fd = np.array([(J(x0 + e * I[i]) - J(x0 - e * I[i])) / (2 * e) for i in range(N)])
    e = 1e-4
    H_fd = np.array([[(J(x0 + e * (I[i] + I[j])) - J(x0 + e * (I[i] - I[j]))
                       - J(x0 - e * (I[i] - I[j])) + J(x0 - e * (I[i] + I[j]))) / (4 * e * e)
                      for j in range(N)] for i in range(N)])
    assert np.max(np.abs(g - g_fd)) <= 1e-8 * max(1.0, np.max(np.abs(g)))
    assert np.max(np.abs(H - H_fd)) <= 1e-5 * max(1.0, np.max(np.abs(H)))
    assert np.allclose(H, H.T)


def _one_neuron_optimum(x, Y, lam, penalty):
    """min over one kink ξ (either orientation) and its weights, free affine part, bias
    regularized: for fixed ξ the weights have a closed form (a one-column group / l1 lasso
    after projecting out [1, x]); ξ is searched cell by cell with a bounded scalar method.
    Returns (J, ξ)."""
    n = len(x)
    Q = np.linalg.qr(np.column_stack([np.ones(n), x]))[0]

    def proj(M):
        return M - Q @ (Q.T @ M)

    Yp = proj(Y)

    def J(xi, sgn):
        g = proj(np.maximum(sgn * (x - xi), 0.0) / np.sqrt(1.0 + xi * xi))
        c, a = g @ Yp / n, g @ g / n
        if penalty == "group":
            nc = np.linalg.norm(c)
            V = (max(nc - lam, 0.0) / a) * c / nc if a > 0 and nc > 0 else 0 * c
            om = np.linalg.norm(V)
        else:
            V = np.sign(c) * np.maximum(np.abs(c) - lam, 0.0) / a if a > 0 else 0 * c
            om = np.sum(np.abs(V))
        R = Yp - np.outer(g, V)
        return 0.5 * np.sum(R * R) / n + lam * om

    best = (np.inf, None)
    xs = np.sort(x)
    for sgn in (1.0, -1.0):
        for lo, hi in zip(xs[:-1], xs[1:]):
            r = minimize_scalar(lambda z: J(z, sgn), bounds=(lo, hi), method="bounded",
                                options=dict(xatol=1e-13))
            for z in (r.x, lo, hi):
                val = J(z, sgn)
                if val < best[0]:
                    best = (val, z)
    return best


@pytest.mark.parametrize("penalty,T", [("group", 2), ("l1", 1)])
def test_refined_kink_matches_one_neuron_closed_form(penalty, T):
    """Squared loss, bias regularized, free affine part, data from one kink at 0.3 plus
    noise: the limit optimum is one neuron whose kink lies between data points. Refinement
    (joint Newton) must match the scalar search over the kink: objective to 1e-9, kink to
    1e-6, with a certified limit gap ≤ 1e-9; a fixed grid stays above."""
    rng = np.random.default_rng(3)
    n = 15
    x = np.sort(rng.uniform(-1, 1, n))
    Y = np.column_stack([np.maximum(x - 0.3, 0), -0.5 * np.maximum(x - 0.3, 0)])[:, :T]
    Y = Y + 0.01 * rng.standard_normal((n, T))
    lam = 0.002
    opt, xi = _one_neuron_optimum(x, Y, lam, penalty)
    assert np.min(np.abs(x - xi)) > 1e-3                       # off the data points
    p = LimitProblem(x, Y, lam=lam, penalty=penalty, free="affine")
    sol = refine(p, tol=1e-10)
    assert "joint_newton" in sol.info
    assert sol.lower_bound_exact and sol.lower_bound <= sol.objective
    assert sol.info["limit_rel_gap"] <= 1e-9
    assert abs(sol.objective - opt) <= 1e-9 * opt
    assert sol.lower_bound <= opt * (1 + 1e-12)                # a certified bound on OPT
    assert sol.n_neurons == 1 and abs(sol.kinks()[0] - xi) < 1e-6
    grid = ls.solve(x, Y, lam=lam, penalty=penalty, free="affine", n_directions=512,
                    refine=False)
    assert grid.objective > opt * (1 + 1e-9)


def test_bias_free_refinement_reaches_the_breakpoint_grid():
    """Bias free (free intercept): the grid of all 2n breakpoint directions is exact (c(θ)
    is affine in b between breakpoints, so ‖c‖ peaks on them). Refinement from a coarse grid
    without them must reach that grid's objective, certified. (Its kinks need not all be
    data points: where ‖c‖ = λ at an interior b, c is constant on that cell and any kink in
    it is optimal.)"""
    rng = np.random.default_rng(5)
    n, T = 30, 3
    x = np.sort(rng.uniform(-1, 1, n))
    Y = np.maximum(np.outer(x, rng.standard_normal(T)) + rng.standard_normal(T) * 0.3, 0)
    Y = Y + 0.05 * rng.standard_normal((n, T))
    kw = dict(lam=1e-3, bias="free", free="intercept")
    p = LimitProblem(x, Y, **kw)
    sol = refine(p, tol=1e-10)
    exact = ls.solve(x, Y, grid=ls.breakpoint_directions(x[:, None], "free"), refine=False,
                     tol=1e-11, **kw)
    assert abs(sol.objective - exact.objective) <= 1e-9 * exact.objective
    assert sol.info["limit_rel_gap"] <= 1e-9
    assert sol.lower_bound <= exact.objective * (1 + 1e-12)
    assert exact.lower_bound <= sol.objective * (1 + 1e-12)


def test_joint_newton_never_raises_the_objective():
    """From random starts, the Newton step returns a point no worse than its start (up to
    rounding: its last steps polish the KKT residual), on the directions it reports."""
    rng = np.random.default_rng(8)
    X = rng.uniform(-1, 1, (40, 1))
    Y = np.maximum(X - 0.2, 0) @ np.array([[1.0, -2.0]]) + 0.02 * rng.standard_normal((40, 2))
    p = LimitProblem(X, Y, lam=1e-3, free="intercept")
    for trial in range(5):
        D = p.check_directions(rng.standard_normal((4, 2)))
        V = rng.standard_normal((4, 2))
        C = rng.standard_normal((1, 2))
        D2, V2, C2, info = joint_newton(p, D, V, C)
        start = primal_value(p, D, V, C)[0]
        end = primal_value(p, D2, V2, C2)[0]
        assert end <= start * (1 + 1e-13)
        assert np.isclose(end, info["objective"], rtol=1e-12)


@pytest.mark.parametrize("free", ["none", "intercept"])
def test_logistic_refinement_is_certified_below_1e9(free):
    """Logistic loss (its dual uses the logistic conjugate): refinement with the joint
    Newton step certifies a limit gap ≤ 1e-9, and its lower bound stays below every grid
    solution while its objective is below them."""
    rng = np.random.default_rng(9)
    n, T = 60, 2
    x = rng.uniform(-1, 1, n)
    Y = np.sign(np.column_stack([np.sin(3 * x), x - 0.2]) + 0.3 * rng.standard_normal((n, T)))
    p = LimitProblem(x, Y, lam=0.01, loss="logistic", free=free)
    sol = refine(p, tol=1e-10)
    assert "joint_newton" in sol.info
    assert sol.lower_bound_exact and sol.info["limit_rel_gap"] <= 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for M in (64, 512):
            grid = ls.solve(x, Y, lam=0.01, loss="logistic", free=free, n_directions=M,
                            refine=False)
            assert sol.lower_bound <= grid.objective * (1 + 1e-12)
            assert sol.objective <= grid.objective * (1 + 1e-12)


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_fold_antipodal_keeps_the_function_and_lowers_the_penalty(penalty):
    """θ and −θ with a free affine part: the folded atom set predicts the same function
    (compared with the unfolded one through the feature map) and its penalty is no larger;
    without an affine part nothing is folded."""
    from limitsolver.features import relu_features
    from limitsolver.newton import fold_antipodal
    from limitsolver.penalties import get_penalty
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    p = LimitProblem(X, rng.standard_normal((20, 3)), lam=0.1, penalty=penalty, free="affine")
    D = rng.standard_normal((3, 3))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    D = np.vstack([D, -D[1]])
    V, C = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    Df, Vf, Cf = fold_antipodal(p, D, V, C)
    assert Df.shape[0] == 3
    before = relu_features(p.Xt, D) @ V + p.F @ C
    after = relu_features(p.Xt, Df) @ Vf + p.F @ Cf
    np.testing.assert_allclose(after, before, atol=1e-12)
    pen = get_penalty(penalty)
    assert pen.value(Vf) <= pen.value(V) + 1e-12
    q = LimitProblem(X, rng.standard_normal((20, 3)), lam=0.1, penalty=penalty, free="intercept")
    assert fold_antipodal(q, D, V, C[:1])[0].shape[0] == 4
