"""bench_scaling's smallest path: a native point and a peer through the harness's one
subprocess runner, both scored by the harness's gap routine; a peer's time-out is printed
as a lower bound on the ratio. Timings are never asserted."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import bench_scaling, harness  # noqa: E402

SPEC = dict(n=40, d=2, T=2, M=60, frac=0.1)


def test_native_and_peer_points_are_scored_by_one_routine():
    nat = bench_scaling.run_native(SPEC, tol=1e-8, timeout=120)
    assert "note" not in nat and nat["rel_gap"] <= 1e-8 and nat["passes"] >= 1
    t, gap, note = bench_scaling.run_peer("sklearn", SPEC, tol=1e-12, timeout=60)
    assert t is not None and note == "", note
    # the same recipe rebuilt here and scored by the harness agrees with the runner's gap
    problem, dirs = harness.build_problem(
        harness.problem_spec("benchmarks.bench_scaling:make", **SPEC))
    ref, _ = bench_scaling.make(**SPEC)
    assert problem.lam == ref.lam and gap >= 0.0
    row = bench_scaling._row("M", SPEC, nat, {"sklearn": (t, gap, note),
                                              "celer": (None, None, "did not finish in 60 s")})
    assert "sklearn:" in row and "celer: did not finish in 60 s (>" in row
