"""A small NumPy trainer for deep fully-connected ReLU networks (finite width and depth).

The network, L ≥ 1 hidden layers of width m, input x ∈ R^d, one output::

    a⁰ = x,   h^l = a^{l−1} W_lᵀ + b_l,   a^l = relu(h^l)      (l = 1..L)
    f(x) = a^L v + c

with W_1 ∈ R^{m×d}, W_l ∈ R^{m×m} (l ≥ 2), b_l ∈ R^m, v ∈ R^m, c ∈ R. Initialization
(He et al. 2015, "Delving deep into rectifiers", arXiv 1502.01852): W_l ~ N(0, 2/fan_in),
v ~ N(0, 1/m), biases 0, from ``numpy.random.default_rng(seed)`` so that a seed fixes the
whole run.

Objective (squared loss, weight decay on the weights only, not on the biases)::

    J(θ) = (1/(2n)) Σ_i (f(x_i) − y_i)² + (wd/2) (Σ_l ‖W_l‖_F² + ‖v‖²)

minimized by full-batch or mini-batch Adam (Kingma & Ba 2015, arXiv 1412.6980; the default
β₁ = 0.9, β₂ = 0.999, ε = 1e-8, bias-corrected moments) or plain (S)GD. The gradient is
exact backpropagation (:func:`objective_and_gradient`; tested against central finite
differences). This is a finite network trained by a local method: no statement about the
global optimum of J is made, and nothing here is a certificate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .budget import blas_threads

__all__ = ["DeepReLUNetwork", "init_deep", "objective_and_gradient", "train_deep"]


@dataclass
class DeepReLUNetwork:
    """Parameters of a deep ReLU network, ``params = [W_1, b_1, …, W_L, b_L, v, c]``
    (shapes (m, d), (m,), …, (m, m), (m,), (m,), ()); ``history`` holds the objective J
    at every ``record_every``-th step of training."""

    params: list
    history: list = field(default_factory=list)

    @property
    def depth(self) -> int:
        """Number of hidden layers L."""
        return (len(self.params) - 2) // 2

    def predict(self, X: np.ndarray) -> np.ndarray:
        """f(X) for X of shape (n, d); returns shape (n,)."""
        return _forward(self.params, np.asarray(X, dtype=float))[0]


def _check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"need X (n, d) and y (n,) with n >= 1, got {X.shape} and {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite")
    return X, y


def init_deep(d: int, width: int, depth: int, seed: int) -> DeepReLUNetwork:
    """He-initialized network (module docstring) for inputs of dimension d."""
    for name, v in (("d", d), ("width", width), ("depth", depth)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    rng = np.random.default_rng(seed)
    params = []
    fan_in = d
    for _ in range(depth):
        params.append(rng.standard_normal((width, fan_in)) * np.sqrt(2.0 / fan_in))
        params.append(np.zeros(width))
        fan_in = width
    params.append(rng.standard_normal(width) / np.sqrt(width))
    params.append(np.zeros(()))
    return DeepReLUNetwork(params)


def _forward(params: list, X: np.ndarray) -> tuple[np.ndarray, list, list]:
    """Outputs (n,), pre-activations [h¹..h^L] and activations [a⁰..a^L]."""
    depth = (len(params) - 2) // 2
    acts, pres = [X], []
    for l in range(depth):
        h = acts[-1] @ params[2 * l].T + params[2 * l + 1]
        pres.append(h)
        acts.append(np.maximum(h, 0.0))
    return acts[-1] @ params[-2] + params[-1], pres, acts


def objective_and_gradient(params: list, X: np.ndarray, y: np.ndarray,
                           weight_decay: float) -> tuple[float, list]:
    """J(θ) of the module docstring and its gradient (same layout as ``params``).

    Backpropagation: with r = (f − y)/n, ∂J/∂v = a^Lᵀ r + wd v, ∂J/∂c = Σ r; the error
    signal δ^L = (r vᵀ) ⊙ 1{h^L > 0}, δ^{l−1} = (δ^l W_l) ⊙ 1{h^{l−1} > 0}; ∂J/∂W_l =
    δ^lᵀ a^{l−1} + wd W_l, ∂J/∂b_l = Σ_i δ^l_i. (relu'(0) is taken as 0.)
    """
    n = X.shape[0]
    out, pres, acts = _forward(params, X)
    res = out - y
    sq = sum(float(np.sum(params[2 * l] ** 2)) for l in range((len(params) - 2) // 2))
    sq += float(np.sum(params[-2] ** 2))
    J = 0.5 * float(res @ res) / n + 0.5 * weight_decay * sq
    r = res / n
    grads = [None] * len(params)
    grads[-2] = acts[-1].T @ r + weight_decay * params[-2]
    grads[-1] = np.asarray(r.sum())
    delta = np.outer(r, params[-2]) * (pres[-1] > 0)
    for l in range(len(pres) - 1, -1, -1):
        grads[2 * l] = delta.T @ acts[l] + weight_decay * params[2 * l]
        grads[2 * l + 1] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ params[2 * l]) * (pres[l - 1] > 0)
    return J, grads


def _check_training(depth: int, width: int, weight_decay: float, lr: float, steps: int,
                    batch_size: Optional[int], optimizer: str) -> None:
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be finite and > 0, got {lr!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")


def train_deep(X: np.ndarray, y: np.ndarray, *, depth: int, width: int = 64,
               weight_decay: float = 0.0, lr: float = 1e-3, steps: int = 2000,
               batch_size: Optional[int] = None, optimizer: str = "adam", seed: int = 0,
               record_every: int = 100) -> DeepReLUNetwork:
    """Train a depth-``depth`` ReLU network on (X (n, d), y (n,)) from the He start of
    ``seed`` by ``steps`` updates of Adam (or SGD) on J (module docstring).

    ``batch_size=None`` is full batch; otherwise each step uses a fresh mini-batch drawn
    without replacement by the same seeded generator, so a run is reproducible.
    Returns the final network (not the best iterate) with J recorded along the way.
    """
    X, y = _check_xy(X, y)
    _check_training(depth, width, weight_decay, lr, steps, batch_size, optimizer)
    net = init_deep(X.shape[1], width, depth, seed)
    # one BLAS thread: the matrices are small (n × m, m × m); with several threads on a
    # busy machine a step ran ~10× slower
    with blas_threads(1):
        _adam_loop(net, X, y, weight_decay, lr, steps, batch_size, optimizer,
                   np.random.default_rng([seed, 1]), record_every)
    return net


def _adam_loop(net: DeepReLUNetwork, X: np.ndarray, y: np.ndarray, weight_decay: float,
               lr: float, steps: int, batch_size: Optional[int], optimizer: str,
               rng: np.random.Generator, record_every: int) -> None:
    """The update loop of :func:`train_deep` (in place on ``net.params``)."""
    p = net.params
    m1 = [np.zeros_like(w) for w in p]
    m2 = [np.zeros_like(w) for w in p]
    b1, b2, eps = 0.9, 0.999, 1e-8
    n = X.shape[0]
    for t in range(1, steps + 1):
        if batch_size is None or batch_size >= n:
            Xb, yb = X, y
        else:
            idx = rng.choice(n, size=batch_size, replace=False)
            Xb, yb = X[idx], y[idx]
        J, g = objective_and_gradient(p, Xb, yb, weight_decay)
        if not np.isfinite(J):
            raise FloatingPointError(f"objective diverged at step {t} (lr {lr} too large?)")
        if (t - 1) % record_every == 0:
            net.history.append(J)
        for i in range(len(p)):
            if optimizer == "sgd":
                p[i] = p[i] - lr * g[i]
                continue
            m1[i] = b1 * m1[i] + (1 - b1) * g[i]
            m2[i] = b2 * m2[i] + (1 - b2) * g[i] ** 2
            p[i] = p[i] - lr * (m1[i] / (1 - b1**t)) / (np.sqrt(m2[i] / (1 - b2**t)) + eps)
