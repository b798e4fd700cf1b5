"""Regularization path with warm starts vs independent cold solves.

For the same data and the same direction grid, solve 30 λ (λ_max down to 1e-3·λ_max):

- ``path``  : ``limit_path`` (grid built once, each solve warm-started from the previous);
- ``cold``  : 30 calls of ``solve(X, Y, lam=λ_k, grid=G)`` (what a loop in user code does;
              the conic backends still reuse their compiled cvxpy model between calls);
- ``fresh`` : the same 30 calls with the compiled-model cache emptied before each, i.e.
              every solve pays the full model build.

Prints the times, the ratios, and checks that the objectives agree to 1e-8 (relative to
max(1, |objective|)). Timings on a shared machine are noisy: use --repeat and read the min.

    python benchmarks/bench_path.py [--n 60] [--d 1] [--T 3] [--n-lams 30] [--solver auto]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import limitsolver as ls
from limitsolver.solvers import conic


def make_data(n, d, T, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, d))
    W = rng.standard_normal((5, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0)
    Y = H @ rng.standard_normal((5, T)) + 0.05 * rng.standard_normal((n, T))
    return X, Y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--d", type=int, default=1)
    ap.add_argument("--T", type=int, default=3)
    ap.add_argument("--n-lams", type=int, default=30)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--n-directions", type=int, default=None)
    ap.add_argument("--solver", default="auto")
    ap.add_argument("--free", default="intercept")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)

    X, Y = make_data(args.n, args.d, args.T)
    problem = ls.LimitProblem(X, Y, lam=1.0, free=args.free)
    grid = ls.default_grid(problem.X, problem.bias, args.n_directions)
    kw = dict(free=args.free, grid=grid, solver=args.solver)
    print(f"data: n={args.n}, d={args.d}, T={args.T}; grid M={grid.shape[0]}; "
          f"{args.n_lams} lambdas, eps={args.eps}; solver={args.solver}; "
          f"available: {', '.join(ls.available_solvers())}")
    t_path, t_cold, t_fresh = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ls.ConvergenceWarning)
        for _ in range(args.repeat):
            conic._CACHE.clear()
            t0 = time.perf_counter()
            path = ls.limit_path(X, Y, n_lams=args.n_lams, eps=args.eps, **kw)
            t_path.append(time.perf_counter() - t0)

            conic._CACHE.clear()
            t0 = time.perf_counter()
            cold = [ls.solve(X, Y, lam=lam, **kw) for lam in path.lams]
            t_cold.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            fresh = []
            for lam in path.lams:
                conic._CACHE.clear()
                fresh.append(ls.solve(X, Y, lam=lam, **kw))
            t_fresh.append(time.perf_counter() - t0)

    obj_cold = np.array([s.objective for s in cold])
    obj_fresh = np.array([s.objective for s in fresh])
    scale = np.maximum(1.0, np.abs(obj_cold))
    dev = max(np.max(np.abs(path.objectives - obj_cold) / scale),
              np.max(np.abs(path.objectives - obj_fresh) / scale))
    tp, tc, tf = min(t_path), min(t_cold), min(t_fresh)
    print(f"{'method':28s} {'time (s)':>9s} {'ratio to path':>14s}")
    print(f"{'path (warm starts)':28s} {tp:9.3f} {1.0:14.2f}")
    print(f"{'30 cold solve() calls':28s} {tc:9.3f} {tc / tp:14.2f}")
    print(f"{'30 fresh (no model cache)':28s} {tf:9.3f} {tf / tp:14.2f}")
    print(f"solvers used on the path: {sorted(set(s.solver for s in path.solutions))}")
    print(f"neurons along the path: {path.n_neurons.min()}..{path.n_neurons.max()}; "
          f"max relative grid gap {path.rel_gaps.max():.1e}")
    print(f"max |objective difference| / max(1, |objective|): {dev:.2e} "
          f"({'OK' if dev <= 1e-8 else 'FAIL'}: tolerance 1e-8)")
    return 0 if dev <= 1e-8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
