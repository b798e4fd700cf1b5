"""Built-in data sets."""
from __future__ import annotations

import numpy as np

__all__ = ["make_demo"]


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
