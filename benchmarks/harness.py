"""One harness for the native solver and its peers on the reference problems of issue 3.

Every solver is scored by the same routine, :func:`limitsolver.certificate.certify` on the
full grid (relative duality gap of the weights it returns), so the numbers are comparable.

Reference problems (squared loss, group penalty, bias regularized, no free part; data from
a random 8-neuron ReLU teacher plus noise, inputs uniform in [−1, 1]^d):

    1: d = 1, n = 200,  T = 5,  4,096 equally spaced directions on S¹
    2: d = 2, n = 500,  T = 10, 20,000 Fibonacci directions on S²
    3: d = 5, n = 1000, T = 10, 100,000 random directions on S⁵

λ = f · λ_max with f ∈ {0.02, 0.002} (λ_max on the same grid).

With ``loss="logistic"`` the same data give labels sign(Y) (T binary tasks, noisy, not
separable); only the conic peers solve the multi-task logistic group lasso (scikit-learn's
and skglm's logistic estimators are single-task l1), so sklearn and skglm are reported as
not applicable.

What is timed, for every solver alike: everything from the validated data and the direction
grid to the weights. The native solver runs through ``limitsolver.solve`` end to end
(``solver="native"``, ``refine=False``, ``certify_limit=False``: its λ_max check, the solve
and the API's re-certification all count). The peers that take a feature matrix build
Φ = relu(x̃ θᵀ) inside their timing; the conic peers build their model inside it.

Peers (cvxpy with Clarabel / SCS / ECOS, scikit-learn ``MultiTaskLasso`` with alpha = λ and
``fit_intercept=False`` — the same (1/(2n)) scaling —, skglm ``MultiTaskLasso``, celer
``MultiTaskLasso``) each run in a fresh subprocess with a wall-clock limit and an
address-space limit; one that is killed is reported as "did not finish in N s", one that
runs out of memory as such. Imports and numba compilation happen before the limit starts.

celer (0.7.4 needs scikit-learn < 1.6) runs in its own virtual environment, created by
``python benchmarks/setup_celer.py`` (skipped with a one-line message when it is missing).
Its objective is (1/(2n))‖Y − ΦW‖²_F + α Σ_j ‖W_j‖₂ (its documentation), ours with
α = λ, ``fit_intercept=False``. The harness passes x̃ (n × (d+1)), the directions and Y
through temporary ``.npy`` files (Φ itself can be ~1 GiB); the subprocess times the
feature build and the fit itself, and the rest of its wall time (interpreter start,
imports, file transfer) is reported separately as ``overhead``.

Every returned point is scored by :func:`score` (one routine for all solvers).

Harness API (used by the bench scripts): ``make_problem(pid, frac, M=, seed=, loss=)``,
``run_native(problem, dirs, tol=, label=) -> Row``, ``run_peer(peer, pid, frac, timeout=,
tol=, mem_gib=, M=, seed=, label=, loss=) -> Row``, and for any other problem family the
same subprocess runner ``run_peer_spec(peer, problem_spec("module:function", *args,
**kwargs), timeout=, tol=, mem_gib=, label=) -> Row`` (the function, importable in a fresh
process, returns (problem, directions); ``benchmarks/bench_scaling.py`` uses it),
``score(problem, dirs, V, C)``,
``pricing_pass_time(problem, dirs)``, ``native_peak_memory(pid, frac, tol=, M=)``,
``format_table(rows, native_time)``. A Row's ``extra`` holds per-solver details (native:
passes, pass_time, restricted, screened; peers: build = feature-build seconds, included
in ``time``; celer: overhead = subprocess seconds outside build + fit).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import subprocess
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from limitsolver.certificate import certify, lam_max
from limitsolver.features import features_rmatvec, relu_features
from limitsolver.grids import sphere_grid
from limitsolver.problem import LimitProblem

from benchmarks.setup_celer import CELER_RUNNER, celer_python

__all__ = ["REFERENCE", "PEERS", "make_problem", "run_native", "run_peer", "run_peer_spec",
           "problem_spec", "build_problem", "run_celer_spec", "Row", "score",
           "pricing_pass_time", "native_peak_memory", "format_table", "celer_python"]

#: problem id -> (d, n, T, M, grid kind)
REFERENCE = {
    1: (1, 200, 5, 4096, "uniform"),
    2: (2, 500, 10, 20000, "fibonacci"),
    3: (5, 1000, 10, 100000, "random"),
}

PEERS = ("clarabel", "scs", "ecos", "sklearn", "skglm", "celer")


def make_problem(pid: int, frac: float, *, M: int | None = None, seed: int = 0,
                 loss: str = "squared"):
    """Reference problem ``pid`` at λ = frac · λ_max (``loss`` "squared" or "logistic").

    Returns
    -------
    problem : LimitProblem;  directions : ndarray (M, d+1), normalized.
    """
    d, n, T, M0, kind = REFERENCE[pid]
    M = M0 if M is None else int(M)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, d))
    W = rng.standard_normal((8, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0.0)
    Y = H @ rng.standard_normal((8, T)) + 0.1 * rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Y >= 0, 1.0, -1.0)
    problem = LimitProblem(X, Y, lam=1.0, loss=loss)
    dirs = problem.check_directions(sphere_grid(d + 1, M, kind=kind, random_state=seed))
    return problem.with_lam(frac * lam_max(problem, dirs)), dirs


@dataclass
class Row:
    """One solver on one problem."""

    problem: str
    solver: str
    time: float | None = None          # seconds (None: did not finish)
    rel_gap: float | None = None
    active: int | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def _active(V, rel=1e-6) -> int:
    nrm = np.linalg.norm(V, axis=1)
    return int(np.sum(nrm > rel * nrm.max())) if nrm.size and nrm.max() > 0 else 0


def score(problem, dirs, V, C):
    """The one gap routine every solver is scored by; returns (relative gap, active neurons).

    ``certify`` on the full grid with two dual candidates, the better kept: the residual Z₀
    of (V, C), and Z₀ corrected to meet the support conditions of V exactly
    (``support_dual``, what ``limitsolver.solve`` also tries). Both are rescaled by certify
    to dual feasibility over the whole grid, so each dual value is ≤ OPT(grid) by weak
    duality, and the reported gap J(V) − max D is a certified bound on J(V) − OPT(grid) for
    every solver alike. (The plain residual alone under-certifies points, such as
    coordinate-descent ones, whose correlations overshoot λ by ~1e-5 off the support.)
    The correction is skipped when more than n rows of V are nonzero (interior-point output,
    where its least squares would be large and underdetermined)."""
    from limitsolver.certificate import dual_candidate, support_dual
    from limitsolver.features import features_matvec
    V = np.asarray(V, dtype=float)
    C = np.asarray(C, dtype=float)
    pred = features_matvec(problem.Xt, dirs, V) + problem.F @ C
    Z0 = dual_candidate(problem, pred)
    cands = [Z0]
    if np.count_nonzero(np.any(V != 0, axis=1)) <= problem.n:
        cands.append(support_dual(problem, dirs, V, Z0))
    cert = certify(problem, dirs, V, C, Z=cands, pred=pred)
    return cert.rel_gap, _active(V)


def _solve_native(problem, dirs, tol, **options):
    """``limitsolver.solve`` end to end with the native backend; (solution, seconds)."""
    from limitsolver.api import solve
    from limitsolver.exceptions import ConvergenceWarning
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # the status says it
        sol = solve(problem.X, problem.Y, **problem.options(), grid=dirs, solver="native",
                    tol=tol, refine=False, certify_limit=False, **options)
    return sol, time.perf_counter() - t0


def run_native(problem, dirs, *, tol=1e-8, label="", **options) -> Row:
    """The native solver through ``limitsolver.solve`` in this process, scored by score()."""
    sol, elapsed = _solve_native(problem, dirs, tol, **options)
    gap, active = score(problem, dirs, sol.grid_weights, sol.free_coef)
    info = sol.info
    return Row(label, "native", elapsed, gap, active, sol.status,
               extra=dict(passes=info.get("n_pricing_passes", 0),
                          pass_time=info.get("pricing_time_per_pass", 0.0),
                          restricted=info.get("restricted_solves"),
                          screened=info.get("screened")))


def pricing_pass_time(problem, dirs, repeats=2) -> float:
    """Seconds of one full blocked pricing pass Φᵀ Z (best of ``repeats``)."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        features_rmatvec(problem.Xt, dirs, problem.Y)
        best = min(best, time.perf_counter() - t0)
    return best


