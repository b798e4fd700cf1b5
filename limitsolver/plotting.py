"""Plots. Not imported by ``limitsolver`` itself; every function takes ``ax=None`` and returns
the Axes, and never touches global rcParams."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from .compare import ComparisonTable
from .path import LimitPath
from .solution import LimitSolution

__all__ = ["plot_fit_1d", "plot_measure", "plot_task_sharing", "plot_comparison", "plot_path",
           "plot_width_convergence", "task_sharing_matrix"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots()
    return ax


def plot_fit_1d(solution: LimitSolution, ax: Axes | None = None, *, n_points: int = 400,
                show_data: bool = True, show_kinks: bool = True, label: str | None = None,
                colors: Sequence | None = None, names: Sequence[str] | None = None) -> Axes:
    """Fitted functions of a 1-D solution, one curve per task, with data and kinks.

    Kinks of neurons used by a task (see ``LimitSolution.task_usage``) are marked on that
    task's curve. ``names`` (one per task, e.g. the target column names) label the curves
    in the legend instead of "task t"; ``label`` prefixes them.
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
    has_kinks = hasattr(solution, "kinks")   # a KernelSolution has a dense measure
    kinks = solution.kinks() if has_kinks else np.zeros(0)
    usage = solution.task_usage() if has_kinks else np.zeros((0, p.T), dtype=bool)
    if names is not None and len(names) != p.T:
        raise ValueError(f"names has {len(names)} entries for {p.T} tasks")
    for t in range(p.T):
        color = None if colors is None else colors[t % len(colors)]
        name = f"task {t}" if names is None else str(names[t])
        name = name if label is None else f"{label} {name}"
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


def _task_colors(T):
    import matplotlib.pyplot as plt
    cyc = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2"])
    return [cyc[t % len(cyc)] for t in range(T)]


def plot_measure(solution: LimitSolution, ax: Axes | None = None, *,
                 tol: float | None = None) -> Axes:
    """The learned measure: each neuron's direction against its weight norm ‖V_j‖₂.

    d = 1: the angle of θ_j = (w, b) on the circle (x-axis, radians) against ‖V_j‖ (stems);
    d = 2: the direction's azimuth and elevation on S², marker area ∝ ‖V_j‖.
    A neuron used by one task only has that task's colour; a neuron used by several tasks
    (``task_usage``) is black. A KernelSolution's dense density ‖g(θ)‖ is drawn as a curve
    (d = 1 only).
    """
    ax = _axes(ax)
    p = solution.problem
    if not hasattr(solution, "task_usage"):   # kernel: dense density g(θ)
        if p.d != 1:
            raise ValueError("plot_measure draws a kernel density for 1-D inputs only")
        phi = np.linspace(-np.pi, np.pi, 721)
        g = solution.density(np.column_stack([np.cos(phi), np.sin(phi)]))
        ax.plot(phi, np.linalg.norm(g, axis=1), "k-", label="‖g(θ)‖ (kernel density)")
        ax.set_xlabel("direction angle of θ = (w, b) [rad]")
        ax.set_ylabel("density norm")
        ax.legend(fontsize="small")
        return ax
    D, W = solution.directions, solution.weights
    use = solution.task_usage() if tol is None else solution.task_usage(tol)
    norms = np.linalg.norm(W, axis=1)
    colors = _task_colors(p.T)
    col = [("k" if u.sum() > 1 else colors[int(np.argmax(u))]) for u in use]
    if p.d == 1:
        ang = np.arctan2(D[:, 1], D[:, 0])
        for a, r, c in zip(ang, norms, col):
            ax.plot([a, a], [0, r], "-", color=c, lw=2)
            ax.plot(a, r, "o", color=c)
        ax.set_xlim(-np.pi, np.pi)
        ax.set_xlabel("direction angle of θ = (w, b) [rad]")
    elif p.d == 2:
        U = D / np.linalg.norm(D, axis=1, keepdims=True)
        az, el = np.arctan2(U[:, 1], U[:, 0]), np.arcsin(np.clip(U[:, 2], -1, 1))
        s = 400 * norms / max(norms.max(), 1e-300) if norms.size else norms
        ax.scatter(az, el, s=s, c=col, alpha=0.8)
        ax.set_xlim(-np.pi, np.pi)
        ax.set_ylim(-np.pi / 2, np.pi / 2)
        ax.set_xlabel("azimuth [rad]")
        ax.set_ylabel("elevation [rad]")
    else:
        raise ValueError("plot_measure draws d = 1 or d = 2 inputs")
    if p.d == 1:
        ax.set_ylabel("‖V_j‖₂")
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colors[t], marker="o", ls="", label=f"task {t} only")
               for t in range(p.T)]
    handles.append(Line2D([], [], color="k", marker="o", ls="", label="shared"))
    ax.legend(handles=handles, fontsize="small")
    return ax


def task_sharing_matrix(solution: LimitSolution) -> np.ndarray:
    """S (T × T): S_st = Σ_j |V_js||V_jt| / (‖V_·s‖ ‖V_·t‖), the cosine between the tasks'
    neuron-weight profiles (1 on the diagonal; 0 when two tasks use disjoint neurons)."""
    A = np.abs(np.asarray(solution.weights, dtype=float))
    G = A.T @ A
    nrm = np.sqrt(np.maximum(np.diag(G), 1e-300))
    return G / np.outer(nrm, nrm)


