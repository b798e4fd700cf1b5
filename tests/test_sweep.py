"""Sweeps: the same jobs give identical results sequentially, in a process pool, on dask."""
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.sweep import objectives

from .conftest import random_problem


def _jobs(rng):
    X1, Y1 = random_problem(rng, n=12, d=1, T=2)
    X2, Y2 = random_problem(rng, n=10, d=2, T=3)
    g1, g2 = ls.sphere_grid(2, 48), ls.sphere_grid(3, 60)
    jobs = []
    for lam in (0.02, 0.1):
        for pen in ("group", "l1"):
            jobs.append(ls.Job(X1, Y1, lam, pen, {"grid": g1, "free": "intercept"},
                               name=f"a-{pen}-{lam}"))
            jobs.append({"X": X2, "Y": Y2, "lam": lam, "penalty": pen, "grid": g2})
    jobs.insert(3, (X1, Y1, -1.0))                       # invalid λ: fails inside solve
    jobs.insert(5, {"X": X1, "Y": Y1})                   # malformed job: no λ
    jobs.append((X2, Y2, 0.05, "group", {"grid": g2, "solver": "no-such-solver"}))
    return jobs


def _spec(job):
    """(X, Y, lam, penalty, grid, free) of the jobs built by _jobs, read without the sweep."""
    if isinstance(job, ls.Job):
        X, Y, lam, pen, opts = job.X, job.Y, job.lam, job.penalty, job.options
    else:
        X, Y, lam, pen, opts = job["X"], job["Y"], job["lam"], job["penalty"], job
    return dict(X=X, Y=Y, lam=lam, penalty=pen, grid=opts["grid"],
                free=opts.get("free", "none"))


def _cvxpy_optimum(X, Y, lam, penalty, grid, free):
    """min (1/(2n))‖Y − ΦV − 1cᵀ‖² + λ Ω(V) on the grid (regularized bias), by Clarabel."""
    import cvxpy as cp
    n, T = Y.shape
    G = grid / np.linalg.norm(grid, axis=1, keepdims=True)
    Phi = np.maximum(np.hstack([X, np.ones((n, 1))]) @ G.T, 0.0)
    V = cp.Variable((G.shape[0], T))
    fit = Phi @ V
    if free == "intercept":
        fit = fit + np.ones((n, 1)) @ cp.Variable((1, T))
    omega = cp.sum(cp.norm(V, 2, axis=1)) if penalty == "group" else cp.sum(cp.abs(V))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(Y - fit) / (2 * n) + lam * omega))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == "optimal", prob.status
    return prob.value


def _check_against_direct(jobs, results):
    assert [r.index for r in results] == list(range(len(jobs)))
    bad = {3: "lam must be", 5: "missing lam", len(jobs) - 1: "no-such-solver"}
    for i, r in enumerate(results):
        if i in bad:
            assert not r.ok and r.solution is None
            assert r.error.startswith("ValueError: ") and bad[i] in r.error
            continue
        assert r.ok, r.error
        spec = _spec(jobs[i])
        # the sweep runs exactly what solve() runs ...
        direct = ls.solve(spec["X"], spec["Y"], lam=spec["lam"], penalty=spec["penalty"],
                          grid=spec["grid"], free=spec["free"])
        assert r.objective == direct.objective
        assert r.solution.atom_weights.tobytes() == direct.atom_weights.tobytes()
        # ... and that is the grid optimum, found here by cvxpy on features built here
        opt = _cvxpy_optimum(**spec)
        assert abs(r.objective - opt) <= 1e-6 * opt, (i, r.objective, opt)


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x.index, x.ok, x.name, x.error, x.lam, x.penalty) == \
            (y.index, y.ok, y.name, y.error, y.lam, y.penalty)
        if x.ok:
            assert (x.objective, x.gap, x.n_neurons) == (y.objective, y.gap, y.n_neurons)
            assert x.solution.atom_weights.tobytes() == y.solution.atom_weights.tobytes()
            assert x.solution.atom_directions.tobytes() == y.solution.atom_directions.tobytes()
            assert x.solution.free_coef.tobytes() == y.solution.free_coef.tobytes()


def test_sweep_sequential_process_pool_and_dask_agree(rng):
    jobs = _jobs(rng)
    seq = ls.sweep(jobs)
    assert seq[0].name == "a-group-0.02" and seq[0].lam == 0.02
    _check_against_direct(jobs, seq)
    # the solutions of the "a" jobs match a plain solve() (independent of the sweep code)
    direct = ls.solve(jobs[0].X, jobs[0].Y, lam=0.02, penalty="group", **jobs[0].options)
    assert seq[0].objective == direct.objective
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        par = ls.sweep(jobs, pool)
    _same(seq, par)
    with ThreadPoolExecutor(max_workers=2) as pool:
        _same(seq, ls.sweep(jobs, pool))
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dsk = ls.sweep(jobs, client)
    _same(seq, dsk)
    obj = objectives(seq)
    assert np.isnan(obj[3]) and np.isfinite(obj[0])


def test_worker_crash_is_reported_not_lost(rng):
    X, Y = random_problem(rng, n=8, d=1, T=1)
    ctx = multiprocessing.get_context("spawn")
    # an unpicklable option cannot be shipped to a process: that job fails, the others run
    jobs = [(X, Y, 0.1), (X, Y, 0.1, "group", {"grid": ls.sphere_grid(2, 20),
                                               "random_state": (lambda: 0)}), (X, Y, 0.2)]
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        res = ls.sweep(jobs, pool, keep_solutions=False)
    assert [r.ok for r in res] == [True, False, True]
    assert "pickle" in res[1].error.lower() or "lambda" in res[1].error.lower()
    assert res[0].solution is None and res[0].objective > 0
    pickle.dumps(res)   # results themselves can be shipped and stored


def test_bad_executor_and_empty_sweep():
    assert ls.sweep([]) == []
    with pytest.raises(ValueError, match="executor"):
        ls.sweep([(np.ones((3, 1)), np.ones(3), 0.1)], executor=object())
