"""Trust in files, long work, the command line and messages.

Solution files are validated and re-certified on load; an interrupted path keeps what was
solved; progress reporting; command-line checks before the solve; clear input errors."""
import json
import os
import zipfile

import numpy as np
import pytest

import limitsolver as ls

# ---- solution files ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small certified 1-D solution written to disk (grid given: no refinement)."""
    rng = np.random.default_rng(3)
    X = np.sort(rng.uniform(-1, 1, 12))[:, None]
    Y = np.column_stack([np.abs(X[:, 0]), np.sin(2 * X[:, 0])])
    sol = ls.solve(X, Y, lam=1e-2, grid=ls.sphere_grid(2, 60))
    path = sol.save(tmp_path_factory.mktemp("files") / "sol.npz")
    return sol, path


def _contents(path):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("metadata")))
    return arrays, meta


def _write(path, arrays, meta):
    np.savez(path, metadata=np.array(json.dumps(meta, allow_nan=True)), **arrays)
    return path


def _tampered(saved, tmp_path, edit):
    arrays, meta = _contents(saved[1])
    edit(arrays, meta)
    return _write(tmp_path / "edited.npz", arrays, meta)


def test_genuine_file_loads_certified(saved):
    sol, path = saved
    back = ls.LimitSolution.load(path)
    assert back.status == sol.status == "optimal"
    assert back.objective == sol.objective and back.lower_bound == sol.lower_bound
    # independent check: the stored weights reproduce the stored objective
    cert = ls.certify(back.problem, back.grid, back.grid_weights, back.free_coef)
    assert cert.primal == pytest.approx(back.objective, rel=1e-12)


def _double_objective(a, m):
    m["certificate"]["primal"] *= 2
    m["certificate"]["gap"] = m["certificate"]["primal"] - m["certificate"]["dual"]


def _raise_dual(a, m):
    c = m["certificate"]
    c["dual"] = c["primal"] * (1 + 1e-3)        # a "bound" above the objective
    c["gap"] = c["primal"] - c["dual"]


def _scale_weight(a, m):
    a["atom_weights"] = a["atom_weights"].copy()
    a["atom_weights"][0] *= 1.5


@pytest.mark.parametrize("edit, match", [
    (_double_objective, "objective"),
    (lambda a, m: m["scalars"].update(status="banana"), "status"),
    (lambda a, m: m["scalars"].update(lower_bound=m["certificate"]["primal"] * 1.5,
                                      limit_gap=-0.5 * m["certificate"]["primal"]),
     "above the objective"),
    (lambda a, m: a.update(atom_weights=a["atom_weights"][:, :1]), "atom_weights.*shape"),
    (lambda a, m: a.update(atom_directions=np.full_like(a["atom_directions"], np.nan)),
     "atom_directions.*NaN"),
    (lambda a, m: a.update(weights=a["weights"].astype(str)), "weights.*floats"),
    (lambda a, m: m.pop("options"), "'options'"),
    (lambda a, m: m["options"].pop("loss"), "'loss'"),
    (lambda a, m: m.update(schema_version=2), "schema_version"),
    (lambda a, m: m.update(surprise=1), "unknown metadata key 'surprise'"),
    (lambda a, m: a.update(evil=np.ones(3)), "unknown array 'evil'"),
    (_scale_weight, "objective"),
    (_raise_dual, "dual value"),
    (lambda a, m: a.update(dual_point=a["dual_point"] + 0.01 * np.cos(
        np.arange(a["dual_point"].size)).reshape(a["dual_point"].shape)), "dual value"),
    (lambda a, m: m["certificate"].update(primal="0.1"), "must be a number"),
])
def test_edited_file_is_refused(saved, tmp_path, edit, match):
    path = _tampered(saved, tmp_path, edit)
    with pytest.raises(ValueError, match=match) as info:
        ls.LimitSolution.load(path)
    assert str(path) in str(info.value)


