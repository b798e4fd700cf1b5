"""Class labels on the command line (``--loss multinomial``): reading a label column and
printing the per-class table.

A CSV label column (``--targets label``, exactly one column) may hold class names (any
text) or integers; the feature columns must be numbers as for :mod:`limitsolver.datafiles`.
An NPZ file gives the labels as one column of Y holding integers. The classes are sorted
(numerically when every label is an integer, else as text) and become the outputs 0..K−1 of
the softmax loss, in that order (the order :class:`~limitsolver.problem.LimitProblem` uses).
"""
from __future__ import annotations

import csv
import os

import numpy as np

from .datafiles import DataFileError, read_data

__all__ = ["read_labelled", "class_indices", "class_outputs", "class_table"]


def _as_labels(cells: list[str]) -> np.ndarray:
    try:
        return np.array([int(c) for c in cells])
    except ValueError:
        return np.array(cells)


def _read_csv_labels(path: str, features, target: str):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(fh)) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataFileError(f"{path}: expected a header row and data rows")
    header = [h.strip() for h in rows[0][1]]
    missing = [c for c in [target] + list(features or []) if c not in header]
    if missing:
        raise DataFileError(f"{path}: column {missing[0]!r} not found; columns are "
                            f"{', '.join(header)}")
    features = [h for h in header if h != target] if features is None else list(features)
    if not features or target in features:
        raise DataFileError(f"{path}: need feature columns other than the label {target!r}")
    fcols, lcol = [header.index(f) for f in features], header.index(target)
    X = np.empty((len(rows) - 1, len(fcols)))
    labels = []
    for r, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise DataFileError(f"{path} line {line}: {len(row)} fields, the header has "
                                f"{len(header)}")
        for k, c in enumerate(fcols):
            try:
                X[r, k] = float(row[c])
            except ValueError:
                X[r, k] = np.nan
            if not np.isfinite(X[r, k]):
                raise DataFileError(f"{path} line {line}, column {header[c]!r}: "
                                    f"{row[c].strip()!r} is not a finite number")
        if not row[lcol].strip():
            raise DataFileError(f"{path} line {line}, column {target!r}: empty class label")
        labels.append(row[lcol].strip())
    return X, _as_labels(labels), features


def read_labelled(path: str | os.PathLike, *, features: list | None = None,
                  targets: list | None = None) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Inputs and class labels for ``--loss multinomial``.

    Returns
    -------
    X : ndarray (n, d);  labels : ndarray (n,) (integers or text);  feature_names : list;
    target_names : list with the label column's name
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() == ".csv" and os.path.isfile(path):
        if not targets or len(targets) != 1:
            raise DataFileError(f"{path}: --loss multinomial needs exactly one --targets "
                                "column, the class label")
        X, labels, fnames = _read_csv_labels(path, features, targets[0])
        return X, labels, fnames, list(targets)
    X, Y, fnames, tnames = read_data(path, features=features, targets=targets)
    if Y.shape[1] != 1 or np.any(Y != np.round(Y)):
        raise DataFileError(f"{path}: --loss multinomial needs one column of integer class "
                            f"labels in Y, got {Y.shape[1]} column(s)"
                            + ("" if Y.shape[1] != 1 else " with non-integers"))
    return X, Y[:, 0].astype(int), fnames, tnames


def class_indices(labels: np.typing.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(classes (K,), index (n,)): the sorted classes and each label's output."""
    classes, idx = np.unique(np.asarray(labels), return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"--loss multinomial needs at least 2 classes, the labels have "
                         f"{classes.size} ({classes.tolist()})")
    return classes, idx.reshape(-1)


def class_table(classes: np.ndarray, idx: np.ndarray, scores: np.ndarray) -> str:
    """Per-class lines: output index, samples, predicted as, recall; then the accuracy.

    Parameters
    ----------
    classes : (K,);  idx : (n,) true output of each sample;  scores : (n, K) class scores
    """
    pred = np.argmax(scores, axis=1)
    width = max(5, max(len(str(c)) for c in classes))
    head = f"{'class':<{width}s} {'output':>6s} {'samples':>7s} {'predicted':>9s} {'recall':>7s}"
    lines = [head, "-" * len(head)]
    for k, c in enumerate(classes):
        mine = idx == k
        rec = f"{np.mean(pred[mine] == k):.3f}" if mine.any() else "n/a"
        lines.append(f"{str(c):<{width}s} {k:>6d} {int(mine.sum()):>7d} "
                     f"{int(np.sum(pred == k)):>9d} {rec:>7s}")
    lines.append(f"train accuracy {np.mean(pred == idx):.4f} (argmax of the class scores)")
    return "\n".join(lines)


def class_outputs(labels: np.typing.ArrayLike,
                  test_labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Training and test labels as the outputs 0..K−1 of the training classes (printed)."""
    classes, idx = class_indices(labels)
    print("classes: " + ", ".join(f"{k} = {c}" for k, c in enumerate(classes)))
    if test_labels is None:
        return idx, None
    unknown = ~np.isin(test_labels, classes)
    if unknown.any():
        raise ValueError(f"test data: class {str(test_labels[unknown][0])!r} is not among the "
                         f"training classes")
    return idx, np.searchsorted(classes, test_labels)
