"""Sweeps: many independent solves (data set, λ, penalty, options) through an executor.

``sweep(jobs)`` runs them one after another; ``sweep(jobs, ProcessPoolExecutor())`` on the
cores of one machine; ``sweep(jobs, dask_client)`` on a dask.distributed cluster (extra
``limitsolver[dask]``; the Client is used through ``client.get_executor()``). Results come
back in the order of the jobs, and a job that fails becomes a :class:`SweepResult` with
``ok=False`` and the exception text, never a lost entry.
"""
from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import ConvergenceWarning, LimitGapWarning
from .progress import progress_bar

__all__ = ["Job", "SweepResult", "sweep", "run_job", "objectives", "summarize_warnings"]

# The conic backends cache compiled models per (data, grid) and set λ on them before each
# solve, so two threads of one process must not solve at the same time.
_SOLVE_LOCK = threading.Lock()


@dataclass
class Job:
    """One solve of a sweep: ``solve(X, Y, lam=lam, penalty=penalty, **options)``.

    Attributes
    ----------
    X : array_like (n, d);  Y : array_like (n, T)
    lam : float;  penalty : str
    options : dict          other keyword arguments of :func:`~limitsolver.api.solve`.
    name : str, optional    a label carried to the result.
    """

    X: object
    Y: object
    lam: float
    penalty: str = "group"
    options: dict = field(default_factory=dict)
    name: str | None = None


@dataclass
class SweepResult:
    """The outcome of one job.

    Attributes
    ----------
    index : int             position of the job in the input.
    name : str or None      the job's label.
    ok : bool               False when the job raised.
    solution : LimitSolution or None
    error : str or None     ``"ExceptionType: message"`` of a failed job.
    traceback : str or None the formatted traceback of a failed job (for debugging).
    warnings : list of str  warnings the solve emitted (e.g. ConvergenceWarning).
    lam : float or None;  penalty : str or None
    objective, gap, rel_gap : float or None   copies from the solution.
    n_neurons : int or None
    time : float            wall-clock seconds of the job where it ran.
    """

    index: int
    name: str | None
    ok: bool
    solution: object = None
    error: str | None = None
    traceback: str | None = None
    warnings: list[str] = field(default_factory=list)
    lam: float | None = None
    penalty: str | None = None
    objective: float | None = None
    gap: float | None = None
    rel_gap: float | None = None
    n_neurons: int | None = None
    time: float = 0.0


def _as_job(job) -> Job:
    """Accept a :class:`Job`, a dict with its fields (unknown keys go to ``options``) or a
    tuple ``(X, Y, lam[, penalty[, options]])``."""
    if isinstance(job, Job):
        return job
    if isinstance(job, dict):
        spec = dict(job)
        missing = [k for k in ("X", "Y", "lam") if k not in spec]
        if missing:
            raise ValueError(f"job is missing {', '.join(missing)}")
        options = dict(spec.pop("options", None) or {})
        fields = {k: spec.pop(k) for k in ("X", "Y", "lam", "penalty", "name") if k in spec}
        options.update(spec)
        return Job(options=options, **fields)
    if isinstance(job, (tuple, list)) and 3 <= len(job) <= 5:
        return Job(*job)
    raise ValueError("a job is a Job, a dict with keys X, Y, lam (penalty, name, options, any "
                     f"solve() option) or a tuple (X, Y, lam[, penalty[, options]]); got "
                     f"{type(job).__name__}")


def _failure(index, name, exc, lam=None, penalty=None, elapsed=0.0) -> SweepResult:
    return SweepResult(index=index, name=name, ok=False, error=f"{type(exc).__name__}: {exc}",
                       traceback="".join(traceback.format_exception(type(exc), exc,
                                                                    exc.__traceback__)),
                       lam=lam, penalty=penalty, time=elapsed)


def run_job(index: int, job: Job, keep_solution: bool = True) -> SweepResult:
    """Run one job where it lands (a worker process or thread); never raises."""
    from .api import solve

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught, _SOLVE_LOCK:
            warnings.simplefilter("always")
            sol = solve(job.X, job.Y, lam=job.lam, penalty=job.penalty, **job.options)
    except Exception as exc:  # a failed job is a result, not a crash of the sweep
        return _failure(index, job.name, exc, job.lam, job.penalty, time.perf_counter() - t0)
    return SweepResult(index=index, name=job.name, ok=True,
                       solution=sol if keep_solution else None,
                       warnings=[f"{w.category.__name__}: {w.message}" for w in caught],
                       lam=float(sol.problem.lam), penalty=job.penalty,
                       objective=sol.objective, gap=sol.gap, rel_gap=sol.rel_gap,
                       n_neurons=sol.n_neurons, time=time.perf_counter() - t0)


def _is_dask_client(executor) -> bool:
    return (type(executor).__module__.split(".")[0] == "distributed"
            and hasattr(executor, "get_executor"))