# --- peers in subprocesses ----------------------------------------------------------------

def _features(problem, dirs):
    """Φ (n × M, Fortran order) for the peers that take a feature matrix."""
    return np.asfortranarray(relu_features(problem.Xt, dirs))


def _peer_solve(peer, problem, dirs, tol):
    """Run one peer; returns (V, C, seconds, extra). Imports happen in _peer_prepare (in the
    subprocess); the feature build counts in the time (and is also given in ``extra``)."""
    if peer in ("clarabel", "scs", "ecos"):
        from limitsolver.solvers.conic import solve_conic
        t0 = time.perf_counter()
        res = solve_conic(problem, dirs, solver=peer.upper(), tol=tol)
        return res.V, res.C, time.perf_counter() - t0, {}
    if problem.loss != "squared":
        raise ValueError(f"{peer} has no multi-task group-lasso estimator for the "
                         f"{problem.loss} loss (not applicable)")
    C0 = np.zeros((0, problem.T))
    if peer == "sklearn":
        from sklearn.linear_model import MultiTaskLasso
        # sklearn's tol multiplies ‖Y‖²_F: tol = 1e-8 asks for a relative gap of about
        # 1e-8 · ‖Y‖²/(n J) ≲ 1e-6 here, so a peer that can reach 1e-6 stops in time
        est = MultiTaskLasso(alpha=problem.lam, fit_intercept=False, tol=tol,
                             max_iter=1_000_000)
        t0 = time.perf_counter()
        Phi = _features(problem, dirs)
        build = time.perf_counter() - t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(Phi, problem.Y)
        return est.coef_.T.copy(), C0, time.perf_counter() - t0, dict(build=build)
    if peer == "skglm":
        from skglm import MultiTaskLasso
        est = MultiTaskLasso(alpha=problem.lam, fit_intercept=False, tol=tol,
                             max_iter=1000, max_epochs=100_000)
        t0 = time.perf_counter()
        Phi = _features(problem, dirs)
        build = time.perf_counter() - t0
        est.fit(Phi, problem.Y)
        return est.coef_.T.copy(), C0, time.perf_counter() - t0, dict(build=build)
    raise ValueError(f"unknown peer {peer!r}; expected one of {PEERS}")


