"""Loading a solution file (:func:`read_solution`): schema, shapes, and re-certification.

A solution file is data, never trusted. Loading checks

1. the metadata's keys and types (options, certificate scalars, status, lower bound);
2. every array's presence, dtype, shape and finiteness against the problem (n, d, T, p);
3. the stored numbers against a recomputation from the stored data
   (:func:`verify_solution`):

   - the objective J(V, C) from X, Y, the atoms and the free part;
   - the grid certificate: ``certify`` of the atoms on the atoms ∪ the stored grid with the
     stored dual point as the candidate. ``certify`` scales the candidate to feasibility
     over that set, so the recomputed dual value is a lower bound on the grid problem
     whatever the file says; the stored dual value may not exceed it;
   - the limit lower bound, for d = 1 and for d = 2 with at most ``oracle.EXACT_MAX_N_2D``
     inputs (where the oracle's sup over Θ is exact and cheap): recomputed with the
     stored dual point and the residual as candidates. A stored bound above the objective
     is refused; one above the recomputed bound (a refinement keeps the best bound of all
     its iterations, whose dual point the file does not hold; or an edited file) is
     replaced by the recomputed bound, with a warning. Where it cannot be recomputed
     (d ≥ 3, large 2-D problems) a stored bound is kept but marked
     ``lower_bound_exact=False`` with a warning: it is not re-verified.

A stored grid dual value above the recomputation over atoms ∪ grid is refused unless the
stored dual point reproduces it over the atoms alone (a refinement's working-set
certificate); then the certificate recomputed over the stored grid replaces it, with a
warning. A status "optimal" needs a recomputed relative grid gap ≤ OPTIMAL_MAX_REL_GAP.
Agreement means within :data:`RECERTIFY_RTOL` of the objective's scale
max(|J|, ROUNDING · J_ref) (the certificate's own relative-gap denominator). Any other
disagreement is a ``ValueError`` naming the quantity, the stored and the recomputed value.
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from .io_format import ARRAYS, CERT_FIELDS, OPTION_KEYS, SCALARS, read_file
from .problem import LimitProblem

__all__ = ["read_solution", "check_meta", "check_arrays", "make_problem", "verify_solution",
           "RECERTIFY_RTOL", "OPTIMAL_MAX_REL_GAP"]

#: Stored and recomputed values must agree to this fraction of the objective's scale.
RECERTIFY_RTOL = 1e-9
#: A file may label a solution "optimal" only if its recomputed certified relative gap
#: (grid, and the interpolation residual check) is at most this.
OPTIMAL_MAX_REL_GAP = 1e-6
#: Directions must be normalized (‖θ‖ = 1, or ‖w‖ = 1 for free bias) to this tolerance.
NORM_TOL = 1e-9


def _number(path, where, value, *, allow_none=False, finite=True):
    """A real number from JSON (bools and strings refused); None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{path}: metadata {where} must be a number, got {value!r}")
    value = float(value)
    if finite and not math.isfinite(value):
        raise ValueError(f"{path}: metadata {where} must be finite, got {value!r}")
    return value


def _dict(path, where, value, keys=None):
    if not isinstance(value, dict):
        raise ValueError(f"{path}: metadata {where} must be an object, got "
                         f"{type(value).__name__}")
    if keys is not None:
        missing = [k for k in keys if k not in value]
        if missing:
            raise ValueError(f"{path}: metadata {where} is missing the key {missing[0]!r}")
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise ValueError(f"{path}: metadata {where} has an unknown key {unknown[0]!r}")
    return value


def read_solution(path: str | os.PathLike, cls: type) -> Any:
    """Read a solution file (:mod:`limitsolver.io_format`) into a new ``cls`` instance
    (``cls`` is :class:`~limitsolver.solution.LimitSolution`, whose ``load`` calls this):
    metadata and arrays checked, the problem rebuilt, the solution re-certified
    (:func:`verify_solution`). Raises ValueError on anything the module docstring refuses.
    """
    from .certificate import Certificate
    path = os.fspath(path)
    arrays, meta = read_file(path)
    opts, cert_fields, scalars, info, extras = check_meta(path, meta)
    problem = make_problem(path, arrays, opts)
    check_arrays(path, arrays, problem)
    cert = Certificate(dual_point=arrays["dual_point"], **cert_fields)
    sol = cls(problem, arrays["atom_directions"], arrays["atom_weights"], arrays["free_coef"],
              cert, status=scalars["status"], solver=scalars["solver"],
              grid=arrays.get("grid"), info=info, grid_weights=arrays.get("grid_weights"))
    # the stored merged summary, not a recomputation
    sol.directions, sol.weights = arrays["directions"], arrays["weights"]
    sol.lower_bound = scalars["lower_bound"]
    sol.limit_gap = scalars["limit_gap"]
    sol.lower_bound_exact = scalars["lower_bound_exact"]
    sol.extras = dict(extras)
    for key, value in arrays.items():
        if key.startswith("extra__"):
            sol.extras[key[len("extra__"):]] = value
    verify_solution(path, sol)
    return sol


