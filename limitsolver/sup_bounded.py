"""The oracle for d ≥ 3 (and large d = 2): sampled and ascended values (points of Θ, so
below the sup) and the certified branch-and-bound upper end (:mod:`limitsolver.bound`).
See :mod:`limitsolver.oracle`.
"""
from __future__ import annotations

import numpy as np

from .features import correlation_norm_gradient
from .problem import LimitProblem
from .suptools import SupResult, distinct_top, dual_norm, values_at

__all__ = ["bounded_oracle"]


def _normalize(theta, bias, radius):
    if bias == "regularized":
        return theta / np.linalg.norm(theta, axis=-1, keepdims=True)
    w = theta[..., :-1] / np.linalg.norm(theta[..., :-1], axis=-1, keepdims=True)
    b = np.clip(theta[..., -1:], -radius, radius)
    return np.concatenate([w, b], axis=-1)


def _ascent(Xt, Z, n, theta, penalty, bias, radius, max_iter=60):
    """Projected gradient ascent of ‖c(θ)‖ from each row of ``theta`` (backtracking)."""
    dual = dual_norm(penalty)
    val = values_at(Xt, Z, n, theta, dual)
    step = np.full(theta.shape[0], 0.5)
    for _ in range(max_iter):
        grad = correlation_norm_gradient(Xt, theta, Z, penalty)  # (k, d+1)
        new = _normalize(theta + step[:, None] * grad / np.maximum(
            np.linalg.norm(grad, axis=1, keepdims=True), 1e-300), bias, radius)
        nv = values_at(Xt, Z, n, new, dual)
        better = nv > val
        theta[better], val[better] = new[better], nv[better]
        step = np.where(better, step * 1.5, step * 0.3)
        if np.all(step < 1e-10):
            break
    return theta, val


def _sample_estimate(Xt, Z, n, penalty, bias, radius, n_samples, n_starts, rng):
    from .grids import sphere_grid
    d = Xt.shape[1] - 1
    if bias == "regularized":
        S = sphere_grid(d + 1, n_samples, kind="sobol", random_state=rng)
    else:
        W = sphere_grid(d, n_samples, kind="sobol", random_state=rng)
        S = np.column_stack([W, rng.uniform(-radius, radius, n_samples)])
    # directions through data points too: kinks at x_i along random normals
    k = min(Xt.shape[0], n_samples)
    rows = rng.choice(Xt.shape[0], size=k, replace=False)
    Wd = rng.standard_normal((k, d))
    Wd /= np.linalg.norm(Wd, axis=1, keepdims=True)
    Sd = np.column_stack([Wd, -np.sum(Wd * Xt[rows, :d], axis=1)])
    S = np.vstack([S, _normalize(Sd, bias, radius)])
    vals = values_at(Xt, Z, n, S, dual_norm(penalty))
    top = np.argsort(-vals)[:n_starts]
    theta, val = _ascent(Xt, Z, n, S[top].copy(), penalty, bias, radius)
    return np.vstack([S, theta]), np.concatenate([vals, val])


def bounded_oracle(problem: LimitProblem, X: np.ndarray, Zu: np.ndarray, Z: np.ndarray,
                   penalty: str, top_k: int, n_samples: int, n_starts: int,
                   rng: np.random.Generator, rtol: float, max_time: float,
                   extra: np.ndarray | None = None) -> SupResult:
    """Sampled + ascended values, then the certified branch and bound (bound.py)."""
    from .bound import bounded_sup
    if not (isinstance(rtol, (int, float)) and np.isfinite(rtol) and rtol > 0):
        raise ValueError(f"sup_correlation: bound_rtol must be a number > 0, got {rtol!r}")
    if not (isinstance(max_time, (int, float)) and max_time >= 0):
        raise ValueError(f"sup_correlation: bound_max_time must be a number >= 0, "
                         f"got {max_time!r}")
    n, bias, radius = problem.n, problem.bias, problem.radius
    Xt_full = problem.Xt
    cand, vals = _sample_estimate(Xt_full, Z, n, penalty, bias, radius, n_samples,
                                  n_starts, rng)
    seeds, _ = distinct_top(cand, vals, max(top_k, 16))
    if extra is not None and len(extra):
        seeds = np.vstack([seeds, np.asarray(extra, dtype=float).reshape(-1, seeds.shape[1])])
    Xtu = np.column_stack([X, np.ones(X.shape[0])])

    def ascent(thetas):
        return _ascent(Xtu, Zu, n, thetas, penalty, bias, radius)
    res = bounded_sup(Xtu, Zu, n, penalty=penalty, bias=bias, radius=radius, rtol=rtol,
                      max_time=max_time, seeds=seeds, ascent=ascent)
    # exchange candidates: ascent from well-separated good points, so that distinct local
    # maximizers are returned rather than many points around the best one
    allc = np.vstack([res.directions, cand])
    allv = np.concatenate([res.values, vals])
    starts, _ = distinct_top(allc, allv, 48, atol=0.02)
    asc_c, asc_v = ascent(starts.copy())
    dirs, dv = distinct_top(np.vstack([asc_c, allc]), np.concatenate([asc_v, allv]),
                             top_k, atol=1e-6)
    value = float(dv[0])
    upper = max(float(res.upper), value)
    return SupResult(value=value, direction=dirs[0], directions=dirs, values=dv, exact=False,
                     n_candidates=cand.shape[0] + res.n_boxes,
                     n_evaluated=cand.shape[0] + res.n_boxes, upper=upper,
                     method="bounded")
