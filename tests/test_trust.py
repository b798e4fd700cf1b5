"""Trust: a status agrees with the certificate the solution carries; refinement never
returns a point worse than its start nor than a plain grid solve beyond its certified gap;
inner solves fall back like ``solve``; ``max_time`` bounds every call; paths carry limit
certificates.

Independent routes: a plain grid solve on a dense grid (its objective is ≥ OPT, so a
certified limit gap must cover the distance to it), the certificate's own numbers
recomputed here (relative limit gap against the documented scale), and a backend made to
fail by the test itself.
"""
import time
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.certificate import ROUNDING, reference_value, lam_max
from limitsolver.exceptions import ConvergenceWarning, SolverFailed
from limitsolver.grids import sphere_grid
from limitsolver.problem import LimitProblem


def _limit_rel(sol):
    """(objective − lower_bound) / max(|objective|, ROUNDING · J_ref), computed here."""
    scale = max(abs(sol.objective), ROUNDING * reference_value(sol.problem))
    return (sol.objective - sol.lower_bound) / scale


def _check_status(sol, tol):
    """The status is "optimal" exactly when the certificate for the claimed problem meets
    tol: the limit gap for a refined solution, the grid gap for a plain grid solve."""
    basis = sol.info.get("status_basis", "limit" if "refine" in sol.info else "grid")
    if basis == "limit":
        certified = bool(sol.lower_bound_exact) and _limit_rel(sol) <= tol
    else:
        assert basis == "grid"
        certified = max(sol.rel_gap, 0.0) <= tol
    if sol.problem.loss == "interpolate":
        certified = certified and sol.certificate.infeasibility <= 1e-7 * max(
            1.0, float(np.abs(sol.problem.Y).max()))
    assert (sol.status == "optimal") == certified, (sol.status, basis, sol.rel_gap,
                                                    sol.lower_bound, sol.objective)


def _quiet_solve(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ls.solve(*args, **kw)


def test_refined_demo_near_interpolation_is_not_worse_than_the_grid_solve():
    X, Y = ls.make_demo()
    # ≈ 1e-7 · λ_max. At 1e-8 · λ_max (2.6e-9) the limit gap sits at a rounding floor (at
    # one point the lower bound varies by ~1e-8 relative between iterations): 1.06e-8
    # after 40 iterations on one machine, below 1e-8 on another
    lam = 2.6e-8
    grid = _quiet_solve(X, Y, lam=lam, refine=False)
    ref = _quiet_solve(X, Y, lam=lam)                   # refinement on by default
    _check_status(ref, 1e-8)
    _check_status(grid, 1e-8)
    assert ref.info["status_basis"] == "limit" and grid.info["status_basis"] == "grid"
    # OPT ≤ grid objective, so objective − lower_bound ≥ objective − OPT ≥ objective − grid
    assert ref.objective - ref.lower_bound >= ref.objective - grid.objective
    assert ref.objective <= grid.objective * (1 + 1e-10)
    # the README's claim: down to 1e-7 · λ_max the default solve certifies
    assert ref.status == "optimal"


@pytest.mark.parametrize("seed", [0, 6])
def test_default_1d_solve_not_above_a_dense_grid(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, 10)
    Y = rng.standard_normal((10, 1))
    lmax = lam_max(LimitProblem(X, Y, lam=1.0), sphere_grid(2, 4000))
    lam = 1e-5 * lmax
    dense = _quiet_solve(X, Y, lam=lam, n_directions=2000, refine=False)
    sol = _quiet_solve(X, Y, lam=lam)
    start = sol.info["refine"][0]["objective"]
    assert sol.objective <= start
    assert sol.objective - sol.lower_bound >= sol.objective - dense.objective
    assert sol.objective <= dense.objective + max(sol.limit_gap, 0.0)
    assert sol.objective <= dense.objective * (1 + 1e-6)
    _check_status(sol, 1e-8)


def _gd_interpolation_data(seed):
    """Targets of a network trained by gradient descent (a kinked, generic interpolant)."""
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-1, 1, 12))
    net = ls.train(X, rng.standard_normal((12, 2)), lam=1e-3, width=20, method="gd",
                   steps=300, random_state=seed)
    return X, net.predict(X)


def test_refined_interpolation_status_follows_its_limit_gap():
    X, Y = _gd_interpolation_data(3)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sol = ls.solve(X, Y, loss="interpolate")
    _check_status(sol, 1e-8)
    assert sol.info["status_basis"] == "limit"
    warned = any(issubclass(w.category, ConvergenceWarning) for w in rec)
    assert warned == (sol.status != "optimal")


