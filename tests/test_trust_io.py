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
