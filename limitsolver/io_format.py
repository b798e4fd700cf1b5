"""The solution file: one ``.npz`` archive, its layout, writing it and reading it back raw.

Layout of the file (schema version 1; all entries are plain numeric or unicode arrays, so
it loads with ``numpy.load(path, allow_pickle=False)``):

- ``X`` (n, d), ``Y`` (n, T): the data the problem was solved on;
- ``atom_directions`` (k0, d+1), ``atom_weights`` (k0, T): the exact atoms (what ``predict``
  and the certificates use); ``directions`` (k, d+1), ``weights`` (k, T): the merged summary;
- ``free_coef`` (p, T), p = 0, 1 or d+1 for ``free`` = none, intercept, affine;
  ``dual_point`` (n, T), the certificate's feasible dual point;
- ``grid`` (M, d+1) and ``grid_weights`` (M, T) when present (``grid_weights`` needs ``grid``);
- ``extra__<name>``: any other array attribute the solution carried;
- ``metadata``: a 0-d unicode array holding a JSON object with exactly the keys
  ``format`` (= :data:`FORMAT`), ``schema_version`` (= :data:`SCHEMA_VERSION`), ``version``
  (the library's), ``options`` (lam, loss, penalty, bias, free), ``certificate`` (primal,
  dual, gap, rel_gap, max_correlation, infeasibility), ``scalars`` (lower_bound, limit_gap,
  lower_bound_exact, status, solver), ``info`` and ``extras`` (other JSON-able attributes).

Files without ``schema_version`` (written before it existed) are read as version 1 and
validated the same way.

Loading (:func:`limitsolver.io_verify.read_solution`, behind ``LimitSolution.load`` and
:func:`limitsolver.io.load_solution`) never trusts the file: every key, type and shape is
checked (a ``ValueError`` says what is wrong and where), and the solution is re-certified
from its stored data by :func:`limitsolver.io_verify.verify_solution` (objective, grid dual
value and gap recomputed from X, Y, atoms, free part and dual point; the limit lower bound
recomputed for d ≤ 2); a file whose stored numbers disagree with the recomputation is
refused. Extra attributes come back in the dict ``solution.extras``; nothing from a file is
ever set as an attribute.

Floats go through JSON with Python's shortest round-trip repr (and ``NaN``/``Infinity``
literals), so every number and every array comes back bit-identical.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from .version import __version__

__all__ = ["write_solution", "read_file", "FORMAT", "SCHEMA_VERSION", "ARRAYS",
           "OPTIONAL_ARRAYS", "SCALARS", "CERT_FIELDS", "OPTION_KEYS"]

#: Format tag written into every file; ``load_solution`` refuses files without it.
FORMAT = "limitsolver-solution/1"
#: Version of the layout described in the module docstring (absent in older files: 1).
SCHEMA_VERSION = 1

#: Arrays every file holds (besides X, Y and dual_point) ...
ARRAYS = ("atom_directions", "atom_weights", "directions", "weights", "free_coef")
#: ... arrays it holds when the solution has them ...
OPTIONAL_ARRAYS = ("grid", "grid_weights")
#: ... the solution's scalar attributes, the certificate's fields and the problem options
#: in the metadata.
SCALARS = ("lower_bound", "limit_gap", "lower_bound_exact", "status", "solver")
CERT_FIELDS = ("primal", "dual", "gap", "rel_gap", "max_correlation", "infeasibility")
OPTION_KEYS = ("lam", "loss", "penalty", "bias", "free")
_META_REQUIRED = ("format", "options", "certificate", "scalars")
_META_OPTIONAL = ("schema_version", "version", "info", "extras")
# attributes rebuilt from the ones above, never stored as extras
_DERIVED = {"problem", "certificate", "objective", "dual_value", "gap", "rel_gap", "info",
            "extras", *ARRAYS, *OPTIONAL_ARRAYS, *SCALARS}


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


def _extras_of(solution):
    """(JSON extras, array extras) of a solution: its ``extras`` dict plus any attribute
    that is not part of the schema."""
    items = dict(getattr(solution, "extras", None) or {})
    for name, value in vars(solution).items():
        if name not in _DERIVED and not name.startswith("_"):
            items[name] = value
    extras, arrays = {}, {}
    for name, value in items.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            arrays["extra__" + str(name)] = value
        else:
            encoded = _jsonable(value)
            if encoded is not None or value is None:
                extras[str(name)] = encoded
    return extras, arrays


def write_solution(solution: Any, path: str | os.PathLike) -> str:
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
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    p = solution.problem
    arrays = {"X": p.X, "Y": p.Y}
    for name in ARRAYS:
        arrays[name] = np.asarray(getattr(solution, name), dtype=float)
    for name in OPTIONAL_ARRAYS:
        value = getattr(solution, name, None)
        if value is not None:
            arrays[name] = np.asarray(value, dtype=float)
    cert = solution.certificate
    arrays["dual_point"] = np.asarray(cert.dual_point, dtype=float)
    extras, extra_arrays = _extras_of(solution)
    arrays.update(extra_arrays)
    meta = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "version": __version__,
        "options": p.options(),
        "certificate": {f: getattr(cert, f) for f in CERT_FIELDS},
        "scalars": {name: _jsonable(getattr(solution, name, None)) for name in SCALARS},
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


def _read_arrays(path: str) -> dict:
    """Every entry of the archive, decompressed; damage becomes a ValueError naming the file
    (and the entry, when one entry is damaged)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not a limitsolver solution file ({exc})") from None
    if not hasattr(data, "files"):  # a plain .npy array
        raise ValueError(f"{path}: not a limitsolver solution file (a single array, not an "
                         ".npz archive)")
    arrays = {}
    with data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
                raise ValueError(f"{path}: damaged solution file: entry {key!r} cannot be "
                                 f"read ({type(exc).__name__}: {exc})") from None
    return arrays


def _read_meta(path: str, arrays: dict) -> dict:
    """The metadata JSON object, with its top-level keys and format checked."""
    if "metadata" not in arrays:
        raise ValueError(f"{path}: not a limitsolver solution file (no metadata entry)")
    raw = arrays.pop("metadata")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValueError(f"{path}: damaged metadata (expected a text entry, got dtype "
                         f"{raw.dtype}, shape {raw.shape})")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: damaged metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a limitsolver solution file "
                         f"(format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                         f"expected {FORMAT!r})")
    version = meta.get("schema_version", 1)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise ValueError(f"{path}: metadata 'schema_version' is {version!r}; this version of "
                         f"limitsolver reads schema version {SCHEMA_VERSION}")
    missing = [k for k in _META_REQUIRED if k not in meta]
    if missing:
        raise ValueError(f"{path}: damaged solution file, metadata is missing the key "
                         f"{missing[0]!r}")
    unknown = sorted(set(meta) - set(_META_REQUIRED) - set(_META_OPTIONAL))
    if unknown:
        raise ValueError(f"{path}: unknown metadata key {unknown[0]!r} (schema version "
                         f"{SCHEMA_VERSION} has {', '.join(_META_REQUIRED + _META_OPTIONAL)})")
    return meta


def read_file(path: str) -> tuple[dict, dict]:
    """(arrays, metadata) of a solution file: every entry decompressed, the metadata JSON
    parsed with its top-level keys, format tag and schema version checked (ValueError
    naming the file otherwise). Nothing else is validated here
    (:mod:`limitsolver.io_verify` does that)."""
    arrays = _read_arrays(path)
    return arrays, _read_meta(path, arrays)