def test_raised_lower_bound_never_comes_back(saved, tmp_path):
    sol, _ = saved
    lb = 0.5 * (sol.lower_bound + sol.objective)

    def edit(a, m):
        m["scalars"].update(lower_bound=lb, limit_gap=sol.objective - lb)
    with pytest.warns(UserWarning, match="lower bound"):
        back = ls.LimitSolution.load(_tampered(saved, tmp_path, edit))
    assert back.lower_bound == pytest.approx(sol.lower_bound, rel=1e-12)
    assert back.limit_gap == pytest.approx(sol.objective - sol.lower_bound, rel=1e-9)


def test_extras_never_replace_attributes(saved, tmp_path):
    def edit(a, m):
        m["extras"] = {"predict": "hijacked", "objective": -1.0, "note": "kept"}
    back = ls.LimitSolution.load(_tampered(saved, tmp_path, edit))
    X = np.linspace(-1, 1, 5)[:, None]
    assert np.array_equal(back.predict(X), saved[0].predict(X))
    assert back.objective == saved[0].objective
    assert back.extras == {"predict": "hijacked", "objective": -1.0, "note": "kept"}


def test_optimal_label_needs_a_certified_gap(saved, tmp_path):
    sol, _ = saved
    p = sol.problem
    W = sol.atom_weights * 1.05                         # a genuine but suboptimal point
    cert = ls.certify(p, sol.atom_directions, W, sol.free_coef)
    assert cert.rel_gap > 1e-4
    worse = ls.LimitSolution(p, sol.atom_directions, W, sol.free_coef, cert,
                             status="optimal", solver="test", grid=sol.atom_directions)
    with pytest.raises(ValueError, match="status 'optimal'"):
        ls.LimitSolution.load(worse.save(tmp_path / "mislabelled.npz"))
    worse.status = "inaccurate"
    back = ls.LimitSolution.load(worse.save(tmp_path / "labelled.npz"))
    assert back.status == "inaccurate" and back.gap == cert.gap


def test_grid_larger_than_the_certified_set_is_recertified(saved, tmp_path):
    """A certificate computed on a subset of the stored grid (a refinement stores its
    starting grid with the working set appended) is recomputed over the stored grid."""
    sol, _ = saved
    p = sol.problem
    W = sol.atom_directions
    cert = ls.certify(p, W, sol.atom_weights, sol.free_coef)     # feasible on W only
    extra = ls.sphere_grid(2, 400)
    full = np.vstack([extra, W])
    on_full = ls.certify(p, full, np.vstack([np.zeros((400, p.T)), sol.atom_weights]),
                         sol.free_coef, Z=[cert.dual_point])
    assert on_full.dual < cert.dual                 # the dual point is infeasible on extra
    part = ls.LimitSolution(p, W, sol.atom_weights, sol.free_coef, cert, status="inaccurate",
                            solver="test", grid=full)
    with pytest.warns(UserWarning, match="not feasible over the stored grid"):
        back = ls.LimitSolution.load(part.save(tmp_path / "part.npz"))
    assert back.dual_value == pytest.approx(on_full.dual, rel=1e-12)
    assert back.gap == pytest.approx(on_full.gap, rel=1e-9, abs=1e-15)


def test_file_without_schema_version_is_read_as_version_1(saved, tmp_path):
    back = ls.LimitSolution.load(_tampered(saved, tmp_path,
                                           lambda a, m: m.pop("schema_version", None)))
    assert back.objective == saved[0].objective
    assert _contents(saved[1])[1]["schema_version"] == 1


def test_corrupted_bytes_name_the_file(saved, tmp_path):
    raw = bytearray(open(saved[1], "rb").read())
    with zipfile.ZipFile(saved[1]) as z:
        info = z.getinfo("atom_weights.npy")
    # inside the compressed data of one entry (local header: 30 bytes + name + extra)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 8
    for k in range(start, start + min(40, info.compress_size - 10)):
        raw[k] ^= 0x5A
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt.npz.*damaged"):
        ls.LimitSolution.load(path)


# ---- long work: Ctrl-C keeps what is done ----------------------------------------------

def _path_data():
    rng = np.random.default_rng(5)
    X = np.sort(rng.uniform(-1, 1, 10))
    Y = np.column_stack([np.abs(X), X ** 2 - 0.3])
    return X, Y


