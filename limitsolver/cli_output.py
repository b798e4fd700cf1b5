"""Files the command line writes: the fit's plot and the path's CSV table."""
from __future__ import annotations

from .path import LimitPath
from .solution import LimitSolution

__all__ = ["plot_solution", "write_path_csv"]


def plot_solution(sol: LimitSolution, path: str, names: list | None = None) -> None:
    """1-D inputs: the fitted curves (plot_fit_1d); otherwise predicted vs. target per task.
    The legend uses ``names`` (the target columns) when given."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if sol.problem.d == 1:
        from .plotting import plot_fit_1d
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_fit_1d(sol, ax=ax, names=names)
    else:
        fig, ax = plt.subplots(figsize=(5, 5))
        P, Y = sol.predict(sol.problem.X), sol.problem.Y
        for t in range(sol.problem.T):
            ax.plot(Y[:, t], P[:, t], "o", ms=3, alpha=0.7,
                    label=f"task {t}" if names is None else str(names[t]))
        lo, hi = float(min(Y.min(), P.min())), float(max(Y.max(), P.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel("target")
        ax.set_ylabel("prediction")
        ax.legend(fontsize="small")
    ax.set_title(f"{sol.n_neurons} neurons, objective {sol.objective:.4g}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_path_csv(path: LimitPath, out: str) -> str:
    """The path's rows as CSV (lam, objective, gap, rel_gap, lower_bound, limit_gap,
    n_neurons, status)."""
    with open(out, "w") as fh:
        fh.write("lam,objective,gap,rel_gap,lower_bound,limit_gap,n_neurons,status\n")
        for k in range(len(path)):
            lb, lg = path.lower_bounds[k], path.limit_gaps[k]
            cells = [path.lams[k], path.objectives[k], path.gaps[k], path.rel_gaps[k], lb, lg]
            fh.write(",".join("" if v is None else repr(float(v)) for v in cells)
                     + f",{int(path.n_neurons[k])},{path.statuses[k]}\n")
    return out
