"""`LimitProblem`: the data and options of one infinite-width limit problem.

Nothing numerical happens here beyond input validation and cheap derived arrays; the
objective, its dual and the certificate live in :mod:`limitsolver.certificate`.

The problem (MATH.md)::

    OPT = min_μ  L(f_μ) + λ ∫ ‖dμ‖,   f_μ(x) = ∫_Θ relu(θ·x̃) dμ(θ)  (+ free part)

with loss ``L`` ∈ {squared, logistic, multinomial, interpolate}, penalty ``‖·‖`` the Euclidean norm
across tasks (``"group"``) or the sum of absolute values (``"l1"``), Θ the unit sphere
S^d (``bias="regularized"``) or the cylinder S^{d-1} × [-R, R] (``bias="free"``).
"""
from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from .features import augment

__all__ = ["LimitProblem", "class_labels", "LOSSES", "PENALTIES", "BIASES", "FREES", "check_option",
           "MAX_MAGNITUDE"]

#: Largest accepted |entry| of X and Y: beyond it, squares and features overflow doubles.
MAX_MAGNITUDE = 1e100

LOSSES = ("squared", "logistic", "multinomial", "interpolate")
PENALTIES = ("group", "l1", "kernel")
BIASES = ("regularized", "free")
FREES = ("none", "intercept", "affine")


def check_option(name: str, value: object, allowed: tuple) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError naming both."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"unknown {name}={value!r}; expected one of {', '.join(map(repr, allowed))}")
    return value


def _as_2d_finite(name: str, A, *, ndim_1_as_column: bool) -> np.ndarray:
    try:
        arr = np.asarray(A)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as a numeric array: {exc}") from None
    if arr.dtype.kind in "USa" or (arr.dtype == object and any(
            isinstance(v, (str, bytes, np.str_, np.bytes_)) for v in arr.ravel())):
        raise ValueError(f"{name} must be numeric, got text (dtype {arr.dtype}); strings "
                         f"are not converted, even when they look like numbers — pass "
                         f"numbers, e.g. np.asarray({name}, dtype=float) if you mean them")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or np.issubdtype(arr.dtype, np.bool_)):
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got complex values")
    arr = arr.astype(float)
    if arr.ndim == 1 and ndim_1_as_column:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if arr.size == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {i}, column {j})")
    huge = np.abs(arr) > MAX_MAGNITUDE
    if huge.any():
        i, j = np.argwhere(huge)[0]
        raise ValueError(f"{name}[{i}, {j}] = {arr[i, j]:g} is too large (|value| > "
                         f"{MAX_MAGNITUDE:g}); rescale the data")
    return arr


def check_lam(lam: object, loss: str) -> float:
    """Validate λ: a finite number > 0; for ``loss="interpolate"`` it is ignored (None allowed)."""
    if loss == "interpolate" and lam is None:
        return 1.0
    if isinstance(lam, (bool, np.bool_, str, bytes)) or np.ndim(lam) != 0:
        raise ValueError(f"lam must be a positive real number, got {lam!r}")
    try:
        value = float(lam)
    except (TypeError, ValueError):
        raise ValueError(f"lam must be a positive real number, got {lam!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"lam must be a finite positive number, got {lam!r}")
    if value <= 0:
        if loss == "interpolate":
            return 1.0
        raise ValueError(f"lam must be > 0 for loss={loss!r}, got {lam!r}")
    return value


def class_labels(Y: np.ndarray) -> tuple:
    """One-hot targets (n × K) and the class labels (K,) of multinomial targets.

    ``Y`` is either one column of class labels (any K ≥ 2 distinct integer values, sorted to
    classes 0..K−1) or a one-hot matrix (n × K, K ≥ 2, entries 0/1, one 1 per row; its
    classes are 0..K−1)."""
    if Y.shape[1] == 1:
        y = Y[:, 0]
        frac = y != np.round(y)
        if frac.any():
            i = int(np.argmax(frac))
            raise ValueError(f"multinomial loss needs integer class labels, but Y[{i}] = "
                             f"{float(y[i]):g}")
        classes, idx = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"multinomial loss needs at least 2 classes, Y has only "
                             f"{classes.size} ({classes.tolist()})")
        return np.eye(classes.size)[idx], classes
    bad = ~np.isin(Y, (0.0, 1.0))
    if bad.any() or np.any(np.sum(Y, axis=1) != 1.0):
        i = int(np.argwhere(bad)[0][0]) if bad.any() else int(np.argmax(np.sum(Y, axis=1) != 1.0))
        raise ValueError(
            f"multinomial loss needs one integer class label per sample (a column) or one-hot "
            f"rows with a single 1, but row {i} of Y is {Y[i].tolist()}")
    return Y.copy(), np.arange(Y.shape[1], dtype=float)


