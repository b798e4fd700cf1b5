"""Reading data files for the command line: CSV with a header row, or NPZ with arrays X, Y.

CSV: comma-separated, first row = column names, every other row = numbers (one sample per
row). ``targets`` names the target columns (one task each); ``features`` names the input
columns (default: every column that is not a target). Empty cells, text, NaN and inf are
errors that name the line and the column.

NPZ: arrays ``X`` (n, d) or (n,) and ``Y`` (n, T) or (n,); ``features`` / ``targets`` may
select columns by 0-based index. Loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import csv
import os
import zipfile

import numpy as np

__all__ = ["DataFileError", "read_data", "parse_names"]


class DataFileError(ValueError):
    """A data file that cannot be used: missing, empty, malformed or non-numeric."""


def parse_names(spec: str | list[str] | None) -> list[str] | None:
    """``"a,b" `` or ``["a", "b,c"]`` → ``["a", "b", "c"]``; None stays None."""
    if spec is None:
        return None
    parts = [spec] if isinstance(spec, str) else list(spec)
    names = [s.strip() for p in parts for s in str(p).split(",") if s.strip()]
    if not names:
        raise DataFileError("an empty column list was given")
    return names


def read_data(path: str | os.PathLike, *, features: list | None = None,
              targets: list | None = None) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Read inputs and targets from a CSV or NPZ file.

    Parameters
    ----------
    path : str
    features, targets : list of str or None
        Column names (CSV) or 0-based indices (NPZ). ``targets`` is required for CSV.

    Returns
    -------
    X : ndarray (n, d);  Y : ndarray (n, T);  feature_names : list of str;
    target_names : list of str

    Raises
    ------
    DataFileError
        With the file name and, where it applies, the line and column.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataFileError(f"{path}: is a directory, expected a .csv or .npz file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return _read_csv(path, features, targets)
    if ext == ".npz":
        return _read_npz(path, features, targets)
    raise DataFileError(f"{path}: unsupported file type {ext or '(none)'!r}; expected .csv "
                        "(header row + numbers) or .npz (arrays X and Y)")


def _read_csv(path, features, targets):
    if not targets:
        raise DataFileError(f"{path}: CSV input needs --targets (the target column names)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    # line numbers as a text editor shows them; blank lines are skipped
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise DataFileError(f"{path}: empty file (expected a header row and data rows)")
    header_line, header = numbered[0]
    header = [h.strip() for h in header]
    if all(_is_number(h) for h in header):
        raise DataFileError(f"{path} line {header_line}: the first row holds only numbers "
                            f"({', '.join(header[:3])}{', ...' if len(header) > 3 else ''}); "
                            "a header row of column names is needed as the first line, "
                            "e.g. x,y1,y2")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataFileError(f"{path}: duplicate column name {dup!r} in the header")
    if len(numbered) == 1:
        raise DataFileError(f"{path}: no data rows after the header")
    missing = [t for t in targets + list(features or []) if t not in header]
    if missing:
        raise DataFileError(f"{path}: column {missing[0]!r} not found; columns are "
                            f"{', '.join(header)}")
    if features is None:
        features = [h for h in header if h not in targets]
    if not features:
        raise DataFileError(f"{path}: no feature columns left (all columns are targets)")
    overlap = [f for f in features if f in targets]
    if overlap:
        raise DataFileError(f"{path}: column {overlap[0]!r} is both a feature and a target")
    cols = [header.index(c) for c in features + targets]
    data = np.empty((len(numbered) - 1, len(cols)))
    for r, (line, row) in enumerate(numbered[1:]):
        if len(row) != len(header):
            raise DataFileError(f"{path} line {line}: {len(row)} fields, the header has "
                                f"{len(header)}")
        for k, c in enumerate(cols):
            cell = row[c].strip()
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                what = "an empty cell" if cell == "" else f"{cell!r}"
                raise DataFileError(f"{path} line {line}, column {header[c]!r}: {what} is "
                                    "not a finite number")
            data[r, k] = value
    d = len(features)
    return data[:, :d], data[:, d:], list(features), list(targets)


def _is_number(cell: str) -> bool:
    """Whether a CSV cell parses as a number (a data value, not a column name)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _select(path, name, A, spec):
    if spec is None:
        return A, [f"{name}{j}" for j in range(A.shape[1])]
    try:
        idx = [int(s) for s in spec]
    except ValueError:
        raise DataFileError(f"{path}: columns of an NPZ array are chosen by 0-based index, "
                            f"got {', '.join(spec)}") from None
    bad = [i for i in idx if not 0 <= i < A.shape[1]]
    if bad:
        raise DataFileError(f"{path}: column {bad[0]} out of range for {name} with "
                            f"{A.shape[1]} columns")
    return A[:, idx], [f"{name}{j}" for j in idx]


def _read_npz(path, features, targets):
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):
            raise DataFileError(f"{path}: a single .npy array, expected an .npz archive with "
                                "arrays X and Y")
        with data:
            missing = [k for k in ("X", "Y") if k not in data.files]
            if missing:
                raise DataFileError(f"{path}: missing array {missing[0]!r} (the file has "
                                    f"{', '.join(data.files) or 'no arrays'}; expected X and Y)")
            X, Y = data["X"], data["Y"]
    except DataFileError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise DataFileError(f"{path}: not a readable .npz file ({exc})") from None
    out = []
    for name, A in (("X", X), ("Y", Y)):
        if A.dtype.kind not in "biuf":
            raise DataFileError(f"{path}: array {name} must be numeric, got dtype {A.dtype}")
        A = np.asarray(A, dtype=float)
        if A.ndim == 1:
            A = A[:, None]
        if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
            raise DataFileError(f"{path}: array {name} must be a non-empty (n,) or (n, k) "
                                f"array, got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            i, j = np.argwhere(~np.isfinite(A))[0]
            raise DataFileError(f"{path}: array {name} has a NaN or inf at [{i}, {j}]")
        out.append(A)
    X, Y = out
    if X.shape[0] != Y.shape[0]:
        raise DataFileError(f"{path}: X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    X, fnames = _select(path, "x", X, features)
    Y, tnames = _select(path, "y", Y, targets)
    return X, Y, fnames, tnames
