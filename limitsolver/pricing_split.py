"""Row blocks of one pricing product shared between the cores of the machine.

A blocked pricing pass (:func:`limitsolver.pricing32.relu_products32`) computes its rows
block by block, each block independent of the others. :func:`run_blocks` cuts the rows
into runs of whole blocks that this thread and worker threads take in turn (numpy's BLAS
calls and ufuncs release the GIL). The cuts fall on block boundaries, so every block is
the same product on the same rows as in a serial pass: the result is the same numbers,
whatever the number of threads. The caller sets the BLAS thread limit (one thread per
worker) around the call; the workers do not change it (the limit is process-wide).

A split pays only when a pass is long against the time a loaded machine may keep a worker
waiting (a scheduler slice, milliseconds): above :data:`SPLIT_ABOVE` elements of Φ
(n = 1000, M = 10⁵ float32 pass, 2 cores: 0.07 s serial against 0.04–0.05 s split on an
idle machine; the native solve 0.98 s against 0.87 s at load 4.5). A product of a few
milliseconds split on a loaded machine was slower than serial (2.7 against 7 ms).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .budget import blas_threads

__all__ = ["run_blocks", "kept_products", "cores", "SPLIT_ABOVE", "MAX_SPLIT", "RUNS_PER_CORE",
           "POOL_ROWS"]

#: Elements of Φ (rows · n) of one product above which its blocks are split over threads.
SPLIT_ABOVE = 2**24

#: Most threads one product is split over.
MAX_SPLIT = 4

#: Runs of blocks per core of a split product (:func:`run_blocks`).
RUNS_PER_CORE = 4

_POOL: list[tuple[int, ThreadPoolExecutor]] = []
_LOCK = threading.Lock()


def cores() -> int:
    """CPUs this process may run on (its affinity mask), at most :data:`MAX_SPLIT`."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(MAX_SPLIT, n))


def _executor(workers: int) -> ThreadPoolExecutor:
    """The module's worker threads, created once per process: a child made by ``fork``
    inherits the executor but not its threads, so it makes its own."""
    with _LOCK:
        if not _POOL or _POOL[0][0] != os.getpid():
            _POOL[:] = [(os.getpid(), ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="limitsolver-pricing"))]
        return _POOL[0][1]


def run_blocks(work: Callable[[int, int], None], rows: int, block_rows: int,
               elements: int) -> None:
    """Call ``work(start, stop)`` on runs of whole blocks covering ``range(rows)``.

    ``block_rows`` is the block size of ``work`` (cuts are multiples of it); ``elements``
    the size of the product (rows · n): at most :data:`SPLIT_ABOVE` runs serially, else
    :data:`RUNS_PER_CORE` runs per core are taken in turn by this thread and the workers.
    This thread takes runs until none is left and then waits only for the runs already
    taken, so a worker that a loaded machine starts late costs at most one run. ``work``
    must write disjoint outputs for disjoint row ranges. An exception of any run is raised
    here, after every run taken has ended.
    """
    n_blocks = -(-rows // max(1, block_rows))
    parts = min(cores(), n_blocks) if elements > SPLIT_ABOVE else 1
    if parts <= 1:
        work(0, rows)
        return
    n_runs = min(n_blocks, parts * RUNS_PER_CORE)
    cuts = [min(rows, block_rows * ((i * n_blocks) // n_runs)) for i in range(n_runs + 1)]
    state = dict(next=0, done=0, error=None)
    cond = threading.Condition()

    def take() -> None:
        while True:
            with cond:
                i = state["next"]
                if i >= n_runs or state["error"] is not None:
                    return
                state["next"] = i + 1
            try:
                work(cuts[i], cuts[i + 1])
            except BaseException as exc:          # noqa: BLE001 - raised by the caller
                with cond:
                    state["error"] = state["error"] or exc
            finally:
                with cond:
                    state["done"] += 1
                    cond.notify_all()

    pool = _executor(cores() - 1)
    for _ in range(parts - 1):
        pool.submit(take)
    take()
    with cond:
        cond.wait_for(lambda: state["done"] == state["next"])
    if state["error"] is not None:
        raise state["error"]


#: Rows of one block of a gathered product with kept float32 features (:func:`kept_products`).
POOL_ROWS = 256


def kept_products(P: np.ndarray, rows: np.ndarray, Z32: np.ndarray) -> np.ndarray:
    """P[rows] Z32 (|rows| × T, float32) on one BLAS thread: one product of all of P when
    rows cover at least half of it (then indexed), else the rows gathered in blocks of
    :data:`POOL_ROWS`. Each output row is one float32 dot product per task, so the bound
    of :func:`limitsolver.pricing32.rmatvec32` applies."""
    with blas_threads(1):
        if 2 * rows.size >= P.shape[0]:
            out = P @ Z32
            return out if rows.size == P.shape[0] else out[rows]
        out = np.empty((rows.size, Z32.shape[1]), dtype=np.float32)
        for s in range(0, rows.size, POOL_ROWS):
            np.matmul(P[rows[s:s + POOL_ROWS]], Z32, out=out[s:s + POOL_ROWS])
    return out
