"""Plots. Not imported by ``limitsolver`` itself; every function takes ``ax=None`` and returns
the Axes, and never touches global rcParams."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_fit_1d"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots()
    return ax


def plot_fit_1d(solution, ax=None, *, n_points: int = 400, show_data: bool = True,
                show_kinks: bool = True, label: str | None = None, colors=None):
    """Fitted functions of a 1-D solution, one curve per task, with data and kinks.

    Kinks of neurons used by a task (see ``LimitSolution.task_usage``) are marked on that
    task's curve.
    """
    p = solution.problem
    if p.d != 1:
        raise ValueError("plot_fit_1d needs 1-D inputs")
    ax = _axes(ax)
    x = p.X[:, 0]
    lo, hi = x.min(), x.max()
    pad = 0.1 * max(hi - lo, 1e-12)
    grid = np.linspace(lo - pad, hi + pad, n_points)
    F = solution.predict(grid[:, None])
    kinks = solution.kinks()
    usage = solution.task_usage()
    for t in range(p.T):
        color = None if colors is None else colors[t % len(colors)]
        name = f"task {t}" if label is None else f"{label} task {t}"
        (line,) = ax.plot(grid, F[:, t], color=color, label=name)
        c = line.get_color()
        if show_data:
            ax.plot(x, p.Y[:, t], "o", ms=3, color=c, alpha=0.6)
        if show_kinks and kinks.size:
            k = kinks[usage[:, t] & np.isfinite(kinks) & (kinks >= grid[0]) & (kinks <= grid[-1])]
            ax.plot(k, solution.predict(k[:, None])[:, t], "x", ms=8, mew=2, color=c)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.legend(fontsize="small")
    return ax