def sweep(jobs: Iterable, executor: Any = None, *, keep_solutions: bool = True,
          progress: bool | None = None) -> list[SweepResult]:
    """Run many independent solves, possibly in parallel, and return results in job order.

    Parameters
    ----------
    jobs : iterable
        Each a :class:`Job`, a dict ``{"X", "Y", "lam", "penalty", "name", "options", ...}``
        (extra keys are solve() options), or a tuple ``(X, Y, lam[, penalty[, options]])``.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        None runs the jobs one after another in this process. Any Executor
        (``ProcessPoolExecutor``, ``ThreadPoolExecutor``, ...) gets one task per job; a dask
        Client is used through ``client.get_executor()``. The executor is not shut down.
        Threads of one process solve one at a time (the conic backends' compiled-model cache
        is shared), so use processes (or dask workers) for parallel speed.
    keep_solutions : bool
        Return each :class:`~limitsolver.solution.LimitSolution` (default). False returns
        only the scalars (objective, gap, neurons), which is cheaper to ship back.
    progress : bool, optional
        A progress bar over the jobs (:mod:`limitsolver.progress`: tqdm when installed;
        default on for interactive terminals only).

    Returns
    -------
    list of SweepResult, one per job, in the order of ``jobs``. Failed jobs (bad input, a
    solver failure, a worker that died) have ``ok=False`` and ``error`` set.

    Warnings
    --------
    Each job's warnings are recorded in its ``SweepResult.warnings``, not shown one by one.
    When some jobs' certificates miss their tolerance, the sweep gives a single summary
    warning: a :class:`~limitsolver.exceptions.LimitGapWarning` when every such job only
    missed its limit gap, else a :class:`~limitsolver.exceptions.ConvergenceWarning`
    (:func:`summarize_warnings`).
    """
    try:
        jobs = list(jobs)
    except TypeError:
        raise ValueError(f"jobs must be an iterable of Job objects or dicts, got "
                         f"{type(jobs).__name__}") from None
    results: list = [None] * len(jobs)
    pending = []
    for i, raw in enumerate(jobs):
        try:
            pending.append((i, _as_job(raw)))
        except (ValueError, TypeError) as exc:
            results[i] = _failure(i, None, exc)
    if executor is not None:
        if _is_dask_client(executor):
            executor = executor.get_executor()
        if not isinstance(executor, Executor) and not hasattr(executor, "submit"):
            raise ValueError(f"executor must be None, a concurrent.futures.Executor or a "
                             f"dask Client, got {type(executor).__name__}")
    bar = progress_bar(total=len(jobs), desc="sweep", unit="job", progress=progress)
    bar.update(len(jobs) - len(pending))
    with bar:
        if executor is None:
            for i, job in pending:
                results[i] = run_job(i, job, keep_solutions)
                bar.update(1)
        else:
            _collect(executor, pending, results, keep_solutions, bar)
    summarize_warnings(results, stacklevel=3)
    return results


def summarize_warnings(results: Sequence[SweepResult], *, stacklevel: int = 2) -> str:
    """Give one warning for all jobs whose certificates missed their tolerance (their
    recorded warnings include a ConvergenceWarning or LimitGapWarning); returns its text
    ("" and no warning when there are none).

    The category is :class:`~limitsolver.exceptions.LimitGapWarning` when every such job
    only missed its limit gap (its grid certificate met ``tol``), else
    :class:`~limitsolver.exceptions.ConvergenceWarning`.
    """
    limit, grid = [], []
    for r in results:
        kinds = {w.split(":", 1)[0] for w in r.warnings}
        if "ConvergenceWarning" in kinds:
            grid.append(r.index)
        elif "LimitGapWarning" in kinds:
            limit.append(r.index)
    if not (limit or grid):
        return ""
    flagged = sorted(limit + grid)
    shown = ", ".join(map(str, flagged[:10])) + (", ..." if len(flagged) > 10 else "")
    text = (f"{len(flagged)} of {len(results)} sweep jobs are not certified to their tol "
            f"({len(grid)} by the grid gap, {len(limit)} by the limit gap only; jobs "
            f"{shown}); their warnings are in SweepResult.warnings")
    category = ConvergenceWarning if grid else LimitGapWarning
    warnings.warn(text, category, stacklevel=stacklevel)
    return text


def _collect(executor, pending, results, keep_solutions, bar) -> None:
    """Submit the pending jobs to ``executor`` and store their results (in place)."""
    futures = []
    for i, job in pending:
        try:
            futures.append((i, job, executor.submit(run_job, i, job, keep_solutions)))
        except Exception as exc:  # e.g. a shut-down or broken pool
            results[i] = _failure(i, job.name, exc, job.lam, job.penalty)
            bar.update(1)
    for i, job, fut in futures:
        try:
            results[i] = fut.result()
        except Exception as exc:  # the worker died, or the result could not be shipped
            results[i] = _failure(i, job.name, exc, job.lam, job.penalty)
        bar.update(1)


def objectives(results: Sequence[SweepResult]) -> np.ndarray:
    """Objectives of sweep results as an array (NaN for failed jobs)."""
    return np.array([r.objective if r.ok else np.nan for r in results], dtype=float)