def check_meta(path: str, meta: dict) -> tuple[dict, dict, dict, dict, dict]:
    """Validate the metadata object; returns (options, certificate fields, scalars, info,
    extras)."""
    from .solvers import STATUSES
    opts = dict(_dict(path, "'options'", meta["options"], OPTION_KEYS))
    if opts["penalty"] not in ("group", "l1"):
        raise ValueError(f"{path}: metadata 'options.penalty' is {opts['penalty']!r}; a "
                         "solution file holds a 'group' or 'l1' solution")
    raw = _dict(path, "'certificate'", meta["certificate"], CERT_FIELDS)
    cert = {f: _number(path, f"'certificate.{f}'", raw[f], finite=f != "rel_gap")
            for f in CERT_FIELDS}
    sc = _dict(path, "'scalars'", meta["scalars"], SCALARS)
    if not isinstance(sc["status"], str) or sc["status"] not in STATUSES:
        raise ValueError(f"{path}: metadata 'scalars.status' is {sc['status']!r}; expected "
                         f"one of {', '.join(map(repr, STATUSES))}")
    if not isinstance(sc["solver"], str) or not sc["solver"]:
        raise ValueError(f"{path}: metadata 'scalars.solver' must be a non-empty string, "
                         f"got {sc['solver']!r}")
    lb = sc["lower_bound"]
    if not (lb is None or (isinstance(lb, (int, float)) and not isinstance(lb, bool)
                           and not math.isnan(lb) and lb != math.inf)):
        raise ValueError(f"{path}: metadata 'scalars.lower_bound' must be a number or null, "
                         f"got {lb!r}")
    lg = _number(path, "'scalars.limit_gap'", sc["limit_gap"], allow_none=True, finite=False)
    exact = sc["lower_bound_exact"]
    if exact is not None and not isinstance(exact, bool):
        raise ValueError(f"{path}: metadata 'scalars.lower_bound_exact' must be true, false "
                         f"or null, got {exact!r}")
    if (lb is None) != (lg is None):
        raise ValueError(f"{path}: metadata 'scalars' has lower_bound={lb!r} but "
                         f"limit_gap={lg!r} (both or neither)")
    scalars = dict(status=sc["status"], solver=sc["solver"],
                   lower_bound=None if lb is None else float(lb), limit_gap=lg,
                   lower_bound_exact=exact)
    info = meta.get("info") or {}
    extras = meta.get("extras") or {}
    _dict(path, "'info'", info)
    _dict(path, "'extras'", extras)
    return opts, cert, scalars, info, extras


def make_problem(path: str, arrays: dict, opts: dict) -> LimitProblem:
    """The LimitProblem of the stored X, Y and options (its own checks, prefixed)."""
    for key in ("X", "Y"):
        if key not in arrays:
            raise ValueError(f"{path}: damaged solution file, missing the array {key!r}")
    try:
        with warnings.catch_warnings():
            # the problem's own advice (free bias without a free part) was given when it
            # was solved; the file's checks and re-certification are what matter here
            warnings.filterwarnings("ignore", message="bias='free' with free='none'",
                                    category=UserWarning)
            for key in ("X", "Y"):
                _float_array(path, key, arrays[key], ndim=2)
            return LimitProblem(arrays["X"], arrays["Y"], **opts)
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise ValueError(f"{path}: stored problem is invalid: {exc}") from None


def _float_array(path, key, A, *, ndim, shape=None):
    if A.dtype.kind != "f":
        raise ValueError(f"{path}: array {key!r} must hold floats, got dtype {A.dtype}")
    if A.ndim != ndim or (shape is not None and any(s is not None and a != s
                                                    for a, s in zip(A.shape, shape))):
        want = "(" + ", ".join("k" if s is None else str(s) for s in shape) + ")" \
            if shape is not None else f"{ndim}-D"
        raise ValueError(f"{path}: array {key!r} has shape {A.shape}, expected {want}")
    bad = ~np.isfinite(A)
    if bad.any():
        raise ValueError(f"{path}: array {key!r} contains NaN or inf (first at index "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])})")


