"""The exact d = 3 oracle (limitsolver.faces3d): time against n, both biases, group and l1.

Two kinds of dual candidates Z on inputs uniform in [−1, 1]³:

- ``random``: Z standard normal (n × T) — no structure, the hardest case for the screens
  (many faces have a top eigenvalue above the sup);
- ``residual``: the residual of a grid solution (squared loss, T targets from a random
  3-neuron ReLU network plus 0.1 noise, λ = 0.01 λ_max, 2000 random directions), the
  candidate a certificate actually scales.

For each case the table prints the wall time, the CPU time of this process and that of the
second process of the walk (``workers=2``, from ``faces3d_pool.PARALLEL_MIN_INPUTS`` inputs
on; so a loaded machine can be told apart from a slow method: on two idle cores the wall
time is about the larger of the two), the sup, the number of faces with a claim and
the number of candidates evaluated with the true relu; then ``uptime``. With ``--check``
a sampled value (``--samples`` random directions) is compared with the sup (it must never be
above it).

    python benchmarks/bench_faces3d.py [--ns 50,100,200] [--T 3] [--kinds random,residual]
                                       [--check] [--samples 200000]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import time
import warnings

import numpy as np

import limitsolver as ls
from limitsolver.certificate import lam_max
from limitsolver.faces3d import exact_sup_3d
from limitsolver.problem import LimitProblem


def candidate(kind, n, T, seed, bias):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    if kind == "random":
        return X, rng.standard_normal((n, T))
    H = np.maximum(X @ rng.standard_normal((3, 3)) + 0.2 * rng.standard_normal(3), 0)
    Y = H @ rng.standard_normal((3, T)) + 0.1 * rng.standard_normal((n, T))
    free = "intercept" if bias == "free" else "none"
    lam = 0.01 * lam_max(LimitProblem(X, Y, lam=1.0, bias=bias, free=free))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=lam, bias=bias, free=free, n_directions=2000,
                       refine=False, certify_limit=False)
    return X, Y - sol.predict(X)


def sampled_max(Xt, Z, n, penalty, bias, R, samples, rng):
    th = rng.standard_normal((samples, 4))
    if bias == "regularized":
        th /= np.linalg.norm(th, axis=1, keepdims=True)
    else:
        th[:, :3] /= np.linalg.norm(th[:, :3], axis=1, keepdims=True)
        th[:, 3] = rng.uniform(-R, R, samples)
    C = np.maximum(th @ Xt.T, 0) @ Z / n
    v = np.linalg.norm(C, axis=1) if penalty == "group" else np.abs(C).max(axis=1)
    return float(v.max())


def _child_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="50,100,200")
    ap.add_argument("--T", type=int, default=3)
    ap.add_argument("--kinds", default="random,residual")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--samples", type=int, default=200_000)
    args = ap.parse_args()
    print(f"{'kind':>8} {'n':>4} {'bias':>11} {'pen':>5} {'wall s':>7} {'cpu s':>7} "
          f"{'2nd cpu':>7} "
          f"{'sup':>12} {'faces':>10} {'evaluated':>9}" + ("  sampled/sup" if args.check else ""))
    for kind in args.kinds.split(","):
        for n in [int(v) for v in args.ns.split(",")]:
            for bias in ("regularized", "free"):
                X, Z = candidate(kind, n, args.T, n, bias)
                Xt = np.column_stack([X, np.ones(n)])
                R = float(np.linalg.norm(X, axis=1).max())
                for pen in ("group", "l1"):
                    t0, c0, k0 = time.perf_counter(), time.process_time(), _child_cpu()
                    r = exact_sup_3d(Xt, Z, n, penalty=pen, bias=bias, radius=R)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    line = (f"{kind:>8} {n:>4} {bias:>11} {pen:>5} {wall:7.2f} {cpu:7.2f} "
                            f"{_child_cpu() - k0:7.2f} "
                            f"{r.value:12.6g} {r.n_candidates:10d} {r.n_evaluated:9d}")
                    if args.check:
                        s = sampled_max(Xt, Z, n, pen, bias, R, args.samples,
                                        np.random.default_rng(0))
                        line += f"  {s / r.value:.9f}"
                    print(line, flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
