"""How many processes the exact and bounded sup searches may use, and how they start them.

The searches split their work in two halves and branch one of them in a forked process
(:mod:`limitsolver.bound`, :mod:`limitsolver.faces3d_pool`). A second process is used only
when it can help and is safe to start:

- the machine has at least two cores;
- the ``fork`` start method exists (the halves share the parent's arrays without pickling
  them, and no ``__main__`` guard is needed in the user's script);
- the current process is not daemonic (a ``multiprocessing.Pool`` worker may not have
  children);
- the environment variable ``LIMITSOLVER_WORKERS`` (an integer ≥ 1), when set, overrides the
  choice (``LIMITSOLVER_WORKERS=1`` keeps every search in one process).
"""
from __future__ import annotations

import multiprocessing
import os

__all__ = ["default_workers", "can_fork", "fork_context", "ENV_WORKERS"]

#: Environment variable that fixes the number of processes (1 or more).
ENV_WORKERS = "LIMITSOLVER_WORKERS"


def can_fork() -> bool:
    """True when a forked child may be started from this process."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def default_workers() -> int:
    """Processes for one search: ``LIMITSOLVER_WORKERS`` if set, else 2 when the machine has
    two cores or more and :func:`can_fork`, else 1."""
    value = os.environ.get(ENV_WORKERS, "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            raise ValueError(f"{ENV_WORKERS} must be an integer >= 1, got {value!r}") from None
        if workers < 1:
            raise ValueError(f"{ENV_WORKERS} must be an integer >= 1, got {value!r}")
        return workers if can_fork() else 1
    return 2 if (os.cpu_count() or 1) >= 2 and can_fork() else 1


def fork_context() -> "multiprocessing.context.BaseContext":
    """The ``fork`` context (callers check :func:`can_fork` first)."""
    return multiprocessing.get_context("fork")
