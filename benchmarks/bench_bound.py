"""Certified lower bounds on OPT in d ≥ 3: certified relative limit gap against time.

Data: n samples uniform in [−1, 1]^d, T = 3 targets from a random 3-neuron ReLU network
plus 0.1 noise (the test suite's recipe), squared loss, λ = ``--lam`` · λ_max, bias
regularized. A grid solution on ``--grid`` random directions is computed once per d; its
limit certificate is then recomputed with the branch-and-bound budget ``bound_max_time``
growing. For each budget the table prints the wall time of ``attach_limit_certificate``,
the CPU time of this process plus that of the branch and bound's second process
(``bounded_sup(workers=2)``; on two idle cores the wall time is about half the sum), the
relative width of the sup interval reached, and the certified relative limit gap
(objective − lower bound) / objective. The grid point itself is not optimal for the limit
problem, so the gap has a floor (its true distance to OPT); the columns show how fast the
certificate approaches that floor.

    python benchmarks/bench_bound.py [--dims 3,4,5,6] [--n 60] [--grid 4000] [--lam 0.01]
                                     [--budgets 0.25,1,4,16] [--bound-rtol 1e-10]

With ``--refine K`` the grid solution is first refined (``refine``, K exchange iterations)
and then certified once per budget: the best point this branch can produce, and what the
certificate proves about it (e.g. ``--dims 3 --n 100 --grid 30000 --refine 30 --budgets 60``,
or the d = 5 target case ``--dims 5 --n 60 --grid 4000 --refine 30 --budgets 15,30,60,120``).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import time
import warnings

import numpy as np

import limitsolver as ls
from limitsolver.limitattach import attach_limit_certificate


def make_data(n, d, T=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, d))
    W = rng.standard_normal((3, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0)
    Y = H @ rng.standard_normal((3, T)) + 0.1 * rng.standard_normal((n, T))
    return X, Y


def _cpu():
    """CPU seconds of this process and of its finished children."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", default="3,4,5,6")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--grid", type=int, default=4000)
    ap.add_argument("--lam", type=float, default=0.01)
    ap.add_argument("--budgets", default="0.25,1,4,16")
    ap.add_argument("--refine", type=int, default=0)
    ap.add_argument("--bound-rtol", type=float, default=1e-10,
                    help="the branch and bound stops once the sup interval is this narrow")
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"{'d':>2s} {'n':>4s} {'budget (s)':>10s} {'time (s)':>9s} {'cpu (s)':>8s} "
          f"{'sup rtol':>9s} "
          f"{'cert. rel. limit gap':>21s}")
    for d in (int(x) for x in args.dims.split(",")):
        X, Y = make_data(args.n, d)
        lam = args.lam * ls.lam_max(ls.LimitProblem(X, Y, lam=1.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            sol = ls.solve(X, Y, lam=lam, n_directions=args.grid, refine=False,
                           certify_limit=False)
            if args.refine:
                from limitsolver.refine import refine
                sol = refine(sol.problem, sol, max_iter=args.refine, tol=1e-7)
                print(f"d = {d}: grid {args.grid} + {args.refine} refinement iterations, "
                      f"objective {sol.objective:.12g}, {time.perf_counter() - t0:.1f} s")
        for b in budgets:
            t0, c0 = time.perf_counter(), _cpu()
            attach_limit_certificate(sol, bound_max_time=b, bound_rtol=args.bound_rtol)
            dt, dc = time.perf_counter() - t0, _cpu() - c0
            print(f"{d:2d} {args.n:4d} {b:10.2f} {dt:9.2f} {dc:8.2f} {sol.info['sup_rtol']:9.2e} "
                  f"{sol.info['limit_rel_gap']:21.3e}", flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
