"""The native solver: options, what it supports, and the entry point.

The method is the working-set loop of :mod:`limitsolver.solvers.working_set` (pricing on the
full grid, a pool of best-scoring directions, restricted solves on a working set, gap-safe
screening, the shared certificate); this module validates its options and decides from the
loss and penalty protocols which problems it serves: every smooth loss whose dual is
strongly concave (squared, logistic, multinomial) with either grid penalty, any bias/free
option.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..losses import get_loss
from ..losses import require as require_loss
from ..penalties import get_penalty
from ..penalties import require as require_penalty
from ..pricing import FeatureStore, get_store
from ..problem import LimitProblem
from . import support_newton
from .base import SolverResult
from .working_set import WorkingSetLoop

__all__ = ["supports", "handles", "solve_native", "DEFAULT_OPTIONS", "LOSS_METHODS", "PENALTY_METHODS"]

#: What the working-set loop calls on the loss (pricing, certificate, screening) ...
LOSS_METHODS = ("value", "residual", "dual_value", "dual_feasible", "scale_dual",
                "reference_value")

#: ... and on the penalty; the restricted solve states its own needs
#: (:data:`.support_newton.LOSS_METHODS`, :data:`.support_newton.PENALTY_METHODS`).
PENALTY_METHODS = ("value", "row_norms", "dual_norms")

#: Options of :func:`solve_native` and their defaults.
DEFAULT_OPTIONS = dict(
    max_passes=200,            # pricing passes before giving up (status "inaccurate")
    memory_budget=None,        # bytes: keep Φ whole only below this (None: shared store,
                               # pricing.default_budget(): min(25 % of free memory, 4 GiB))
    block_bytes=None,          # bytes of one block of Φ in blocked pricing (None: default)
    feature_dtype=None,        # storage of a kept Φ: "float64", "float32" (pricing only;
                               # certificates stay float64) or None (by the budget)
    ws_min=16,                 # fewest directions added per pass
    pool=None,                 # best-scoring directions kept between two full passes
                               # (None: max(1000, M / 20), working_set.pool_floor)
    max_inner=100,             # restricted solves on the pool between two full passes
    screening=True,            # gap-safe screening (blocked pricing only)
    inner_tol=None,            # restricted-problem relative gap (default tol / 20)
    max_epochs=50000,          # epochs of the restricted solver per pass
    threads=1,                 # BLAS threads inside the restricted solver (None: leave as is)
)


def supports(problem: LimitProblem) -> bool:
    """Whether the native solver serves ``problem`` (any bias/free option):
    :func:`handles` of its loss and penalty."""
    return handles(problem.loss, problem.penalty)


def handles(loss_name: str, penalty_name: str) -> bool:
    """Whether the loop serves this pair: a smooth loss providing :data:`LOSS_METHODS`, a
    ``dual_strong_concavity`` and what the support-Newton method needs (second order:
    ``curvature`` for a separable loss, ``hessian_blocks`` otherwise), and a penalty
    providing :data:`PENALTY_METHODS` and the support-Newton's penalty methods."""
    try:
        loss = get_loss(loss_name)
        pen = get_penalty(penalty_name)
        second = "curvature" if getattr(loss, "separable", False) else "hessian_blocks"
        require_loss(loss, *LOSS_METHODS, *support_newton.LOSS_METHODS, second,
                     who="the native solver")
        require_penalty(pen, *PENALTY_METHODS, *support_newton.PENALTY_METHODS,
                        who="the native solver")
    except ValueError:
        return False
    return bool(getattr(loss, "smooth", False)) and \
        getattr(loss, "dual_strong_concavity", None) is not None


