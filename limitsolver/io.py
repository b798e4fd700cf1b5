"""Saving and loading a :class:`~limitsolver.solution.LimitSolution`: one ``.npz`` file.

``save_solution(solution, path)`` and ``load_solution(path)`` are ``solution.save(path)``
and ``LimitSolution.load(path)``. The file's layout (arrays and JSON metadata, no pickle;
schema version :data:`SCHEMA_VERSION`) is described in :mod:`limitsolver.io_format`; what
loading checks and re-certifies (a file is never trusted) in :mod:`limitsolver.io_verify`.
"""
from __future__ import annotations

import os

from .io_format import FORMAT, SCHEMA_VERSION, write_solution
from .solution import LimitSolution

__all__ = ["save_solution", "load_solution", "FORMAT", "SCHEMA_VERSION"]


def save_solution(solution: LimitSolution, path: str | os.PathLike) -> str:
    """Write ``solution`` to one ``.npz`` file (``.npz`` is appended when missing); returns
    the path written."""
    return write_solution(solution, path)


def load_solution(path: str | os.PathLike) -> LimitSolution:
    """Read a solution written by :func:`save_solution` (no pickle is involved), validate it
    and re-certify it against its stored data.

    Returns
    -------
    LimitSolution
        With the same problem, atoms, free part, certificate, status, solver and info; its
        ``predict``, ``summary``, ``penalty_value`` ... work as on the original. Extra
        attributes of the saved solution are in the dict ``extras``.

    Raises
    ------
    ValueError
        If the file is not a limitsolver solution, is damaged (the message names the entry
        or key), violates the schema (a wrong type, shape, NaN, unknown key or status), or
        carries numbers its own data do not reproduce (objective, dual value, gap, lower
        bound; see :func:`limitsolver.io_verify.verify_solution`).
    OSError
        If the file cannot be read.
    """
    return LimitSolution.load(path)
