"""Progress bars for long calls (``sweep``, ``validate``, ``limit_path``, refinement).

Every long call takes ``progress=``:

- ``None`` (default): a bar only when standard error is an interactive terminal and the
  code is not running under pytest;
- ``True`` / ``False``: always / never;

and the bar is drawn by tqdm when it is installed (extra ``limitsolver[progress]``);
without tqdm every call is silent. :func:`progress_bar` returns an object with the small
part of tqdm's interface used here (``update``, ``set_postfix_str``, ``close``, iteration,
``with``), so callers never test for tqdm themselves.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["progress_enabled", "progress_bar", "refine_callback"]


def progress_enabled(progress: bool | None) -> bool:
    """Resolve a ``progress=`` argument (None, True or False) to on / off."""
    if progress is None:
        if "PYTEST_CURRENT_TEST" in os.environ:
            return False
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    if not isinstance(progress, (bool, int)) or progress not in (0, 1):
        raise ValueError(f"progress must be None, True or False, got {progress!r}")
    return bool(progress)


class _Silent:
    """A bar that draws nothing (tqdm missing, or progress off)."""

    def __init__(self, iterable=None):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: int = 1) -> None:
        return None

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None,
                 desc: str = "", unit: str = "it", progress: bool | None = None,
                 leave: bool = True) -> Any:
    """A tqdm bar over ``iterable`` (or one updated by hand) when progress is enabled and
    tqdm is installed, else a silent stand-in with the same methods."""
    if not progress_enabled(progress):
        return _Silent(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent(iterable)
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr)


def refine_callback(progress: bool | None, *,
                    desc: str = "refine") -> tuple[Callable[[dict], None] | None, Any]:
    """A ``progress`` callable for :func:`~limitsolver.refine.refine` (None when off): it
    shows one bar step per refinement iteration with the current relative limit gap.
    Returns (callback, bar); close the bar when the refinement returns."""
    if not progress_enabled(progress):
        return None, _Silent()
    bar = progress_bar(desc=desc, unit="iter", progress=True, leave=False)

    def callback(entry: dict) -> None:
        bar.update(1)
        bar.set_postfix_str(f"limit gap {entry.get('rel_limit_gap', float('nan')):.2e}")
    return callback, bar
