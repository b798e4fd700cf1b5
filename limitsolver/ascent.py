"""Continuous pricing in any input dimension: directions θ with a large ‖c(θ)‖ over all of Θ.

For a dual candidate Z (n × T), c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i) ∈ R^T. On each cell of the
arrangement of the hyperplanes {θ·x̃_i = 0} the activation set A = {i : θ·x̃_i > 0} is fixed
and c is linear,

    c(θ) = M_A θ,   M_A = (1/n) Σ_{i ∈ A} Z_i x̃_iᵀ   (T × (d+1)).

The best direction of that linear map (ignoring the cell's walls) is, on the sphere Θ = S^d,

- ``group`` (‖·‖₂): the top eigenvector of M_Aᵀ M_A (max ‖M_A θ‖ over ‖θ‖ = 1);
- ``l1`` (‖·‖_∞): ±m_t/‖m_t‖ for the row m_t of M_A of largest norm
  (max_t |m_tᵀθ| over ‖θ‖ = 1 is max_t ‖m_t‖).

For the cylinder (``bias="free"``, θ = (w, b), ‖w‖ = 1, |b| ≤ R) the same target is computed
in the coordinates (w, b/R), in which |b| ≤ R is the cone |b/R| ≤ ‖w‖, then mapped back
(w normalized, b clipped to [−R, R]); it is a search direction, not the cell's exact maximum.

:func:`price` runs a fixed-point iteration on patterns from many starts at once: step to the
target of the current cell, re-evaluate the pattern there (the target may lie in another cell:
the iteration then crosses into it), and accept only increases of ‖c‖ — when the full step
does not increase it, shorter steps along the great circle towards the target are tried
(``BACKTRACK_STEPS``), then a projected gradient step. The iteration stops for a start when
no trial improves. A start that ends strictly inside a cell with its target equal to itself
is a local maximum of ‖c‖ on Θ.

The search's products may be float32 (``precision``, :mod:`limitsolver.cellmaps`); the
values returned are true (float64) ‖c(θ)‖ at the returned directions, so the best of them
is a *lower* value on sup_θ ‖c(θ)‖: an estimate, never a bound. Starts:
:mod:`limitsolver.starts`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cellmaps import CellData, top_right_vectors as _top_right_vectors
from .features import norm_subgradient
from .starts import data_directions, project as _project, split_starts
from .penalties import get_penalty
from .problem import LimitProblem

__all__ = ["PriceResult", "price", "data_directions", "split_starts"]


@dataclass
class PriceResult:
    """Result of :func:`price`.

    Attributes
    ----------
    value : float
        The largest ‖c(θ)‖ found (a lower value on the sup; an estimate).
    directions : ndarray (k, d+1)
        Distinct directions with the largest values found, best first.
    values : ndarray (k,)
        ‖c‖ at ``directions`` (true values).
    n_starts : int
        Number of ascent starts.
    iterations : int
        Fixed-point iterations run (the largest over the starts).
    origins : ndarray (k,) of int
        Where the ascent to each direction started: j ≥ 0 the row j of ``starts``,
        ``FROM_SAMPLE`` (−1) a quasi-random sample, ``FROM_DATA`` (−2) a data direction.
    """

    value: float
    directions: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    n_starts: int = 0
    iterations: int = 0
    origins: np.ndarray = field(default=None, repr=False)


#: ``PriceResult.origins`` of directions ascended from a Sobol sample / a data direction.
FROM_SAMPLE, FROM_DATA = -1, -2

#: float64 iterations of the ascent from the best float32 results (``precision="float32"``).
EXACT_ITER = 2

#: Shorter steps towards the target (fractions 1/2, 1/8, 1/32, ...) tried where the full
#: step does not increase ‖c‖, before the gradient step. Each costs an evaluation of the
#: starts that failed; in a time-limited pricing fewer leave more iterations (digits,
#: default solve with 1/2.5 and 1/3.5 of a core: above the best objective 2.4e-4–3.7e-4
#: and 7.4e-4–7.6e-4 with 1 step, 3.8e-4–5.1e-4 and 6.9e-4–9.0e-4 with 3, 5.7e-4–8.5e-4
#: and 8.8e-4–1.4e-3 with 6).
BACKTRACK_STEPS = 1


def _targets(ev, theta, penalty, bias, radius):
    """The best direction of each start's cell map M_A (see the module docstring), its
    sign not yet chosen, on Θ (s, d+1); and the cell maps M_A (s, T, d+1).
    ``ev``: :class:`~limitsolver.cellmaps.CellData`."""
    # M_A for every start: (s, T, d+1) — cost O(s n T (d+1))
    M0 = ev.cell_maps(theta)
    M = M0
    if bias == "free":
        M = M0.copy()
        M[:, :, -1] *= radius                                   # coordinates (w, b/R)
    if penalty == "group":
        # float32 search: top vectors by repeated squaring (a search direction)
        tgt = _top_right_vectors(M, exact=not ev.low)
    else:
        rn = np.linalg.norm(M, axis=2)                          # (s, T)
        t = np.argmax(rn, axis=1)
        tgt = M[np.arange(M.shape[0]), t, :]
    if bias == "free":
        tgt = tgt.copy()
        tgt[:, -1] *= radius
    # Θ is symmetric (the projection commutes with θ ↦ −θ): −target is the other sign's
    return _project(tgt, bias, radius), M0


def _geodesic(theta, target, s, bias, radius):
    """Points a fraction s of the way from θ to the target (chord, then projected)."""
    return _project((1.0 - s)[:, None] * theta + s[:, None] * target, bias, radius)


def _gradient_step(M, theta, step, penalty, bias, radius):
    """One projected gradient step of ‖c‖ of length ``step`` from each row, its gradient
    from the cell maps ``M`` of the rows (s, T, d+1): c = M_A θ inside the cell, and with
    u the unit (sub)gradient of the norm at c (c/‖c‖, or sign(c_t) e_t at the largest
    |c_t|) the gradient is M_Aᵀ u (relu's derivative taken as 0 at 0, as in
    :func:`~limitsolver.features.correlation_norm_gradient`)."""
    U = norm_subgradient(np.einsum("std,sd->st", M, theta), penalty)
    grad = np.einsum("std,st->sd", M, U)
    gn = np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-300)
    return _project(theta + step[:, None] * grad / gn, bias, radius)


def _ascend(ev, theta, penalty, bias, radius, max_iter, deadline=None):
    """The fixed-point iteration on patterns from every row of ``theta`` (monotone in the
    values of ``ev``'s precision: a step must gain ``ev.rtol``); stops after the iteration
    in which ``deadline`` (``time.monotonic()``) passes."""
    s = theta.shape[0]
    val = ev.values(theta)
    up = 1.0 + ev.rtol
    alive = np.ones(s, dtype=bool)
    gstep = np.full(s, 0.1)
    it = 0
    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        th, v = theta[idx], val[idx]
        tgt, M = _targets(ev, th, penalty, bias, radius)        # (m, d+1), (m, T, d+1)
        vp, vm = ev.values_pm(tgt)
        # the sign that gives the larger ‖c‖ (its sign flips the direction, not only c)
        neg = vm > vp
        tgt[neg] *= -1.0
        best_v, best_t = np.where(neg, vm, vp), tgt
        improved = best_v > v * up
        # backtracking towards the target where the full step does not improve
        frac = np.full(idx.size, 0.5)
        for _ in range(BACKTRACK_STEPS):
            todo = ~improved
            if not todo.any():
                break
            trial = _geodesic(th[todo], tgt[todo], frac[todo], bias, radius)
            tv = ev.values(trial)
            ok = tv > v[todo] * up
            sel = np.flatnonzero(todo)[ok]
            best_v[sel], best_t[sel] = tv[ok], trial[ok]
            improved[sel] = True
            frac[todo] *= 0.25
        # then a projected gradient step (a maximum on a face of lower dimension)
        todo = ~improved
        if todo.any():
            sub = np.flatnonzero(todo)
            trial = _gradient_step(M[sub], th[sub], gstep[idx[sub]], penalty, bias, radius)
            tv = ev.values(trial)
            ok = tv > v[sub] * up
            best_v[sub[ok]], best_t[sub[ok]] = tv[ok], trial[ok]
            improved[sub[ok]] = True
            gstep[idx[sub[ok]]] *= 1.5
            gstep[idx[sub[~ok]]] *= 0.2
        theta[idx[improved]] = best_t[improved]
        val[idx[improved]] = best_v[improved]
        alive[idx] = improved | (gstep[idx] > 1e-9)
        if deadline is not None and time.monotonic() >= deadline:
            break
    return theta, val, it


def _face_targets(ev, theta, penalty, bias, radius):
    """For each row θ, the best directions of its cell's map restricted to the faces through
    θ's m nearest hyperplanes (m = 1..d): on the face {θ·x̃_i = 0, i ∈ K} the samples of K
    contribute nothing, so c = M_A Π θ with Π the orthogonal projector onto the face's span
    (K's x̃_i orthonormalized by Gram–Schmidt, nearest first), and the target is the top
    eigenvector of Π M_Aᵀ M_A Π (group) or Π m_t for the row of largest ‖Π m_t‖ (l1). A
    maximizer of ‖c‖ on a face of the arrangement (common at an optimum) is such a target.
    Vectorized over rows; returns (s, d, 2, d+1) candidates on Θ (both signs)."""
    Xt = ev.Xt
    n, dim = Xt.shape
    s = theta.shape[0]
    scale = np.ones(dim)
    if bias == "free":
        scale[-1] = radius                                       # coordinates (w, b/R)
    xn = np.linalg.norm(Xt, axis=1)
    S = ev.products(theta)                                       # (s, n)
    near = np.argsort(np.abs(S) / xn[None, :], axis=1)[:, :dim - 1]
    M = ev.cell_maps(theta, S) * scale                          # (s, T, dim), scaled
    Xs = Xt / scale                                              # constraints, scaled
    Pi = np.broadcast_to(np.eye(dim), (s, dim, dim)).copy()
    out = np.zeros((s, dim - 1, 2, dim))
    for m in range(dim - 1):
        q = np.einsum("sab,sb->sa", Pi, Xs[near[:, m]])
        qn = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.where(qn > 1e-12, q / np.maximum(qn, 1e-300), 0.0)
        Pi -= q[:, :, None] * q[:, None, :]
        MP = M @ Pi                                              # (s, T, dim)
        if penalty == "group":
            v = _top_right_vectors(MP, exact=not ev.low)
        else:
            t = np.argmax(np.linalg.norm(MP, axis=2), axis=1)
            v = MP[np.arange(s), t]
        v = v * scale
        out[:, m, 0], out[:, m, 1] = v, -v
    return _project(out, bias, radius)


def _face_polish(ev, theta, val, penalty, bias, radius, rounds=3):
    """Replace each row by its best face target (:func:`_face_targets`) while that
    increases ‖c‖ (monotone, by ``ev.rtol`` at least)."""
    for _ in range(rounds):
        cand = _face_targets(ev, theta, penalty, bias, radius)
        s, m = cand.shape[:2]
        # the two signs of a target from one product (CellData.values_pm)
        vp, vm = ev.values_pm(cand[:, :, 0].reshape(-1, cand.shape[-1]))
        cv = np.stack([vp, vm], axis=1).reshape(s, m * 2)
        k = np.argmax(cv, axis=1)
        best = cv[np.arange(s), k]
        better = best > val * (1 + ev.rtol)
        if not better.any():
            break
        theta[better] = cand.reshape(s, m * 2, -1)[np.flatnonzero(better), k[better]]
        val[better] = best[better]
    return theta, val


def _distinct_top(cand, vals, k, atol, block=64):
    """Indices of the ``k`` best finite values, skipping any within ``atol`` (max-norm) of
    a better one kept. Greedy in the order of the values, ``block`` candidates at a time:
    those near one kept from an earlier block are dropped at once, the rest are decided in
    order from their pairwise distances."""
    order = np.argsort(-vals, kind="stable")
    order = order[np.isfinite(vals[order])]
    kept = np.zeros(0, dtype=int)
    for pos in range(0, order.size, block):
        if kept.size >= k:
            break
        blk = order[pos:pos + block]
        if kept.size:
            dist = np.abs(cand[blk][:, None, :] - cand[kept][None, :, :]).max(axis=2)
            blk = blk[dist.min(axis=1) > atol]
        if blk.size == 0:
            continue
        P = cand[blk]
        near = np.abs(P[:, None, :] - P[None, :, :]).max(axis=2) <= atol
        blocked = np.zeros(blk.size, dtype=bool)
        take = []
        for j in range(blk.size):
            if blocked[j]:
                continue
            take.append(j)
            if kept.size + len(take) >= k:
                break
            blocked |= near[j]
        kept = np.concatenate([kept, blk[take]])
    return kept


def price(problem: LimitProblem, Z: np.ndarray, *, starts: np.ndarray | None = None,
          n_samples: int = 2048, n_data: int = 512, n_starts: int = 32, top_k: int = 16,
          max_iter: int = 40, n_face: int | None = None, penalty: str | None = None,
          random_state: Any = 0, atol: float = 1e-7,
          deadline: float | None = None, precision: str = "float32") -> PriceResult:
    """Directions with large ‖c(θ)‖ over all of Θ, by multi-start cell ascent.

    Parameters
    ----------
    problem : LimitProblem
        Data X (n × d), bias convention (Θ), penalty (dual norm ‖·‖₂ or ‖·‖_∞).
    Z : ndarray (n, T)
        Dual candidate (a generalized residual).
    starts : ndarray (m, d+1), optional
        Directions always used as starts (e.g. the current atoms).
    n_samples : int
        Quasi-random (Sobol) directions on Θ scored as candidate starts.
    n_data : int
        Data-defined directions (:func:`data_directions`) scored as candidate starts.
    n_starts : int
        Ascended candidates: the best-scored half of them and a random half (plus every row
        of ``starts``).
    top_k : int
        Number of distinct directions returned.
    max_iter : int
        Fixed-point iterations per start.
    n_face : int, optional
        The best ``n_face`` ascended points (default: all) are also moved to the best direction of the faces
        through their nearest hyperplanes (:func:`_face_targets`) and ascended again.
    deadline : float, optional
        ``time.monotonic()`` time by which to stop: the ascent from the starts gets 60 % of
        the time left, the face polish and second ascent what remains (skipped when
        nothing does); every stage ends after its iteration in which its time is up, so
        the call overruns by at most one iteration. The result is as valid, only less
        searched.
    precision : {"float32", "float64"}
        Of the search's products (:class:`~limitsolver.cellmaps.CellData`). With float32 the
        best 2·``top_k`` distinct points are then ascended ``EXACT_ITER`` more iterations on
        float64 products; the returned values are float64 in either case.

    Returns
    -------
    PriceResult
        Best first; values are true ‖c‖ (the best is a lower value on the sup: an estimate).

    Cost: scoring O((n_samples + n_data) n (d+1 + T)); each iteration, for s live starts,
    O(s n T (d+1)) for the cell maps, O(s (d+1)³) for the eigenproblems and O(s n (d+1+T))
    for each of at most 8 trial evaluations; the face polish O(n_face d n T (d+1)) per round
    (three rounds).
    """
    from .grids import check_random_state, cylinder_grid, sphere_grid
    rng = check_random_state(random_state)
    penalty = penalty or problem.penalty
    if penalty not in ("group", "l1"):
        raise ValueError(f"price: penalty={penalty!r} has no dual norm; expected 'group' or 'l1'")
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.shape[0] != problem.n or not np.all(np.isfinite(Z)):
        raise ValueError(f"price: Z must be a finite (n, T) = ({problem.n}, T) array, "
                         f"got shape {Z.shape}")
    d, bias, R, Xt = problem.d, problem.bias, problem.radius, problem.Xt
    if precision not in ("float32", "float64"):
        raise ValueError(f"price: precision must be 'float32' or 'float64', got {precision!r}")
    dual = get_penalty(penalty).dual_norms
    ev = CellData(Xt, Z, dual, np.float32 if precision == "float32" else np.float64)
    pool = []
    if n_samples > 0:
        if bias == "regularized":
            pool.append(sphere_grid(d + 1, int(n_samples), kind="sobol", random_state=rng))
        elif d >= 2:
            W = sphere_grid(d, int(n_samples), kind="sobol", random_state=rng)
            pool.append(np.column_stack([W, rng.uniform(-R, R, W.shape[0])]))
        else:
            pool.append(cylinder_grid(1, 2, max(int(n_samples) // 2, 1), R))
    n_sample = sum(len(q) for q in pool)
    pool.append(data_directions(problem, int(n_data), rng))
    pool = np.vstack(pool)
    pv = ev.values(pool)
    # half the starts are the best-scored candidates, half drawn at random from the rest
    # (the basins of the largest maxima are small; a good score says little about them)
    order = np.argsort(-pv)
    n_top = (int(n_starts) + 1) // 2
    rest = order[n_top:]
    extra = rng.choice(rest, size=min(int(n_starts) - n_top, rest.size), replace=False)
    top = np.concatenate([order[:n_top], extra]).astype(int)
    S = [pool[top]]
    origin = [np.where(top < n_sample, FROM_SAMPLE, FROM_DATA)]
    if starts is not None and len(starts):
        S.append(_project(np.asarray(starts, dtype=float).reshape(-1, d + 1), bias, R))
        origin.append(np.arange(S[-1].shape[0]))
    S, origin = np.vstack(S), np.concatenate(origin)
    first = None if deadline is None else \
        time.monotonic() + 0.6 * max(deadline - time.monotonic(), 0.0)
    theta, val, it = _ascend(ev, S.copy(), penalty, bias, R, int(max_iter), first)
    # the best ascended points: polished on the faces of the arrangement, then ascended again
    best = np.argsort(-val)[:max(int(n_face), 0)] if n_face is not None else np.arange(len(val))
    if deadline is not None and time.monotonic() >= deadline:
        best = best[:0]
    if best.size:
        th2, v2 = _face_polish(ev, theta[best].copy(), val[best].copy(), penalty, bias, R)
        th2, v2, _ = _ascend(ev, th2, penalty, bias, R, int(max_iter) // 2, deadline)
        theta, val = np.vstack([theta, th2]), np.concatenate([val, v2])
        origin = np.concatenate([origin, origin[best]])
    cand = np.vstack([theta, pool[top]])
    vals = np.concatenate([val, pv[top]])
    origin = np.concatenate([origin, origin[:top.size]])
    if ev.low:
        # the best of the float32 search: ascended on float64 products, float64 values
        keep = _distinct_top(cand, vals, 2 * int(top_k), atol)
        ev64 = CellData(Xt, Z, dual)
        cand, vals, _ = _ascend(ev64, cand[keep].copy(), penalty, bias, R, EXACT_ITER)
        origin = origin[keep]
    keep = _distinct_top(cand, vals, int(top_k), atol)
    dirs, dv = cand[keep], vals[keep]
    return PriceResult(value=float(dv[0]) if dv.size else 0.0, directions=dirs, values=dv,
                       n_starts=int(S.shape[0]), iterations=int(it), origins=origin[keep])
