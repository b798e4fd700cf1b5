"""The native solver on the softmax loss: K = 2 classes equal the logistic loss on ±1 labels
(λ/√2 for the group penalty, λ for l1; MATH.md), and a default solve with a free intercept is
certified. The two losses go through different derivatives (coupled 2 × 2 Hessian blocks vs
per-task curvatures), so agreement checks the multinomial route against the logistic one."""
import numpy as np
import pytest

import limitsolver as ls
from limitsolver.certificate import certify
from limitsolver.grids import sphere_grid
from limitsolver.problem import LimitProblem
from limitsolver.solvers.native import solve_native


def _data(n=40, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.3 * np.sin(3 * X[:, 1]) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("penalty,scale", [("group", 2 ** -0.5), ("l1", 1.0)])
@pytest.mark.parametrize("free", ["none", "intercept"])
def test_two_classes_equal_logistic_natively(penalty, scale, free):
    X, y = _data()
    lam = 0.01
    pm = LimitProblem(X, y, lam=lam, loss="multinomial", penalty=penalty, free=free)
    pl = LimitProblem(X, np.where(y == 0, 1.0, -1.0), lam=lam * scale, loss="logistic",
                      penalty=penalty, free=free)
    dirs = pm.check_directions(sphere_grid(3, 300, kind="random", random_state=1))
    rm = solve_native(pm, dirs, tol=1e-10)
    rl = solve_native(pl, dirs, tol=1e-10)
    cm, cl = certify(pm, dirs, rm.V, rm.C), certify(pl, dirs, rl.V, rl.C)
    assert rm.status == "optimal" and rl.status == "optimal"
    assert cm.rel_gap <= 1e-10 and cl.rel_gap <= 1e-10
    assert abs(cm.primal - cl.primal) <= 1e-9 * cl.primal
    if penalty == "group":
        # the optimal output weights are antisymmetric: V_j = (v_j/2, −v_j/2)
        rows = np.linalg.norm(rm.V, axis=1) > 0
        assert np.allclose(rm.V[rows, 0], -rm.V[rows, 1], atol=1e-8 * np.abs(rm.V).max())


def test_default_solve_with_intercept_is_certified():
    X, y = _data(n=30, seed=5)
    sol = ls.solve(X, y, lam=0.01, loss="multinomial", free="intercept")
    assert sol.status == "optimal"
    assert sol.limit_certified and sol.limit_gap <= 1e-8 * abs(sol.objective) + 1e-12
    # the intercepts are optimal: the class frequencies are matched by the mean softmax
    P = sol.predict(X)
    p = np.exp(P - P.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(2)[y]
    assert np.allclose(p.mean(axis=0), onehot.mean(axis=0), atol=1e-7)
