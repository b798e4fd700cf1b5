"""Time budgets: ``max_time`` seconds become one absolute deadline (a ``time.monotonic()``
value) that is passed down to every backend, which checks it between its iterations."""
from __future__ import annotations

import time

import numpy as np

__all__ = ["DEFAULT_MAX_TIME", "make_deadline", "expired", "remaining"]

#: ``max_time=None`` means this many seconds (generous: small problems take well under
#: a minute; the limit is there so that no call runs unbounded).
DEFAULT_MAX_TIME = 600.0


def make_deadline(max_time=None, deadline=None) -> float:
    """The earlier of ``deadline`` and now + ``max_time`` (``DEFAULT_MAX_TIME`` when both
    are None); ValueError for a ``max_time`` that is not a positive number."""
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
    mine = time.monotonic() + max_time
    return mine if deadline is None else min(mine, float(deadline))


def expired(deadline) -> bool:
    """Whether the deadline (None: no deadline) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def remaining(deadline) -> float:
    """Seconds left before the deadline (+inf without one; 0 once passed)."""
    if deadline is None:
        return np.inf
    return max(0.0, deadline - time.monotonic())
