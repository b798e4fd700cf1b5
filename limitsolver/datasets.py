"""Built-in data sets."""
from __future__ import annotations

import numpy as np

__all__ = ["make_demo", "make_shared_features"]


def make_demo(n: int = 30, n_tasks: int = 2, noise: float = 0.0, random_state=0):
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
                         n_test: int = 200, random_state=0):
    """1-D tasks that share a few kinks: the multi-task benefit data set.

    The kink positions κ_1..κ_k are drawn once, uniformly in [−0.8, 0.8]; task t is

        f_t(x) = Σ_k a_tk relu(s_k (x − κ_k)),   a_tk ~ N(0, 1),  s_k = ±1,

    so every task is a piecewise-linear function with kinks at the same positions, but its
    own slopes. The training inputs are n uniform points in [−1, 1] (shared by all tasks),
    the targets f_t(x_i) plus N(0, noise²). Task t's function depends on ``random_state``
    and t only, so increasing ``n_tasks`` adds tasks and keeps the first ones.

    Returns
    -------
    X : ndarray (n, 1);  Y : ndarray (n, n_tasks) (noisy);
    X_test : ndarray (n_test, 1) equally spaced on [−1, 1];  Y_test : ndarray (n_test, n_tasks)
    (noise-free).
    """
    if n < 2 or n_tasks < 1 or n_kinks < 1 or n_test < 0 or noise < 0:
        raise ValueError(f"need n >= 2, n_tasks >= 1, n_kinks >= 1, n_test >= 0, noise >= 0; "
                         f"got n={n}, n_tasks={n_tasks}, n_kinks={n_kinks}, n_test={n_test}, "
                         f"noise={noise}")
    seed = int(np.random.default_rng(random_state).integers(2**31))
    rng = np.random.default_rng([seed, 0])
    kinks = rng.uniform(-0.8, 0.8, n_kinks)
    signs = rng.choice([-1.0, 1.0], n_kinks)
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    xt = np.linspace(-1.0, 1.0, n_test)
    A = np.array([np.random.default_rng([seed, 1, t]).standard_normal(n_kinks)
                  for t in range(n_tasks)]).T                      # (k, T)

    def f(z):
        return np.maximum(signs * (z[:, None] - kinks), 0.0) @ A

    E = np.column_stack([np.random.default_rng([seed, 2, t]).standard_normal(n)
                         for t in range(n_tasks)])
    Y = f(x) + noise * E
    return x[:, None], Y, xt[:, None], f(xt)
