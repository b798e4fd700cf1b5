"""Row blocks of one pricing product shared between the cores of the machine.

A blocked pricing pass (:func:`limitsolver.pricing32.relu_products32`) computes its rows
block by block, each block independent of the others. :func:`run_blocks` hands contiguous
runs of whole blocks to worker threads (numpy's BLAS calls and ufuncs release the GIL) and
runs the first run itself. The cuts fall on block boundaries, so every block is the same
product on the same rows as in a serial pass: the result is the same numbers, whatever the
number of threads. The caller sets the BLAS thread limit (one thread per worker) around
the call; the workers do not change it (the limit is process-wide).

A split pays only when a pass is long against the start of a thread (tens of µs):
:data:`SPLIT_ABOVE` elements of Φ (n = 1000, M = 10⁵ float32 pass, 2 cores: 0.07 s serial
against 0.04–0.05 s split, idle machine).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_blocks", "cores", "SPLIT_ABOVE", "MAX_SPLIT"]

#: Elements of Φ (rows · n) of one product above which its blocks are split over threads.
SPLIT_ABOVE = 2**21

#: Most threads one product is split over.
MAX_SPLIT = 4

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
    the runs go to :func:`cores` threads (this one included). ``work`` must write disjoint
    outputs for disjoint row ranges. Exceptions of any run are raised here, after every
    run has ended.
    """
    n_blocks = -(-rows // max(1, block_rows))
    parts = min(cores(), n_blocks) if elements > SPLIT_ABOVE else 1
    if parts <= 1:
        work(0, rows)
        return
    cuts = [min(rows, block_rows * ((i * n_blocks) // parts)) for i in range(parts + 1)]
    pool = _executor(cores() - 1)
    futures = [pool.submit(work, a, b) for a, b in zip(cuts[1:-1], cuts[2:])]
    try:
        work(cuts[0], cuts[1])
    finally:
        errors = [f.exception() for f in futures]
    for exc in errors:
        if exc is not None:
            raise exc
