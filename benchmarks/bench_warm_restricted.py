"""The warm working-set solves of the d ≥ 3 refinement, timed per call on two source trees.

Usage (from the repository root)::

    python benchmarks/bench_warm_restricted.py --old /path/to/old/tree [--new .] [--repeats 2]

First the default ``ls.solve`` of a case of ``bench_limit.anyd_cases`` (digits by default:
PCA to d = 10, T = 10, n = 1797) runs in the new tree with
``limitsolver.exchange.solve_working_set`` wrapped to record its arguments (problem,
directions, warm start) for every refinement round; then each tree replays the recorded
calls (the first, which pays the imports, is left out) in a fresh subprocess whose
``PYTHONPATH`` is that tree, the trees alternating per repetition. Printed per tree: the
best over repetitions of the summed CPU time (``time.process_time``, one BLAS thread as in
the refinement) and wall time, the per-call CPU median and max, the Newton steps, and the
largest difference of objective between the replayed and the recorded solution (both
trees must reach the same optimum: a check, not a timing).
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CAPTURE = r"""
import pickle, sys, warnings
sys.path.insert(0, {bench!r})
import limitsolver as ls
import limitsolver.exchange as ex
from bench_limit import anyd_cases
_, X, Y, lam = anyd_cases([{case!r}])[0]
orig, calls = ex.solve_working_set, []
def wrapped(problem, directions, solver, tol, warm_start, deadline):
    out = orig(problem, directions, solver, tol, warm_start, deadline)
    calls.append(dict(problem=problem, D=directions, solver=solver, tol=tol, warm=warm_start,
                      objective=None if out is None else out.objective))
    return out
ex.solve_working_set = wrapped
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ls.solve(X, Y, lam=lam)
pickle.dump(calls, open({path!r}, "wb"))
"""

_REPLAY = r"""
import json, pickle, time, warnings
import numpy as np
from limitsolver.budget import blas_threads
from limitsolver.exchange import solve_working_set
calls = pickle.load(open({path!r}, "rb"))
cpu, wall, newton, diff = [], [], 0, 0.0
for i, c in enumerate(calls):
    with blas_threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        out = solve_working_set(c["problem"], c["D"], c["solver"], c["tol"], c["warm"], None)
        c1, t1 = time.process_time(), time.perf_counter()
    if i == 0:
        continue                                   # the imports of the first call
    cpu.append(c1 - c0); wall.append(t1 - t0)
    newton += int(out.info.get("newton_steps", 0))
    diff = max(diff, abs(out.objective - c["objective"]) / abs(c["objective"]))
print(json.dumps(dict(cpu=sum(cpu), wall=sum(wall), median=float(np.median(cpu)),
                      max=max(cpu), calls=len(cpu), newton=newton, diff=diff)))
"""


def _run(tree: str, code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def main(argv=None) -> None:
    import json
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True)
    p.add_argument("--new", default=ROOT)
    p.add_argument("--case", default="digits")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)
    print("uptime:", os.popen("uptime").read().strip())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "calls.pkl")
        _run(a.new, _CAPTURE.format(bench=os.path.join(ROOT, "benchmarks"), case=a.case,
                                    path=path))
        n_calls = len(pickle.load(open(path, "rb")))
        print(f"{a.case}: {n_calls} recorded working-set solves (the first left out)")
        best = {}
        for _ in range(a.repeats):
            for name, tree in (("old", a.old), ("new", a.new)):
                r = json.loads(_run(tree, _REPLAY.format(path=path)))
                if name not in best or r["cpu"] < best[name]["cpu"]:
                    best[name] = r
    for name in ("old", "new"):
        r = best[name]
        print(f"{name}: cpu {r['cpu']:.2f} s, wall {r['wall']:.2f} s over {r['calls']} calls; "
              f"per call cpu median {r['median']:.3f} s, max {r['max']:.3f} s; "
              f"{r['newton']} Newton steps; objective vs recorded {r['diff']:.1e}")
    print(f"cpu new/old: {best['new']['cpu'] / best['old']['cpu']:.2f}")
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
