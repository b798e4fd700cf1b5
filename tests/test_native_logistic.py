"""The native logistic solver against independent routes: Clarabel, per-task solves (l1),
duplicated tasks (group), and the certificate recomputed from the weights alone."""
import itertools
import warnings

import numpy as np
import pytest

from limitsolver import solve
from limitsolver.certificate import certify, lam_max
from limitsolver.grids import default_grid
from limitsolver.problem import LimitProblem
from limitsolver.solvers.conic import solve_conic
from limitsolver.solvers.support_newton import solve_restricted
from limitsolver.solvers.native import solve_native

from .conftest import random_problem

COMBOS = list(itertools.product(["group", "l1"], ["regularized", "free"],
                                ["none", "intercept", "affine"]))


def _labels(Y):
    return np.where(Y > np.median(Y, axis=0), 1.0, -1.0)


def _problem(rng, penalty, bias, free, *, n=15, d=2, T=3, M=250, frac=0.05):
    X, Y = random_problem(rng, n=n, d=d, T=T)
    # flip a few labels so that no free part separates the data (the optimum is attained)
    Yl = _labels(Y)
    Yl[rng.choice(n, 3, replace=False), 0] *= -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pb = LimitProblem(X, Yl, lam=1.0, penalty=penalty, bias=bias, free=free,
                          loss="logistic")
    G = pb.check_directions(default_grid(pb.X, bias, M))
    return pb.with_lam(frac * lam_max(pb, G)), G


@pytest.mark.parametrize("penalty,bias,free", COMBOS)
def test_native_logistic_agrees_with_clarabel(rng, penalty, bias, free):
    pb, G = _problem(rng, penalty, bias, free)
    nat = solve_native(pb, G, tol=1e-10)
    ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-9)
    cn, cr = certify(pb, G, nat.V, nat.C), certify(pb, G, ref.V, ref.C)
    assert nat.status == "optimal"
    assert cn.rel_gap <= 1e-10
    assert abs(cn.primal - cr.primal) <= 1e-6 * abs(cr.primal)
    # an interior point is never better than the certified Newton point beyond rounding
    assert cn.primal <= cr.primal + 1e-12 * abs(cr.primal)


@pytest.mark.parametrize("frac", [1e-4, 1e-8])
def test_small_lambda_certified_and_below_conic(rng, frac):
    """Where interior-point solvers stall (separable data, loss ~ λ·Ω, large weights) the
    Newton working set still certifies, and its point is at least as good as Clarabel's."""
    X, Y = random_problem(rng, n=25, d=2, T=2)
    Yl = _labels(Y)
    pb = LimitProblem(X, Yl, lam=1.0, loss="logistic", free="intercept")
    G = pb.check_directions(default_grid(pb.X, "regularized", 300))
    pb = pb.with_lam(frac * lam_max(pb, G))
    nat = solve_native(pb, G, tol=1e-9)
    cn = certify(pb, G, nat.V, nat.C)          # the plain residual certificate, recomputed
    assert nat.status == "optimal" and cn.rel_gap <= 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-9)
    cr = certify(pb, G, ref.V, ref.C)
    assert cn.primal <= cr.primal * (1 + 1e-9)
    assert cr.dual <= cn.primal * (1 + 1e-9)          # weak duality across the two routes


def test_l1_logistic_is_the_sum_of_single_task_solves(rng):
    X, Y = random_problem(rng, n=20, d=1, T=3)
    Yl = _labels(Y)
    Yl[[1, 5], 1] *= -1
    joint = solve(X, Yl, lam=2e-3, loss="logistic", penalty="l1", solver="native", tol=1e-10)
    single = [solve(X, Yl[:, [t]], lam=2e-3, loss="logistic", penalty="l1",
                    solver="native", tol=1e-10, grid=joint.grid) for t in range(3)]
    assert joint.status == "optimal"
    assert joint.objective == pytest.approx(sum(s.objective for s in single), rel=1e-8)


@pytest.mark.parametrize("T", [2, 4])
def test_duplicated_tasks_scale_as_sqrt_T(rng, T):
    """T copies of one task under the group penalty: J_T(λ) = T · J_1(λ/√T)."""
    X, Y = random_problem(rng, n=20, d=1, T=1)
    y = _labels(Y)
    y[[2, 7]] *= -1
    lam = 3e-3
    one = solve(X, y, lam=lam / np.sqrt(T), loss="logistic", solver="native", tol=1e-11)
    many = solve(X, np.repeat(y, T, axis=1), lam=lam, loss="logistic", solver="native",
                 tol=1e-11, grid=one.grid)
    assert many.status == "optimal" and one.status == "optimal"
    assert many.objective == pytest.approx(T * one.objective, rel=1e-8)


def test_restricted_logistic_reaches_kkt(rng):
    """The restricted Newton solver: at its result every row satisfies KKT to 1e-9·λ
    (support: ‖c_j‖ = λ along V_j; off support: ‖c_j‖ ≤ λ) and the free part is optimal."""
    n, k, T = 30, 12, 3
    A = np.maximum(rng.standard_normal((n, k)), 0)
    F = np.ones((n, 1))
    Y = np.sign(rng.standard_normal((n, T)))
    lam = 0.02
    V, C, info = solve_restricted(A, Y, lam, "logistic", "group", F=F, tol=1e-12)
    assert info["converged"]
    from scipy.special import expit
    Z = Y * expit(-Y * (A @ V + F @ C))
    c = A.T @ Z / n
    on = np.linalg.norm(V, axis=1) > 0
    assert on.any()
    np.testing.assert_allclose(c[on], lam * V[on] / np.linalg.norm(V[on], axis=1)[:, None],
                               atol=1e-9 * lam)
    assert np.all(np.linalg.norm(c[~on], axis=1) <= lam * (1 + 1e-9))
    assert np.max(np.abs(F.T @ Z / n)) <= 1e-9 * lam
