"""Cost of the native solver against M, n, d and T, one axis at a time, with peers.

Usage (from the repository root)::

    python benchmarks/bench_scaling.py                       # all four axes, native only
    python benchmarks/bench_scaling.py --axes T d --peers celer skglm --peer-timeout 60
    python benchmarks/bench_scaling.py --table --peers celer skglm sklearn   # the issue's table
    python benchmarks/bench_native.py --scaling              # the same as the first line

Problems (squared loss, group penalty, bias regularized, no free part): inputs uniform in
[−1, 1]^d, targets from a random 8-neuron ReLU teacher plus noise, a random grid of M
directions on S^d, λ = frac · λ_max on that grid. The base point is n = 1000, d = 5,
T = 10, M = 10⁴, frac = 0.02; each axis varies one of them:

    M ∈ {1e3, 3e3, 1e4, 3e4, 1e5, 3e5},  n ∈ {100, 1000, 10⁴, 5·10⁴},
    d ∈ {1, 2, 5, 20, 50},               T ∈ {1, 10, 100}.

Every point runs in a fresh process: ``limitsolver.api.solve_problem(..., solver="native")``
is timed end to end (λ_max check, solver, final certificate), and the peak resident memory
(ru_maxrss) of that process is reported beside the memory before the solve. ``pass`` is the
time of one blocked pricing pass Φᵀ Y that rebuilds the features in the store's blocks
(``pricing.PASS_BLOCK``: what the solver pays per pass while it keeps no Φ); ``worth`` is
the solve time in such passes. Peers (celer, skglm and scikit-learn ``MultiTaskLasso``,
alpha = λ, no intercept) run through the harness's one subprocess runner
(``benchmarks.harness.run_peer_spec``; celer in its own environment,
``python benchmarks/setup_celer.py``) under a wall-clock cap and a 4 GiB
address-space limit; their time includes building Φ. Every solver, the native one
included, is scored by the one gap routine ``benchmarks.harness.score`` on the full grid;
a ratio is marked when the peer's certified gap is above 1e-8.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BASE = dict(n=1000, d=5, T=10, M=10_000, frac=0.02)
AXES = dict(M=[1_000, 3_000, 10_000, 30_000, 100_000, 300_000],
            n=[100, 1000, 10_000, 50_000],
            d=[1, 2, 5, 20, 50],
            T=[1, 10, 100])
#: the problems of the issue's table: (M, frac) at the base n, d, T
TABLE = [dict(M=1_000, frac=0.002), dict(M=10_000, frac=0.02), dict(M=100_000, frac=0.02)]


def make(n, d, T, M, frac, seed=0):
    """(problem, directions) of one point (module docstring)."""
    from limitsolver.certificate import lam_max
    from limitsolver.grids import sphere_grid
    from limitsolver.problem import LimitProblem
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, d))
    W = rng.standard_normal((8, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0.0)
    Y = H @ rng.standard_normal((8, T)) + 0.1 * rng.standard_normal((n, T))
    problem = LimitProblem(X, Y, lam=1.0)
    dirs = problem.check_directions(sphere_grid(d + 1, M, kind="random", random_state=seed))
    return problem.with_lam(frac * lam_max(problem, dirs)), dirs


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _native_child(conn, spec, tol):
    import warnings

    from limitsolver.api import solve_problem
    from limitsolver.features import features_rmatvec
    from limitsolver.pricing import PASS_BLOCK
    problem, dirs = make(**spec)
    t0 = time.perf_counter()
    features_rmatvec(problem.Xt, dirs, problem.Y, block_bytes=PASS_BLOCK)   # as the store
    pass_t = time.perf_counter() - t0
    base = _rss()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_problem(problem, dirs, solver="native", tol=tol)
    elapsed = time.perf_counter() - t0
    peak = _rss()
    info = sol.info
    from benchmarks.harness import score
    gap, _ = score(problem, dirs, sol.grid_weights, sol.free_coef)   # as every peer
    conn.send(dict(time=elapsed, rel_gap=float(gap), status=sol.status,
                   active=int(sol.atom_weights.shape[0]), pass_t=pass_t, base=base,
                   peak=peak, passes=info.get("n_pricing_passes"),
                   cached=info.get("phi_cached")))
    conn.close()


def run_native(spec, tol=1e-8, timeout=600.0):
    """One native point in a fresh process; dict of measurements (or a note)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_native_child, args=(child, spec, tol))
    proc.start()
    child.close()
    out = parent.recv() if parent.poll(timeout) else dict(note=f"> {timeout:g} s")
    if proc.is_alive():
        proc.kill()
    proc.join()
    return out