def _peer_prepare(peer):
    """Imports and one-time compilation, before the time limit starts."""
    if peer == "skglm":
        from skglm import MultiTaskLasso
        # compile the numba kernels on a tiny problem first (neither timed nor limited)
        MultiTaskLasso(alpha=0.1, fit_intercept=False).fit(
            np.asfortranarray(np.random.default_rng(0).standard_normal((10, 5))),
            np.ones((10, 2)))
    elif peer == "sklearn":
        import sklearn.linear_model  # noqa: F401
    else:
        import limitsolver.solvers.conic  # noqa: F401


def _peer_main(conn, peer, spec, tol, mem_bytes, threads):
    try:
        if mem_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        if threads:
            from threadpoolctl import threadpool_limits
            threadpool_limits(threads)
        problem, dirs = build_problem(spec)
        _peer_prepare(peer)
        conn.send(("ready", None, None, None))   # the time limit starts now
        V, C, elapsed, extra = _peer_solve(peer, problem, dirs, tol)
        conn.send(("ok", np.asarray(V, dtype=float), np.asarray(C, dtype=float),
                   (elapsed, extra)))
    except MemoryError:
        conn.send(("oom", None, None, None))
    except Exception as exc:  # reported in the table, not raised
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
        if "memory" in msg.lower() or "alloc" in msg.lower():
            conn.send(("oom", None, None, None))
        else:
            conn.send(("error", msg + " | " + traceback.format_exc().splitlines()[-1][:80],
                       None, None))
    finally:
        conn.close()


def problem_spec(maker: str, *args, **kwargs) -> dict:
    """A picklable recipe of a problem: ``maker`` ("module:function", importable in a fresh
    process) called with ``args`` and ``kwargs`` returns (problem, directions)."""
    return dict(maker=maker, args=tuple(args), kwargs=dict(kwargs))


