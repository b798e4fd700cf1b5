"""The bound used to certify a candidate nearly parallel to one already priced.

sup_θ ‖c_{aZ+E}(θ)‖ ≤ a·sup ‖c_Z‖ + (1/n) Σ_i ‖E_i‖ max_θ relu(θ·x̃_i) must hold on both
direction sets; checked against the exact d = 1 oracle and a dense scan of the cylinder.
"""
import numpy as np
import pytest

from limitsolver.limitcert import shortcut_sup_bound
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem


def _dense_sup_1d_free(X, Z, radius, penalty, k=20001):
    """Max of the dual norm of c over w = ±1 and a fine grid of b ∈ [−R, R]."""
    b = np.linspace(-radius, radius, k)
    best = 0.0
    for w in (1.0, -1.0):
        act = np.maximum(w * X[:, :1] + b[None, :], 0.0)          # (n, k)
        C = act.T @ Z / X.shape[0]
        val = np.linalg.norm(C, axis=1) if penalty == "group" else np.abs(C).max(axis=1)
        best = max(best, float(val.max()))
    return best


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_shortcut_bounds_the_sup_on_the_cylinder(penalty):
    # a cluster at 0 and one far point: R = 10 and relu(θ·x̃) reaches ‖x‖ + R = 20 at the
    # far point, far above ‖x̃‖ ≈ 10.05
    x = np.concatenate([np.linspace(-0.01, 0.01, 9), [10.0]])
    X = x[:, None]
    T = 2
    Y = np.zeros((x.size, T))
    prob = LimitProblem(X, Y, lam=1.0, bias="free", free="intercept", penalty=penalty)
    Zp = np.zeros((x.size, T))
    Zp[:9] = 1.0
    E = np.zeros_like(Zp)
    E[9] = 0.3                                        # orthogonal to Zp
    Zc = Zp + E
    Sp = sup_correlation(prob, Zp, penalty=penalty).value
    a, slack = shortcut_sup_bound(prob, Zc, Zp, Sp, penalty=penalty)
    assert a == pytest.approx(1.0)
    exact = sup_correlation(prob, Zc, penalty=penalty).value
    dense = _dense_sup_1d_free(X, Zc, prob.radius, penalty)
    assert dense <= exact * (1 + 1e-12)
    assert a * Sp + slack >= exact * (1 - 1e-12)


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_shortcut_bound_random(bias, penalty):
    rng = np.random.default_rng(3)
    n, T = 15, 3
    X = rng.uniform(-2, 2, (n, 1))
    prob = LimitProblem(X, np.zeros((n, T)), lam=1.0, bias=bias, free="intercept",
                        penalty=penalty)
    for _ in range(20):
        Zp = rng.standard_normal((n, T))
        Zc = 1.7 * Zp + rng.standard_normal((n, T)) * rng.uniform(0, 1, (n, 1))
        Sp = sup_correlation(prob, Zp, penalty=penalty).value
        short = shortcut_sup_bound(prob, Zc, Zp, Sp, penalty=penalty)
        if short is None:
            continue
        exact = sup_correlation(prob, Zc, penalty=penalty).value
        assert short[0] * Sp + short[1] >= exact * (1 - 1e-12)
