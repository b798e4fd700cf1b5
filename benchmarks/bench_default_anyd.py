"""The default solve alone on the d ≥ 3 cases of ``bench_limit.py --part 3``, with the load.

For each case (``bench_limit.anyd_cases``: d3, d5, d10 planted, diabetes, digits) and each
repeat, one plain ``ls.solve(X, Y, lam=lam)`` (single-threaded BLAS, as ``bench_limit``)
and one line: the load average before and after (``os.getloadavg``), the wall time, the
CPU time of the process (``time.process_time``: a measure of work that does not depend on
the load), the objective, how far it is above ``--best`` (the lowest objective known for
the case, relative), the exchange rounds and atoms. The long runs of
``bench_limit.py --part 3`` (10× the default's time, twice per case) take over an hour
for the five cases; this takes about a minute a run.

    python benchmarks/bench_default_anyd.py [--cases digits,diabetes] [--repeat 2]
        [--best digits=0.1442230196,diabetes=0.208704431]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import limitsolver as ls

from bench_limit import anyd_cases

#: Lowest objectives known (default runs and long refinements of the bench, 2-core machine).
BEST = {"d3": 0.964137173, "d5": 2.35150053, "d10": 5.371518324, "diabetes": 0.208704431,
        "digits": 0.1442230196}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="d3,d5,d10,diabetes,digits")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--best", default="", help="case=objective,... (overrides BEST)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")
    best = dict(BEST)
    for kv in filter(None, args.best.split(",")):
        k, v = kv.split("=")
        best[k] = float(v)
    for name, X, Y, lam in anyd_cases(args.cases.split(",")):
        for _ in range(args.repeat):
            before = os.getloadavg()
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sol = ls.solve(X, Y, lam=lam)
            t, cpu = time.perf_counter() - t0, time.process_time() - c0
            after = os.getloadavg()
            ref = best.get(name, float("nan"))
            print(f"{name:8s} load {before[0]:.2f} -> {after[0]:.2f}  {t:5.1f} s  cpu "
                  f"{cpu:5.1f} s  objective {sol.objective:.9g}  above best "
                  f"{(sol.objective - ref) / abs(ref):+.2e}  "
                  f"rounds {len(sol.info.get('refine', []))}  atoms "
                  f"{sol.atom_directions.shape[0]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
