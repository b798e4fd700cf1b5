"""scikit-learn estimators: :class:`LimitRegressor` and :class:`LimitClassifier`.

Each ``fit`` solves the infinite-width limit problem (MATH.md) with :func:`limitsolver.solve`::

    minimize_μ  L(f_μ) + λ ∫ ‖dμ‖,     f_μ(x) = ∫ relu(θ·x̃) dμ(θ)  (+ free part)

on a direction grid; the fitted network is ``solution_`` (a
:class:`~limitsolver.solution.LimitSolution`). The regressor uses the squared loss
(1/(2n)) Σ_i ‖f(x_i) − y_i‖² (or exact interpolation), one task per column of ``y``. The
classifier uses, for K > 2 classes, the softmax cross-entropy (1/n) Σ_i [logsumexp(f(x_i))
− f_{y_i}(x_i)] on K outputs that share their neurons (``multi_class="multinomial"``, the
default) or K one-vs-rest logistic tasks (``multi_class="ovr"``); for two classes and for
multi-label targets the logistic loss on ±1 labels, one task per binary problem. The group
penalty lets the outputs share neurons.

scikit-learn is optional: with it installed the classes are genuine scikit-learn
estimators (``BaseEstimator`` + mixins, input validation, tags, ``clone``, pipelines and
grid search work); without it they keep the same methods through a small fallback.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, log_softmax, softmax

from .api import solve

__all__ = ["LimitRegressor", "LimitClassifier", "HAVE_SKLEARN", "MULTI_CLASS", "NotFittedError"]

try:  # scikit-learn is an optional dependency (extra ``limitsolver[sklearn]``)
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
    try:
        from sklearn.utils.validation import validate_data as _sk_validate_data
    except ImportError:  # scikit-learn < 1.6
        _sk_validate_data = None
    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False
    _sk_validate_data = None
    from .estimators_fallback import (BaseEstimator, ClassifierMixin,
                                      NotFittedError, RegressorMixin,
                                      check_classification_targets, check_is_fitted)


def _validate(est, X, y=None, *, reset: bool, y_numeric: bool = False):
    """Validate X (and y) as scikit-learn does, or with a plain numpy fallback."""
    if HAVE_SKLEARN:
        kw = dict(reset=reset, dtype=np.float64)
        if y is None and not reset:
            args = (X,)
        else:
            args = (X, y)
            kw.update(multi_output=True, y_numeric=y_numeric)
        if _sk_validate_data is not None:
            return _sk_validate_data(est, *args, **kw)
        return est._validate_data(*args, **kw)  # pragma: no cover - old scikit-learn
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array X, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is "
                         f"expecting {est.n_features_in_} features as input.")
    if y is None and not reset:
        return X
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y "
                         "is None.")
    y = np.asarray(y, dtype=float if y_numeric else None)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{X.shape[0]}, {y.shape[0]}]")
    return X, y


def _seed(random_state):
    """An int/None/Generator seed usable by :func:`numpy.random.default_rng`."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return random_state


class _LimitBase(BaseEstimator):
    """Shared fit machinery: parameters mirror :func:`limitsolver.solve`."""

    def _solve(self, X, Y):
        warm = None
        grid = self.grid
        prev = getattr(self, "solution_", None)
        if (self.warm_start and prev is not None and prev.problem.d == X.shape[1]
                and prev.problem.T == Y.shape[1] and prev.problem.loss == self._loss_name()):
            warm, grid = prev, prev.grid
        opts = dict(self.solver_options or {})
        return solve(X, Y, lam=self.lam, loss=self._loss_name(), penalty=self.penalty,
                     bias=self.bias, free=self.free, grid=grid,
                     n_directions=self.n_directions, solver=self.solver, tol=self.tol,
                     warm_start=warm, polish=self.polish, random_state=_seed(self.random_state),
                     **opts)

    def _set_fitted(self, sol):
        self.solution_ = sol
        self.n_neurons_ = sol.n_neurons
        self.directions_ = sol.directions
        self.weights_ = sol.weights
        self.intercept_ = sol.intercept
        self.objective_ = sol.objective
        self.gap_ = sol.gap

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = _validate(self, X, reset=False)
        return self.solution_.predict(X)


