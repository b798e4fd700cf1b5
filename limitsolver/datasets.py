"""Built-in data sets."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_demo", "make_shared_features"]


def make_demo(n: int = 30, n_tasks: int = 2, noise: float = 0.0,
              random_state: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """The built-in 1-D multi-task data set.

    ``n`` equally spaced points on [−1, 1]; task t is a piecewise-linear function whose
    kinks lie at the shared positions −0.5, 0.1 and 0.6 with task-specific slope changes
    (so a multi-task network can reuse the same neurons), plus optional Gaussian noise.

    Returns
    -------
    X : ndarray (n, 1);  Y : ndarray (n, n_tasks)
    """
    if n < 2 or n_tasks < 1:
        raise ValueError(f"need n >= 2 and n_tasks >= 1, got n={n}, n_tasks={n_tasks}")
    rng = np.random.default_rng(random_state)
    x = np.linspace(-1.0, 1.0, n)
    knots = np.array([-0.5, 0.1, 0.6])
    base = np.array([[1.0, -2.0, 1.5], [-1.0, 1.5, -1.0], [0.5, 1.0, -2.0]])
    Y = np.empty((n, n_tasks))
    for t in range(n_tasks):
        a = base[t] if t < len(base) else rng.normal(size=3)
        Y[:, t] = np.maximum(x[:, None] - knots[None, :], 0.0) @ a + 0.2 * t
    if noise:
        Y += noise * rng.standard_normal(Y.shape)
    return x[:, None], Y


def make_shared_features(n: int = 12, n_tasks: int = 4, *, n_kinks: int = 3, noise: float = 0.1,
                         n_test: int = 200, random_state: Any = 0, d: int = 1,
                         normalize: bool = False, return_neurons: bool = False) -> tuple:
    """Tasks that share a few ReLU neurons: the multi-task benefit data set.

    The k = ``n_kinks`` shared neurons θ_k = (w_k, b_k) are drawn once; task t is

        f_t(x) = Σ_k a_tk relu(w_k·x + b_k),   a_tk ~ N(0, 1),

    so every task uses the same neurons (the same kinks in 1-D, the same kink hyperplanes
    {w_k·x + b_k = 0} in d ≥ 2), each with its own output weights.

    - ``d = 1`` (the default): w_k = s_k = ±1 and the kinks κ_k = −b_k/w_k are uniform in
      [−0.8, 0.8]; the n training inputs are uniform in [−1, 1], the test inputs ``n_test``
      equally spaced points of [−1, 1].
    - ``d ≥ 2``: w_k uniform on the unit sphere S^{d−1}, b_k uniform in [−0.5, 0.5] (so every
      kink hyperplane crosses the data); training and test inputs uniform in the cube
      [−1, 1]^d.

    The training inputs are shared by all tasks (Y is n × T), the targets are f_t(x_i) plus
    N(0, noise²). With ``normalize=True`` each task is divided by its root-mean-square on
    2000 reference inputs drawn like the training inputs (so every task has unit size and
    ``noise`` is a noise-to-signal ratio); the default keeps the raw N(0, 1) weights.
    Task t's function and noise depend on ``random_state`` and t only, so increasing
    ``n_tasks`` adds tasks and keeps the first ones.

    Returns
    -------
    X : ndarray (n, d);  Y : ndarray (n, n_tasks) (noisy);
    X_test : ndarray (n_test, d);  Y_test : ndarray (n_test, n_tasks) (noise-free);
    neurons : tuple (Theta, A), only with ``return_neurons=True``: the true neurons
    Theta (k, d+1), rows (w_k, b_k), and their output weights A (k, n_tasks), so that
    f(x) = relu([x, 1] @ Theta.T) @ A.
    """
    if n < 2 or n_tasks < 1 or n_kinks < 1 or n_test < 0 or noise < 0 or d < 1:
        raise ValueError(f"need n >= 2, n_tasks >= 1, n_kinks >= 1, n_test >= 0, noise >= 0, "
                         f"d >= 1; got n={n}, n_tasks={n_tasks}, n_kinks={n_kinks}, "
                         f"n_test={n_test}, noise={noise}, d={d}")
    seed = int(np.random.default_rng(random_state).integers(2**31))
    rng = np.random.default_rng([seed, 0])
    if d == 1:
        kinks = rng.uniform(-0.8, 0.8, n_kinks)
        W = rng.choice([-1.0, 1.0], n_kinks)[:, None]
        b = -W[:, 0] * kinks
        X = np.sort(rng.uniform(-1.0, 1.0, n))[:, None]
        X_test = np.linspace(-1.0, 1.0, n_test)[:, None]
    else:
        W = rng.standard_normal((n_kinks, d))
        W /= np.linalg.norm(W, axis=1, keepdims=True)
        b = rng.uniform(-0.5, 0.5, n_kinks)
        X = rng.uniform(-1.0, 1.0, (n, d))
        X_test = np.random.default_rng([seed, 3]).uniform(-1.0, 1.0, (n_test, d))
    A = np.array([np.random.default_rng([seed, 1, t]).standard_normal(n_kinks)
                  for t in range(n_tasks)]).T                      # (k, T)
    if normalize:
        ref = np.random.default_rng([seed, 4]).uniform(-1.0, 1.0, (2000, d))
        A = A / np.sqrt(np.mean((np.maximum(ref @ W.T + b, 0.0) @ A) ** 2, axis=0))

    def f(Z):
        return np.maximum(Z @ W.T + b, 0.0) @ A

    E = np.column_stack([np.random.default_rng([seed, 2, t]).standard_normal(n)
                         for t in range(n_tasks)])
    Y = f(X) + noise * E
    if return_neurons:
        return X, Y, X_test, f(X_test), (np.column_stack([W, b]), A)
    return X, Y, X_test, f(X_test)
