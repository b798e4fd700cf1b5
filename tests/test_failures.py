"""Solver failures: fallback along the chain, honest statuses, nothing uncertified reported
as optimal. Backends are replaced by failing or lying stand-ins through monkeypatch."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
import limitsolver.gridsolve as gridsolve
from limitsolver.solvers import SolverFailed, SolverResult

X = np.linspace(-1, 1, 10)
Y = np.column_stack([np.abs(X), np.sin(3 * X)])
LAM = 0.01


def _chain_with(monkeypatch, behaviours):
    """Make the auto chain ``list(behaviours)`` and each backend act as told."""
    real = gridsolve.run_solver
    calls = []

    def fake_chain(solver, problem):
        return list(behaviours) if solver == "auto" else [solver]

    def fake_run(name, problem, directions, **kw):
        calls.append(name)
        how = behaviours.get(name, "real")
        if how == "raise":
            raise SolverFailed(f"{name} crashed")
        res = real("clarabel", problem, directions, **kw)
        if how == "lie":            # claims optimal, returns a perturbed point
            V = res.V + 0.05 * np.random.default_rng(0).standard_normal(res.V.shape)
            return SolverResult(V=V, C=res.C, status="optimal", solver=name)
        if how == "nan":
            return SolverResult(V=res.V * np.nan, C=res.C, status="optimal", solver=name)
        if how == "failed":
            return SolverResult(V=res.V, C=res.C, status="failed", solver=name)
        res.solver = name
        return res

    monkeypatch.setattr(gridsolve, "solver_chain", fake_chain)
    monkeypatch.setattr(gridsolve, "run_solver", fake_run)
    return calls


@pytest.mark.parametrize("how", ["raise", "lie", "nan", "failed"])
def test_auto_falls_back_to_next_backend(monkeypatch, how):
    calls = _chain_with(monkeypatch, {"first": how, "second": "real"})
    with pytest.warns(RuntimeWarning, match="solver fallback: first"):
        sol = ls.solve(X, Y, lam=LAM, n_directions=64, polish=False)
    assert calls == ["first", "second"]
    assert sol.solver == "second" and sol.status == "optimal"
    assert sol.rel_gap <= 1e-8
    # an independent check of the reported optimum: plain Clarabel on the same grid
    ref = ls.solve(X, Y, lam=LAM, n_directions=64, solver="clarabel")
    assert abs(sol.objective - ref.objective) <= 1e-7 * ref.objective


def test_a_lying_backend_alone_is_not_reported_optimal(monkeypatch):
    _chain_with(monkeypatch, {"liar": "lie"})
    with pytest.warns(ls.ConvergenceWarning, match="exceeds tol"):
        sol = ls.solve(X, Y, lam=LAM, n_directions=64, polish=False)
    assert sol.status == "inaccurate" and sol.rel_gap > 1e-8
    assert sol.info["backend_status"] == "optimal"
    # the certificate is still a valid bound: the dual value is below the true optimum
    ref = ls.solve(X, Y, lam=LAM, n_directions=64, solver="clarabel")
    assert sol.dual_value <= ref.objective + 1e-12 and sol.objective >= ref.objective


def test_every_backend_failing_raises_with_all_reasons(monkeypatch):
    _chain_with(monkeypatch, {"a": "raise", "b": "nan", "c": "failed"})
    with pytest.raises(SolverFailed, match="a: a crashed.*b: returned non-finite.*c: status failed"):
        ls.solve(X, Y, lam=LAM, n_directions=64)


def test_inaccurate_backend_says_so():
    """SCS stopped after a few iterations: the result is labelled, warned about, and its
    certificate is a true bound on the optimum found by an accurate solver."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = ls.solve(X, Y, lam=LAM, n_directions=64, solver="scs", polish=False,
                       max_iters=5)
    assert sol.status == "inaccurate"
    assert any(issubclass(w.category, ls.ConvergenceWarning) for w in caught)
    ref = ls.solve(X, Y, lam=LAM, n_directions=64, solver="clarabel")
    assert sol.dual_value <= ref.objective + 1e-10 <= sol.objective + 2e-10
