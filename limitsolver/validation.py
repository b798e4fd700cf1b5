"""`validate`: train finite networks of growing width and compare them with the limit.

The claim behind the library (MATH.md, "The infinite-width limit"): for every width m at
least the number of atoms the limit needs, the weight-decay training objective has the same
infimum OPT as the convex limit problem, and its minimizers are the limit's functions. This
module checks it on the user's data with the NumPy trainer of :mod:`limitsolver.trainer`.

What is compared, and how honestly:

- the limit is solved on a direction grid, so its ``objective`` is an UPPER bound on OPT;
  a trained network may end below it, by at most the grid-vs-limit gap;
- a LOWER bound on OPT is ``solution.lower_bound`` when the solution carries one (the sup
  of the dual correlation over all of Θ); otherwise the grid dual value is reported,
  labelled as a bound on the grid problem only — a network off the grid can go below it;
- no trained network can have an objective below a certified lower bound: ``below_bound``
  flags any that does.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .problem import LimitProblem
from .solution import LimitSolution

__all__ = ["validate", "ValidationResult"]

GRID_DUAL_LABEL = "grid dual (bounds the grid problem only, not OPT)"


@dataclass
class ValidationResult:
    """Trained networks against the limit, width by width and seed by seed.

    Attributes
    ----------
    widths : ndarray (W,);  seeds : ndarray (S,)
    objective : ndarray (W, S)
        Training objective L + (λ/2)‖params‖² of each trained network.
    rel_excess : ndarray (W, S)
        (objective − limit_objective) / |limit_objective| (can be slightly negative: the
        limit objective is the grid optimum, an upper bound on OPT).
    sup_distance : ndarray (W, S)
        max over the test points and tasks of |f_net − f_limit| (softmax loss: of the
        centred class scores, f − mean_k f_k, which is what the loss depends on).
    other_sup_distance : ndarray (W, S) or None
        The same against the limit of the other penalty (group ↔ l1).
    neurons : ndarray (W, S) of int
        Neurons left after pruning those of size ‖v_k‖‖(w_k, b_k)‖ ≤ prune_tol × largest.
    atoms : ndarray (W, S) of int
        Distinct atoms among the used neurons: neurons whose directions θ_k agree to 1e-4
        are one atom of the limit split over several neurons.
    below_bound : ndarray (W, S) of bool
        objective < lower_bound − 1e-12 · |lower_bound| (a violation when the bound is
        certified).
    limit_objective : float
        The limit solution's objective (grid optimum; an upper bound on OPT).
    lower_bound : float;  lower_bound_kind : str
        "certified", "estimate", or the grid dual (labelled ``GRID_DUAL_LABEL``).
    limit_neurons : int
        Neurons of the limit as a network (``solution.to_network().width``: its atoms, each
        split per task for ``penalty="l1"``).
    limit_width : int
        The smallest width at which the limit is a network of this kind: the number of
        atoms (group), or the largest number of atoms one task uses (l1, width per task).
    other_objective : float or None
        Limit objective with the other penalty (group for an l1 run and vice versa).
    solution, other_solution : LimitSolution
    X_test : ndarray (N, d)
    networks : list of lists of Network, or None (``keep_networks=True``)
    times : ndarray (W, S)   training seconds.
    """

    widths: np.ndarray
    seeds: np.ndarray
    objective: np.ndarray
    rel_excess: np.ndarray
    sup_distance: np.ndarray
    neurons: np.ndarray
    atoms: np.ndarray
    below_bound: np.ndarray
    limit_objective: float
    lower_bound: float
    lower_bound_kind: str
    limit_neurons: int
    limit_width: int
    penalty: str
    solution: object = field(repr=False)
    other_objective: float | None = None
    other_solution: object = field(default=None, repr=False)
    other_sup_distance: np.ndarray | None = None
    X_test: np.ndarray | None = field(default=None, repr=False)
    networks: list | None = field(default=None, repr=False)
    times: np.ndarray | None = None

    @property
    def best(self) -> np.ndarray:
        """Index (W,) of the seed with the lowest objective at each width."""
        return np.argmin(self.objective, axis=1)

    @property
    def best_rel_excess(self) -> np.ndarray:
        """Lowest relative excess over seeds, shape (W,)."""
        return self.rel_excess[np.arange(len(self.widths)), self.best]

    @property
    def best_sup_distance(self) -> np.ndarray:
        """Sup distance of the best seed at each width, shape (W,)."""
        return self.sup_distance[np.arange(len(self.widths)), self.best]

    def table(self) -> str:
        """The printed table: one row per width and seed."""
        other = "group" if self.penalty == "l1" else "l1"
        lines = [
            f"limit ({self.penalty} penalty): objective {self.limit_objective:.10g} "
            f"(grid optimum, upper bound on OPT), {self.limit_neurons} neurons "
            f"(width {self.limit_width}{' per task' if self.penalty == 'l1' else ''})",
            f"lower bound on OPT: {self.lower_bound:.10g} [{self.lower_bound_kind}]",
        ]
        if self.other_objective is not None:
            lines.append(f"limit with the {other} penalty: objective "
                         f"{self.other_objective:.10g} (the run must approach the "
                         f"{self.penalty} limit, not this one)")
        head = (f"{'width':>6} {'seed':>4} {'objective':>15} {'rel. excess':>12} "
                f"{'sup |f-f*|':>11} ")
        if self.other_sup_distance is not None:
            head += f"{'vs ' + other:>11} "
        head += f"{'neurons':>7} {'atoms':>5} {'< bound':>7} {'time s':>7}"
        lines.append(head)
        for i, m in enumerate(self.widths):
            for j, s in enumerate(self.seeds):
                row = (f"{m:>6d} {s:>4d} {self.objective[i, j]:>15.10g} "
                       f"{self.rel_excess[i, j]:>12.2e} {self.sup_distance[i, j]:>11.2e} ")
                if self.other_sup_distance is not None:
                    row += f"{self.other_sup_distance[i, j]:>11.2e} "
                row += (f"{self.neurons[i, j]:>7d} {self.atoms[i, j]:>5d} "
                        f"{'YES' if self.below_bound[i, j] else 'no':>7} "
                        f"{(self.times[i, j] if self.times is not None else np.nan):>7.1f}")
                lines.append(row)
        if self.below_bound.any():
            if self.lower_bound_kind == GRID_DUAL_LABEL:
                lines.append("networks below the grid dual value are expected: it bounds "
                             "the grid problem only, and the networks are not on the grid")
            else:
                lines.append(f"WARNING: networks below the {self.lower_bound_kind} lower "
                             "bound on OPT (a failed certificate or a training bug)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self, ax: Any = None) -> Any:
        """Best-of-seeds relative excess objective and sup distance against width
        (log-log), all seeds as faint points. Returns the Axes."""
        if ax is None:
            import matplotlib.pyplot as plt
            _, ax = plt.subplots(figsize=(6, 4))
        w = self.widths
        floor = 1e-12
        ex = np.maximum(np.abs(self.rel_excess), floor)
        for j in range(len(self.seeds)):
            ax.plot(w, ex[:, j], "o", color="C0", alpha=0.25, ms=4)
            ax.plot(w, np.maximum(self.sup_distance[:, j], floor), "s", color="C1",
                    alpha=0.25, ms=4)
        ax.plot(w, np.maximum(np.abs(self.best_rel_excess), floor), "o-", color="C0",
                label="|objective − limit| / limit (best seed)")
        ax.plot(w, np.maximum(self.best_sup_distance, floor), "s-", color="C1",
                label="sup |f − f_limit| on test points (best seed)")
        if self.other_sup_distance is not None:
            other = self.other_sup_distance[np.arange(len(w)), self.best]
            ax.plot(w, np.maximum(other, floor), "^--", color="C2",
                    label=f"sup distance to the {'group' if self.penalty == 'l1' else 'l1'} limit")
        ax.axvline(self.limit_width, color="0.5", ls=":",
                   label=f"width of the limit ({self.limit_width})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width m" + (" (per task)" if self.penalty == "l1" else ""))
        ax.set_title(f"finite networks vs the limit ({self.penalty} penalty)")
        ax.legend(fontsize=8)
        return ax


def _default_test_points(X: np.ndarray, n_points: int = 501, random_state=0) -> np.ndarray:
    lo, hi = X.min(axis=0), X.max(axis=0)
    if X.shape[1] == 1:
        return np.linspace(lo[0], hi[0], n_points)[:, None]
    rng = np.random.default_rng(random_state)
    return np.vstack([X, lo + (hi - lo) * rng.uniform(size=(n_points, X.shape[1]))])


def _distinct_atoms(net, tol: float = 1e-4) -> int:
    """Number of clusters of the neurons' directions (greedy, distance ≤ tol)."""
    dirs, _ = net.to_measure()
    if net.tasks is not None:  # one network per task: count atoms task by task
        keep = np.linalg.norm(net.V, axis=1) > 0
        tasks = net.tasks[keep & (net.scales() > 0)]
    else:
        tasks = np.zeros(len(dirs), dtype=int)
    count = 0
    for t in np.unique(tasks):
        left = dirs[tasks == t]
        while len(left):
            close = np.linalg.norm(left - left[0], axis=1) <= tol
            left = left[~close]
            count += 1
    return count