def check_arrays(path: str, arrays: dict, problem: LimitProblem) -> None:
    """Presence, dtype, shape, finiteness and normalization of every stored array."""
    n, d, T = problem.n, problem.d, problem.T
    p = problem.F.shape[1]
    shapes = {"atom_directions": (None, d + 1), "atom_weights": (None, T),
              "directions": (None, d + 1), "weights": (None, T), "free_coef": (p, T),
              "dual_point": (n, T), "grid": (None, d + 1), "grid_weights": (None, T)}
    for key in ("dual_point", *ARRAYS):
        if key not in arrays:
            raise ValueError(f"{path}: damaged solution file, missing the array {key!r}")
    known = {"X", "Y", *shapes}
    for key, A in arrays.items():
        if key in shapes:
            _float_array(path, key, A, ndim=2, shape=shapes[key])
        elif key.startswith("extra__"):
            if A.dtype.kind not in "biuf":
                raise ValueError(f"{path}: array {key!r} must be numeric, got {A.dtype}")
        elif key not in known:
            raise ValueError(f"{path}: unknown array {key!r} in the solution file")
    for a, b in (("atom_directions", "atom_weights"), ("directions", "weights"),
                 ("grid", "grid_weights")):
        if a in arrays and b in arrays and arrays[a].shape[0] != arrays[b].shape[0]:
            raise ValueError(f"{path}: arrays {a!r} ({arrays[a].shape[0]} rows) and {b!r} "
                             f"({arrays[b].shape[0]} rows) must have the same number of rows")
    if "grid_weights" in arrays and "grid" not in arrays:
        raise ValueError(f"{path}: array 'grid_weights' without 'grid'")
    for key in ("atom_directions", "directions", "grid"):
        if key not in arrays or arrays[key].shape[0] == 0:
            continue
        D = arrays[key]
        norms = np.linalg.norm(D if problem.bias == "regularized" else D[:, :-1], axis=1)
        bad = np.abs(norms - 1.0) > NORM_TOL
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{path}: array {key!r} row {i} is not a normalized direction "
                             f"(norm {norms[i]:.6g}; bias={problem.bias!r} needs "
                             f"{'‖θ‖' if problem.bias == 'regularized' else '‖w‖'} = 1)")


def _disagree(path, what, stored, fresh):
    return ValueError(f"{path}: stored {what} {stored!r} does not match the value "
                      f"recomputed from the file's data, {fresh!r}; the file is damaged or "
                      "was edited")


def verify_solution(path: str, sol: Any) -> None:
    """Re-certify a loaded solution against its stored data (see the module docstring);
    raises ValueError on any disagreement, warns where a bound cannot be re-verified."""
    from .certificate import ROUNDING, reference_value, certify
    p, c = sol.problem, sol.certificate
    scale = max(abs(c.primal), ROUNDING * reference_value(p), 1e-300)
    tol = RECERTIFY_RTOL * scale
    if abs(c.gap - (c.primal - c.dual)) > tol:
        raise ValueError(f"{path}: stored gap {c.gap!r} is not objective − dual value "
                         f"= {c.primal - c.dual!r}")
    T = p.T
    dirs = [sol.atom_directions] + ([np.asarray(sol.grid)] if sol.grid is not None else [])
    D = np.vstack(dirs)
    V = np.vstack([sol.atom_weights, np.zeros((D.shape[0] - sol.atom_weights.shape[0], T))])
    fresh = certify(p, D, V, sol.free_coef, Z=[c.dual_point])
    if abs(fresh.primal - c.primal) > tol:
        raise _disagree(path, "objective", c.primal, fresh.primal)
    if c.dual > fresh.dual + tol:
        _replace_grid_certificate(path, sol, fresh, tol)
        c = sol.certificate
    if abs(fresh.infeasibility - c.infeasibility) > RECERTIFY_RTOL * max(
            1.0, float(np.max(np.abs(p.Y)))):
        raise _disagree(path, "interpolation residual", c.infeasibility, fresh.infeasibility)
    gw = getattr(sol, "grid_weights", None)
    if gw is not None:
        grid_fit = certify(p, np.asarray(sol.grid), gw, sol.free_coef, Z=[c.dual_point])
        if abs(grid_fit.primal - c.primal) > tol:
            raise _disagree(path, "objective of the grid weights", c.primal,
                            grid_fit.primal)
    if abs(c.rel_gap - c.gap / scale) > RECERTIFY_RTOL * max(1.0, abs(c.rel_gap)):
        raise ValueError(f"{path}: stored relative gap {c.rel_gap!r} is not gap / scale "
                         f"= {c.gap / scale!r}")
    rel = fresh.gap / scale
    if sol.status == "optimal" and rel > OPTIMAL_MAX_REL_GAP:
        raise ValueError(f"{path}: stored status 'optimal' but the certified relative gap "
                         f"{rel:.3e} exceeds {OPTIMAL_MAX_REL_GAP:g}")
    _verify_limit(path, sol, tol)


