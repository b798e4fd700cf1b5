"""The working-set loop against independent routes, for every smooth loss and both penalties:
Clarabel on the same grid, screening on vs off, the screening radius against an accurate
dual optimum, the strong-concavity constants against Hessian eigenvalues, deadlines, and the
BLAS thread limit restored after an exception."""
import itertools
import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from limitsolver.certificate import certify, lam_max
from limitsolver.grids import default_grid
from limitsolver.losses import LogisticLoss, MultinomialLoss, SquaredLoss, get_loss
from limitsolver.problem import LimitProblem
from limitsolver.solvers import solver_capabilities, working_set
from limitsolver.solvers.conic import solve_conic
from limitsolver.solvers.native import solve_native, supports

from .conftest import random_problem


def _targets(rng, loss, X, n, T):
    if loss == "squared":
        return random_problem(rng, n=n, d=X.shape[1], T=T)[1]
    if loss == "logistic":
        Y = np.where(rng.standard_normal((n, T)) + X[:, :1] > 0, 1.0, -1.0)
        Y[0], Y[1] = 1.0, -1.0                 # no task is one class only
        return Y
    return rng.integers(0, T, size=n)          # multinomial: one class per sample


def _problem(rng, loss, penalty, free, *, n=16, d=2, T=3, M=50, frac=0.1):
    X = rng.uniform(-1, 1, size=(n, d))
    Y = _targets(rng, loss, X, n, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pb = LimitProblem(X, Y, lam=1.0, penalty=penalty, free=free, loss=loss)
    G = pb.check_directions(default_grid(pb.X, "regularized", M))
    return pb.with_lam(frac * lam_max(pb, G)), G


CASES = list(itertools.product(["squared", "logistic", "multinomial"], ["group", "l1"],
                               ["none", "intercept"]))


@pytest.mark.parametrize("loss,penalty,free", CASES)
def test_native_equals_clarabel_on_the_same_grid(rng, loss, penalty, free):
    pb, G = _problem(rng, loss, penalty, free)
    assert supports(pb)
    nat = solve_native(pb, G, tol=1e-10)
    ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-10)
    cn, cr = certify(pb, G, nat.V, nat.C), certify(pb, G, ref.V, ref.C)
    assert nat.status == "optimal" and cn.rel_gap <= 1e-10
    assert abs(cn.primal - cr.primal) <= 1e-7 * abs(cr.primal)
    # the certified native point is never worse than the interior point beyond rounding
    assert cn.primal <= cr.primal + 1e-12 * abs(cr.primal)


def test_multinomial_is_native_from_the_protocol():
    assert ("multinomial", "group") in solver_capabilities()["native"]
    assert ("multinomial", "l1") in solver_capabilities()["native"]
    assert ("interpolate", "group") not in solver_capabilities()["native"]


@pytest.mark.parametrize("loss,penalty", [("logistic", "group"), ("logistic", "l1"),
                                          ("multinomial", "group")])
def test_screening_on_and_off_give_the_same_certified_answer(rng, loss, penalty):
    pb, G = _problem(rng, loss, penalty, "intercept", M=300, frac=0.3)
    on = solve_native(pb, G, tol=1e-10, memory_budget=0, screening=True, pool=20, ws_min=2)
    off = solve_native(pb, G, tol=1e-10, memory_budget=0, screening=False, pool=20, ws_min=2)
    assert on.status == off.status == "optimal"
    assert on.info["screened"] > 0 and off.info["screened"] == 0
    con, coff = certify(pb, G, on.V, on.C), certify(pb, G, off.V, off.C)
    assert con.rel_gap <= 1e-10 and coff.rel_gap <= 1e-10
    assert abs(con.primal - coff.primal) <= 1e-9 * abs(coff.primal)


@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
def test_screening_radius_contains_the_dual_optimum(rng, loss):
    """‖Z* − Z‖ ≤ √(2 n gap / μ) for the certified dual point Z of a rough point, with Z*
    the dual point of an accurate solve (unique: D is strongly concave)."""
    pb, G = _problem(rng, loss, "group", "intercept", M=60)
    best = solve_native(pb, G, tol=1e-12)
    z_star = certify(pb, G, best.V, best.C).dual_point
    mu = get_loss(pb.loss).dual_strong_concavity
    for scale in (0.5, 0.9, 0.99):
        cert = certify(pb, G, scale * best.V, best.C)
        assert cert.gap > 0
        r = np.sqrt(2 * pb.n * cert.gap / mu)
        assert np.linalg.norm(z_star - cert.dual_point) <= r * (1 + 1e-9)


@pytest.mark.parametrize("loss", [SquaredLoss, LogisticLoss, MultinomialLoss])
def test_strong_concavity_constant_bounds_the_hessian(rng, loss):
    """λ_max(∇²ℓ_i) ≤ 1/μ at random points, the worst case of each family approached."""
    n, T = 400, 4
    F = 3 * rng.standard_normal((n, T))
    F[:50] = 0.0                                  # σ'' = 1/4 at 0 (logistic)
    F[50:100, :2], F[50:100, 2:] = 0.0, -40.0     # two classes at p = 1/2 (multinomial)
    Y = (np.where(rng.standard_normal((n, T)) > 0, 1.0, -1.0) if loss is LogisticLoss
         else np.eye(T)[rng.integers(0, T, n)])
    top = np.linalg.eigvalsh(loss.hessian_blocks(F, Y))[:, -1]
    assert np.all(top <= 1.0 / loss.dual_strong_concavity + 1e-12)
    assert top.max() >= 0.999 / loss.dual_strong_concavity        # the constant is tight


@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
def test_deadline_in_the_past_times_out(rng, loss):
    pb, G = _problem(rng, loss, "group", "none")
    res = solve_native(pb, G, tol=1e-10, deadline=time.monotonic() - 1.0)
    assert res.info["timed_out"] is True
    assert res.info["n_pricing_passes"] == 1 and res.status == "inaccurate"


def _blas_threads_now():
    return [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
            if lib["user_api"] == "blas"]


def test_exception_in_the_inner_solve_restores_the_blas_limit(rng, monkeypatch):
    pb, G = _problem(rng, "squared", "group", "none")
    before = _blas_threads_now()
    seen = []

    def broken(*args, **kwargs):
        seen.append(_blas_threads_now())
        raise RuntimeError("inner solve failed")

    monkeypatch.setattr(working_set, "solve_restricted", broken)
    with pytest.raises(RuntimeError, match="inner solve failed"):
        solve_native(pb, G, tol=1e-10, threads=1)
    assert seen and all(t == 1 for _, t in seen[0])     # the limit was on inside
    assert _blas_threads_now() == before                # and is off again