def _limit_width(solution) -> int:
    V = solution.atom_weights
    if solution.problem.penalty == "l1":
        return int(np.max(np.count_nonzero(V, axis=0))) if V.size else 0
    return int(V.shape[0])


def _check_widths(name, values):
    arr = np.atleast_1d(np.asarray(values))
    if arr.size == 0 or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) \
            or np.any(arr < (1 if name == "widths" else 0)):
        raise ValueError(f"{name} must be a non-empty sequence of "
                         f"{'positive' if name == 'widths' else 'non-negative'} integers, "
                         f"got {values!r}")
    return arr.astype(int)


def _comparable(F: np.ndarray, loss: str) -> np.ndarray:
    """Predictions in the form the sup distance compares: softmax scores are centred
    (F − mean over classes; the loss sees class scores only up to a common shift)."""
    return F - F.mean(axis=1, keepdims=True) if loss == "multinomial" else F


def _train_all(problem, widths, seeds, Xt, f_lim, f_other, train_options: dict, *,
               prune_tol: float, keep_networks: bool, verbose: bool, progress) -> dict:
    """Train one network per width × seed; the arrays of :class:`ValidationResult`."""
    from .progress import progress_bar
    from .trainer import train
    shape = (len(widths), len(seeds))
    out = dict(obj=np.empty(shape), sup=np.empty(shape), neu=np.empty(shape, dtype=int),
               osup=np.empty(shape) if f_other is not None else None,
               atoms=np.empty(shape, dtype=int), times=np.empty(shape),
               nets=[[None] * len(seeds) for _ in widths] if keep_networks else None)
    steps = train_options["steps"]
    bar = progress_bar(total=len(widths) * len(seeds), desc="validate", unit="net",
                       progress=progress)
    for i, m in enumerate(widths):
        for j, s in enumerate(seeds):
            bar.set_postfix_str(f"width {m} seed {s}")
            t0 = time.perf_counter()
            net = train(problem.X, problem.Y, lam=problem.lam, width=int(m), loss=problem.loss,
                        penalty=problem.penalty, bias=problem.bias, free=problem.free,
                        method=train_options["method"],
                        steps=max(3000, 32 * int(m)) if steps is None else steps,
                        init_scale=train_options["init_scale"], random_state=int(s))
            out["times"][i, j] = time.perf_counter() - t0
            out["obj"][i, j] = net.objective(problem.X, problem.Y, problem.lam, problem.loss)
            f = _comparable(net.predict(Xt), problem.loss)
            out["sup"][i, j] = float(np.max(np.abs(f - f_lim)))
            if f_other is not None:
                out["osup"][i, j] = float(np.max(np.abs(f - f_other)))
            used = net.prune(prune_tol)
            out["neu"][i, j] = used.width
            out["atoms"][i, j] = _distinct_atoms(used)
            if keep_networks:
                out["nets"][i][j] = net
            bar.update(1)
            if verbose:
                print(f"  width {m:>5d} seed {s:>2d}: objective {out['obj'][i, j]:.10g} "
                      f"({net.info.get('method')}, {net.info.get('iterations')} it, "
                      f"{out['times'][i, j]:.1f} s)", flush=True)
    bar.close()
    return out


