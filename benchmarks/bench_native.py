"""Benchmark: the native working-set solver against general solvers (issue 3).

Usage (from the repository root)::

    python benchmarks/bench_native.py                     # problems 1 2 3, peers 60 s each
    python benchmarks/bench_native.py --problems 1 2 --timeout 600
    python benchmarks/bench_native.py --quick             # problems 1 2, peers 10 s
    python benchmarks/bench_native.py --scaling --peers skglm sklearn   # bench_scaling.py
    python benchmarks/bench_native.py --loss logistic --problems 1 2 --peers clarabel scs ecos
    python benchmarks/bench_native.py --problems 1 3 --directions 300 --timeout 20  # smoke
    python benchmarks/setup_celer.py                      # once: celer's own environment

For every reference problem and λ it prints one table (time, certified relative duality
gap from limitsolver.certificate.certify, active neurons, time ratio to native — a lower
bound ">Nx" when the peer did not finish), the number of pricing passes of the native
solver and the time of one full pricing pass, so the distance to the floor is visible.
The native solver is timed through ``limitsolver.solve`` end to end; every peer's time
includes building its feature matrix (see benchmarks/harness.py). For problem 3 it also reports the peak memory (ru_maxrss) of a native solve in a fresh
process.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import (PEERS, REFERENCE, format_table, make_problem,  # noqa: E402
                                native_peak_memory, pricing_pass_time, run_native, run_peer)


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--problems", type=int, nargs="*", default=[1, 2, 3],
                   choices=sorted(REFERENCE), help="reference problems to run")
    p.add_argument("--lams", type=float, nargs="+", default=[0.02, 0.002],
                   help="λ as fractions of λ_max")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="wall-clock limit per peer in seconds (issue: up to 600)")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS,
                   help="peers to run (none: native only)")
    p.add_argument("--peer-memory", type=float, default=4.0,
                   help="address-space limit of a peer subprocess, GiB")
    p.add_argument("--tol", type=float, default=1e-8, help="target relative gap")
    p.add_argument("--loss", default="squared", choices=("squared", "logistic"),
                   help="loss of the reference problems (logistic: labels sign(Y))")
    p.add_argument("--quick", action="store_true",
                   help="problems 1 and 2 only, peers limited to 10 s")
    p.add_argument("--scaling", nargs="*", default=None,
                   help="only the cost study against M, n, d and T (benchmarks/bench_scaling.py)")
    p.add_argument("--directions", type=int, default=None,
                   help="grid size for every problem (default: each problem's own M)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory run of problem 3")
    a = p.parse_args(argv)
    if a.timeout <= 0 or a.timeout > 3600:
        p.error("--timeout must be in (0, 3600]")
    if a.directions is not None and a.directions < 1:
        p.error("--directions must be a positive integer")
    if a.quick:
        a.problems = [q for q in a.problems if q != 3] or [1]
        a.timeout = min(a.timeout, 10.0)
    return a


def main(argv=None):
    a = _args(argv)
    if a.scaling is not None:     # time and memory against M, n, d, T: bench_scaling.py
        from benchmarks.bench_scaling import main as scaling
        return scaling(["--peers", *[q for q in a.peers if q in ("celer", "skglm", "sklearn")],
                        "--peer-timeout", str(a.timeout), "--tol", str(a.tol)])
    print(f"peers: {', '.join(a.peers) or 'none'}; timeout {a.timeout:g} s; tol {a.tol:g}; "
          f"loss {a.loss}")
    for pid in a.problems:
        d, n, T, M, kind = REFERENCE[pid]
        M = a.directions or M
        for frac in a.lams:
            problem, dirs = make_problem(pid, frac, M=M, loss=a.loss)
            label = (f"problem {pid} (d={d}, n={n}, T={T}, M={M} {kind}, {a.loss}), "
                     f"lam={frac:g}*lam_max")
            print(f"\n== {label}")
            run_native(problem, dirs, tol=a.tol, label=label)        # warm-up (imports, caches)
            nat = run_native(problem, dirs, tol=a.tol, label=label)
            pass_t = pricing_pass_time(problem, dirs)
            rows = [nat]
            for peer in a.peers:
                rows.append(run_peer(peer, pid, frac, timeout=a.timeout, tol=a.tol, M=M,
                                     mem_gib=a.peer_memory, label=label, loss=a.loss))
                print(f"   {peer}: {rows[-1].note or 'done'}", flush=True)
            print(format_table(rows, nat.time))
            ok = [r for r in rows[1:] if r.time is not None and r.rel_gap is not None
                  and r.rel_gap <= 1e-6]
            if ok:
                best = min(ok, key=lambda r: r.time)
                print(f"fastest peer with gap <= 1e-6: {best.solver}, {best.time:.2f} s, "
                      f"{best.time / nat.time:.1f}x native")
            elif any(r.note.startswith("did not finish") for r in rows[1:]):
                print(f"no peer reached gap <= 1e-6 within {a.timeout:g} s: native is at least "
                      f"{a.timeout / nat.time:.0f}x faster (lower bound)")
            else:
                print("no peer produced a point with gap <= 1e-6 (see the notes): no ratio")
            print(f"native: {nat.extra['passes']} pricing passes, one full pricing pass "
                  f"{pass_t:.4f} s, total = {nat.time / pass_t:.1f} passes' worth")
            if pid == 3 and not a.no_memory and a.loss == "squared":
                t, gap, base, peak = native_peak_memory(pid, frac, tol=a.tol, M=M)
                print(f"native in a fresh process: {t:.2f} s, gap {gap:.2e}, peak RSS "
                      f"{peak / 2**20:.0f} MiB (before the solve {base / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
