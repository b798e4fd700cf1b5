"""The time plan of a refining solve in d ≥ 3: one budget for the whole call, a start grid
that shrinks with n·T, refinement rounds that stop early enough for the final certificate,
and a given ``max_time`` that is honoured (no timing assertions: a fixed clock or the
recorded plan)."""
import time
import types
import warnings

import numpy as np

import limitsolver as ls
import limitsolver.api as api
import limitsolver.refine as refine_module
from limitsolver.api import any_d_budget, solve_problem
from limitsolver.grids import default_grid


def _planted(n, d, T, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((3, d + 1))
    Y = np.maximum(np.c_[X, np.ones(n)] @ W.T, 0) @ rng.standard_normal((3, T))
    return X, Y + 0.1 * rng.standard_normal((n, T))


def test_start_grid_shrinks_with_n_times_T_within_its_limits():
    lo, hi = api.ANY_D_START_SIZES
    for n, T, want in [(100, 1, hi), (1797, 10, 4096), (5000, 20, 819),
                       (200_000, 10, lo)]:
        p = types.SimpleNamespace(n=n, T=T)
        plan = any_d_budget(p)
        # independent arithmetic: about ANY_D_START_WORK feature entries n·T·M
        assert plan["start_grid"] == min(hi, max(lo, api.ANY_D_START_WORK // (n * T))) == want
        assert plan["max_time"] == api.AUTO_REFINE_TIME
        assert plan["final_reserve"] == min(api.FINAL_RESERVE, 0.1 * api.AUTO_REFINE_TIME)
    assert any_d_budget(p, max_time=2.0)["final_reserve"] == 0.2


def test_default_solve_counts_one_budget_from_its_start(monkeypatch):
    """With the clock of ``solve`` frozen at 1000, refinement must receive the deadline
    1000 + AUTO_REFINE_TIME − reserve, and the grid solve the plan's start grid."""
    X, Y = _planted(1200, 3, 20)           # n·T = 24,000: refined, a start grid < 4096
    seen = {}
    real_solve_problem = api.solve_problem

    def grid_solve(problem, grid, **kw):
        seen["grid"] = np.asarray(grid).shape[0]
        seen["grid_deadline"] = kw.pop("deadline")     # the frozen clock's, not the real one
        return real_solve_problem(problem, grid[:64], **kw)    # keep the test fast

    def fake_refine(problem, sol, **kw):
        seen.update(kw)
        return sol

    monkeypatch.setattr(api, "time", types.SimpleNamespace(
        monotonic=lambda: 1000.0, perf_counter=time.perf_counter))
    monkeypatch.setattr(api, "solve_problem", grid_solve)
    monkeypatch.setattr(refine_module, "refine", fake_refine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=0.1)
    plan = any_d_budget(sol.problem)
    assert seen["grid"] == plan["start_grid"] == api.ANY_D_START_WORK // 24_000 < 4096
    assert seen["grid_deadline"] == 1000.0 + api.AUTO_REFINE_TIME
    assert seen["deadline"] == 1000.0 + api.AUTO_REFINE_TIME - plan["final_reserve"]
    assert seen["max_iter"] >= 1000
    info = sol.info["budget"]
    assert info["deadline"] == api.AUTO_REFINE_TIME
    assert info["rounds_deadline"] == api.AUTO_REFINE_TIME - plan["final_reserve"]


def test_given_max_time_is_honoured_and_never_worse_than_the_grid_start():
    X, Y = _planted(80, 3, 2, seed=3)
    grid = default_grid(X, "regularized", 48, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=0.05, grid=grid, refine=True, max_time=0.5)
        start = solve_problem(sol.problem, grid)
    assert sol.info["budget"]["max_time"] == 0.5
    assert np.isclose(sol.info["budget"]["rounds_deadline"], 0.45)
    assert sol.info["timed_out"] is True
    assert sol.objective <= start.objective * (1 + 1e-9)
    # the status agrees with the certificate it carries
    assert (sol.status == "optimal") == (sol.limit_certified
                                         and sol.info["limit_rel_gap"] <= 1e-8)


def test_newton_step_is_skipped_when_one_iteration_costs_too_much(monkeypatch):
    import limitsolver.refine_nd as rnd
    X, Y = _planted(60, 3, 2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Y, lam=0.05)
        sol = solve_problem(p, default_grid(X, p.bias, 64))
        k = sol.atom_directions.shape[0]
        # n·T·N² with N = k(d + T) chart variables (no free part), computed here
        assert rnd.newton_work(p, k) == 60 * 2 * (k * 5) ** 2
        moved = rnd.newton_solution(p, sol)
        assert moved is not sol and moved.objective < sol.objective
        monkeypatch.setattr(rnd, "NEWTON_MAX_WORK", rnd.newton_work(p, k) - 1)
        kept = rnd.newton_solution(p, sol)
    assert kept is sol and kept.info["newton_skipped"] == 1


def test_rounds_ended_because_the_next_one_does_not_fit_count_as_timed_out(monkeypatch):
    """The rounds stop before the deadline when the last round's length would not fit
    again; that is the time budget ending them, so ``info["timed_out"]`` must say so. A
    clock of refine_nd's own that moves only inside the restricted solve (0.6 s each)
    against a deadline 1 s ahead: round 2 starts at 0.6 and would end at 1.2."""
    import limitsolver.refine_nd as rnd
    from limitsolver.exchange import solve_working_set
    X, Y = _planted(60, 3, 2, seed=2)
    p = ls.LimitProblem(X, Y, lam=0.05)
    start = solve_problem(p, default_grid(X, p.bias, 48, random_state=0))
    clock = [time.monotonic()]
    monkeypatch.setattr(rnd, "time", types.SimpleNamespace(
        monotonic=lambda: clock[0], process_time=time.process_time))

    def inner(D, warm):
        clock[0] += 0.6
        sol = solve_working_set(p, D, "auto", 1e-10, warm, None)
        return warm if sol is None else sol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deadline = clock[0] + 1.0
        out = rnd.refine_any_d(p, start, tol=1e-14, deadline=deadline,
                               inner_solve=inner, max_iter=50)
    assert len(out.info["refine"]) == 2            # priced rounds: the start and one more
    assert clock[0] < deadline and out.info["timed_out"] is True
    assert out.objective <= start.objective * (1 + 1e-12)
