"""Save/load: one .npz + JSON metadata, no pickle, bit-identical round trip."""
import json
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.io import FORMAT, load_solution

from .conftest import random_problem


def _solve(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ls.ConvergenceWarning)
        return ls.solve(*args, **kw)


def _assert_identical(a, b):
    for name in ("atom_directions", "atom_weights", "directions", "weights", "free_coef",
                 "grid", "grid_weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.problem.X.tobytes() == b.problem.X.tobytes()
    assert a.problem.Y.tobytes() == b.problem.Y.tobytes()
    assert a.problem.options() == b.problem.options()
    for name in ("objective", "dual_value", "gap", "rel_gap", "lower_bound", "limit_gap",
                 "lower_bound_exact", "status", "solver"):
        assert getattr(a, name) == getattr(b, name), name
    ca, cb = a.certificate, b.certificate
    for f in ("primal", "dual", "gap", "rel_gap", "max_correlation", "infeasibility"):
        assert getattr(ca, f) == getattr(cb, f), f
    assert ca.dual_point.tobytes() == cb.dual_point.tobytes()


@pytest.mark.parametrize("kw", [
    dict(loss="squared", penalty="group", bias="regularized", free="none"),
    dict(loss="logistic", penalty="l1", bias="free", free="affine"),
])
def test_round_trip_is_exact(rng, tmp_path, kw):
    X, Y = random_problem(rng, n=14, d=2, T=2, loss=kw["loss"])
    grid = ls.cylinder_grid(2, 16, 6, 1.5) if kw["bias"] == "free" else ls.sphere_grid(3, 80)
    sol = _solve(X, Y, lam=0.02, grid=grid, **kw)
    sol.my_note = "kept"              # an extra attribute another module might add
    sol.my_array = np.arange(3.0)
    path = sol.save(tmp_path / "sol")
    assert path.endswith(".npz")
    back = ls.LimitSolution.load(path)
    _assert_identical(sol, back)
    assert back.info == json.loads(json.dumps(sol.info))
    # extra attributes come back in a dict, never as attributes set from the file
    assert not hasattr(back, "my_note")
    assert back.extras["my_note"] == "kept"
    assert back.extras["my_array"].tobytes() == sol.my_array.tobytes()
    # the loaded solution keeps working
    Xn = rng.uniform(-2, 2, size=(9, 2))
    assert sol.predict(Xn).tobytes() == back.predict(Xn).tobytes()
    assert back.summary() == sol.summary()
    assert back.penalty_value("l1") == sol.penalty_value("l1")
    assert back.penalty_value("group") == sol.penalty_value("group")
    assert back.shared_fraction == sol.shared_fraction
    assert np.array_equal(back.task_usage(), sol.task_usage())
    # and its certificate recomputes to the stored numbers (independent route: certify)
    cert = ls.certify(back.problem, back.grid, back.grid_weights, back.free_coef)
    assert cert.primal == pytest.approx(sol.objective, rel=1e-12)


def test_file_is_plain_npz_without_pickle(rng, tmp_path):
    X, Y = random_problem(rng, n=10, d=1, T=2)
    sol = _solve(X, Y, lam=0.05, grid=ls.sphere_grid(2, 40))
    assert sol.lower_bound is not None      # the limit certificate solve attaches
    path = sol.save(tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
        meta = json.loads(str(data["metadata"]))
    assert meta["format"] == FORMAT
    assert meta["version"] == ls.__version__
    assert meta["options"]["lam"] == 0.05 and meta["options"]["penalty"] == "group"
    assert meta["certificate"]["primal"] == sol.objective
    back = load_solution(path)
    assert (back.lower_bound, back.limit_gap, back.lower_bound_exact) == \
        (sol.lower_bound, sol.limit_gap, sol.lower_bound_exact)
    assert "lower bound" in back.summary()
    # 1-D kinks survive too
    assert back.kinks().tobytes() == sol.kinks().tobytes()


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", X=np.ones((3, 1)))
    with pytest.raises(ValueError, match="not a limitsolver solution"):
        ls.LimitSolution.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a limitsolver solution"):
        ls.LimitSolution.load(tmp_path / "junk.npz")
    with pytest.raises(OSError):
        ls.LimitSolution.load(tmp_path / "missing.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="not a limitsolver solution"):
        ls.LimitSolution.load(tmp_path / "single.npy")
