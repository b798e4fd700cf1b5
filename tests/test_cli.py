"""Command line: solve/path on CSV and NPZ files, round trip through save/load, bad files."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.cli import main

from .conftest import random_problem


def _write_csv(path, X, Y, names):
    with open(path, "w") as fh:
        fh.write(",".join(names) + "\n")
        for row in np.column_stack([X, Y]).tolist():
            fh.write(",".join(repr(v) for v in row) + "\n")


def _run(*args):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "limitsolver", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_solve_csv_round_trip(rng, tmp_path, capsys):
    X, Y = random_problem(rng, n=14, d=2, T=2)
    data = tmp_path / "data.csv"
    # an extra column that is neither a feature nor a target, columns out of order
    _write_csv(data, np.column_stack([X[:, 1], rng.normal(size=14), X[:, 0]]), Y,
               ["b", "unused", "a", "t1", "t2"])
    code = main(["solve", str(data), "--targets", "t1,t2", "--features", "a", "--features", "b",
                 "--lam", "0.02", "--free", "intercept", "--n-directions", "100",
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "features [a, b]" in out and "grid gap" in out and "dual value" in out
    sol = ls.LimitSolution.load(tmp_path / "out" / "data_solution.npz")
    assert (tmp_path / "out" / "data_fit.png").stat().st_size > 0
    ref = ls.solve(X, Y, lam=0.02, free="intercept", n_directions=100)
    assert sol.problem.X.tobytes() == ref.problem.X.tobytes()
    assert sol.objective == ref.objective and sol.gap == ref.gap
    for name in ("atom_directions", "atom_weights", "free_coef", "grid"):
        assert getattr(sol, name).tobytes() == getattr(ref, name).tobytes()
    assert f"{ref.objective:.10g}" in out


def test_solve_npz_and_path_in_a_subprocess(rng, tmp_path):
    X, Y = random_problem(rng, n=12, d=1, T=2)
    np.savez(tmp_path / "d.npz", X=X[:, 0], Y=Y)
    r = _run("solve", str(tmp_path / "d.npz"), "--lam", "0.01", "--penalty", "l1",
             "--solver", "clarabel", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    sol = ls.LimitSolution.load(tmp_path / "d_solution.npz")
    ref = ls.solve(X, Y, lam=0.01, penalty="l1", solver="clarabel")
    assert sol.objective == pytest.approx(ref.objective, rel=1e-10)
    assert (tmp_path / "d_fit.png").exists()
    r = _run("path", str(tmp_path / "d.npz"), "--targets", "1", "--n-lams", "4",
             "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    path = ls.limit_path(X, Y[:, 1], n_lams=4)
    out = r.stdout.splitlines()
    sep = next(i for i, ln in enumerate(out) if set(ln) == {"-"})
    table = [ln.split() for ln in out[sep + 1:sep + 5]]
    np.testing.assert_allclose([float(t[0]) for t in table], path.lams, rtol=1e-4)
    assert [int(t[5]) for t in table] == path.n_neurons.tolist()
    with open(tmp_path / "d_path.csv") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_allclose([float(r["lam"]) for r in rows], path.lams, rtol=1e-12)
    np.testing.assert_allclose([float(r["objective"]) for r in rows], path.objectives,
                               rtol=1e-8)
    # the path carries limit certificates: the CSV's bounds are the API's, below J
    np.testing.assert_allclose([float(r["lower_bound"]) for r in rows], path.lower_bounds,
                               rtol=1e-8)
    assert all(float(r["lower_bound"]) <= float(r["objective"]) * (1 + 1e-12) for r in rows)


@pytest.mark.parametrize("content,args,match", [
    ("x,y\n1,2\n2,3\n", ["--targets", "z"], "column 'z' not found"),
    ("x,y\n1,2\n2,abc\n", ["--targets", "y"], "line 3, column 'y': 'abc' is not a"),
    ("x,y\n1,2\n2,\n", ["--targets", "y"], "an empty cell"),
    ("x,y\n1,2\n2,nan\n", ["--targets", "y"], "not a finite number"),
    ("", ["--targets", "y"], "empty file"),
    ("x,y\n", ["--targets", "y"], "no data rows"),
    ("x,y\n1,2,3\n", ["--targets", "y"], "3 fields"),
    ("x,y\n1,2\n", [], "needs --targets"),
])
def test_bad_csv_one_line_exit_2(tmp_path, capsys, content, args, match):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    assert main(["solve", str(f), "--lam", "0.1", "--no-plot", "--out", str(tmp_path),
                 *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("limitsolver: error: ") and match in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "bad_solution.npz").exists()


def test_bad_files_in_a_subprocess(tmp_path):
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n2,oops\n")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    np.savez(tmp_path / "noy.npz", X=np.ones(4))
    (tmp_path / "d.txt").write_text("1 2\n")
    np.save(tmp_path / "arr.npy", np.ones(3))
    os.rename(tmp_path / "arr.npy", tmp_path / "arr.npz")
    cases = [("bad.csv", "'oops' is not a finite number"),
             ("junk.npz", "not a readable .npz file"),
             ("noy.npz", "missing array 'Y'"),
             ("missing.csv", "no such file"),
             ("d.txt", "unsupported file type"),
             ("arr.npz", "a single .npy array")]
    for name, match in cases:
        r = _run("solve", str(tmp_path / name), "--targets", "y", "--lam", "0.1")
        assert r.returncode == 2, (name, r.stderr)
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and match in lines[0], (name, r.stderr)
    r = _run("path", str(tmp_path / "bad.csv"), "--targets", "y")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", [[], ["demo"], ["solve"], ["path"]])
def test_help_with_examples(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and "limitsolver" in out
