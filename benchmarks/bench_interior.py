"""Benchmark: the native solver before and after the one-interior redesign, in one run.

Usage (from the repository root)::

    python benchmarks/bench_interior.py                          # every problem, best of 3
    python benchmarks/bench_interior.py --problems sq1-group lg2-l1 --repeats 5
    python benchmarks/bench_interior.py --old /path/to/old/tree --new .
    python benchmarks/bench_interior.py --quick                  # the small problems only

Every problem is solved by ``limitsolver.solvers.native.solve_native`` (tol 1e-8) in a fresh
subprocess whose ``PYTHONPATH`` is one source tree: the tree before the redesign (``--old``,
by default ``/work/wt/baseline`` or ``$LIMITSOLVER_OLD_TREE``) and this one. The two trees
alternate within each repetition (old, new, old, new, ...) so that a change of the machine's
load hits both alike; the best time of each is kept and the ratio new/old printed, with the
certified relative gap each reached and ``uptime`` before and after. The CPU time of the
solve (``time.process_time``, all threads) is printed too, with its own best-of ratio: on a
loaded machine the wall time mostly measures waiting for a core, the CPU time much less. Problems the old tree
cannot solve (the multinomial loss) run on the new tree only. The data are generated inside
the worker from a seed, identically in both trees; the time is that of the solve alone (the
grid, the data and λ_max are prepared before the clock starts).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: name: (loss, penalty, d, n, T, M, λ/λ_max[, options of solve_native]); the "-blocked"
#: problems keep no Φ (``memory_budget=0``): pricing rebuilds the features and gap-safe
#: screening is on (the tree before the redesign screened for the squared loss only).
PROBLEMS = {
    "sq1-group": ("squared", "group", 1, 60, 3, 2000, 0.02),
    "sq1-l1": ("squared", "l1", 1, 60, 3, 2000, 0.02),
    "sq2-group": ("squared", "group", 2, 200, 3, 4000, 0.02),
    "sq2-l1": ("squared", "l1", 2, 200, 3, 4000, 0.02),
    "sq5-T10": ("squared", "group", 5, 1000, 10, 10000, 0.02),
    "sq5-T100": ("squared", "group", 5, 1000, 100, 10000, 0.02),
    "lg2-group": ("logistic", "group", 2, 200, 3, 4000, 0.02),
    "lg2-l1": ("logistic", "l1", 2, 200, 3, 4000, 0.02),
    "lg5-group": ("logistic", "group", 5, 500, 3, 10000, 0.02),
    "lg5-l1": ("logistic", "l1", 5, 500, 3, 10000, 0.02),
    "sq5-blocked": ("squared", "group", 5, 1000, 10, 10000, 0.02, {"memory_budget": 0}),
    "lg5-blocked": ("logistic", "group", 5, 500, 3, 10000, 0.02, {"memory_budget": 0}),
    "mn2-group": ("multinomial", "group", 2, 200, 4, 4000, 0.02),
    "mn2-l1": ("multinomial", "l1", 2, 200, 4, 4000, 0.02),
    # smoke configurations (tests/test_benchmarks.py), not part of the default run
    "tiny-sq": ("squared", "group", 1, 20, 2, 100, 0.05),
    "tiny-mn": ("multinomial", "group", 1, 20, 3, 100, 0.05),
}

#: Problems left out of the default run.
SMOKE = ("tiny-sq", "tiny-mn")

#: The problems of ``--quick`` (seconds each).
QUICK = ("sq1-group", "sq1-l1", "sq2-group", "lg2-group", "lg2-l1", "mn2-group")

#: Losses the tree before the redesign had no native solver for.
NEW_ONLY = ("multinomial",)

#: The worker, run by ``python -c`` with one tree on PYTHONPATH; prints one JSON line.
WORKER = r"""
import json, sys, time, warnings
import numpy as np
import limitsolver
from limitsolver.problem import LimitProblem
from limitsolver.grids import sphere_grid
from limitsolver.certificate import lam_max, certify
from limitsolver.solvers.native import solve_native
spec = json.loads(sys.argv[1])
loss, penalty, d, n, T, M, frac = spec[:7]
options = spec[7] if len(spec) > 7 else {}
rng = np.random.default_rng(0)
X = rng.uniform(-1.0, 1.0, (n, d))
W = rng.standard_normal((8, d + 1))
H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0.0)
Y = H @ rng.standard_normal((8, T)) + 0.1 * rng.standard_normal((n, T))
if loss == "logistic":
    Y = np.where(Y >= np.median(Y, axis=0), 1.0, -1.0)