def plot_task_sharing(solution: LimitSolution, ax: Axes | None = None) -> Axes:
    """The task-sharing matrix (:func:`task_sharing_matrix`) as an image with values."""
    ax = _axes(ax)
    S = task_sharing_matrix(solution)
    im = ax.imshow(S, vmin=0, vmax=1, cmap="viridis")
    T = S.shape[0]
    if T <= 12:
        for s in range(T):
            for t in range(T):
                ax.text(t, s, f"{S[s, t]:.2f}", ha="center", va="center", fontsize=8,
                        color="w" if S[s, t] < 0.5 else "k")
    ax.set_xticks(range(T))
    ax.set_yticks(range(T))
    ax.set_xlabel("task")
    ax.set_ylabel("task")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def plot_comparison(table: ComparisonTable, column: str = "test_error",
                    ax: Axes | None = None, *, errors: str | None = None,
                    log: bool = False) -> Axes:
    """Bars of one numeric column of a :class:`~limitsolver.compare.ComparisonTable`
    (or a dict {name: value}); ``errors`` are optional error-bar half-widths."""
    ax = _axes(ax)
    if isinstance(table, dict):
        names, vals = list(table), np.array([float(v) for v in table.values()])
    else:
        names, vals = [r.penalty for r in table], table.column(column)
    ax.bar(range(len(names)), vals, yerr=errors, color=_task_colors(len(names)), capsize=4)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel(column.replace("_", " "))
    if log:
        ax.set_yscale("log")
    return ax


def plot_width_convergence(widths: Any, objectives: Any, ax: Axes | None = None, *,
                           limit: float | None = None, lower_bound: float | None = None,
                           label: str = "finite width", spread: Any = None) -> Axes:
    """Training objective against width (plain arrays, e.g. from ``limitsolver.network``).

    Parameters
    ----------
    widths : array (k,);  objectives : array (k,) (or (k, s) for s seeds: the mean is drawn
    and the min/max as a band); limit : float, the limit's objective (dashed line);
    lower_bound : float, the certified lower bound (dotted line).
    """
    ax = _axes(ax)
    w = np.asarray(widths, dtype=float)
    obj = np.asarray(objectives, dtype=float)
    if obj.ndim == 2:
        lo, hi, obj = obj.min(1), obj.max(1), obj.mean(1)
        ax.fill_between(w, lo, hi, alpha=0.25)
    if w.shape != obj.shape:
        raise ValueError(f"widths {w.shape} and objectives {obj.shape} do not match")
    ax.plot(w, obj, "o-", label=label)
    if limit is not None:
        ax.axhline(limit, color="k", ls="--", label="infinite-width limit")
    if lower_bound is not None:
        ax.axhline(lower_bound, color="k", ls=":", label="certified lower bound")
    ax.set_xscale("log")
    ax.set_xlabel("width m")
    ax.set_ylabel("objective")
    ax.legend(fontsize="small")
    return ax


def _positive(values) -> np.ndarray:
    """Floats with None and values ≤ 0 as NaN (not drawn on a log axis)."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    arr[~(arr > 0)] = np.nan
    return arr


def plot_path(path: LimitPath, ax: Axes | None = None) -> Axes:
    """A regularization path (:class:`~limitsolver.path.LimitPath`) against λ, log axes.

    Left axis (log): the objective, the grid duality gap and, where the solutions carry
    one, the limit gap (objective − lower bound); gaps ≤ 0 (certified to rounding) are not
    drawn. Right axis (a twin of ``ax``, linear): the number of active neurons, as steps.
    The λ axis is logarithmic and decreasing to the right, as the path is solved.

    Returns
    -------
    matplotlib Axes
        The left axis (the right one is ``ax.neurons_axis``).
    """
    if not hasattr(path, "lams") or not hasattr(path, "objectives"):
        raise ValueError(f"plot_path takes a LimitPath, got {type(path).__name__}")
    if len(path) == 0:
        raise ValueError("plot_path: the path has no solved λ values")
    ax = _axes(ax)
    lams = np.asarray(path.lams, dtype=float)
    ax.plot(lams, _positive(path.objectives), "o-", color="C0", label="objective")
    ax.plot(lams, _positive(path.gaps), "s--", color="C1", ms=4, label="grid gap")
    limit = _positive(path.limit_gaps)
    if np.isfinite(limit).any():
        ax.plot(lams, limit, "^:", color="C2", ms=4, label="limit gap")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if lams.size > 1 and lams[0] > lams[-1]:
        ax.set_xlim(lams[0] * 1.2, lams[-1] / 1.2)
    ax.set_xlabel("λ")
    ax.set_ylabel("objective, gaps")
    right = ax.twinx()
    right.step(lams, np.asarray(path.n_neurons), where="mid", color="k", alpha=0.6,
               label="neurons")
    right.set_ylabel("neurons")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="best")
    if getattr(path, "interrupted", False):
        ax.set_title("interrupted path (solved λ values only)", fontsize="small")
    ax.neurons_axis = right
    return ax
