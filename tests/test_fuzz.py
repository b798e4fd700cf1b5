"""Fuzzing the public entry points and the CLI with malformed inputs.

Every malformed input must end in a ValueError raised by limitsolver itself (its message
says what is wrong), or for the CLI in exit code 2 with a one-line error; never in a
traceback from inside numpy, scipy or cvxpy, and never in a hang.
"""
import traceback
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import limitsolver as ls
from limitsolver.cli import main

N_EXAMPLES = 60
SETTINGS = settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

GOOD_X = np.linspace(-1, 1, 6)[:, None]
GOOD_Y = np.column_stack([np.abs(GOOD_X[:, 0]), GOOD_X[:, 0] ** 2])

BAD_ARRAYS = st.sampled_from([
    "nan", "inf", "empty", "ragged", "text", "complex", "3d", "huge", "none", "wrong_rows",
    "object", "scalar",
])


def _bad(kind, good):
    good = np.array(good, dtype=float)
    if kind == "nan":
        a = good.copy(); a.flat[1] = np.nan; return a
    if kind == "inf":
        a = good.copy(); a.flat[0] = -np.inf; return a
    if kind == "empty":
        return np.zeros((0, good.shape[1]))
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    if kind == "text":
        return [["a"]] * good.shape[0]
    if kind == "complex":
        return good + 1j
    if kind == "3d":
        return good[:, :, None]
    if kind == "huge":
        a = good.copy(); a.flat[2] = 1e300; return a
    if kind == "none":
        return None
    if kind == "wrong_rows":
        return good[:-1]
    if kind == "object":
        return np.array([object()] * good.shape[0])
    return 3.0