def _check_options(options: dict) -> dict:
    """The options merged over :data:`DEFAULT_OPTIONS`; ValueError for a bad name or value."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option(s) for the native solver: {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(sorted(DEFAULT_OPTIONS))}")
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options)

    def positive_int(name):
        v = opts[name]
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"native solver option {name} must be a positive integer, got {v!r}")
        opts[name] = int(v)

    for name in ("max_passes", "ws_min", "max_epochs", "max_inner"):
        positive_int(name)
    if opts["pool"] is not None:
        positive_int("pool")
    for name in ("memory_budget", "block_bytes"):
        v = opts[name]
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float)) \
                or not np.isfinite(v) or v < 0:
            raise ValueError(f"native solver option {name} must be a number of bytes >= 0, "
                             f"got {v!r}")
        opts[name] = int(v)
    if opts["block_bytes"] is not None and opts["block_bytes"] < 1:
        raise ValueError(f"native solver option block_bytes must be >= 1, got {opts['block_bytes']!r}")
    if not isinstance(opts["screening"], (bool, np.bool_)):
        raise ValueError(f"native solver option screening must be True or False, "
                         f"got {opts['screening']!r}")
    it = opts["inner_tol"]
    if it is not None:
        if isinstance(it, (bool, np.bool_)) or not isinstance(it, (int, float, np.floating)) \
                or not (np.isfinite(it) and it > 0):
            raise ValueError(f"native solver option inner_tol must be a positive number, got {it!r}")
    if opts["feature_dtype"] not in (None, "float32", "float64"):
        raise ValueError(f"native solver option feature_dtype must be 'float32', 'float64' "
                         f"or None, got {opts['feature_dtype']!r}")
    th = opts["threads"]
    if th is not None and (isinstance(th, (bool, np.bool_)) or not isinstance(th, (int, np.integer))
                           or th < 1):
        raise ValueError(f"native solver option threads must be a positive integer or None, "
                         f"got {th!r}")
    return opts


def solve_native(problem: LimitProblem, directions: np.ndarray, *, tol: float = 1e-8,
                 warm_start: Any = None,
                 verbose: bool | int = False, deadline: float | None = None,
                 **options: Any) -> SolverResult:
    """Solve the grid problem with the working-set method (:mod:`.working_set`).

    Parameters
    ----------
    problem : LimitProblem
        A loss and penalty :func:`supports` accepts (squared, logistic or multinomial
        loss; ``penalty`` "group" or "l1"), any ``bias`` and ``free``.
    directions : ndarray (M, d+1)
        The grid, normalized (``problem.check_directions``).
    tol : float
        Target certified relative duality gap on the full grid.
    warm_start : LimitSolution or None
        A previous solution; its weights on the same grid (or its atoms moved to the
        nearest grid rows) start the working set.
    verbose : bool or int
        Print one line per pricing pass (2: also one per restricted solve).
    deadline : float, optional
        A ``time.monotonic()`` value: checked once per pricing pass and per restricted
        solve; past it the current point is returned with ``info["timed_out"] = True``.
    **options
        See :data:`DEFAULT_OPTIONS`; unknown names raise ValueError.

    Returns
    -------
    SolverResult
        V (M × T) on the full grid, C (p × T), status "optimal" when the certified relative
        gap is ≤ tol (else "inaccurate"), info with ``n_pricing_passes``, ``pricing_time``
        (total seconds), ``pricing_time_per_pass``, ``iterations`` (restricted-solver
        epochs), ``newton_steps``, ``restricted_solves``, ``working_set_size``,
        ``rel_gap``, ``gap_history``, ``screened``, ``phi_cached``, ``phi_dtype``,
        ``stopped`` (why the loop ended: "tol", "max_passes", "deadline" or a sentence); Z the
        dual candidates of the last pricing passes (each one dual feasible after scaling).
    """
    opts = _check_options(options)
    if not supports(problem):
        raise ValueError(f"the native solver does not support loss={problem.loss!r}, "
                         f"penalty={problem.penalty!r}")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    dirs = np.asarray(directions, dtype=float)
    if dirs.ndim != 2 or dirs.shape[1] != problem.dim:
        raise ValueError(f"directions must have shape (M, {problem.dim}), got {dirs.shape}")
    if opts["memory_budget"] is None and opts["feature_dtype"] is None:
        pricer = get_store(problem.Xt, dirs, block_bytes=opts["block_bytes"])  # shared
    else:
        pricer = FeatureStore(problem.Xt, dirs, opts["memory_budget"], opts["block_bytes"],
                              dtype=opts["feature_dtype"])
    loop = WorkingSetLoop(problem, dirs, pricer, opts, tol=tol, deadline=deadline,
                          verbose=verbose)
    res = loop.run(warm_start)
    # the dual candidates of the last pricing passes (the last residual, the support
    # correction when it was tried): a caller's certificate of them is read from the
    # store's memo instead of another pass over the grid
    res.Z = pricer.recent_candidates()
    return res