def test_two_squares_interpolation_refines_without_solver_failure():
    inner = 0.5 * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    X = np.vstack([inner, 2 * inner])
    rng = np.random.default_rng(0)
    Y = np.column_stack([np.r_[np.ones(4), np.zeros(4)],
                         rng.integers(0, 2, (8, 16))]).astype(float)
    grid = sphere_grid(3, 300, kind="random", random_state=1)
    sol = _quiet_solve(X, Y, loss="interpolate", grid=grid, refine=True)
    assert sol.certificate.infeasibility <= 1e-7
    _check_status(sol, 1e-8)
    assert sol.lower_bound <= sol.objective


def test_late_inner_failure_returns_best_point_with_warning(monkeypatch):
    import limitsolver.gridsolve as gridsolve
    X, Y = _gd_interpolation_data(3)
    real, calls = gridsolve.run_solver, []

    def flaky(name, *args, **kw):
        calls.append(name)
        if len(calls) > 1:                              # every solve after the first
            raise SolverFailed(f"{name}: made to fail by the test")
        return real(name, *args, **kw)

    monkeypatch.setattr(gridsolve, "run_solver", flaky)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sol = ls.solve(X, Y, loss="interpolate", tol=1e-11)
    assert sol.info["refine_stop"] == "failed"
    assert len(sol.info["refine"]) == 1                 # the start, certified, returned
    assert sol.objective == sol.info["refine"][0]["objective"]
    _check_status(sol, 1e-11)
    msgs = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert sol.status == "optimal" or any("failed" in m for m in msgs)


def test_max_time_returns_best_point_flagged():
    X, Y = ls.make_demo()
    for refine in (False, True):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            sol = ls.solve(X, Y, lam=1e-14, max_time=1.0, refine=refine)
        assert sol.info.get("timed_out") is True
        _check_status(sol, 1e-8)
        assert sol.status != "optimal"
        msgs = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
        assert any("time limit" in m and "gap" in m for m in msgs), msgs


@pytest.mark.parametrize("solver", ["native", "clarabel", "scs", "ecos"])
def test_expired_deadline_is_honoured_by_every_backend(solver):
    X, Y = ls.make_demo()
    problem = LimitProblem(X, Y, lam=1e-4)
    grid = ls.default_grid(problem.X, problem.bias, 64)
    if solver not in ls.available_solvers():
        pytest.fail(f"{solver} is a declared dependency and should be installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if solver == "native":
            sol = ls.solve_problem(problem, grid, solver=solver, deadline=time.monotonic())
            assert sol.info["timed_out"] is True and sol.status != "optimal"
        else:
            with pytest.raises(SolverFailed, match="time limit"):
                ls.solve_problem(problem, grid, solver=solver, deadline=time.monotonic())


def test_refine_accepts_max_time_and_flags_time_out():
    from limitsolver.refine import refine
    X, Y = ls.make_demo()
    problem = LimitProblem(X, Y, lam=2.6e-9)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sol = refine(problem, max_time=1e-9)
    assert sol.info["timed_out"] is True
    _check_status(sol, 1e-9)
    assert any(issubclass(w.category, ConvergenceWarning) and "time limit" in str(w.message)
               for w in rec)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "ten", True])
def test_bad_max_time_is_a_value_error(bad):
    X, Y = ls.make_demo()
    with pytest.raises(ValueError, match="max_time"):
        ls.solve(X, Y, lam=1e-3, max_time=bad)


def test_path_table_shows_certified_limit_gaps():
    X, Y = ls.make_demo()
    path = ls.limit_path(X, Y, n_lams=4, eps=1e-4)
    assert "n/a" not in path.table()
    for lam, sol in zip(path.lams, path.solutions):
        assert sol.lower_bound_exact is True
        _check_status(sol, 1e-8)
        # the lower bound is below OPT, hence below any feasible objective: a dense grid's
        dense = _quiet_solve(X, Y, lam=lam, n_directions=2000, refine=False)
        assert sol.lower_bound <= dense.objective * (1 + 1e-12)
        assert sol.limit_gap == pytest.approx(sol.objective - sol.lower_bound)


def test_moved_points_are_graded_by_their_own_certificate():
    """A point moved by the joint Newton step carries a new certificate; its status is
    decided from that certificate (grid basis), never copied from the point it came from."""
    from limitsolver.moves import newton_step
    from limitsolver.status import certified_gap
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-1, 1, 15))
    Y = np.column_stack([np.maximum(x - 0.3, 0), -0.5 * np.maximum(x - 0.3, 0)])
    Y = Y + 0.01 * rng.standard_normal(Y.shape)
    p = LimitProblem(x, Y, lam=0.002, penalty="group", free="affine")
    start = ls.solve_problem(p, ls.sphere_grid(2, 64), tol=1e-10)
    start.status = "inaccurate"                 # whatever the start says
    moved = newton_step(p, start)
    assert moved is not start
    expected = "optimal" if certified_gap(moved, "grid") <= start.info["status_tol"] \
        else "inaccurate"
    assert moved.status == expected == "optimal"
    assert moved.info["status_basis"] == "grid"