elif loss == "multinomial":
    Y = np.argmax(Y, axis=1)
    Y[:T] = np.arange(T)                         # every class present
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pb = LimitProblem(X, Y, lam=1.0, loss=loss, penalty=penalty)
dirs = pb.check_directions(sphere_grid(d + 1, M, kind="random", random_state=0))
pb = pb.with_lam(frac * lam_max(pb, dirs))
t0, c0 = time.perf_counter(), time.process_time()
res = solve_native(pb, dirs, tol=1e-8, **options)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
cert = certify(pb, dirs, res.V, res.C)
print(json.dumps(dict(time=elapsed, cpu=cpu, newton=res.info["newton_steps"],
                      rel_gap=cert.rel_gap, status=res.status,
                      passes=res.info["n_pricing_passes"], objective=cert.primal,
                      screened=res.info.get("screened"), package=limitsolver.__file__)))
"""


def run_once(tree: str, spec, timeout: float) -> dict:
    """One solve in a fresh process with ``tree`` first on PYTHONPATH.

    The process runs in the tree itself: ``python -c`` puts its working directory ahead of
    PYTHONPATH on ``sys.path``, so another working directory holding a ``limitsolver``
    package would shadow the tree. The worker reports which package it imported, and a
    run that imported another one is an error.
    """
    tree = os.path.abspath(tree)
    env = dict(os.environ, PYTHONPATH=tree)
    try:
        out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(list(spec))], env=env,
                             cwd=tree, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(error=f"timeout {timeout:.0f} s")
    if out.returncode != 0:
        return dict(error="error: " + (out.stderr.strip().splitlines() or ["failed"])[-1])
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if not os.path.abspath(row["package"]).startswith(tree + os.sep):
        return dict(error=f"error: imported {row['package']}, not the tree")
    return row


def _best(runs, key="time"):
    ok = [r for r in runs if "error" not in r]
    return min(ok, key=lambda r: r[key]) if ok else (runs[0] if runs else None)


def _ratio(old, new, key):
    if not old or not new or "error" in old or "error" in new:
        return None
    return new[key] / old[key]


def _fmt(r) -> str:
    if r is None:
        return f"{'-':>52}"
    if "error" in r:
        return f"{r['error'][:52]:>52}"
    scr = r.get("screened") or 0
    return (f"{r['time']:7.3f} s {r['cpu']:6.3f} c  gap {r['rel_gap']:7.1e} {r['passes']:3d}p "
            f"{r['newton']:5d}N {scr:5d}s")


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime not available"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="*", choices=sorted(PROBLEMS), default=None)
    p.add_argument("--quick", action="store_true", help="the small problems only")
    p.add_argument("--repeats", type=int, default=3, help="runs per tree (best kept)")
    p.add_argument("--old", default=os.environ.get("LIMITSOLVER_OLD_TREE",
                                                    "/work/wt/baseline"))
    p.add_argument("--new", default=ROOT)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per solve")
    a = p.parse_args(argv)
    names = a.problems or (list(QUICK) if a.quick else
                          [k for k in PROBLEMS if k not in SMOKE])
    have_old = os.path.isdir(os.path.join(a.old, "limitsolver"))
    print(f"old tree: {a.old}{'' if have_old else ' (missing: new tree only)'}")
    print(f"new tree: {a.new}")
    print(f"uptime before: {uptime()}")
    print(f"{'problem':<11} {'old (best): wall, cpu, gap, passes, Newton, screened':>52}  "
          f"{'new (best)':>52}  new/old cpu")
    ratios = {}
    for name in names:
        spec = PROBLEMS[name]
        both = have_old and spec[0] not in NEW_ONLY
        old, new = [], []
        for _ in range(a.repeats):
            if both:
                old.append(run_once(a.old, spec, a.timeout))
            new.append(run_once(a.new, spec, a.timeout))
        bo, bn = _best(old), _best(new)
        ratio = _ratio(bo, bn, "time")
        rcpu = _ratio(_best(old, "cpu"), _best(new, "cpu"), "cpu")
        ratios[name] = ratio
        print(f"{name:<11} {_fmt(bo)}  {_fmt(bn)}  "
              f"{'-' if ratio is None else f'{ratio:6.2f}'} "
              f"{'-' if rcpu is None else f'{rcpu:4.2f}'}", flush=True)
    print(f"uptime after:  {uptime()}")
    return ratios


if __name__ == "__main__":
    main()