def run_peer(peer, spec, tol=1e-8, timeout=60.0, mem_gib=4.0):
    """(seconds or None, certified rel gap or None, note) of a peer on one point, through
    the harness's one subprocess runner (celer in its own environment), scored by
    ``harness.score``."""
    from benchmarks.harness import problem_spec, run_peer_spec
    row = run_peer_spec(peer, problem_spec("benchmarks.bench_scaling:make", **spec),
                        timeout=timeout, tol=tol, mem_gib=mem_gib)
    return row.time, row.rel_gap, row.note


def _points(axes):
    seen, out = set(), []
    for ax in axes:
        for v in AXES[ax]:
            spec = dict(BASE, **{ax: v})
            key = tuple(sorted(spec.items()))
            if key not in seen:
                seen.add(key)
                out.append((ax, spec))
    return out


def _row(ax, spec, nat, peers):
    head = (f"{ax:>2s} {spec['M']:>7d} {spec['n']:>6d} {spec['d']:>3d} {spec['T']:>4d} "
            f"{spec['frac']:>6g}")
    if "note" in nat:
        return head + f"  native did not finish ({nat['note']})"
    s = (head + f" {nat['time']:8.2f} {nat['rel_gap']:9.1e} {nat['active']:6d} "
         f"{nat['passes']:6d} {nat['pass_t']:8.3f} {nat['time'] / nat['pass_t']:6.1f} "
         f"{(nat['peak'] - nat['base']) / 2**20:8.0f} {nat['peak'] / 2**20:8.0f}")
    for name, (t, gap, note) in peers.items():
        if t is None:
            lim = note.startswith("did not finish in ")
            s += (f"  {name}: {note}" + (f" (>{float(note.split()[4]) / nat['time']:.0f}x)"
                                           if lim else ""))
        else:
            at = "" if gap <= 1e-8 else " (gap above 1e-8)"
            s += f"  {name}: {t:.1f} s gap {gap:.0e} ({t / nat['time']:.1f}x{at})"
    return s


HEADER = ("ax       M      n   d    T   frac  time(s)   rel gap active passes  pass(s)  worth "
          "dRSS(MiB) peak(MiB)  peers")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--axes", nargs="+", default=list(AXES), choices=list(AXES))
    p.add_argument("--table", action="store_true", help="the issue's three table problems")
    p.add_argument("--peers", nargs="*", default=[], choices=["celer", "skglm", "sklearn"])
    p.add_argument("--peer-timeout", type=float, default=60.0)
    p.add_argument("--peer-memory", type=float, default=4.0,
                   help="address-space limit of a peer subprocess, GiB")
    p.add_argument("--points", nargs="+", default=None, metavar="AX=VALUE",
                   help="only these points of the axes, e.g. M=300000 n=50000")
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--peer-tol", type=float, default=None,
                   help="tol passed to the peers (default tol/100: their stopping rules are "
                        "relative to ||Y||^2/n or to a KKT violation, and at tol itself "
                        "celer stops near a certified gap of 1e-7)")
    p.add_argument("--timeout", type=float, default=600.0, help="cap of a native point")
    a = p.parse_args(argv)
    print(f"uptime: {os.popen('uptime').read().strip()}")
    ptol = a.tol / 100 if a.peer_tol is None else a.peer_tol
    print(f"tol {a.tol:g}; peers {', '.join(a.peers) or 'none'} (cap {a.peer_timeout:g} s, "
          f"their tol {ptol:g})")
    points = ([("tb", dict(BASE, **t)) for t in TABLE] if a.table else _points(a.axes))
    if a.points:
        keep = {tuple(q.split("=")) for q in a.points}
        points = [(ax, spec) for ax, spec in points if (ax, f"{spec[ax]:g}") in keep
                  or (ax, str(spec[ax])) in keep]
    print(HEADER)
    for ax, spec in points:
        nat = run_native(spec, a.tol, a.timeout)
        peers = {name: run_peer(name, spec, ptol, a.peer_timeout, a.peer_memory)
                 for name in a.peers}
        print(_row(ax, spec, nat, peers), flush=True)
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