def build_problem(spec: dict):
    """(problem, directions) of a :func:`problem_spec` recipe."""
    import importlib
    module, name = spec["maker"].split(":")
    return getattr(importlib.import_module(module), name)(*spec["args"], **spec["kwargs"])


def run_peer(peer, pid, frac, *, timeout=60.0, tol=1e-8, mem_gib=4.0, threads=None,
             M=None, seed=0, label="", loss="squared") -> Row:
    """Run ``peer`` on reference problem ``pid`` in a fresh subprocess, scored by score()."""
    if loss != "squared" and peer in ("sklearn", "skglm", "celer"):
        return Row(label, peer, None, None, None,
                   "not applicable (no multi-task group-lasso logistic estimator)")
    spec = problem_spec("benchmarks.harness:make_problem", pid, frac, M=M, seed=seed,
                        loss=loss)
    return run_peer_spec(peer, spec, timeout=timeout, tol=tol, mem_gib=mem_gib,
                         threads=threads, label=label)


def run_peer_spec(peer, spec, *, timeout=60.0, tol=1e-8, mem_gib=4.0, threads=None,
                  label="") -> Row:
    """Run ``peer`` on the problem of ``spec`` (:func:`problem_spec`) in a fresh subprocess
    (celer: in its environment, :func:`run_celer_spec`), scored by score(). The one
    subprocess runner of every bench script: building the problem, imports and numba
    compilation are not timed; the wall-clock limit ``timeout`` and the address-space
    limit ``mem_gib`` apply to the solve (feature build included)."""
    if peer == "celer":
        return run_celer_spec(spec, timeout=timeout, tol=tol, mem_gib=mem_gib, label=label)
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; expected one of {PEERS}")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_peer_main,
                       args=(child, peer, spec, tol, int(mem_gib * 2**30), threads))
    t0 = time.perf_counter()
    proc.start()
    child.close()
    msg = None
    try:
        # imports, compilation and building the problem are not counted (up to 10 min)
        if parent.poll(600.0):
            msg = parent.recv()
        if msg is not None and msg[0] == "ready":
            msg = None
            t0 = time.perf_counter()
            if parent.poll(timeout):
                msg = parent.recv()
    except EOFError:
        msg = None
    wall = time.perf_counter() - t0
    if proc.is_alive():
        proc.kill()
    proc.join()
    if msg is None:
        if wall >= timeout:
            return Row(label, peer, None, None, None, f"did not finish in {timeout:g} s")
        return Row(label, peer, None, None, None,
                   f"crashed (exit code {proc.exitcode}; memory limit {mem_gib:g} GiB?)")
    kind, V, C, timing = msg
    if kind == "oom":
        return Row(label, peer, None, None, None, f"out of memory (limit {mem_gib:g} GiB)")
    if kind == "error":
        return Row(label, peer, None, None, None, f"error: {V}")
    elapsed, extra = timing
    problem, dirs = build_problem(spec)
    gap, active = score(problem, dirs, V, C)
    return Row(label, peer, elapsed, gap, active, extra=extra)


# --- celer in its own environment ----------------------------------------------------------