class LimitRegressor(RegressorMixin, _LimitBase):
    """The infinite-width limit of a weight-decay-trained shallow ReLU network, as a regressor.

    ``fit`` solves::

        minimize_{V, C}  (1/(2n)) Σ_i ‖f(x_i) − y_i‖² + λ Σ_j ‖V_j‖,
        f(x) = Σ_j V_j relu(θ_j·x̃) + free part,

    over a grid of directions θ_j, one task per column of ``y`` (``loss="interpolate"``:
    min Σ_j ‖V_j‖ subject to f(x_i) = y_i).

    Parameters
    ----------
    lam : float, default 1e-3
        λ, the weight decay.
    loss : {"squared", "interpolate"}
    penalty : {"group", "l1"}
        ``group``: Σ_j ‖V_j‖₂, a neuron shared by tasks is paid once (multi-task);
        ``l1``: Σ_j Σ_t |V_jt| (T separate networks).
    bias : {"regularized", "free"};  free : {"none", "intercept", "affine"}
        As in :func:`limitsolver.solve`.
    grid : array_like (M, d+1), optional;  n_directions : int, optional
        The direction grid, or the size of the default one.
    solver : str, default "auto";  tol : float, default 1e-8 (relative certified gap)
    polish : bool, default True;  random_state : int, Generator or None, default 0
        Seed of the default grid for d ≥ 3.
    warm_start : bool, default False
        Refit from the previous ``solution_`` (same grid) when the data shape allows.
    solver_options : dict, optional
        Extra keyword arguments for the backend.

    Attributes
    ----------
    solution_ : LimitSolution
    n_neurons_ : int;  directions_ : ndarray (k, d+1);  weights_ : ndarray (k, T)
    intercept_ : ndarray (T,);  objective_ : float;  gap_ : float (certified grid gap)
    n_features_in_ : int;  n_outputs_ : int (number of tasks T)
    """

    def __init__(self, lam: float = 1e-3, *, loss: str = "squared", penalty: str = "group",
                 bias: str = "regularized", free: str = "none",
                 grid: np.typing.ArrayLike | None = None,
                 n_directions: int | None = None, solver: str = "auto", tol: float = 1e-8,
                 polish: bool = True, random_state: Any = 0, warm_start: bool = False,
                 solver_options: dict | None = None) -> None:
        self.lam = lam
        self.loss = loss
        self.penalty = penalty
        self.bias = bias
        self.free = free
        self.grid = grid
        self.n_directions = n_directions
        self.solver = solver
        self.tol = tol
        self.polish = polish
        self.random_state = random_state
        self.warm_start = warm_start
        self.solver_options = solver_options

    def _loss_name(self) -> str:
        if self.loss not in ("squared", "interpolate"):
            raise ValueError(f"LimitRegressor: unknown loss={self.loss!r}; expected "
                             "'squared' or 'interpolate' (use LimitClassifier for logistic)")
        return self.loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # the same tags for scikit-learn < 1.6
        return {"multioutput": True}

    def fit(self, X: np.typing.ArrayLike, y: np.typing.ArrayLike) -> "LimitRegressor":
        """Solve the limit problem on (X, y); y (n,) or (n, T). Returns self."""
        X, y = _validate(self, X, y, reset=True, y_numeric=True)
        y = np.asarray(y, dtype=float)
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1)
        self._set_fitted(self._solve(X, Y))
        self.n_outputs_ = Y.shape[1]
        return self

    def predict(self, X: np.typing.ArrayLike) -> np.ndarray:
        """f(X): shape (m,) when fitted on 1-D y, else (m, T)."""
        F = self._decision(X)
        return F[:, 0] if self._y_ndim == 1 else F


MULTI_CLASS = ("multinomial", "ovr")


