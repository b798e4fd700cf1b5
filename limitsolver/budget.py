"""Budgets of time, threads and memory.

Time: ``max_time`` seconds become one absolute deadline (a ``time.monotonic()`` value) that
is passed down to every backend, which checks it between its iterations.

Threads: :func:`blas_threads` limits the BLAS libraries to a number of threads inside a
``with`` block and restores the previous limits when the block ends, also on an exception.

Load: :func:`cpu_share`, the share of a core the process got since a given moment (CPU
time per wall second).

Memory: :func:`available_memory` and the default feature-store budget
:func:`default_budget` (used by :mod:`limitsolver.pricing`).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["DEFAULT_MAX_TIME", "make_deadline", "expired", "remaining", "blas_threads",
           "cpu_share", "MIN_CPU_SHARE",
           "available_memory", "default_budget", "MAX_BUDGET", "BUDGET_FRACTION"]

#: ``max_time=None`` means this many seconds (generous: small problems take well under
#: a minute; the limit is there so that no call runs unbounded).
DEFAULT_MAX_TIME = 600.0


def make_deadline(max_time: float | None = None, deadline: float | None = None, *,
                  now: float | None = None) -> float:
    """The earlier of ``deadline`` and now + ``max_time`` (``DEFAULT_MAX_TIME`` when both
    are None); ValueError for a ``max_time`` that is not a positive number. ``now`` is the
    caller's own reading of ``time.monotonic()`` (None: read it here), so that a caller that
    measures several budgets from one start reads the clock once."""
    if max_time is None:
        if deadline is not None:
            return float(deadline)
        max_time = DEFAULT_MAX_TIME
    if isinstance(max_time, bool):
        raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
    try:
        max_time = float(max_time)
    except (TypeError, ValueError):
        raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}") \
            from None
    if not (max_time > 0 and not np.isnan(max_time)):
        raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
    mine = (time.monotonic() if now is None else float(now)) + max_time
    return mine if deadline is None else min(mine, float(deadline))


def expired(deadline: float | None) -> bool:
    """Whether the deadline (None: no deadline) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def remaining(deadline: float | None) -> float:
    """Seconds left before the deadline (+inf without one; 0 once passed)."""
    if deadline is None:
        return np.inf
    return max(0.0, deadline - time.monotonic())


#: The least share of a core :func:`cpu_share` reports.
MIN_CPU_SHARE = 0.25


def cpu_share(wall0: float, cpu0: float) -> float:
    """The process's CPU seconds per wall second since (``time.monotonic()``,
    ``time.process_time()``) = (``wall0``, ``cpu0``), clipped to [``MIN_CPU_SHARE``, 1]
    (1 before 0.05 s have passed): about 1 on an idle core, less on a loaded machine."""
    wall = time.monotonic() - wall0
    if not wall > 0.05:
        return 1.0
    return float(min(1.0, max(MIN_CPU_SHARE, (time.process_time() - cpu0) / wall)))


_CONTROLLER: list = []
#: The limits of the enclosing ``blas_threads`` blocks of each thread, innermost last.
_LIMITS = threading.local()


def _controller():
    """The threadpoolctl controller, built once (building it scans the loaded libraries,
    which costs milliseconds — more than a small solve); None without threadpoolctl."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/scipy
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS to ``n`` threads inside the ``with`` block (``n=None``: leave as is).

    Small dense systems (restricted Newton steps) run many times slower with threaded BLAS
    on a loaded machine. The previous limits are restored when the block exits, normally
    or by an exception. A block nested directly in one with the same limit changes nothing
    and costs nothing (setting a limit through threadpoolctl costs ~0.1 ms, which inner
    loops such as coordinate sweeps would otherwise pay per call).
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of BLAS threads must be a positive integer or None, "
                         f"got {n!r}")
    stack = getattr(_LIMITS, "stack", None)
    if stack is None:
        stack = _LIMITS.stack = []
    if stack and stack[-1] == int(n):
        yield
        return
    ctl = _controller()
    if ctl is None:  # pragma: no cover
        yield
        return
    with ctl.limit(limits=int(n), user_api="blas"):
        stack.append(int(n))
        try:
            yield
        finally:
            stack.pop()


# memory -----------------------------------------------------------------------------------

#: Largest default budget of a feature store (bytes).
MAX_BUDGET = 4 * 2**30

#: Fraction of the available memory a store may use by default.
BUDGET_FRACTION = 0.25


def available_memory() -> int:
    """Bytes of memory available to new allocations: ``MemAvailable`` of /proc/meminfo,
    else free pages × page size (``os.sysconf``), else 1 GiB."""
    try:
        # a raw descriptor, not a file object: an interrupt (SIGINT) arriving while the file
        # is open cannot leave an unclosed file object behind (a ResourceWarning later)
        fd = os.open("/proc/meminfo", os.O_RDONLY)
        try:
            text = os.read(fd, 1 << 16).decode("ascii", "replace")
        finally:
            os.close(fd)
        for line in text.splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**30


def default_budget() -> int:
    """min(:data:`BUDGET_FRACTION` × available memory, :data:`MAX_BUDGET`) bytes."""
    return int(min(BUDGET_FRACTION * available_memory(), MAX_BUDGET))