def _from_limitsolver(exc):
    """The exception was raised by limitsolver's own code (its last frame is ours)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "limitsolver" in frames[-1].filename


def _expect_clean_error(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as info:
            fn(*args, **kw)
    assert _from_limitsolver(info.value), "".join(traceback.format_tb(info.value.__traceback__))
    assert str(info.value)
    return str(info.value)


@SETTINGS
@given(which=st.sampled_from(["X", "Y"]), kind=BAD_ARRAYS,
       loss=st.sampled_from(["squared", "logistic", "interpolate"]))
def test_bad_arrays(which, kind, loss):
    Y = np.sign(GOOD_Y - 0.4) if loss == "logistic" else GOOD_Y
    X = _bad(kind, GOOD_X) if which == "X" else GOOD_X
    Y = _bad(kind, Y) if which == "Y" else Y
    if which == "Y" and kind == "scalar":
        Y = 3.0
    _expect_clean_error(ls.solve, X, Y, lam=0.1, loss=loss, n_directions=40)


@SETTINGS
@given(lam=st.one_of(st.sampled_from([0.0, -1.0, np.nan, np.inf, "0.1", None, [0.1], True]),
                     st.floats(max_value=0.0)),
       loss=st.sampled_from(["squared", "logistic"]))
def test_bad_lambda(lam, loss):
    Y = np.sign(GOOD_Y - 0.4) if loss == "logistic" else GOOD_Y
    msg = _expect_clean_error(ls.solve, GOOD_X, Y, lam=lam, loss=loss, n_directions=40)
    assert "lam" in msg


@SETTINGS
@given(name=st.sampled_from(["loss", "penalty", "bias", "free", "solver"]),
       value=st.sampled_from(["", "Squared", "ridge", 3, None, "clarabel2"]))
def test_unknown_options(name, value):
    msg = _expect_clean_error(ls.solve, GOOD_X, GOOD_Y, lam=0.1, n_directions=40,
                              **{name: value})
    assert name in msg or repr(value) in msg


@SETTINGS
@given(label=st.sampled_from([0.0, 2.0, -0.5, 0.9999]), pos=st.integers(0, 11))
def test_logistic_labels_other_than_pm1(label, pos):
    Y = np.where(GOOD_Y > 0.4, 1.0, -1.0)
    Y.flat[pos] = label
    msg = _expect_clean_error(ls.solve, GOOD_X, Y, lam=0.1, loss="logistic", n_directions=40)
    assert "±1" in msg


@SETTINGS
@given(arg=st.sampled_from(["grid", "n_directions", "tol", "random_state"]),
       value=st.sampled_from([0, -3, 2.5, "many", np.nan, [[np.nan, 1.0]], [[0.0, 0.0]],
                              np.ones((3, 5)), np.ones(4)]))
def test_bad_grid_and_numbers(arg, value):
    if arg == "random_state" and isinstance(value, (int, np.integer)) and value >= 0:
        return
    _expect_clean_error(ls.solve, GOOD_X, GOOD_Y, lam=0.1, **{arg: value})


def test_conflicting_duplicates_cannot_be_interpolated():
    X = np.array([0.0, 1.0, 1.0, 2.0])
    Y = np.array([0.0, 1.0, 2.0, 0.0])
    msg = _expect_clean_error(ls.solve, X, Y, loss="interpolate")
    assert "cannot be interpolated" in msg and "samples 1 and 2" in msg
    # duplicates that agree are fine
    sol = ls.solve(X, np.array([0.0, 1.0, 1.0, 0.0]), loss="interpolate", solver="clarabel")
    assert np.allclose(sol.predict(X[:, None]).ravel(), [0, 1, 1, 0], atol=1e-6)


def test_constant_targets_are_solved_exactly():
    """Constant targets: with a free intercept the network is not needed (V = 0, objective
    0); without it the fit needs neurons but remains a well-posed problem."""
    X = np.linspace(-1, 1, 7)
    for loss in ("squared", "interpolate"):
        sol = ls.solve(X, np.full(7, 2.5), lam=0.1, loss=loss, free="intercept")
        assert sol.n_neurons == 0 and abs(sol.objective) <= 1e-12
        assert np.allclose(sol.intercept, 2.5)
    sol = ls.solve(X, np.full(7, 2.5), lam=0.1)
    assert sol.status == "optimal" and sol.n_neurons >= 1


def test_huge_and_tiny_targets_keep_their_certificate():
    X = np.linspace(-1, 1, 9)
    Y = np.column_stack([np.abs(X), X ** 2])
    base = ls.solve(X, Y, lam=0.01, free="intercept")
    for c in (1e-6, 1e6):
        sol = ls.solve(X, c * Y, lam=0.01 * c, free="intercept")
        assert sol.status == "optimal"
        assert abs(sol.objective / c**2 - base.objective) <= 1e-6 * base.objective


def _write(path, text):
    path.write_text(text)
    return str(path)


CLI_CASES = [
    ("empty.csv", "", ["--targets", "y", "--lam", "0.1"]),
    ("header.csv", "x,y\n", ["--targets", "y", "--lam", "0.1"]),
    ("missing.csv", "x,y\n1,2\n2,3\n", ["--targets", "z", "--lam", "0.1"]),
    ("text.csv", "x,y\n1,a\n2,3\n", ["--targets", "y", "--lam", "0.1"]),
    ("nan.csv", "x,y\n1,nan\n2,3\n", ["--targets", "y", "--lam", "0.1"]),
    ("cell.csv", "x,y\n1,\n2,3\n", ["--targets", "y", "--lam", "0.1"]),
    ("ragged.csv", "x,y\n1,2,3\n2,3\n", ["--targets", "y", "--lam", "0.1"]),
    ("ok.csv", "x,y\n1,2\n2,3\n3,1\n", ["--targets", "y", "--lam", "-1"]),
    ("ok2.csv", "x,y\n1,2\n2,3\n3,1\n", ["--targets", "y", "--lam", "abc"]),
    ("ok3.csv", "x,y\n1,2\n2,3\n3,1\n", ["--targets", "y", "--lam", "0.1", "--loss", "logistic"]),
    ("dup.csv", "x,y\n1,2\n1,3\n3,1\n", ["--targets", "y", "--loss", "interpolate"]),
    ("ok4.csv", "x,y\n1,2\n2,3\n3,1\n", ["--targets", "y", "--lam", "0.1", "--solver", "nope"]),
    ("bad.npz", "not a zip", ["--lam", "0.1"]),
    ("nofile.csv", None, ["--targets", "y", "--lam", "0.1"]),
]


@pytest.mark.parametrize("name,text,args", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, name, text, args):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    code = main(["solve", str(path), "--no-plot", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("call", [
    lambda: ls.sweep(3),
    lambda: ls.lam_max("not a problem"),
    lambda: ls.solve(GOOD_X, GOOD_Y, lam=0.1, n_directions=30, warm_start=3),
    lambda: ls.limit_path(GOOD_X, GOOD_Y, lams=[-1.0, 0.1]),
    lambda: ls.limit_path(GOOD_X, GOOD_Y, eps=2.0),
    lambda: ls.limit_path(GOOD_X, GOOD_Y, n_lams=0),
    lambda: ls.cylinder_grid(2, 10, 0, 1.0),
    lambda: ls.solve(GOOD_X, GOOD_Y, lam=0.1, n_directions=30).predict(np.ones((3, 2))),
    lambda: ls.solve(GOOD_X, GOOD_Y, lam=0.1, n_directions=30).predict([[np.nan]]),
    lambda: ls.solve(GOOD_X, GOOD_Y, lam=0.1, n_directions=30, solver="clarabel", foo=1),
], ids=["sweep", "lam_max", "warm_start", "path_lams", "path_eps", "path_n", "cylinder",
        "predict_shape", "predict_nan", "solver_option"])
def test_other_entry_points(call):
    _expect_clean_error(call)