def _replace_grid_certificate(path, sol, fresh, tol) -> None:
    """The stored dual point is not feasible over the stored grid. A refinement stores its
    starting grid with the working set appended while its certificate was computed over
    the working set: then the stored dual value is still reproduced over the atoms (a
    subset of the working set, so D over the atoms ≥ the working-set dual). Such a file is
    loaded with the certificate recomputed over atoms ∪ grid (valid there) and a warning;
    a dual value not even reproduced over the atoms is refused."""
    from .certificate import certify
    c = sol.certificate
    on_atoms = certify(sol.problem, sol.atom_directions, sol.atom_weights, sol.free_coef,
                       Z=[c.dual_point])
    if c.dual > on_atoms.dual + tol:
        raise _disagree(path, "dual value (grid lower bound)", c.dual, fresh.dual)
    warnings.warn(f"{path}: the stored dual point is not feasible over the stored grid (its "
                  f"certificate was computed on a subset of it); the grid certificate is "
                  f"recomputed over the stored grid: dual value {fresh.dual:.10g} (stored "
                  f"{c.dual:.10g})", UserWarning, stacklevel=5)
    sol.certificate = fresh
    sol.objective, sol.dual_value = float(fresh.primal), float(fresh.dual)
    sol.gap, sol.rel_gap = float(fresh.gap), float(fresh.rel_gap)
    if sol.status == "optimal" and fresh.rel_gap > OPTIMAL_MAX_REL_GAP:
        sol.status = "inaccurate"


def _verify_limit(path: str, sol, tol: float) -> None:
    """The limit lower bound: consistent with the objective, and recomputed where cheap."""
    from .limitcert import limit_certificate
    from .oracle import EXACT_MAX_N_2D
    lb = sol.lower_bound
    if lb is None:
        return
    obj = sol.objective
    if lb > obj + tol:
        raise ValueError(f"{path}: stored lower bound {lb!r} is above the objective {obj!r}; "
                         "a lower bound can never exceed the objective of a feasible point")
    if abs(sol.limit_gap - (obj - lb)) > tol:
        raise ValueError(f"{path}: stored limit gap {sol.limit_gap!r} is not objective − "
                         f"lower bound = {obj - lb!r}")
    p = sol.problem
    cheap = p.d == 1 or (p.d == 2 and p.n <= EXACT_MAX_N_2D)
    if not cheap:
        if sol.lower_bound_exact:
            warnings.warn(f"{path}: the stored lower bound cannot be re-verified cheaply "
                          f"(d = {p.d}, n = {p.n}); it is loaded as an estimate "
                          "(lower_bound_exact=False)", UserWarning, stacklevel=5)
            sol.lower_bound_exact = False
        return
    if p.loss == "interpolate" and obj == 0.0:
        fresh_lb, exact = 0.0, True
    else:
        cert, sup = limit_certificate(p, sol.atom_directions, sol.atom_weights, sol.free_coef,
                                      Z=[sol.certificate.dual_point])
        fresh_lb, exact = float(cert.dual), bool(sup.exact)
    if lb > fresh_lb + tol or (sol.lower_bound_exact and not exact):
        # a refinement keeps the best bound of all its iterations, whose dual point is not
        # stored: only the bound recomputed here is known to hold
        warnings.warn(f"{path}: the stored lower bound {lb:.10g} is not reproduced by the "
                      f"stored dual point; it is replaced by the recomputed bound "
                      f"{fresh_lb:.10g} ({'certified' if exact else 'estimate'})",
                      UserWarning, stacklevel=5)
        sol.lower_bound, sol.lower_bound_exact = fresh_lb, exact
        sol.limit_gap = float(obj - fresh_lb)