class LimitClassifier(ClassifierMixin, _LimitBase):
    """The infinite-width limit of a weight-decay-trained shallow ReLU network, as a classifier.

    ``fit`` solves, for K > 2 classes with ``multi_class="multinomial"`` (the default), the
    softmax problem on K outputs (one network whose K class scores share the neurons)::

        minimize_{V, C}  (1/n) Σ_i [logsumexp(f(x_i)) − f_{y_i}(x_i)] + λ Σ_j ‖V_j‖

    and otherwise, with labels encoded as ±1 per task, the logistic problem::

        minimize_{V, C}  (1/n) Σ_i Σ_t log(1 + exp(−y_it f_t(x_i))) + λ Σ_j ‖V_j‖

    Tasks of the logistic problem: one for binary targets (``classes_[1]`` is +1; two
    classes are always logistic); one per class, one-vs-rest, for multiclass targets with
    ``multi_class="ovr"``; one per column for multi-label targets (a 2-D ``y`` whose entries
    take the same two labels, e.g. 0/1 indicators). Prediction for K classes: the class of
    the largest score f_t.

    Parameters
    ----------
    multi_class : {"multinomial", "ovr"}, default "multinomial"
        How K > 2 classes are fitted (ignored for binary and multi-label targets).
    Other parameters: as for :class:`LimitRegressor` (without ``loss``).

    Attributes
    ----------
    classes_ : ndarray
        The labels (for multi-label targets: the two labels every column uses).
    solution_, n_neurons_, directions_, weights_, intercept_, objective_, gap_,
    n_features_in_ : as for the regressor;  n_tasks_ : int, the number T of outputs
    (K for multiclass targets, 1 for binary ones).
    """

    def __init__(self, lam: float = 1e-3, *, multi_class: str = "multinomial",
                 penalty: str = "group", bias: str = "regularized", free: str = "none",
                 grid: np.typing.ArrayLike | None = None, n_directions: int | None = None,
                 solver: str = "auto",
                 tol: float = 1e-8, polish: bool = True, random_state: Any = 0,
                 warm_start: bool = False, solver_options: dict | None = None) -> None:
        self.lam = lam
        self.multi_class = multi_class
        self.penalty = penalty
        self.bias = bias
        self.free = free
        self.grid = grid
        self.n_directions = n_directions
        self.solver = solver
        self.tol = tol
        self.polish = polish
        self.random_state = random_state
        self.warm_start = warm_start
        self.solver_options = solver_options

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # the same tags for scikit-learn < 1.6
        return {"multioutput": True, "multilabel": True}

    def _loss_name(self) -> str:
        return "multinomial" if getattr(self, "_kind", None) == "softmax" else "logistic"

    def _encode(self, y):
        """Target matrix (n, T) for labels y: ±1 tasks, or one-hot rows for the softmax
        loss; sets classes_ and the target kind."""
        if self.multi_class not in MULTI_CLASS:
            raise ValueError(f"unknown multi_class={self.multi_class!r}; expected one of "
                             f"{', '.join(map(repr, MULTI_CLASS))}")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        check_classification_targets(y)
        classes, inv = np.unique(y.ravel(), return_inverse=True)
        inv = np.asarray(inv).reshape(y.shape)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"got 1 class ({classes[0]!r})")
        onehot = inv[..., None] == np.arange(len(classes))
        if y.ndim == 2:
            if len(classes) > 2:
                raise ValueError(
                    "multi-label targets must use the same two labels in every column (e.g. "
                    f"0/1 indicators); got {len(classes)} distinct labels "
                    "(multiclass-multioutput targets are not supported)")
            kind, Y = "multilabel", np.where(inv == 1, 1.0, -1.0)
        elif len(classes) == 2:
            kind, Y = "binary", np.where(inv == 1, 1.0, -1.0)[:, None]
        elif self.multi_class == "multinomial":
            kind, Y = "softmax", onehot.astype(float)
        else:
            kind, Y = "multiclass", np.where(onehot, 1.0, -1.0)
        self.classes_ = classes
        self._kind = kind
        return Y

    def fit(self, X: np.typing.ArrayLike, y: np.typing.ArrayLike) -> "LimitClassifier":
        """Solve the limit problem on (X, y) (softmax or logistic, see the class
        docstring). Returns self."""
        X, y = _validate(self, X, y, reset=True)
        Y = self._encode(y)
        self._set_fitted(self._solve(X, Y))
        self.n_tasks_ = Y.shape[1]
        return self

    def decision_function(self, X: np.typing.ArrayLike) -> np.ndarray:
        """f(X): (m,) for binary targets (positive means ``classes_[1]``), else (m, T)
        (the class scores for multiclass targets)."""
        F = self._decision(X)
        return F[:, 0] if self._kind == "binary" else F

    def predict(self, X: np.typing.ArrayLike) -> np.ndarray:
        """Labels: (m,), or (m, T) for multi-label targets."""
        D = self.decision_function(X)
        if self._kind in ("multiclass", "softmax"):
            return self.classes_[np.argmax(D, axis=1)]
        return self.classes_[(D > 0).astype(int)]

    def predict_proba(self, X: np.typing.ArrayLike) -> np.ndarray:
        """Class probabilities, shape (m, K) (multi-label: (m, T)).

        - binary: (1 − σ(f), σ(f)), the logistic model's own probabilities;
        - ``multi_class="multinomial"``: softmax(f(x)), the model's own probabilities;
        - ``multi_class="ovr"``: σ(f_t) / Σ_s σ(f_s). Each σ(f_t) is the probability of
          class t against the rest under its own binary model; the K models are not one
          probability model, so the normalization only makes the rows sum to 1 (argmax
          unchanged) and is not a calibrated probability;
        - multi-label: σ(f_t), each label's probability of its positive class.
        """
        D = self.decision_function(X)
        if self._kind == "binary":
            p = expit(D)
            return np.column_stack([1.0 - p, p])
        if self._kind == "softmax":
            return softmax(D, axis=1)
        P = expit(D)
        if self._kind == "multiclass":
            P = P / P.sum(axis=1, keepdims=True)
        return P

    def predict_log_proba(self, X: np.typing.ArrayLike) -> np.ndarray:
        """log of :meth:`predict_proba` (computed stably for the softmax)."""
        if getattr(self, "_kind", None) == "softmax":
            return log_softmax(self.decision_function(X), axis=1)
        return np.log(self.predict_proba(X))