def _limit_memory(mem_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    return apply


def run_celer(pid, frac, *, timeout=60.0, tol=1e-8, mem_gib=4.0, M=None, seed=0,
              label="") -> Row:
    """celer's MultiTaskLasso on reference problem ``pid`` (:func:`run_celer_spec`)."""
    spec = problem_spec("benchmarks.harness:make_problem", pid, frac, M=M, seed=seed)
    return run_celer_spec(spec, timeout=timeout, tol=tol, mem_gib=mem_gib, label=label)


def run_celer_spec(spec, *, timeout=60.0, tol=1e-8, mem_gib=4.0, label="") -> Row:
    """celer's MultiTaskLasso on the problem of ``spec`` (squared loss) in its own
    environment, scored by score(). Time = feature build + fit, both measured inside the
    subprocess; ``overhead`` = the subprocess's wall time minus that (start, imports, files).
    celer's tol is relative to ‖Y‖²/n (its documentation), as scikit-learn's."""
    exe = celer_python()
    if exe is None:
        return Row(label, "celer", None, None, None,
                   "skipped: no celer environment (create it: python benchmarks/setup_celer.py)")
    problem, dirs = build_problem(spec)
    if problem.loss != "squared":
        return Row(label, "celer", None, None, None,
                   "not applicable (no multi-task group-lasso logistic estimator)")
    with tempfile.TemporaryDirectory(prefix="limitsolver-celer-") as folder:
        np.save(os.path.join(folder, "Xt.npy"), problem.Xt)
        np.save(os.path.join(folder, "dirs.npy"), dirs)
        np.save(os.path.join(folder, "Y.npy"), problem.Y)
        t0 = time.perf_counter()
        try:
            # the limit applies to build + fit; 30 s more are allowed for start and imports
            out = subprocess.run([exe, "-c", CELER_RUNNER, folder, repr(problem.lam),
                                  repr(tol)], capture_output=True, text=True,
                                 timeout=timeout + 30.0,
                                 preexec_fn=_limit_memory(int(mem_gib * 2**30)))
        except subprocess.TimeoutExpired:
            return Row(label, "celer", None, None, None, f"did not finish in {timeout:g} s")
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            err = (out.stderr.strip().splitlines() or ["?"])[-1][:120]
            if "memory" in err.lower() or "alloc" in err.lower():
                return Row(label, "celer", None, None, None,
                           f"out of memory (limit {mem_gib:g} GiB)")
            return Row(label, "celer", None, None, None, f"error: {err}")
        with open(os.path.join(folder, "times.json")) as f:
            times = json.load(f)
        W = np.load(os.path.join(folder, "W.npy"))
    elapsed = times["build"] + times["fit"]
    if elapsed > timeout:
        return Row(label, "celer", None, None, None, f"did not finish in {timeout:g} s")
    gap, active = score(problem, dirs, W, np.zeros((0, problem.T)))
    return Row(label, "celer", elapsed, gap, active,
               extra=dict(build=times["build"], overhead=wall - elapsed))


# --- peak memory of the native solver -------------------------------------------------------

def _native_mem_main(conn, pid, frac, tol, M):
    problem, dirs = make_problem(pid, frac, M=M)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sol, elapsed = _solve_native(problem, dirs, tol)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gap, _ = score(problem, dirs, sol.grid_weights, sol.free_coef)
    conn.send((elapsed, gap, base * 1024, peak * 1024))
    conn.close()


def native_peak_memory(pid, frac, *, tol=1e-8, M=None):
    """(seconds, rel_gap, RSS before the solve, peak RSS) of a native solve through
    ``limitsolver.solve`` in a fresh process (bytes; ru_maxrss of the child, which includes
    the data and the grid; the gap from score(), computed after the peak is read)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_native_mem_main, args=(child, pid, frac, tol, M))
    proc.start()
    child.close()
    try:
        out = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"the native peak-memory run died (exit code {proc.exitcode})")
    proc.join()
    return out


# --- table ----------------------------------------------------------------------------------

def format_table(rows, native_time) -> str:
    """Text table: time, certified relative gap, active neurons, ratio to native."""
    head = f"{'solver':>10s} {'time (s)':>10s} {'rel gap':>10s} {'active':>7s} {'ratio':>9s}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        t = "-" if r.time is None else f"{r.time:10.3f}"
        g = "-" if r.rel_gap is None else f"{r.rel_gap:10.2e}"
        a = "-" if r.active is None else f"{r.active:7d}"
        if r.solver == "native":
            ratio = "1"
        elif r.time is None:
            lim = _timeout_of(r.note)
            ratio = f">{lim / native_time:.0f}x" if lim else "-"
        else:
            ratio = f"{r.time / native_time:.1f}x"
        note = r.note
        if r.extra:
            note = (note + "  " + ", ".join(f"{k}={_fmt(v)}" for k, v in r.extra.items())).strip()
        lines.append(f"{r.solver:>10s} {t:>10s} {g:>10s} {a:>7s} {ratio:>9s}  {note}")
    return "\n".join(lines)


def _timeout_of(note):
    if note.startswith("did not finish in "):
        return float(note.split()[4])
    return None


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)
