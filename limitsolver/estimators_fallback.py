"""Stand-ins for the few scikit-learn pieces :mod:`limitsolver.estimators` uses, for when
scikit-learn (an optional dependency) is not installed: the estimators keep get_params /
set_params, ``score`` (R² averaged over outputs; accuracy) and the fitted-state and target
checks, with the same error types."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = ["NotFittedError", "BaseEstimator", "RegressorMixin", "ClassifierMixin",
           "check_is_fitted", "check_classification_targets"]


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""

class BaseEstimator:
    """get_params / set_params / repr, read from the ``__init__`` signature."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params: Any) -> BaseEstimator:
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; "
                                 f"valid parameters: {valid}")
            setattr(self, key, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

class RegressorMixin:
    """R² score, averaged uniformly over outputs."""

    def score(self, X: np.typing.ArrayLike, y: np.typing.ArrayLike) -> float:
        y = np.asarray(y, dtype=float)
        p = np.asarray(self.predict(X), dtype=float).reshape(y.shape)
        y2, p2 = y.reshape(len(y), -1), p.reshape(len(y), -1)
        ss_res = np.sum((y2 - p2) ** 2, axis=0)
        ss_tot = np.sum((y2 - y2.mean(0)) ** 2, axis=0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))

class ClassifierMixin:
    """Accuracy (subset accuracy for multi-label targets)."""

    def score(self, X: np.typing.ArrayLike, y: np.typing.ArrayLike) -> float:
        y = np.asarray(y)
        p = np.asarray(self.predict(X)).reshape(y.shape)
        return float(np.mean(np.all((p == y).reshape(len(y), -1), axis=1)))

def check_is_fitted(estimator: Any, attributes: Any = None) -> None:
    if not getattr(estimator, "solution_", None):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted "
                             "yet. Call 'fit' with appropriate arguments first.")

def check_classification_targets(y: np.typing.ArrayLike) -> None:
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("Input y contains NaN or infinity.")
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        raise ValueError("Unknown label type: continuous targets; a classifier needs "
                         "discrete labels")