def validate(X: ArrayLike, Y: ArrayLike, *, lam: float, loss: str = "squared",
             penalty: str = "group", bias: str = "regularized", free: str = "none",
             widths: Sequence[int] = (8, 32, 128, 512, 2048), seeds: Sequence[int] = (0, 1, 2),
             solution: LimitSolution | None = None,
             X_test: ArrayLike | None = None, method: str = "auto", steps: int | None = None,
             init_scale: float = 1.0, prune_tol: float = 1e-3,
             compare_penalties: bool = True, keep_networks: bool = False,
             verbose: bool = True, progress: bool | None = None,
             **solve_options: Any) -> ValidationResult:
    """Train networks at each width × seed and compare them with the infinite-width limit.

    Parameters
    ----------
    X : array_like (n, d) or (n,);  Y : array_like (n, T) or (n,)
    lam, loss, penalty, bias, free
        As in :func:`~limitsolver.api.solve`; ``loss`` "squared", "logistic" or
        "multinomial" (integer class labels or one-hot rows; the K outputs are trained),
        ``penalty`` "group" (one T-output network) or "l1" (T single-output networks of
        ``width`` neurons each; its limit is the single-task problem).
    widths : sequence of int
        Widths m (per task for ``penalty="l1"``).
    seeds : sequence of int
        Initialization seeds; every width is trained once per seed.
    solution : LimitSolution, optional
        The limit (solved here with :func:`~limitsolver.api.solve` when omitted). Its
        ``lower_bound`` is used when present; else the grid ``dual_value``, labelled.
    X_test : array_like (N, d), optional
        Points for the sup distance; default 501 equally spaced points on the data range
        (d = 1), or the data plus 501 uniform points of their bounding box.
    method, steps, init_scale
        Passed to :func:`~limitsolver.trainer.train`; ``steps=None`` uses
        max(3000, 32·width) iterations (BFGS needed ~6000 at width 256 on the demo).
    prune_tol : float
        A neuron counts as used when ‖v_k‖‖(w_k, b_k)‖ > prune_tol × the largest.
    compare_penalties : bool
        Also solve the limit with the other penalty (group ↔ l1) and report the distance of
        every network to it.
    keep_networks : bool
        Keep the trained networks in the result.
    verbose : bool
        Print the table (and a line per trained network).
    progress : bool, optional
        A progress bar over the trained networks (:mod:`limitsolver.progress`: tqdm when
        installed; default on for interactive terminals only).
    **solve_options
        Passed to :func:`~limitsolver.api.solve` (e.g. ``grid``, ``n_directions``).

    Returns
    -------
    ValidationResult
    """
    from .api import solve

    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
    if problem.loss == "interpolate":
        raise ValueError("validate trains networks: loss must be 'squared', 'logistic' or "
                         "'multinomial'")
    if problem.penalty == "kernel":
        raise ValueError("validate takes penalty='group' or 'l1' (kernel has no trained "
                         "counterpart here)")
    widths = _check_widths("widths", widths)
    seeds = _check_widths("seeds", seeds)
    if not (np.isscalar(prune_tol) and 0 <= prune_tol < 1):
        raise ValueError(f"prune_tol must be in [0, 1), got {prune_tol!r}")
    if X_test is None:
        Xt = _default_test_points(problem.X)
    else:
        Xt = np.asarray(X_test, dtype=float)
        if Xt.ndim == 1 and problem.d == 1:
            Xt = Xt[:, None]
        if Xt.ndim != 2 or Xt.shape[1] != problem.d or not np.all(np.isfinite(Xt)):
            raise ValueError(f"X_test must be a finite array of shape (N, {problem.d}), "
                             f"got shape {Xt.shape}")
    opts = problem.options()
    if solution is None:
        solution = solve(problem.X, problem.Y, **opts, **solve_options)
    else:
        got = solution.problem.options()
        if got != opts or solution.problem.X.shape != problem.X.shape \
                or not np.array_equal(solution.problem.X, problem.X) \
                or not np.array_equal(solution.problem.Y, problem.Y):
            raise ValueError(f"solution was solved for other data or options ({got}); "
                             f"validate was called with {opts}")
    other_solution = None
    if compare_penalties and problem.T > 1:
        other = "group" if problem.penalty == "l1" else "l1"
        other_solution = solve(problem.X, problem.Y, **{**opts, "penalty": other},
                               **solve_options)
    lb = getattr(solution, "lower_bound", None)
    if lb is not None:
        info = getattr(solution, "info", None) or {}
        kind = ("certified" if getattr(solution, "lower_bound_exact", False)
                or info.get("lower_bound_method") == "bounded" else "estimate")
    else:
        lb, kind = solution.dual_value, GRID_DUAL_LABEL
    f_lim = _comparable(solution.predict(Xt), problem.loss)
    f_other = (_comparable(other_solution.predict(Xt), problem.loss)
               if other_solution is not None else None)

    runs = _train_all(problem, widths, seeds, Xt, f_lim, f_other,
                      dict(method=method, steps=steps, init_scale=init_scale),
                      prune_tol=prune_tol, keep_networks=keep_networks, verbose=verbose,
                      progress=progress)
    obj, sup, osup, neu, atoms, times, nets = (runs[k] for k in (
        "obj", "sup", "osup", "neu", "atoms", "times", "nets"))
    ref = max(abs(solution.objective), 1e-300)
    result = ValidationResult(
        widths=widths, seeds=seeds, objective=obj, rel_excess=(obj - solution.objective) / ref,
        sup_distance=sup, neurons=neu, atoms=atoms,
        below_bound=obj < lb - 1e-12 * max(abs(lb), 1e-300),
        limit_objective=float(solution.objective), lower_bound=float(lb),
        lower_bound_kind=kind, limit_neurons=int(solution.to_network().width),
        limit_width=_limit_width(solution),
        penalty=problem.penalty, solution=solution,
        other_objective=None if other_solution is None else float(other_solution.objective),
        other_solution=other_solution, other_sup_distance=osup, X_test=Xt, networks=nets,
        times=times)
    if verbose:
        print(result.table())
    return result
