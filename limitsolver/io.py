"""Saving and loading a :class:`~limitsolver.solution.LimitSolution`: one ``.npz`` file.

Layout of the file (all entries are plain numeric or unicode arrays, so it loads with
``numpy.load(path, allow_pickle=False)``):

- ``X`` (n, d), ``Y`` (n, T): the data the problem was solved on;
- ``atom_directions`` (k0, d+1), ``atom_weights`` (k0, T): the exact atoms (what ``predict``
  and the certificates use); ``directions`` (k, d+1), ``weights`` (k, T): the merged summary;
- ``free_coef`` (p, T); ``dual_point`` (n, T), the certificate's feasible dual point;
- ``grid`` (M, d+1) and ``grid_weights`` (M, T) when present;
- ``extra__<name>``: any other array attribute the solution carries;
- ``metadata``: a 0-d unicode array holding a JSON document with the format tag, the
  library version, the problem options, the certificate's scalars (primal, dual, gap,
  rel_gap, max_correlation, infeasibility), lower_bound / limit_gap / lower_bound_exact,
  status, solver, info and other JSON-able attributes.

Floats go through JSON with Python's shortest round-trip repr (and ``NaN``/``Infinity``
literals), so every number and every array comes back bit-identical.
"""
from __future__ import annotations

import json
import os
import warnings
import zipfile

import numpy as np

__all__ = ["save_solution", "load_solution", "FORMAT"]

#: Format tag written into every file; ``load_solution`` refuses files without it.
FORMAT = "limitsolver-solution/1"

_ARRAYS = ("atom_directions", "atom_weights", "directions", "weights", "free_coef")
_OPTIONAL_ARRAYS = ("grid", "grid_weights")
_SCALARS = ("lower_bound", "limit_gap", "lower_bound_exact", "status", "solver")
_CERT_FIELDS = ("primal", "dual", "gap", "rel_gap", "max_correlation", "infeasibility")
# attributes rebuilt from the ones above, never stored as extras
_DERIVED = {"problem", "certificate", "objective", "dual_value", "gap", "rel_gap", "info",
            *_ARRAYS, *_OPTIONAL_ARRAYS, *_SCALARS}


def _jsonable(value):
    """``value`` made JSON-serializable (numpy scalars and arrays become Python objects);
    ``None`` when that is not possible."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype != object else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def save_solution(solution, path) -> str:
    """Write ``solution`` to one ``.npz`` file (``.npz`` is appended when missing).

    Parameters
    ----------
    solution : LimitSolution
    path : str or os.PathLike

    Returns
    -------
    str
        The path written.
    """
    from . import __version__

    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    p = solution.problem
    arrays = {"X": p.X, "Y": p.Y}
    for name in _ARRAYS:
        arrays[name] = np.asarray(getattr(solution, name), dtype=float)
    for name in _OPTIONAL_ARRAYS:
        value = getattr(solution, name, None)
        if value is not None:
            arrays[name] = np.asarray(value, dtype=float)
    cert = solution.certificate
    arrays["dual_point"] = np.asarray(cert.dual_point, dtype=float)
    extras = {}
    for name, value in vars(solution).items():
        if name in _DERIVED or name.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype != object:
            arrays["extra__" + name] = value
        else:
            encoded = _jsonable(value)
            if encoded is not None or value is None:
                extras[name] = encoded
    meta = {
        "format": FORMAT,
        "version": __version__,
        "options": p.options(),
        "certificate": {f: getattr(cert, f) for f in _CERT_FIELDS},
        "scalars": {name: _jsonable(getattr(solution, name, None)) for name in _SCALARS},
        "info": _jsonable(solution.info),
        "extras": extras,
    }
    text = json.dumps(meta, allow_nan=True)
    dirname = os.path.dirname(path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, metadata=np.array(text), **arrays)
    return path


def load_solution(path):
    """Read a solution written by :func:`save_solution` (no pickle is involved).

    Returns
    -------
    LimitSolution
        With the same problem, atoms, free part, certificate, status, solver and info; its
        ``predict``, ``summary``, ``penalty_value`` ... work as on the original.

    Raises
    ------
    ValueError
        If the file is not a limitsolver solution (or is damaged).
    OSError
        If the file cannot be read.
    """
    from .certificate import Certificate
    from .problem import LimitProblem
    from .solution import LimitSolution

    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):  # a plain .npy array
            raise ValueError("a single array, not an .npz archive")
        with data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not a limitsolver solution file ({exc})") from None
    if "metadata" not in arrays:
        raise ValueError(f"{path}: not a limitsolver solution file (no metadata entry)")
    try:
        meta = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: damaged metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a limitsolver solution file "
                         f"(format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                         f"expected {FORMAT!r})")
    missing = [k for k in ("X", "Y", "dual_point", *_ARRAYS) if k not in arrays]
    if missing:
        raise ValueError(f"{path}: damaged solution file, missing arrays {missing}")
    opts = meta["options"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem = LimitProblem(arrays["X"], arrays["Y"], **opts)
    cert = Certificate(dual_point=arrays["dual_point"],
                       **{f: float(meta["certificate"][f]) for f in _CERT_FIELDS})
    scalars = meta["scalars"]
    grid = arrays.get("grid")
    sol = LimitSolution(problem, arrays["atom_directions"], arrays["atom_weights"],
                        arrays["free_coef"], cert, status=scalars["status"],
                        solver=scalars["solver"], grid=grid, info=meta.get("info") or {})
    # the stored merged summary, not a recomputation
    sol.directions, sol.weights = arrays["directions"], arrays["weights"]
    for name in ("lower_bound", "limit_gap", "lower_bound_exact"):
        setattr(sol, name, scalars.get(name))
    if "grid_weights" in arrays:
        sol.grid_weights = arrays["grid_weights"]
    for name, value in meta.get("extras", {}).items():
        setattr(sol, name, value)
    for key, value in arrays.items():
        if key.startswith("extra__"):
            setattr(sol, key[len("extra__"):], value)
    return sol
