"""The benchmark scripts run: each one's smallest configuration, on tiny problems.

Timings are never asserted; what is checked is that every code path of the default runs
(including the problem-3 peak-memory run), and that each solver is scored by the harness's
one gap routine, compared here with a certificate computed independently by Clarabel.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:               # the benchmarks folder is not an installed package
    sys.path.insert(0, ROOT)

from benchmarks import harness  # noqa: E402


def _script(name):
    spec = importlib.util.spec_from_file_location(
        f"_bench_{name}", os.path.join(ROOT, "benchmarks", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _clarabel_optimum(problem, dirs):
    """OPT(grid) of a reference problem (squared loss, group penalty, no free part)."""
    import cvxpy as cp
    Phi = np.maximum(problem.Xt @ dirs.T, 0.0)
    V = cp.Variable((dirs.shape[0], problem.T))
    obj = (cp.sum_squares(problem.Y - Phi @ V) / (2 * problem.n)
           + problem.lam * cp.sum(cp.norm(V, 2, axis=1)))
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL")
    return prob.value


def test_native_row_is_scored_by_the_gap_routine():
    problem, dirs = harness.make_problem(1, 0.02, M=64)
    row = harness.run_native(problem, dirs, tol=1e-8)
    assert row.solver == "native" and row.time > 0 and row.note == "optimal"
    assert row.rel_gap <= 1e-8 and row.active >= 1
    assert row.extra["passes"] >= 1
    # the gap routine is a certified bound: an independent optimum lies inside it
    from limitsolver.api import solve
    sol = solve(problem.X, problem.Y, **problem.options(), grid=dirs, solver="native",
                refine=False, certify_limit=False)
    opt = _clarabel_optimum(problem, dirs)
    assert sol.objective * (1 - row.rel_gap) <= opt * (1 + 1e-7)
    assert abs(sol.objective - opt) <= 1e-6 * opt
    # a perturbed point gets a larger certified gap from the same routine
    worse, _ = harness.score(problem, dirs, 1.01 * sol.grid_weights, sol.free_coef)
    assert worse > 1e-6


def test_bench_native_default_path_runs(capsys):
    """Problem 3 of the default run (table, peer subprocess, then the peak-memory run that
    used to crash), on 64 directions."""
    bench = _script("bench_native")
    bench.main(["--problems", "3", "--lams", "0.02", "--directions", "64",
                "--peers", "sklearn", "--timeout", "60"])
    out = capsys.readouterr().out
    assert out.count("\n== problem 3") == 1
    assert "native in a fresh process" in out and "peak RSS" in out
    assert "error" not in out and "crashed" not in out
    assert "   sklearn " in out and "fastest peer" in out


def test_celer_without_its_environment_is_skipped_with_a_hint(monkeypatch):
    monkeypatch.setenv("LIMITSOLVER_CELER_PYTHON", os.path.join(ROOT, "no-such-python"))
    row = harness.run_peer("celer", 1, 0.02, M=32)
    assert row.time is None and row.note.startswith("skipped")
    assert "python benchmarks/setup_celer.py" in row.note
    logistic = harness.run_peer("celer", 1, 0.02, M=32, loss="logistic")
    assert logistic.note.startswith("not applicable")


def test_celer_solution_is_near_optimal_by_our_gap():
    if harness.celer_python() is None:
        pytest.skip("no celer environment: python benchmarks/setup_celer.py creates it")
    row = harness.run_peer("celer", 3, 0.02, M=200, timeout=60)
    assert row.time is not None, row.note
    assert row.rel_gap <= 1e-6, row.rel_gap
    assert row.extra["overhead"] >= 0 and row.extra["build"] >= 0


def test_bench_path_and_bench_limit_smallest_runs(capsys, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))   # bench_limit's import
    assert _script("bench_path").main(["--n", "10", "--n-lams", "3"]) in (0, None)
    out = capsys.readouterr().out
    assert "OK: tolerance" in out
    assert _script("bench_limit").main(["--part", "2", "--n", "8", "--T", "2", "--dims", "1",
                                        "--repeat", "1", "--time-limit", "2",
                                        "--threads", "0"]) == 0
    out = capsys.readouterr().out
    assert "refined (incl. coarse start)" in out


def test_bench_interior_smallest_configuration_runs(capsys, tmp_path):
    """Both trees (here: this tree twice) alternate in subprocesses; the multinomial
    problem runs on the new tree only; ratios and uptime are printed."""
    bench = _script("bench_interior")
    ratios = bench.main(["--problems", "tiny-sq", "tiny-mn", "--repeats", "1",
                         "--old", ROOT, "--new", ROOT, "--timeout", "120"])
    out = capsys.readouterr().out
    assert "uptime before" in out and "uptime after" in out
    assert ratios["tiny-sq"] is not None and ratios["tiny-sq"] > 0
    assert ratios["tiny-mn"] is None                    # no old native multinomial solver
    assert "error" not in out and "timeout" not in out
    lines = [ln for ln in out.splitlines() if ln.startswith("tiny-")]
    assert len(lines) == 2 and all("gap" in ln for ln in lines)
    # a tree without the package is reported, and the new tree still runs
    bench.main(["--problems", "tiny-sq", "--repeats", "1", "--old", str(tmp_path),
                "--new", ROOT])
    assert "missing: new tree only" in capsys.readouterr().out
