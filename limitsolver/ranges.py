"""The range of near-optimal predictions: is the limit's function unique?

For a solved problem with objective J* and a tolerance ε, the set of near-optimal measures
is A = {μ : J(μ) ≤ B}, B = J* + ε·|J*|. At an input x and task t the range of predictions is
[min_{μ∈A} f_μ,t(x), max_{μ∈A} f_μ,t(x)]. Over measures supported on a *finite* set
S = {θ_1..θ_M} (the solution's atoms plus a grid, plus any directions one passes) both ends
are convex programs (J is convex, f_μ(x) is linear in μ), solved here with cvxpy. This is
the tool to *certify* non-uniqueness instead of eyeballing two fits.

What is certified (and what is not):

- every endpoint returned is f_μ,t(x) of an explicit measure μ on S (and a free part)
  whose objective, re-evaluated in NumPy after the conic solve, is ≤ B. When the conic
  solver overshoots B by its tolerance, μ is replaced by the convex combination
  μ_s = μ* + s(μ − μ*) with the solution μ* itself, s = (B − J(μ*)) / (J(μ) − J(μ*)):
  J convex gives J(μ_s) ≤ (1 − s)J(μ*) + sJ(μ) = B, and f_μs = f* + s(f_μ − f*).
  The solution's own prediction f*(x) is in the range (μ* is in A).
- Hence [lower, upper] is an INNER approximation of the true range over all measures on
  Θ: two measures, both with J ≤ B, i.e. within B − OPT ≤ ε|J*| + (J* − lower bound) of the
  infinite-width optimum, predict ``lower`` and ``upper``. A width > 0 certifies that the
  ε-near-optimal set is not a single function; it does not by itself prove that the exact
  optimum is not unique (ε > 0), and a width ≈ 0 does not prove uniqueness over all of Θ
  (only over S).
- ``conic_lower``/``conic_upper`` are the solver's optimal values (the range over S to
  the solver's tolerance, an estimate; the programs aim at J* + 0.9·ε|J*| so that the
  solver's own tolerance rarely triggers the pull-back above).
- For ``loss="interpolate"`` the constraint F(x_i) = y_i holds to the conic solver's
  tolerance: ``infeasibility`` is the largest interpolation residual among the returned
  measures (and the solution's own).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .certificate import primal_value
from .features import augment, relu_features
from .grids import default_grid
from .solution import LimitSolution

__all__ = ["prediction_range", "PredictionRange", "RANGE_GRID_SIZE"]

#: Default size of the grid added to the solution's atoms, per input dimension d.
RANGE_GRID_SIZE = {1: 256, 2: 300}
_RANGE_GRID_HIGH_D = 500
#: The conic programs use the budget J* + CONIC_SHARE·ε|J*|; ends are then checked against
#: the full budget B (the margin absorbs the conic solver's tolerance).
CONIC_SHARE = 0.9
#: Conic solvers tried in this order.
_SOLVERS = ("CLARABEL", "ECOS", "SCS")


class PredictionRange:
    """Result of :func:`prediction_range`; arrays have shape (m, len(tasks)).

    Attributes
    ----------
    X_eval : ndarray (m, d);  tasks : ndarray of int
    lower, upper : ndarray   attained ends of the range (inner approximation, see module).
    prediction : ndarray     the solution's own prediction (lower ≤ prediction ≤ upper).
    conic_lower, conic_upper : ndarray   the conic solver's optimal values (estimates).
    budget : float           B = J* + ε|J*|;  reference : float, J* (the solution's J on S).
    eps : float              relative slack (B − J*)/|J*| (also when ``slack`` was given).
    n_support : int  (|S|);  n_failed : int (conic solves that failed: the
    solution's own value is kept for those ends).
    excess : float or None   B − the solution's certified lower bound on OPT: every
                             returned measure is within this of the infinite-width optimum.
    infeasibility : float    max interpolation residual (0 for other losses).
    """

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    @property
    def width(self) -> np.ndarray:
        """upper − lower (m, len(tasks))."""
        return self.upper - self.lower

    def __repr__(self) -> str:
        return (f"<PredictionRange points={self.lower.shape[0]} tasks={list(self.tasks)} "
                f"max width={float(self.width.max()):.3g} eps={self.eps:g}>")


def _cvx_objective(problem, Phi, V, C):
    import cvxpy as cp
    pred = Phi @ V if C is None else Phi @ V + problem.F @ C
    pen = (cp.sum(cp.norm(V, 2, axis=1)) if problem.penalty == "group"
           else cp.sum(cp.abs(V)))
    n = problem.n
    if problem.loss == "interpolate":
        return pen, [pred == problem.Y]
    if problem.loss == "squared":
        return cp.sum_squares(problem.Y - pred) / (2 * n) + problem.lam * pen, []
    return cp.sum(cp.logistic(-cp.multiply(problem.Y, pred))) / n + problem.lam * pen, []


def _support(problem, solution, grid, n_directions, random_state):
    if grid is None:
        size = n_directions or RANGE_GRID_SIZE.get(problem.d, _RANGE_GRID_HIGH_D)
        grid = default_grid(problem.X, problem.bias, size, random_state=random_state)
    grid = problem.check_directions(grid)
    return np.vstack([solution.atom_directions, grid])


def _solve(prob, solver):
    import cvxpy as cp
    for name in ((solver,) if solver else _SOLVERS):
        try:
            with warnings.catch_warnings():
                # "optimal_inaccurate" is accepted: the endpoint is re-checked in NumPy
                warnings.filterwarnings("ignore", message="Solution may be inaccurate",
                                        category=UserWarning)
                prob.solve(solver=name)
        except (cp.error.SolverError, ArithmeticError, ValueError):
            continue
        if prob.status in ("optimal", "optimal_inaccurate"):
            return True
    return False


def prediction_range(solution: LimitSolution, X_eval: Any, *, eps: float = 1e-6,
                     slack: float | None = None,
                     tasks: Sequence[int] = (0,), grid: np.ndarray | None = None,
                     n_directions: int | None = None, solver: str | None = None,
                     random_state: Any = 0) -> PredictionRange:
    """Min and max of f_μ,t(x) over measures μ on a finite support set with J(μ) ≤ B.

    Parameters
    ----------
    solution : LimitSolution   (``penalty`` "group" or "l1"; any loss but "multinomial").
    X_eval : array_like (m, d)   points at which to bound the prediction.
    eps : float ≥ 0            relative slack: B = J* + eps·|J*|, J* the solution's objective.
    slack : float ≥ 0, optional
        Absolute slack instead: B = J* + slack (``eps`` is then ignored and reported as
        slack/|J*|). Use it to compare problems whose objectives differ in scale, e.g. the
        same task 0 with K extra tasks: slack = ε·J₀ with J₀ task 0's cost alone keeps the
        slack per task fixed while J* grows with K.
    tasks : sequence of int    tasks t whose range is computed (default task 0).
    grid : array_like (M, d+1), optional
        Directions added to the solution's atoms (normalized as the problem requires), e.g.
        the atoms of other solutions; default a :func:`~limitsolver.grids.default_grid`
        of ``n_directions`` (``RANGE_GRID_SIZE``: 256 for d = 1, 300 for d = 2, else 500).
    solver : str, optional     cvxpy solver name (default Clarabel → ECOS → SCS).

    Returns
    -------
    PredictionRange   (what its numbers certify: see the module docstring)

    Cost: 2·m·len(tasks) conic programs with M·T weights each.
    """
    p = solution.problem
    if p.penalty not in ("group", "l1") or p.loss not in ("squared", "logistic",
                                                          "interpolate"):
        raise ValueError(f"prediction_range needs penalty 'group' or 'l1' and a squared, "
                         f"logistic or interpolation loss, got {p.penalty!r}, {p.loss!r}")
    if not (np.isscalar(eps) and np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if slack is not None and not (np.isscalar(slack) and np.isfinite(slack) and slack >= 0):
        raise ValueError(f"slack must be a finite number >= 0, got {slack!r}")
    Xe = np.asarray(X_eval, dtype=float)
    Xe = Xe[:, None] if Xe.ndim == 1 and p.d == 1 else Xe
    if Xe.ndim != 2 or Xe.shape[1] != p.d or Xe.shape[0] == 0 or not np.all(np.isfinite(Xe)):
        raise ValueError(f"X_eval must be finite with shape (m, {p.d}), got {Xe.shape}")
    tasks = np.atleast_1d(np.asarray(tasks))
    if tasks.dtype.kind not in "iu" or tasks.size == 0 or tasks.min() < 0 or \
            tasks.max() >= p.T:
        raise ValueError(f"tasks must be task indices in [0, {p.T}), got {tasks!r}")
    S = _support(p, solution, grid, n_directions, random_state)
    ctx = _Context(p, solution, S, Xe, eps, slack)
    out, failed = ctx.run(tasks, solver)
    f_sol = ctx.f_sol
    lower = np.minimum(out["lower"], f_sol[:, tasks])
    upper = np.maximum(out["upper"], f_sol[:, tasks])
    if failed:
        warnings.warn(f"prediction_range: {failed} conic solves failed; the solution's own "
                      "prediction is kept for those ends (the range is narrower than it "
                      "could be)", RuntimeWarning, stacklevel=2)
    lb = solution.lower_bound if solution.lower_bound_exact else None
    return PredictionRange(
        X_eval=Xe, tasks=tasks, lower=lower, upper=upper, prediction=f_sol[:, tasks],
        conic_lower=out["conic_lower"], conic_upper=out["conic_upper"], budget=ctx.budget,
        reference=ctx.J_sol, eps=ctx.eps, n_support=len(S), n_failed=failed,
        excess=None if lb is None else ctx.budget - lb, infeasibility=ctx.infeasibility)


class _Context:
    """The conic programs of one solution and support set S (shared across points)."""

    def __init__(self, p, solution, S, Xe, eps, slack=None):
        self.p, self.S = p, S
        M, T, q = S.shape[0], p.T, p.F.shape[1]
        self.M, self.T, self.q = M, T, q
        self.Phi = relu_features(p.Xt, S)
        self.V_sol = np.vstack([solution.atom_weights,
                                np.zeros((M - len(solution.atom_weights), T))])
        self.C_sol = solution.free_coef[:q] if q else np.zeros((0, T))
        self.J_sol, self.pred_sol = primal_value(p, S, self.V_sol, self.C_sol)
        if slack is None:
            self.budget, self.eps = self.J_sol + eps * abs(self.J_sol), float(eps)
        else:
            self.budget = self.J_sol + float(slack)
            self.eps = float(slack) / max(abs(self.J_sol), 1e-300)
        ones = np.ones((len(Xe), 1))
        self.Fe = np.zeros((len(Xe), 0)) if q == 0 else (
            ones if p.free == "intercept" else np.hstack([ones, Xe]))
        self.Pe = relu_features(augment(Xe), S)
        self.f_sol = self.Pe @ self.V_sol + self.Fe @ self.C_sol
        self.infeasibility = (float(np.max(np.abs(self.pred_sol - p.Y)))
                              if p.loss == "interpolate" else 0.0)

    def run(self, tasks, solver):
        """Both ends at every point for every task: (dict of (m, len(tasks)) arrays, failures)."""
        import cvxpy as cp
        p, q = self.p, self.q
        V = cp.Variable((self.M, self.T))
        C = cp.Variable((q, self.T)) if q else None
        J, cons = _cvx_objective(p, self.Phi, V, C)
        # the conic solve aims slightly inside the budget, so that its tolerance rarely
        # needs the pull-back of :meth:`endpoint` (which keeps the value rigorous, not tight)
        cons = cons + [J <= self.J_sol + CONIC_SHARE * (self.budget - self.J_sol)]
        g, h = cp.Parameter(self.M), (cp.Parameter(q) if q else None)
        shape = (len(self.Pe), len(tasks))
        out = {k: np.empty(shape) for k in ("lower", "upper", "conic_lower", "conic_upper")}
        failed = 0
        for a, t in enumerate(tasks):
            prob = cp.Problem(cp.Minimize(g @ V[:, t] + (h @ C[:, t] if q else 0)), cons)
            for i in range(len(self.Pe)):
                for sign, key in ((1.0, "lower"), (-1.0, "upper")):
                    g.value = sign * self.Pe[i]
                    if q:
                        h.value = sign * self.Fe[i]
                    if not _solve(prob, solver) or V.value is None:
                        failed += 1
                        out[key][i, a] = out["conic_" + key][i, a] = self.f_sol[i, t]
                        continue
                    out["conic_" + key][i, a] = sign * prob.value
                    Cm = C.value if q else np.zeros((0, self.T))
                    out[key][i, a] = self.endpoint(V.value, Cm, i, t)
        return out, failed

    def endpoint(self, Vm, Cm, i, t):
        """f_t(x_i) of the conic solution, pulled back into {J ≤ B} along the segment to the
        solution if the solver overshot the budget (J convex); records the residual."""
        Jm, pred_m = primal_value(self.p, self.S, Vm, Cm)
        s = 1.0 if Jm <= self.budget else max(0.0, (self.budget - self.J_sol)
                                               / (Jm - self.J_sol))
        f0 = self.f_sol[i, t]
        if self.p.loss == "interpolate":
            res = (1 - s) * self.pred_sol + s * pred_m - self.p.Y
            self.infeasibility = max(self.infeasibility, float(np.max(np.abs(res))))
        return f0 + s * (self.Pe[i] @ Vm[:, t] + self.Fe[i] @ Cm[:, t] - f0)
