"""Regularization paths: solve for a decreasing sequence of λ with warm starts.

For each λ_k in λ_max = λ_1 > λ_2 > ... the grid problem (MATH.md)::

    minimize_{V, C}  L(Φ V + F C) + λ_k Σ_j ‖V_j‖

is solved on ONE direction grid (built once), starting from the solution at λ_{k−1}.
λ_max = max_j ‖(1/n) Φ_jᵀ Z₀‖ (Z₀ the residual of the free part alone, see
:func:`limitsolver.certificate.lam_max`) is the smallest λ at which V = 0 is optimal, so the
path starts from the empty network and adds neurons as λ decreases.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .gridsolve import DEFAULT_TOL, solve_problem, zero_solution
from .certificate import lam_max as compute_lam_max
from .grids import default_grid
from .limitattach import attach_limit_certificate
from .problem import LimitProblem
from .progress import progress_bar
from .solution import LimitSolution

__all__ = ["limit_path", "LimitPath", "lambda_grid", "zero_solution"]


def lambda_grid(lam_max: float, n_lams: int = 30, eps: float = 1e-3) -> np.ndarray:
    """Geometric sequence of ``n_lams`` values from ``lam_max`` down to ``eps · lam_max``.

    Returns
    -------
    ndarray (n_lams,), decreasing.
    """
    if isinstance(n_lams, (bool, np.bool_)) or int(n_lams) != n_lams or n_lams < 1:
        raise ValueError(f"n_lams must be a positive integer, got {n_lams!r}")
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"eps must be a number in (0, 1], got {eps!r}") from None
    if not (0 < eps <= 1):
        raise ValueError(f"eps must be in (0, 1], got {eps!r}")
    if not (np.isfinite(lam_max) and lam_max > 0):
        raise ValueError(f"lam_max must be a finite positive number, got {lam_max!r}")
    if int(n_lams) == 1:
        return np.array([float(lam_max)])
    return float(lam_max) * np.geomspace(1.0, eps, int(n_lams))


def _check_lams(lams) -> np.ndarray:
    try:
        arr = np.asarray(lams, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"lams must be a sequence of positive numbers, got {lams!r}") from None
    if arr.size == 0:
        raise ValueError("lams is empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"lams must be finite and > 0, got {arr.tolist()}")
    return np.sort(arr)[::-1]


@dataclass
class LimitPath:
    """Solutions along a regularization path (λ decreasing).

    Attributes
    ----------
    lams : ndarray (K,)             λ values, decreasing.
    solutions : list of LimitSolution (K,)
    objectives : ndarray (K,)       J at each returned point.
    gaps, rel_gaps : ndarray (K,)   grid certificates (absolute and relative duality gap).
    lower_bounds, limit_gaps : list (K,)
        Lower bound on the infinite-width OPT and the limit gap, where the solution carries
        one (None otherwise).
    n_neurons : ndarray (K,) of int  active (merged) neurons.
    statuses : list of str
    times : ndarray (K,)            wall-clock seconds per λ.
    lam_max : float                 λ_max on the path's grid.
    grid : ndarray (M, d+1)         the one grid every λ was solved on.
    interrupted : bool
        True when the computation was stopped (Ctrl-C) before every requested λ was
        solved: the path then holds the λ values solved so far.
    requested : ndarray (K0,) or None   every λ that was asked for (decreasing).
    """

    lams: np.ndarray
    solutions: list[LimitSolution]
    lam_max: float
    grid: np.ndarray
    times: np.ndarray
    objectives: np.ndarray = field(init=False)
    gaps: np.ndarray = field(init=False)
    rel_gaps: np.ndarray = field(init=False)
    lower_bounds: list = field(init=False)
    limit_gaps: list = field(init=False)
    n_neurons: np.ndarray = field(init=False)
    statuses: list = field(init=False)
    interrupted: bool = False
    requested: np.ndarray | None = None

    def __post_init__(self):
        s = self.solutions
        self.objectives = np.array([x.objective for x in s], dtype=float)
        self.gaps = np.array([x.gap for x in s], dtype=float)
        self.rel_gaps = np.array([x.rel_gap for x in s], dtype=float)
        self.lower_bounds = [x.lower_bound for x in s]
        self.limit_gaps = [x.limit_gap for x in s]
        self.n_neurons = np.array([x.n_neurons for x in s], dtype=int)
        self.statuses = [x.status for x in s]

    def __len__(self) -> int:
        return len(self.solutions)

    @staticmethod
    def table_header() -> str:
        """The two header lines of :meth:`table`."""
        head = (f"{'lam':>11s} {'objective':>14s} {'grid gap':>10s} {'rel gap':>9s} "
                f"{'limit gap':>10s} {'neurons':>8s} {'shared':>7s} {'status':>10s} "
                f"{'time(s)':>8s}")
        return head + "\n" + "-" * len(head)

    @staticmethod
    def table_row(lam: float, sol: LimitSolution, elapsed: float) -> str:
        """One line of :meth:`table`: the solution at λ = ``lam`` solved in ``elapsed`` s."""
        lg = "n/a" if sol.limit_gap is None else f"{sol.limit_gap:.2e}"
        if sol.limit_gap is not None and not sol.lower_bound_exact:
            lg = "~" + lg                       # the lower bound is not exact
        return (f"{lam:11.4e} {sol.objective:14.8g} {sol.gap:10.2e} {sol.rel_gap:9.1e} "
                f"{lg:>10s} {sol.n_neurons:8d} {sol.shared_fraction:7.0%} "
                f"{sol.status:>10s} {elapsed:8.3f}")

    def table(self) -> str:
        """The path as a text table, one line per λ (limit gap: objective − lower bound on
        the infinite-width OPT; marked ``~`` where the bound is not exact)."""
        lines = [self.table_header()]
        for k, sol in enumerate(self.solutions):
            lines.append(self.table_row(self.lams[k], sol, self.times[k]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not len(self):
            return f"<LimitPath empty{' (interrupted)' if self.interrupted else ''}>"
        return (f"<LimitPath {len(self)} lams from {self.lams[0]:.3g} to {self.lams[-1]:.3g}, "
                f"neurons {self.n_neurons.min()}..{self.n_neurons.max()}"
                f"{' (interrupted)' if self.interrupted else ''}>")


def limit_path(X: Any, Y: Any, *, lams: Any = None, n_lams: int = 30, eps: float = 1e-3,
               loss: str = "squared", penalty: str = "group", bias: str = "regularized",
               free: str = "none", grid: np.ndarray | None = None,
               n_directions: int | None = None, solver: str = "auto", tol: float = DEFAULT_TOL,
               polish: bool = True, random_state: Any = 0, warm_start: bool = True,
               verbose: bool = False, progress: bool | None = None,
               callback: Callable[[int, float, LimitSolution, float], Any] | None = None,
               certify_limit: bool = True, **solver_options: Any) -> LimitPath:
    """Solve the grid problem along a decreasing sequence of λ, with warm starts.

    For each λ_k (decreasing)::

        minimize_{V, C}  L(Φ V + F C) + λ_k Σ_j ‖V_j‖,    Φ_ij = relu(θ_j·x̃_i)

    on one grid θ_1..θ_M built once; the solution at λ_{k−1} is passed as
    ``warm_start`` to the solve at λ_k (backends that can use it start from it; the conic
    backends also reuse their compiled model, λ being a cvxpy Parameter). For λ ≥ λ_max the
    zero network (free part alone) is optimal and is returned in closed form, certified.

    Parameters
    ----------
    X : array_like (n, d) or (n,);  Y : array_like (n, T) or (n,)
    lams : array_like, optional
        λ values (sorted into decreasing order). By default ``n_lams`` values geometrically
        spaced from λ_max down to ``eps · λ_max``, with λ_max computed by
        :func:`~limitsolver.certificate.lam_max` on the same grid.
    n_lams : int;  eps : float in (0, 1]
    loss, penalty, bias, free, grid, n_directions, solver, tol, polish, random_state,
    **solver_options
        As in :func:`~limitsolver.api.solve` (``loss="interpolate"`` has no path).
    warm_start : bool
        Pass each solution to the next solve (default True; False gives cold solves).
    verbose : bool
        Show a progress bar (same as ``progress=True``).
    progress : bool, optional
        A progress bar over the λ values (:mod:`limitsolver.progress`: tqdm when
        installed; default on for interactive terminals only).
    callback : callable, optional
        ``callback(k, lam, solution, seconds)``, called as soon as λ_k is solved (e.g. to
        print :meth:`LimitPath.table_row`).
    certify_limit : bool
        Attach to every solution its certificate against the infinite-width optimum
        (:func:`~limitsolver.limitattach.attach_limit_certificate`: ``lower_bound``,
        ``limit_gap``). The statuses stay those of the grid certificates.

    Returns
    -------
    LimitPath
        On ``KeyboardInterrupt`` (Ctrl-C) the λ values solved so far, with
        ``interrupted=True`` and a warning, instead of the exception.
    """
    if loss == "interpolate":
        raise ValueError("loss='interpolate' has no regularization path (it is the λ → 0 "
                         "limit); use solve(..., loss='interpolate')")
    problem = LimitProblem(X, Y, lam=1.0, loss=loss, penalty=penalty, bias=bias, free=free)
    if grid is None:
        grid = default_grid(problem.X, problem.bias, n_directions, random_state=random_state)
    directions = problem.check_directions(grid)
    lmax = compute_lam_max(problem, directions)
    if lams is None:
        if not lmax > 0:
            raise ValueError("λ_max = 0: the free part alone fits the data exactly, so the "
                             "network is zero for every λ; pass lams explicitly")
        lams = lambda_grid(lmax, n_lams, eps)
    else:
        lams = _check_lams(lams)
    solutions, times = [], []
    previous = None
    bar = progress_bar(total=len(lams), desc="limit_path", unit="lam",
                       progress=True if verbose else progress)
    interrupted = False
    try:
        with bar:
            for lam in lams:
                t0 = time.perf_counter()
                if lam >= lmax:
                    sol = zero_solution(problem.with_lam(float(lam)), directions)
                else:
                    sol = solve_problem(problem.with_lam(float(lam)), directions,
                                        solver=solver, tol=tol,
                                        warm_start=previous if warm_start else None,
                                        polish=polish, **solver_options)
                if certify_limit:
                    attach_limit_certificate(sol)
                times.append(time.perf_counter() - t0)
                solutions.append(sol)
                previous = sol
                bar.update(1)
                if callback is not None:
                    callback(len(solutions) - 1, float(lam), sol, times[-1])
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(f"limit_path interrupted: {len(solutions)} of {len(lams)} λ values "
                      "solved; returning them (path.interrupted = True)", UserWarning,
                      stacklevel=2)
    lams = np.asarray(lams, dtype=float)
    return LimitPath(lams=lams[:len(solutions)], solutions=solutions, lam_max=lmax,
                     grid=directions, times=np.asarray(times, dtype=float),
                     interrupted=interrupted, requested=lams)