def _check_interpolable(X: np.ndarray, Y: np.ndarray) -> None:
    """Raise a ValueError when two samples share an input but not a target."""
    order = np.lexsort(X.T[::-1])
    Xs, Ys = X[order], Y[order]
    same_x = np.all(Xs[1:] == Xs[:-1], axis=1)
    clash = same_x & np.any(Ys[1:] != Ys[:-1], axis=1)
    if clash.any():
        k = int(np.argmax(clash))
        i, j = sorted((int(order[k]), int(order[k + 1])))
        raise ValueError(
            f"the data cannot be interpolated: samples {i} and {j} have the same input "
            f"but different targets ({Y[i].tolist()} vs {Y[j].tolist()})")


class LimitProblem:
    """Data and options of an infinite-width limit problem.

    Parameters
    ----------
    X : array_like, shape (n, d) or (n,)
        Inputs; a 1-D array is n points in one dimension.
    Y : array_like, shape (n, T) or (n,)
        Targets, one column per task; a 1-D array is one task.
    lam : float
        Regularization strength λ > 0 (weight decay). Ignored for ``loss="interpolate"``.
    loss : {"squared", "logistic", "multinomial", "interpolate"}
        ``squared``: (1/(2n)) Σ_i ‖F(x_i) − y_i‖²;
        ``logistic``: (1/n) Σ_{i,t} log(1 + exp(−y_it F_t(x_i))), labels ±1 (labels
        {0, 1} are refused, not guessed: map them with 2·y − 1);
        ``multinomial``: (1/n) Σ_i [logsumexp(F(x_i)) − F_{y_i}(x_i)] (softmax
        cross-entropy): Y is one column of integer class labels (K ≥ 2 distinct values,
        mapped in sorted order to outputs 0..K−1, see ``classes``) or one-hot rows (n × K);
        the problem has T = K outputs;
        ``interpolate``: min penalty subject to F(x_i) = y_i.
    penalty : {"group", "l1", "kernel"}
        ``group``: λ Σ_j ‖V_j‖₂ (multi-task); ``l1``: λ Σ_j Σ_t |V_jt| (single-task);
        ``kernel``: the lazy/kernel regime (solved by :mod:`limitsolver.kernel`).
    bias : {"regularized", "free"}
        Whether hidden biases are penalized (Θ = S^d) or not (Θ = S^{d-1} × [−R, R]).
    free : {"none", "intercept", "affine"}
        Unpenalized part: nothing, a constant c ∈ R^T, or c + Aᵀx.

    Attributes
    ----------
    X : ndarray (n, d);  Y : ndarray (n, T);  Xt : ndarray (n, d+1), ``[X, 1]``;
    F : ndarray (n, p), columns of the free part (p = 0, 1 or d+1);
    radius : float, R = max_i ‖x_i‖ (the bias bound for ``bias="free"``);
    classes : ndarray (K,) or None, the class label of each output (multinomial loss only;
    ``Y`` then holds the one-hot rows).
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, *, lam: "float | None" = None,
                 loss: str = "squared", penalty: str = "group", bias: str = "regularized",
                 free: str = "none") -> None:
        self.loss = check_option("loss", loss, LOSSES)
        self.penalty = check_option("penalty", penalty, PENALTIES)
        self.bias = check_option("bias", bias, BIASES)
        self.free = check_option("free", free, FREES)
        X = _as_2d_finite("X", X, ndim_1_as_column=True)
        Y = _as_2d_finite("Y", Y, ndim_1_as_column=True)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(
                f"X and Y have different numbers of samples: X has {X.shape[0]} rows, "
                f"Y has {Y.shape[0]}")
        if X.shape[1] == 0:
            raise ValueError("X has no features (shape {})".format(X.shape))
        self.lam = check_lam(lam, self.loss)
        if self.loss == "logistic":
            bad = ~np.isin(Y, (-1.0, 1.0))
            if bad.any():
                i, t = np.argwhere(bad)[0]
                raise ValueError(
                    f"logistic loss needs labels ±1, but Y[{i}, {t}] = {float(Y[i, t]):g}"
                    + ("; map {0,1} labels with 2·y − 1"
                       if np.all(np.isin(Y, (0.0, 1.0, -1.0))) else ""))
        self.classes = None
        if self.loss == "multinomial":
            Y, self.classes = class_labels(Y)
        if self.loss == "interpolate":
            _check_interpolable(X, Y)
        self.X, self.Y = X, Y
        self.Xt = augment(X)
        if self.free == "none":
            self.F = np.zeros((X.shape[0], 0))
        elif self.free == "intercept":
            self.F = np.ones((X.shape[0], 1))
        else:
            self.F = np.hstack([np.ones((X.shape[0], 1)), X])
        self.radius = float(np.max(np.linalg.norm(X, axis=1)))
        if self.bias == "free" and self.free == "none":
            warnings.warn(
                "bias='free' with free='none': the infimum over hidden biases is not attained "
                "(constants become free as |b| → ∞); the problem is solved on the truncated "
                "cylinder |b| ≤ R = max‖x_i‖. Use free='intercept' or 'affine' for the exact limit.",
                UserWarning, stacklevel=2)

    # shapes ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.X.shape[1]

    @property
    def T(self) -> int:
        """Number of tasks."""
        return self.Y.shape[1]

    @property
    def dim(self) -> int:
        """Length d+1 of a direction θ = (w, b)."""
        return self.d + 1

    def options(self) -> dict:
        """The options as a plain dict (for saving and display)."""
        return dict(lam=self.lam, loss=self.loss, penalty=self.penalty, bias=self.bias,
                    free=self.free)

    def with_lam(self, lam: float) -> "LimitProblem":
        """A shallow copy with another λ (data arrays are shared, not copied)."""
        new = object.__new__(LimitProblem)
        new.__dict__.update(self.__dict__)
        new.lam = check_lam(lam, self.loss)
        return new

    def check_directions(self, directions: np.ndarray) -> np.ndarray:
        """Validate and normalize a direction set for this problem.

        Rows are scaled to ‖θ‖ = 1 (``bias="regularized"``) or ‖w‖ = 1 (``bias="free"``),
        so every column of Φ carries penalty weight 1.

        Returns
        -------
        ndarray, shape (M, d+1)
        """
        G = _as_2d_finite("grid", directions, ndim_1_as_column=False)
        if G.shape[1] != self.dim:
            raise ValueError(
                f"grid has directions of length {G.shape[1]}, but inputs of dimension "
                f"d = {self.d} need directions θ = (w, b) of length d+1 = {self.dim}")
        if self.bias == "regularized":
            norms = np.linalg.norm(G, axis=1)
        else:
            norms = np.linalg.norm(G[:, :-1], axis=1)
        if np.any(norms <= 1e-12):
            i = int(np.argmin(norms))
            raise ValueError(f"grid direction {i} is zero (in the part that carries the penalty)")
        return G / norms[:, None]

    def __repr__(self) -> str:
        return (f"LimitProblem(n={self.n}, d={self.d}, T={self.T}, lam={self.lam:g}, "
                f"loss={self.loss!r}, penalty={self.penalty!r}, bias={self.bias!r}, "
                f"free={self.free!r})")
