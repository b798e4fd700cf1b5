"""`compare`: multi-task (group) vs single-task (l1) vs kernel (lazy) on the same data.

One call solves the same data with several penalties (MATH.md) and returns a
:class:`ComparisonTable` with one row per penalty::

    >>> from limitsolver import compare, make_demo
    >>> X, Y = make_demo()
    >>> print(compare(X, Y, lam=1e-3))                                # doctest: +SKIP

The group and l1 problems are solved on the same direction grid; the kernel problem has no
grid (:mod:`limitsolver.kernel`). Columns:

- ``objective``: the problem's own objective (group: L + λ Σ‖V_j‖₂; l1: L + λ Σ|V_jt|;
  kernel: L + (λ/2) Σ_t ‖f_t‖²_H). The three objectives are different functionals and are
  not comparable across rows except group ≤ l1 at equal λ.
- ``penalty``: the row's own penalty value without λ (Σ‖V_j‖₂, Σ|V_jt|, (Σ_t ‖f_t‖²_H)^{1/2}).
- ``group_norm``: the group penalty ∫‖dμ‖₂ of the row's measure (kernel: ∫‖g‖₂ dπ by
  quadrature, arc-cosine kernel only) — the representation cost every row is charged in the
  same units, so it *is* comparable across rows.
- ``neurons`` (``inf`` for the dense kernel measure), ``shared`` (fraction of neurons used by
  more than one task; ``nan`` for the kernel), ``train_error`` and ``test_error``
  (mean squared error over samples and tasks for squared loss and interpolation; for the
  logistic loss the *per-label* error: the fraction of the n × T ±1 labels with
  sign(f_t(x_i)) ≠ y_it, shown as "label err"; for the softmax loss the mean
  cross-entropy (1/m) Σ_i [logsumexp(f(x_i)) − f_{y_i}(x_i)], shown as "log loss"),
  ``train_accuracy`` and ``test_accuracy`` (softmax loss, and logistic loss with
  one-vs-rest targets — exactly one +1 per row, T ≥ 2: the multi-class accuracy, the
  fraction of samples with argmax_t f_t(x_i) = their class; None otherwise), ``status``
  and ``time``.

``loss="multinomial"``: Y holds one class label per sample (K classes, as in
:class:`~limitsolver.problem.LimitProblem`) or one-hot rows; ``Y_test`` uses the same labels
(a class not seen in training is an error). The kernel row is then the softmax kernel ridge
of :mod:`limitsolver.kernel`.
"""
from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .losses import MultinomialLoss
from .problem import LimitProblem, PENALTIES

__all__ = ["compare", "ComparisonTable", "ComparisonRow", "prediction_error",
           "multiclass_accuracy", "is_one_vs_rest"]

_COLUMNS = ("penalty", "objective", "penalty_value", "group_norm", "neurons", "shared",
            "train_error", "test_error", "train_accuracy", "test_accuracy", "status", "time")


def is_one_vs_rest(Y: np.ndarray) -> bool:
    """Whether ±1 targets (m, T) code one class per row: T ≥ 2 and exactly one +1 per row."""
    Y = np.asarray(Y, dtype=float)
    return bool(Y.ndim == 2 and Y.shape[1] >= 2 and np.all(np.isin(Y, (-1.0, 1.0)))
                and np.all(np.sum(Y == 1.0, axis=1) == 1))


