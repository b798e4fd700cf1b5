"""Time left after refinement goes to the limit certificate when the estimate says the
target is reached but the certified gap misses it; the tightened bound stays a bound."""
import time
import warnings

import numpy as np

import limitsolver as ls
from limitsolver.limitattach import attach_limit_certificate, tighten_limit_certificate

from .conftest import random_problem


def _data(seed=3):
    return random_problem(np.random.default_rng(seed), n=40, d=4, T=2)


def _rel(sol):
    return (sol.objective - sol.lower_bound) / abs(sol.objective)


def test_tightened_bound_is_larger_and_still_below_feasible_objectives():
    X, Y = _data()
    lam = 0.02 * ls.lam_max(ls.LimitProblem(X, Y, lam=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=lam, tol=1e-6, max_time=20)
        # a deliberately short search: a valid but loose certified bound
        attach_limit_certificate(sol, bound_max_time=0.01, bound_rtol=1e-9)
    loose, est = sol.lower_bound, sol.info["estimated_limit_gap"]
    tol = max(10 * est / abs(sol.objective), 1e-6)
    assert _rel(sol) > tol                      # the case the rule is for
    tighten_limit_certificate(sol, tol, time.monotonic() + 20)
    assert sol.info.get("certificate_tightened")
    assert sol.lower_bound >= loose
    assert _rel(sol) <= tol
    assert sol.info["limit_rel_gap"] <= tol
    # a bound on OPT: below the refined point and below a dense grid solve written here
    rng = np.random.default_rng(0)
    G = rng.standard_normal((60_000, X.shape[1] + 1))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dense = ls.solve(X, Y, lam=lam, grid=G, refine=False, tol=1e-9)
    assert sol.lower_bound <= sol.objective
    assert sol.lower_bound <= dense.objective * (1 + 1e-12)


def test_nothing_is_spent_without_a_deadline_or_when_the_estimate_misses():
    X, Y = _data(seed=5)
    lam = 0.02 * ls.lam_max(ls.LimitProblem(X, Y, lam=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=lam, n_directions=500, refine=False)
        attach_limit_certificate(sol, bound_max_time=0.01)
    before = sol.lower_bound
    tighten_limit_certificate(sol, 1e-3, None)
    assert sol.lower_bound == before and "certificate_tightened" not in sol.info
    est = sol.info["estimated_limit_gap"] / abs(sol.objective)
    t0 = time.monotonic()
    tighten_limit_certificate(sol, est / 10, time.monotonic() + 30)   # estimate above tol
    assert time.monotonic() - t0 < 5 and sol.lower_bound == before