def _interrupt_after(monkeypatch, calls: int):
    """Make the k-th grid solve of a path raise KeyboardInterrupt (as Ctrl-C would)."""
    import limitsolver.path as path_mod
    real, seen = path_mod.solve_problem, []

    def solve(*args, **kw):
        seen.append(1)
        if len(seen) == calls:
            raise KeyboardInterrupt
        return real(*args, **kw)
    monkeypatch.setattr(path_mod, "solve_problem", solve)


def test_interrupted_path_returns_the_solved_rows(monkeypatch):
    X, Y = _path_data()
    grid = ls.sphere_grid(2, 48)
    lmax = ls.lam_max(ls.LimitProblem(X, Y, lam=1.0), grid)
    lams = [lmax * f for f in (0.5, 0.2, 0.1, 0.05, 0.02)]
    _interrupt_after(monkeypatch, 4)
    with pytest.warns(UserWarning, match="interrupted: 3 of 5"):
        try:
            path = ls.limit_path(X, Y, lams=lams, grid=grid)
        except KeyboardInterrupt:
            pytest.fail("limit_path let the KeyboardInterrupt escape")
    assert path.interrupted and len(path) == 3 and len(path.requested) == 5
    assert path.lams.tolist() == lams[:3]
    monkeypatch.undo()
    for lam, sol in zip(path.lams, path.solutions):     # independent cold solves
        ref = ls.solve(X, Y, lam=lam, grid=grid, certify_limit=False)
        assert sol.objective == pytest.approx(ref.objective, rel=1e-7, abs=1e-12)
    assert "interrupted" in repr(path) and len(path.table().splitlines()) == 2 + 3


def test_cli_path_interrupt_writes_rows_and_exits_130(monkeypatch, tmp_path, capsys):
    from limitsolver.cli import main
    X, Y = _path_data()
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    _interrupt_after(monkeypatch, 3)
    try:
        code = main(["path", str(tmp_path / "d.npz"), "--n-lams", "5", "--eps", "0.01",
                     "--n-directions", "48", "--out", str(tmp_path / "out")])
    except KeyboardInterrupt:
        pytest.fail("the command line let the KeyboardInterrupt escape")
    out, err = capsys.readouterr()
    assert code == 130
    assert err.strip().splitlines() == ["limitsolver: interrupted after 3 of 5 λ values "
                                        "(the solved rows were written)"]
    rows = (tmp_path / "out" / "d_path.csv").read_text().splitlines()
    assert len(rows) == 1 + 3
    printed = [ln for ln in out.splitlines() if ln[:1] == " " and "e-" in ln[:12]]
    assert len(printed) == 3


