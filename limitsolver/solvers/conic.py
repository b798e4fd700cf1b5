"""cvxpy backends (Clarabel, SCS, ECOS, or any installed cvxpy solver).

The grid problem is built once per (data, options, grid) with λ as a ``cvxpy.Parameter``;
a second λ on the same data and grid reuses the compiled problem.

    minimize_{V, C}  L(Φ V + F C) + λ Ω(V)          (squared / logistic / multinomial)
    minimize_{V, C}  Ω(V)  s.t.  Φ V + F C = Y      (interpolation)

Ω is ``cp.sum(cp.norm(V, 2, axis=1))`` (group; ``cp.norm1`` for one task) or
``cp.sum(cp.abs(V))`` (l1); the logistic loss goes through the exponential cone
(``cp.logistic``), the multinomial loss too (``cp.log_sum_exp`` of each row minus the score
of its class).

The backends' own "Solution may be inaccurate" warning is silenced (the certificate judges
every point); other warnings pass. An option the backend does not know becomes a
ValueError naming it; any other error inside the backend is not relabelled.
"""
from __future__ import annotations

import hashlib
import time
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from ..features import relu_features
from ..problem import LimitProblem
from .base import SolverFailed, SolverResult

__all__ = ["ConicModel", "solve_conic", "installed_conic_solvers", "PREFERENCE",
           "unknown_option"]

#: Order in which ``solver="auto"`` tries the conic backends.
PREFERENCE = ("CLARABEL", "ECOS", "SCS")

_STATUS = {
    "optimal": "optimal",
    "optimal_inaccurate": "inaccurate",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "infeasible",
    "unbounded": "failed",
    "unbounded_inaccurate": "failed",
    "user_limit": "inaccurate",
}

_CACHE: "OrderedDict[str, ConicModel]" = OrderedDict()
_CACHE_SIZE = 4


def _cvxpy():
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - cvxpy is a core dependency
        raise SolverFailed(f"cvxpy is not importable: {exc}") from None
    return cp


_INSTALLED = []


def installed_conic_solvers() -> list[str]:
    """Names of the cvxpy solvers installed here (upper case, as cvxpy spells them).

    Looked up once per process: cvxpy tries to import every solver it knows on each call,
    which costs milliseconds — more than a small native solve."""
    if not _INSTALLED:
        _INSTALLED.append(tuple(_cvxpy().installed_solvers()))
    return list(_INSTALLED[0])


def _tolerance_options(name: str, tol: float) -> dict:
    # Interior-point backends are asked for 1000x the target: our certificate is built from
    # the primal point alone and is looser than the backend's own gap.
    t = float(max(1e-3 * tol, 1e-12))
    if name == "CLARABEL":
        return dict(tol_gap_abs=t, tol_gap_rel=t, tol_feas=t, max_iter=400)
    if name == "ECOS":
        return dict(abstol=t, reltol=t, feastol=t, max_iters=400)
    if name == "SCS":
        t = float(max(tol, 1e-12))
        return dict(eps_abs=t, eps_rel=t, max_iters=200_000)
    return {}


#: Start of cvxpy's warning for a backend status "optimal_inaccurate" (the certificate of
#: the returned point says how inaccurate it is).
INACCURATE_WARNING = "Solution may be inaccurate"


def unknown_option(exc: TypeError, options: dict) -> "str | None":
    """The option named by a backend's TypeError for an unknown setting (Clarabel:
    "unrecognized solver setting 'x'", ECOS/SCS: "'x' is an invalid keyword argument"), or
    None when the error names none of ``options``."""
    msg = str(exc)
    for name in options:
        if f"'{name}'" in msg and any(w in msg for w in ("unrecognized", "invalid keyword",
                                                         "unexpected keyword")):
            return name
    return None


