"""The joint Newton methods (d = 1 and any d) on the softmax loss: their models against
finite differences of the objective, and their results against the grid solve they start
from and a dense independent grid solve."""
import warnings

import numpy as np
import pytest

from limitsolver.api import solve_problem
from limitsolver.grids import default_grid
from limitsolver.losses import get_loss
from limitsolver.newton import _model, _Param, joint_newton, supports_joint_newton
from limitsolver.newton_nd import (_retract, joint_newton_nd, newton_model, objective,
                                   supports_joint_newton_nd)
from limitsolver.problem import LimitProblem


def _problem(rng, n, d, K, **kw):
    X = rng.uniform(-1, 1, (n, d))
    y = (X[:, 0] > 0.2).astype(int) + (X.sum(axis=1) > -0.1).astype(int)
    y[: K] = np.arange(K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LimitProblem(X, y, loss="multinomial", **kw)


def _fd(J, x0, e1=1e-6, e2=1e-4):
    N, I = len(x0), np.eye(len(x0))
    g = np.array([(J(x0 + e1 * I[i]) - J(x0 - e1 * I[i])) / (2 * e1) for i in range(N)])
    H = np.array([[(J(x0 + e2 * (I[i] + I[j])) - J(x0 + e2 * (I[i] - I[j]))
                    - J(x0 - e2 * (I[i] - I[j])) + J(x0 - e2 * (I[i] + I[j]))) / (4 * e2 * e2)
                   for j in range(N)] for i in range(N)])
    return g, H


@pytest.mark.parametrize("penalty,bias,free", [("group", "regularized", "intercept"),
                                               ("l1", "free", "affine")])
def test_d1_model_matches_finite_differences(penalty, bias, free):
    rng = np.random.default_rng(1)
    p = _problem(rng, 20, 1, 3, lam=0.05, penalty=penalty, bias=bias, free=free)
    assert supports_joint_newton(p)
    par = _Param(p)
    k, T = 3, p.T
    t = rng.uniform(-3, 3, k) if bias == "regularized" else rng.uniform(-0.8, 0.8, k)
    s = np.sign(rng.standard_normal(k))
    V, C = rng.standard_normal((k, T)), rng.standard_normal((p.F.shape[1], T))
    act = p.Xt @ par.theta(t, s).T > 0
    jf = np.array([0, 2])
    g, H = _model(p, par, t, s, V, C, act, jf)
    signs = np.sign(V)

    def J(x):
        tt = t.copy()
        tt[jf] = x[:len(jf)]
        VV = x[len(jf):len(jf) + k * T].reshape(k, T)
        CC = x[len(jf) + k * T:].reshape(-1, T)
        P = ((p.Xt @ par.theta(tt, s).T) * act) @ VV + p.F @ CC
        om = np.sum(np.linalg.norm(VV, axis=1)) if penalty == "group" else np.sum(signs * VV)
        return get_loss("multinomial").value(P, p.Y) + p.lam * om
    g_fd, H_fd = _fd(J, np.concatenate([t[jf], V.ravel(), C.ravel()]))
    assert np.max(np.abs(g - g_fd)) <= 1e-8
    assert np.max(np.abs(H - H_fd)) <= 1e-5 * max(1.0, np.max(np.abs(H)))


@pytest.mark.parametrize("penalty,bias,free", [("group", "regularized", "none"),
                                               ("l1", "free", "intercept")])
def test_nd_model_matches_finite_differences(penalty, bias, free):
    rng = np.random.default_rng(2)
    p = _problem(rng, 20, 3, 3, lam=0.05, penalty=penalty, bias=bias, free=free)
    assert supports_joint_newton_nd(p)
    k, d, T = 3, 3, p.T
    D = p.check_directions(rng.standard_normal((k, d + 1)))
    V, C = rng.standard_normal((k, T)), 0.3 * rng.standard_normal((p.F.shape[1], T))
    g, H, Gb = newton_model(p, D, V, C)
    S = p.Xt @ D.T
    A = S > 0

    def J(z):
        dt = z[:k * d].reshape(k, d)
        Dn = _retract(D, Gb, dt, bias)
        Vn = V + z[k * d:k * d + k * T].reshape(k, T)
        Cn = C + z[k * d + k * T:].reshape(C.shape)
        P = ((p.Xt @ Dn.T) * A) @ Vn + p.F @ Cn        # patterns frozen
        pen = (np.sum(np.linalg.norm(Vn, axis=1)) if penalty == "group"
               else np.sum(np.sign(V) * Vn))
        return get_loss("multinomial").value(P, p.Y) + p.lam * pen
    g_fd, H_fd = _fd(J, np.zeros(len(g)))
    assert np.max(np.abs(g - g_fd)) <= 1e-8
    assert np.max(np.abs(H - H_fd)) <= 1e-5 * max(1.0, np.max(np.abs(H)))


@pytest.mark.parametrize("d", [1, 2])
def test_newton_lowers_the_grid_solution_below_a_dense_grid(d):
    """From a coarse grid solve, the joint Newton step reaches an objective at or below a
    dense grid solve (an independent upper bound on the same limit, up to its accuracy)."""
    rng = np.random.default_rng(3)
    p = _problem(rng, 24, d, 3, lam=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = solve_problem(p, default_grid(p.X, "regularized", 48 if d == 1 else 200))
        dense = solve_problem(p, default_grid(p.X, "regularized", 400 if d == 1 else 1200),
                              tol=1e-6)
    if d == 1:
        D, V, C, info = joint_newton(p, start.atom_directions, start.atom_weights,
                                     start.free_coef)
    else:
        D, V, C, info = joint_newton_nd(p, start.atom_directions, start.atom_weights,
                                        start.free_coef, max_iter=40)
    assert info["objective"] <= start.objective
    assert objective(p, D, V, C) == pytest.approx(info["objective"], rel=1e-13)
    assert info["objective"] <= dense.objective * (1 + 1e-7)