def test_cli_path_sigint_in_a_subprocess(tmp_path):
    import signal
    import subprocess
    import sys
    X, Y = _path_data()
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    root = os.path.dirname(os.path.dirname(os.path.abspath(ls.__file__)))
    env = dict(os.environ, PYTHONPATH=root, MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "limitsolver", "path",
                             str(tmp_path / "d.npz"), "--n-lams", "5000", "--eps", "1e-6",
                             "--out", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        while len(lines) < 4:                  # header, rule, two solved rows
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if lines or line.lstrip().startswith("lam "):
                lines.append(line)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert "Traceback" not in err
    rows = (tmp_path / "d_path.csv").read_text().splitlines()
    assert len(rows) - 1 >= 2


# ---- progress and the path plot ---------------------------------------------------------

def test_progress_default_is_off_in_tests_and_validated():
    from limitsolver.progress import progress_bar, progress_enabled
    assert progress_enabled(None) is False and progress_enabled(True) is True
    with pytest.raises(ValueError, match="progress"):
        progress_enabled("yes")
    bar = progress_bar([1, 2], progress=False)
    assert list(bar) == [1, 2]


def test_progress_bars_on_long_calls(capsys):
    pytest.importorskip("tqdm")
    X, Y = _path_data()
    grid = ls.sphere_grid(2, 32)
    ls.sweep([dict(X=X, Y=Y, lam=lam, grid=grid) for lam in (0.1, 0.05)], progress=True)
    assert "sweep" in capsys.readouterr().err
    ls.sweep([dict(X=X, Y=Y, lam=0.1, grid=grid)])
    assert capsys.readouterr().err == ""
    ls.limit_path(X, Y, n_lams=3, grid=grid, progress=True)
    assert "limit_path" in capsys.readouterr().err
    ls.solve(X, Y, lam=1e-2, refine=True, progress=True)
    assert "refine" in capsys.readouterr().err
    ls.validate(X, Y, lam=0.05, widths=(4,), seeds=(0,), steps=50, verbose=False,
                compare_penalties=False, grid=grid, progress=True)
    assert "validate" in capsys.readouterr().err


def test_plot_path_draws_the_path_numbers():
    import matplotlib.pyplot as plt

    from limitsolver.plotting import plot_path
    X, Y = _path_data()
    path = ls.limit_path(X, Y, n_lams=4, grid=ls.sphere_grid(2, 40))
    fig, ax0 = plt.subplots()
    ax = plot_path(path, ax=ax0)
    assert ax is ax0 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert np.array_equal(lines["objective"].get_xdata(), path.lams)
    np.testing.assert_array_equal(lines["objective"].get_ydata(), path.objectives)
    assert "grid gap" in lines
    (steps,) = ax.neurons_axis.get_lines()
    np.testing.assert_array_equal(steps.get_ydata(), path.n_neurons)
    plt.close(fig)
    assert isinstance(plot_path(path), type(ax0))
    plt.close("all")


# ---- command line and messages ----------------------------------------------------------

def _csv(path, text):
    path.write_text(text)
    return str(path)


def test_out_is_checked_before_the_solve(monkeypatch, tmp_path, capsys):
    import limitsolver.api as api
    from limitsolver.cli import main

    def no_solve(*a, **k):
        raise AssertionError("the solve ran before --out was checked")
    monkeypatch.setattr(api, "solve", no_solve)
    data = _csv(tmp_path / "d.csv", "x,y\n0,1\n1,2\n2,0\n")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for out, match in ((blocker, "exists and is not a folder"),
                       (blocker / "sub", "cannot write there")):
        code = main(["solve", data, "--targets", "y", "--lam", "0.1", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and match in err and "Errno" not in err, err
    code = main(["path", data, "--targets", "y", "--out", str(blocker)])
    assert code == 2 and "not a folder" in capsys.readouterr().err


def test_csv_without_header_row_says_so(tmp_path):
    from limitsolver.datafiles import read_data
    f = _csv(tmp_path / "noheader.csv", "0.27,1.5\n0.27,2.5\n0.3,1.0\n")
    with pytest.raises(ValueError, match="header row of column names is needed"):
        read_data(f, targets=["y"])


def test_logistic_labels_message_gives_the_mapping():
    X = np.linspace(-1, 1, 6)
    with pytest.raises(ValueError) as info:
        ls.solve(X, np.array([0, 1, 1, 0, 1, 0.0]), lam=0.1, loss="logistic")
    msg = str(info.value)
    assert "needs labels ±1" in msg and "2·y − 1" in msg and "np.float64" not in msg


@pytest.mark.parametrize("which", ["X", "Y"])
def test_numeric_strings_are_refused(which):
    X, Y = np.linspace(-1, 1, 5), np.linspace(0, 1, 5)
    args = {"X": X, "Y": Y}
    args[which] = args[which].astype(str)
    with pytest.raises(ValueError, match=f"{which} must be numeric"):
        ls.solve(args["X"], args["Y"], lam=0.1)
    args[which] = np.array(list(args[which]), dtype=object)
    with pytest.raises(ValueError, match=f"{which} must be numeric"):
        ls.solve(args["X"], args["Y"], lam=0.1)


def test_fitted_plot_legend_uses_target_names(monkeypatch, tmp_path):
    import matplotlib.figure

    from limitsolver.cli import main
    legends = []
    real = matplotlib.figure.Figure.savefig

    def savefig(fig, *a, **k):
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend()
                       for t in ax.get_legend().get_texts())
        return real(fig, *a, **k)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    x = np.linspace(-1, 1, 8).tolist()
    rows = "\n".join(f"{a!r},{abs(a)!r},{a * a!r}" for a in x)
    data = _csv(tmp_path / "d.csv", "x,height,weight\n" + rows + "\n")
    assert main(["solve", data, "--targets", "height,weight", "--lam", "0.01",
                 "--n-directions", "40", "--out", str(tmp_path)]) == 0
    assert legends == ["height", "weight"]


def test_compare_logistic_labels_errors_and_adds_accuracy():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (15, 1))
    cls = np.digitize(X[:, 0], [-0.3, 0.4])             # three classes
    Y = -np.ones((15, 3))
    Y[np.arange(15), cls] = 1.0                          # one-vs-rest ±1 labels
    tab = ls.compare(X, Y, lam=1e-2, loss="logistic", penalties=("group",),
                     grid=ls.sphere_grid(2, 40), X_test=X[:5], Y_test=Y[:5])
    text = str(tab)
    assert "label err" in text and "train acc" in text
    r = tab["group"]
    pred = r.solution.predict(X)
    assert r.train_accuracy == np.mean(np.argmax(pred, 1) == cls)
    assert r.test_accuracy == np.mean(np.argmax(pred[:5], 1) == cls[:5])
    assert r.train_error == np.mean(np.where(pred >= 0, 1.0, -1.0) != Y)
    # not one-vs-rest: no accuracy column
    Y2 = np.where(X - 0.1 > 0, 1.0, -1.0)
    tab2 = ls.compare(X, np.column_stack([Y2, -Y2 * 0 + 1]), lam=1e-2, loss="logistic",
                      penalties=("group",), grid=ls.sphere_grid(2, 40))
    assert tab2["group"].train_accuracy is None and "acc" not in str(tab2).split("\n")[2]


def test_available_solvers_can_solve_what_they_claim():
    import warnings

    from limitsolver.solvers import PROBLEM_CLASSES, solver_capabilities
    caps = solver_capabilities()
    assert ls.available_solvers() == list(caps)
    X = np.linspace(-1, 1, 6)
    Y = np.column_stack([np.abs(X), X ** 2])
    Yl = np.where(Y > np.median(Y, 0), 1.0, -1.0)
    for name in caps:
        assert caps[name], name
        for loss, pen in PROBLEM_CLASSES:
            kw = dict(loss=loss, penalty=pen, solver=name, refine=False,
                      certify_limit=False, lam=None if loss == "interpolate" else 0.05)
            target = (Yl if loss == "logistic" else np.arange(6) % 3 if loss == "multinomial"
                      else Y)
            if (loss, pen) in caps[name]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sol = ls.solve(X, target, n_directions=64, **kw)
                assert np.isfinite(sol.objective) and sol.rel_gap < 1e-4, (name, loss, pen)
            else:
                with pytest.raises(ValueError, match="cannot solve|does not support"):
                    ls.solve(X, target, n_directions=64, **kw)


def test_unreliable_backend_is_not_claimed_and_auto_skips_it():
    """ECOS fails numerically on this small softmax problem with the l1 penalty (its
    exponential cones; Clarabel solves it): it is not claimed for that pair, asking for it
    says which solvers can, and ``solver="auto"`` returns a certified point. If a future
    ECOS solves it, the first check fails and the exclusion can go."""
    import warnings

    from limitsolver.grids import default_grid
    from limitsolver.problem import LimitProblem
    from limitsolver.solvers import UNRELIABLE, SolverFailed, solver_capabilities
    from limitsolver.solvers.conic import ConicModel, installed_conic_solvers
    X = np.linspace(-1, 1, 6)
    y = np.arange(6) % 3
    kw = dict(loss="multinomial", penalty="l1", refine=False, certify_limit=False, lam=0.05,
              n_directions=64)
    if "ECOS" in installed_conic_solvers():
        assert ("ECOS", "multinomial", "l1") in UNRELIABLE
        p = LimitProblem(X, y, lam=0.05, loss="multinomial", penalty="l1")
        dirs = p.check_directions(default_grid(p.X, "regularized", 64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(SolverFailed):
                ConicModel(p, dirs).solve(0.05, "ECOS", 1e-8)
        assert ("multinomial", "l1") not in solver_capabilities().get("ecos", [])
        with pytest.raises(ValueError, match="cannot solve"):
            ls.solve(X, y, solver="ecos", **kw)
    sol = ls.solve(X, y, **kw)
    assert sol.status == "optimal" and sol.certificate.rel_gap <= 1e-8