class ConicModel:
    """A compiled cvxpy model of one grid problem, with λ as a Parameter.

    Parameters
    ----------
    problem : LimitProblem
    directions : ndarray (M, d+1), already normalized by ``problem.check_directions``.
    """

    def __init__(self, problem: LimitProblem, directions: np.ndarray) -> None:
        cp = _cvxpy()
        self.loss = problem.loss
        Phi = relu_features(problem.Xt, directions)
        n, M = Phi.shape
        T, p = problem.T, problem.F.shape[1]
        Y = problem.Y
        self.V = cp.Variable((M, T), name="V")
        self.C = cp.Variable((p, T), name="C") if p else None
        self.lam = cp.Parameter(nonneg=True, name="lam", value=1.0)
        pred = Phi @ self.V
        if p:
            pred = pred + problem.F @ self.C
        if problem.penalty == "group":
            omega = cp.sum(cp.norm(self.V, 2, axis=1)) if T > 1 else cp.norm1(self.V)
        else:
            omega = cp.sum(cp.abs(self.V))
        self.constraints = []
        if problem.loss == "squared":
            obj = cp.sum_squares(pred - Y) / (2.0 * n) + self.lam * omega
        elif problem.loss == "logistic":
            obj = cp.sum(cp.logistic(cp.multiply(-Y, pred))) / n + self.lam * omega
        elif problem.loss == "multinomial":
            lse = cp.sum(cp.log_sum_exp(pred, axis=1))
            obj = (lse - cp.sum(cp.multiply(Y, pred))) / n + self.lam * omega
        else:
            self.constraints = [pred == Y]
            obj = omega
        self.problem = cp.Problem(cp.Minimize(obj), self.constraints)

    def solve(self, lam: float, solver: str, tol: float, verbose: bool = False,
              **options: Any) -> SolverResult:
        """Solve with the named cvxpy solver; returns a :class:`SolverResult`."""
        cp = _cvxpy()
        self.lam.value = float(lam)
        opts = _tolerance_options(solver, tol)
        opts.update(options)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=INACCURATE_WARNING,
                                        category=UserWarning)
                self.problem.solve(solver=solver, verbose=verbose, **opts)
        except cp.error.SolverError as exc:
            raise SolverFailed(f"{solver} failed: {exc}") from None
        except TypeError as exc:
            bad = unknown_option(exc, opts)
            if bad is None:
                raise
            raise ValueError(f"option {bad!r} not accepted by {solver}: {exc}") from None
        elapsed = time.perf_counter() - t0
        status = _STATUS.get(self.problem.status, "failed")
        if status == "infeasible":
            T = self.V.shape[1]
            C0 = np.zeros(self.C.shape) if self.C is not None else np.zeros((0, T))
            return SolverResult(V=np.zeros(self.V.shape), C=C0, status="infeasible",
                                solver=solver.lower(),
                                info=dict(time=time.perf_counter() - t0,
                                          backend_status=self.problem.status))
        if self.V.value is None:
            raise SolverFailed(f"{solver} returned no point (status {self.problem.status!r})")
        V = np.asarray(self.V.value, dtype=float).reshape(self.V.shape)
        C = (np.asarray(self.C.value, dtype=float).reshape(self.C.shape) if self.C is not None
             else np.zeros((0, V.shape[1])))
        Z = []
        if self.constraints and self.constraints[0].dual_value is not None:
            Z.append(np.asarray(self.constraints[0].dual_value, dtype=float).reshape(-1, V.shape[1]))
        stats = self.problem.solver_stats
        info = dict(time=elapsed, backend_status=self.problem.status,
                    iterations=getattr(stats, "num_iters", None),
                    solve_time=getattr(stats, "solve_time", None))
        return SolverResult(V=V, C=C, status=status, solver=solver.lower(), Z=Z, info=info)


def _key(problem, directions) -> str:
    h = hashlib.sha1()
    for arr in (problem.X, problem.Y, directions):
        a = np.ascontiguousarray(arr)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(f"{problem.loss}|{problem.penalty}|{problem.free}".encode())
    return h.hexdigest()


def get_model(problem: LimitProblem, directions: np.ndarray) -> ConicModel:
    """The cached :class:`ConicModel` for this data and grid (built on first use)."""
    key = _key(problem, directions)
    model = _CACHE.get(key)
    if model is None:
        model = ConicModel(problem, directions)
        _CACHE[key] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return model


#: The backends' own wall-clock limit options (ECOS has none: the deadline is checked
#: before the call only).
TIME_LIMIT_OPTION = {"CLARABEL": "time_limit", "SCS": "time_limit_secs"}


def solve_conic(problem: LimitProblem, directions: np.ndarray, *, solver: str = "CLARABEL",
                tol: float = 1e-8, verbose: bool = False, warm_start: Any = None,
                deadline: "float | None" = None, **options: Any) -> SolverResult:
    """Solve the grid problem with a cvxpy backend (``warm_start`` is ignored).

    ``deadline`` (``time.monotonic()`` value): past it no backend is started
    (SolverFailed); before it, the time left is passed as the backend's own time limit
    where it has one (:data:`TIME_LIMIT_OPTION`)."""
    from ..budget import remaining
    name = solver.upper()
    installed = installed_conic_solvers()
    if name not in installed:
        raise ValueError(f"solver {solver!r} is not installed; installed cvxpy solvers: "
                         f"{', '.join(installed)}")
    left = remaining(deadline)
    if left <= 0.0:
        raise SolverFailed(f"{name}: time limit reached before the backend was started")
    if np.isfinite(left) and name in TIME_LIMIT_OPTION:
        options.setdefault(TIME_LIMIT_OPTION[name], float(left))
    res = get_model(problem, directions).solve(problem.lam, name, tol, verbose=verbose,
                                               **options)
    if remaining(deadline) <= 0.0:
        res.info["timed_out"] = True
    return res