def multiclass_accuracy(pred: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of rows whose largest score is the column holding the row's +1 label.

    Parameters
    ----------
    pred, Y : ndarray (m, T), Y one-vs-rest (see :func:`is_one_vs_rest`) or one-hot rows
        (0/1, one 1 per row).
    """
    Y = np.asarray(Y, dtype=float)
    if _is_one_hot(Y):
        Y = 2.0 * Y - 1.0
    if not is_one_vs_rest(Y):
        raise ValueError("multi-class accuracy needs one-vs-rest targets: ±1 labels with "
                         "exactly one +1 per row and at least two columns")
    pred = np.asarray(pred, dtype=float)
    return float(np.mean(np.argmax(pred, axis=1) == np.argmax(Y, axis=1)))


def _is_one_hot(Y) -> bool:
    Y = np.asarray(Y, dtype=float)
    return bool(Y.ndim == 2 and Y.shape[1] >= 2 and np.all(np.isin(Y, (0.0, 1.0)))
                and np.all(Y.sum(axis=1) == 1.0))


def prediction_error(pred: np.ndarray, Y: np.ndarray, loss: str) -> float:
    """Mean squared error (squared / interpolate), the per-label misclassification rate
    over all n × T ±1 labels, sign(f) ≠ y (logistic), or the mean cross-entropy of one-hot
    Y (multinomial, the loss of :class:`~limitsolver.losses.MultinomialLoss`).

    Parameters
    ----------
    pred, Y : ndarray (m, T)
    """
    pred = np.asarray(pred, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if loss == "logistic":
        return float(np.mean(np.where(pred >= 0, 1.0, -1.0) != Y))
    if loss == "multinomial":
        return float(MultinomialLoss.value(pred, Y))
    return float(np.mean((pred - Y) ** 2))


@dataclass
class ComparisonRow:
    """One penalty's result (see the module docstring for the columns)."""

    penalty: str
    objective: float
    penalty_value: float
    group_norm: float
    neurons: float
    shared: float
    train_error: float
    test_error: float | None
    status: str
    time: float
    solution: object = field(repr=False, default=None)
    train_accuracy: float | None = None
    test_accuracy: float | None = None

    def to_dict(self) -> dict:
        """The numbers (not the solution) as a plain dict."""
        return {k: getattr(self, k) for k in _COLUMNS}


class ComparisonTable:
    """Rows of a :func:`compare` call; index by position or by penalty name.

    Attributes
    ----------
    rows : list of ComparisonRow
    solutions : dict  penalty → LimitSolution or KernelSolution
    options : dict    lam, loss, bias, free, kernel, classes (the class labels for
                      ``loss="multinomial"``, else None)
    """

    def __init__(self, rows: Iterable[ComparisonRow], options: dict) -> None:
        self.rows = list(rows)
        self.options = dict(options)

    @property
    def solutions(self) -> dict:
        return {r.penalty: r.solution for r in self.rows}

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key) -> ComparisonRow:
        if isinstance(key, str):
            for r in self.rows:
                if r.penalty == key:
                    return r
            raise KeyError(f"no row for penalty {key!r}; rows: "
                           f"{', '.join(r.penalty for r in self.rows)}")
        return self.rows[key]

    def column(self, name: str) -> np.ndarray:
        """One numeric column as an array (None → nan)."""
        if name not in _COLUMNS or name in ("penalty", "status"):
            raise ValueError(f"unknown numeric column {name!r}")
        return np.array([np.nan if getattr(r, name) is None else getattr(r, name)
                         for r in self.rows], dtype=float)

    def to_dict(self) -> dict:
        """{penalty: {column: value}} (numbers only, no solution objects)."""
        return {r.penalty: r.to_dict() for r in self.rows}

    def to_csv(self, path: str | None = None) -> str:
        """The table as CSV text (header = column names); also written to ``path`` if given."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(_COLUMNS)
        for r in self.rows:
            w.writerow(["" if v is None else (repr(float(v)) if isinstance(v, (float, int,
                        np.floating)) else v) for v in (getattr(r, k) for k in _COLUMNS)])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def __str__(self) -> str:
        o = self.options
        lam = "" if o.get("loss") == "interpolate" else f"lam={o.get('lam'):g}, "
        logistic = o.get("loss") == "logistic"
        acc = any(r.train_accuracy is not None for r in self.rows)
        err = {"logistic": "label err", "multinomial": "log loss"}.get(o.get("loss"), "err")
        head = (f"{'penalty':8s} {'objective':>12s} {'penalty':>10s} {'group norm':>11s} "
                f"{'neurons':>8s} {'shared':>7s} {'train ' + err:>15s} "
                f"{'test ' + err:>14s} "
                + (f"{'train acc':>10s} {'test acc':>9s} " if acc else "")
                + f"{'status':>10s} {'time(s)':>8s}")
        lines = [f"comparison ({lam}loss={o.get('loss')}, bias={o.get('bias')}, "
                 f"free={o.get('free')})", head, "-" * len(head)]
        if logistic:
            lines.insert(1, "label err: fraction of the ±1 labels (all samples and tasks) "
                         "with sign(f) ≠ y" + ("; acc: multi-class accuracy (argmax over "
                                              "the one-vs-rest tasks)" if acc else ""))
        if o.get("classes") is not None:
            lines.insert(1, "log loss: mean softmax cross-entropy; acc: fraction of samples "
                         "whose largest class score is their class; classes "
                         + ", ".join(f"{c:g}" if isinstance(c, (float, np.floating))
                                     else str(c) for c in o["classes"]))
        for r in self.rows:
            neurons = "dense" if math.isinf(r.neurons) else f"{int(r.neurons)}"
            shared = "n/a" if math.isnan(r.shared) else f"{r.shared:.0%}"
            gn = "n/a" if math.isnan(r.group_norm) else f"{r.group_norm:.5g}"
            te = "n/a" if r.test_error is None else f"{r.test_error:.4g}"
            accs = ""
            if acc:
                tra = "n/a" if r.train_accuracy is None else f"{r.train_accuracy:.4g}"
                tea = "n/a" if r.test_accuracy is None else f"{r.test_accuracy:.4g}"
                accs = f"{tra:>10s} {tea:>9s} "
            lines.append(f"{r.penalty:8s} {r.objective:12.6g} {r.penalty_value:10.5g} "
                         f"{gn:>11s} {neurons:>8s} {shared:>7s} {r.train_error:15.4g} "
                         f"{te:>14s} {accs}{r.status:>10s} {r.time:8.2f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ComparisonTable {', '.join(r.penalty for r in self.rows)}>"


def _check_penalties(penalties) -> tuple:
    if isinstance(penalties, str):
        penalties = (penalties,)
    penalties = tuple(penalties)
    if not penalties:
        raise ValueError("penalties is empty; give e.g. ('group', 'l1', 'kernel')")
    for p in penalties:
        if p not in PENALTIES:
            raise ValueError(f"unknown penalty {p!r} in penalties; expected any of "
                             f"{', '.join(map(repr, PENALTIES))}")
    if len(set(penalties)) != len(penalties):
        raise ValueError(f"penalties has duplicates: {penalties}")
    return penalties


def compare(X: ArrayLike, Y: ArrayLike, *, lam: float | None = None,
            penalties: Sequence[str] = ("group", "l1", "kernel"), X_test: ArrayLike | None = None,
            Y_test: ArrayLike | None = None, loss: str = "squared", bias: str = "regularized",
            free: str = "none", kernel: str = "arccos", grid: ArrayLike | None = None,
            n_directions: int | None = None, solver: str = "auto", tol: float = 1e-8,
            random_state: Any = 0, **solver_options: Any) -> ComparisonTable:
    """Solve the same data with several penalties and tabulate the results.

    Parameters
    ----------
    X : array_like (n, d);  Y : array_like (n, T), or class labels (n,) for
        ``loss="multinomial"``
    lam : float
        λ, shared by all rows (ignored for ``loss="interpolate"``).
    penalties : sequence of {"group", "l1", "kernel"}
    X_test : array_like (m, d), optional;  Y_test : array_like (m, T), optional
        Held-out data for the ``test_error`` column (both or neither); class labels (m,)
        of the training classes for ``loss="multinomial"``.
    loss, bias, free : str
        As in :func:`~limitsolver.api.solve`.
    kernel : {"arccos", "ntk"}
        The kernel of the ``"kernel"`` row.
    grid, n_directions, solver, tol, random_state, **solver_options
        Passed to :func:`~limitsolver.api.solve` for the grid penalties; the same grid is
        used for group and l1.

    Returns
    -------
    ComparisonTable
    """
    from .api import solve
    from .grids import default_grid

    penalties = _check_penalties(penalties)
    base = LimitProblem(X, Y, lam=lam, loss=loss, penalty="group", bias=bias, free=free)
    if (X_test is None) != (Y_test is None):
        raise ValueError("give both X_test and Y_test, or neither")
    if X_test is not None:
        Xte, Yte = _test_data(base, X_test, Y_test)
    if grid is None and any(p != "kernel" for p in penalties):
        grid = default_grid(base.X, base.bias, n_directions, random_state=random_state)
    rows = []
    for pen in penalties:
        t0 = time.perf_counter()
        if pen == "kernel":
            sol = solve(base.X, base.Y, lam=lam, loss=loss, penalty="kernel", bias=bias,
                        free=free, tol=tol, kernel=kernel)
            group_norm = sol.group_cost() if kernel == "arccos" else float("nan")
        else:
            sol = solve(base.X, base.Y, lam=lam, loss=loss, penalty=pen, bias=bias, free=free,
                        grid=grid, solver=solver, tol=tol, **solver_options)
            group_norm = sol.penalty_value("group")
        elapsed = time.perf_counter() - t0
        test_err = None if X_test is None else prediction_error(sol.predict(Xte), Yte, loss)
        accuracy = {}
        if loss == "multinomial" or (loss == "logistic" and is_one_vs_rest(base.Y)):
            accuracy["train_accuracy"] = multiclass_accuracy(sol.predict(base.X), base.Y)
            if X_test is not None and (loss == "multinomial" or is_one_vs_rest(Yte)):
                accuracy["test_accuracy"] = multiclass_accuracy(sol.predict(Xte), Yte)
        rows.append(ComparisonRow(**accuracy,
            penalty=pen, objective=float(sol.objective), penalty_value=float(sol.penalty_value()),
            group_norm=float(group_norm), neurons=float(sol.n_neurons),
            shared=float(sol.shared_fraction),
            train_error=prediction_error(sol.predict(base.X), base.Y, loss),
            test_error=test_err, status=str(sol.status), time=elapsed, solution=sol))
    return ComparisonTable(rows, dict(lam=base.lam if loss != "interpolate" else None,
                                      loss=loss, bias=bias, free=free, kernel=kernel,
                                      classes=base.classes))


def _test_data(base: LimitProblem, X_test, Y_test):
    """Validated held-out (X, Y) for the problem ``base``; for the softmax loss the test
    labels are mapped to the training classes (one-hot rows in the same columns)."""
    loss = base.loss
    if loss == "multinomial":
        labels = np.asarray(Y_test)
        if labels.ndim == 2 and labels.shape[1] == base.T and _is_one_hot(labels):
            labels = base.classes[np.argmax(labels, axis=1)]
        labels = labels.reshape(-1)
        unknown = ~np.isin(labels, base.classes)
        if unknown.any():
            raise ValueError(f"Y_test has the label {labels[unknown][0].item()!r}, which is "
                             f"not one of the training classes {base.classes.tolist()}")
        Y_test = np.eye(base.T)[np.searchsorted(base.classes, labels)]
        loss = "squared"              # only the array checks of LimitProblem are wanted
    test = LimitProblem(X_test, Y_test, lam=base.lam, loss=loss, penalty="group",
                        bias=base.bias, free="intercept" if base.free == "none" else base.free)
    if test.d != base.d:
        raise ValueError(f"X_test has {test.d} features but X has {base.d}")
    if test.T != base.T:
        raise ValueError(f"Y_test has {test.T} tasks but Y has {base.T}")
    return test.X, test.Y
