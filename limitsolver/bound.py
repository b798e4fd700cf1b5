"""A certified upper bound on S = sup_{θ ∈ Θ} ‖c(θ)‖ in any dimension: branch and bound.

c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i) ∈ R^T, ‖·‖ the dual norm (‖·‖₂ group, ‖·‖_∞ l1). The
result is an interval [L, U] with L = ‖c(θ̂)‖ at a returned direction θ̂ ∈ Θ (a value, so
L ≤ S) and U ≥ S proved region by region as below; U enters lower bounds on OPT.

Chart (homogeneous coordinates u ∈ R^D, D = d + 1)
    ``regularized`` (Θ = S^d): θ = u / ‖u‖ with u on a face of the cube [−1, 1]^D
    (u_k = ±1, the other coordinates in [−1, 1]); the 2D faces cover S^d.
    ``free`` (Θ = S^{d−1} × [−R, R]): u = (v, β), θ = (v/‖v‖, β/‖v‖) with v on a face of
    [−1, 1]^d and |β| ≤ R‖v‖ ≤ R√d; every point of Θ has such a u.
    In both, relu(θ·x̃_i) = relu(u·x̃_i) / ν(u) with ν(u) = ‖u‖ (regularized) or ‖v‖
    (free), so ‖c(θ)‖ = ‖g(u)‖ / ν(u), g(u) = (1/n) Σ_i Z_i relu(u·x̃_i).
    A region is a box B = {u_c + Δ : |Δ_j| ≤ h_j} in these coordinates (h_k = 0 on the
    face's fixed coordinate).

The per-region bounds (first-order interval bound, second-order test per activation
pattern, difference-of-convex vertex test) and their proofs are in
:mod:`limitsolver.boxbounds`.

Algorithm. τ = L (1 + rtol). Boxes whose value bound (bound 1, tightened by the closed-form
    bound 3) is ≤ τ, or passing bound 2 or 3 at the current τ, are discarded; the rest are bisected along the coordinate of largest h_j max_i |x̃_ij|.
    L is raised by the values at box centres (projected into Θ) and by projected ascent
    from the best of them. τ only grows, so when no box is left S ≤ τ; when the time
    budget runs out, U = max(τ, largest bound 1 of the remaining boxes). U is inflated by
    ``BOUND_SAFETY`` (relative), far above the rounding of these O(n + D²)-term sums, and
    capped by the global bound (1/n) Σ_i ‖Z_i‖ max_Θ relu(θ·x̃_i).

Two processes. Once ``SPLIT_AT_BOXES`` boxes are open, they are dealt (by decreasing
bound) into two halves; a forked process branches one of them to the same deadline. The
regions of the two halves cover what is left of Θ, each half discards boxes only against
its own τ (at most the final τ, which uses the larger of the two lower values), and each
returns the boxes it could not settle with their bounds, so U = max(τ, bounds of all boxes
left) bounds S as in one process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .workers import can_fork, default_workers, fork_context
from .boxbounds import (DC_MAX_D, BoxSetup, dc_bound, first_order, norm_range,
                        second_order_sweep)

__all__ = ["BoundResult", "bounded_sup", "BOUND_SAFETY", "default_workers", "SPLIT_AT_BOXES"]

#: Relative inflation of the certified upper bound (covers floating-point rounding).
BOUND_SAFETY = 1e-10

#: With two processes, the boxes are split in two halves once this many are open.
SPLIT_AT_BOXES = 4096

#: Seconds past the deadline the parent waits for the second process before it keeps that
#: half's boxes as they were.
CHILD_GRACE = 30.0


@dataclass
class BoundResult:
    """Result of :func:`bounded_sup`: S ∈ [lower, upper].

    Attributes
    ----------
    lower : float
        ‖c(θ)‖ at ``direction`` (a value, hence ≤ S).
    upper : float
        Certified upper bound on S.
    direction : ndarray (d+1,)
    directions, values : ndarray (k, d+1), (k,)
        Best directions evaluated (unsorted candidates for an exchange step) and their values.
    rtol : float
        upper / lower − 1 (inf when lower = 0 < upper).
    complete : bool
        Whether every region was settled (else the time or box budget ran out).
    n_boxes : int
        Boxes processed.
    """

    lower: float
    upper: float
    direction: np.ndarray
    directions: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    rtol: float
    complete: bool
    n_boxes: int


def _initial_boxes(s: BoxSetup):
    C, H = [], []
    for k in range(s.nv):
        for sign in (1.0, -1.0):
            c, h = np.zeros(s.D), np.zeros(s.D)
            c[k] = sign
            h[:s.nv] = 1.0
            h[k] = 0.0
            if s.bias == "free":
                h[-1] = s.radius * np.sqrt(s.nv)
            C.append(c)
            H.append(h)
    return np.array(C), np.array(H)


def _split(s: BoxSetup, C, H):
    j = np.argmax(H * s.scale_col, axis=1)
    r = np.arange(C.shape[0])
    H2 = H.copy()
    H2[r, j] *= 0.5
    C1, C2 = C.copy(), C.copy()
    C1[r, j] -= H2[r, j]
    C2[r, j] += H2[r, j]
    return np.vstack([C1, C2]), np.vstack([H2, H2])


def _settle(s: BoxSetup, C, H, tau, kmax):
    """Bounds 1–3 on a batch of boxes: (value bound (N,), mask of boxes not settled at τ)."""
    U1, A, unc, r_hi, r_lo, nu_min = first_order(s, C, H)
    alive = U1 > tau
    if s.bias == "free":
        # boxes with no point of the cylinder |β| ≤ R‖v‖
        _, nu_max = norm_range(C, H, s.nv)
        alive &= (C[:, -1] - H[:, -1] <= s.radius * nu_max) & \
                 (C[:, -1] + H[:, -1] >= -s.radius * nu_max)
    if s.D <= DC_MAX_D and alive.any():
        sel = np.flatnonzero(alive)
        step = max(1, int(4e6 // (2 ** (s.D - 1) * s.m * max(s.T, 2))))
        for a0 in range(0, sel.size, step):
            q = sel[a0:a0 + step]
            ub = dc_bound(s, C[q], H[q], r_lo[q], r_hi[q], nu_min[q])
            U1[q] = np.minimum(U1[q], ub)
            alive[q[ub <= tau]] = False
    second_order_sweep(s, C, H, A, unc, r_hi, nu_min, tau, kmax, alive)
    return U1, alive


def _merge_top(dirs, vals, new_dirs, new_vals, keep):
    dirs = np.vstack([dirs, new_dirs])
    vals = np.concatenate([vals, new_vals])
    if vals.size > keep:
        top = np.argpartition(-vals, keep - 1)[:keep]
        dirs, vals = dirs[top], vals[top]
    return dirs, vals


def _branch(run, C, H, P, dirs, vals, processed, until=None):
    """Process the boxes (C, H) with value bounds P, best first, until none is left, the
    deadline or the box budget is reached, or (``until``) there are that many boxes.
    Returns the boxes left, the best directions and values, and the boxes processed."""
    s, rtol, floor, batch = run["s"], run["rtol"], run["floor"], run["batch"]
    while C.shape[0]:
        tau = max(float(vals.max()) * (1 + rtol), floor)
        live = P > tau
        C, H, P = C[live], H[live], P[live]
        if not C.shape[0] or time.perf_counter() > run["deadline"] or \
                processed >= run["max_boxes"] or (until is not None and C.shape[0] >= until):
            break
        if C.shape[0] > batch:
            pick = np.argpartition(-P, batch - 1)[:batch]
            rest = np.ones(C.shape[0], dtype=bool)
            rest[pick] = False
            Cb, Hb = C[pick], H[pick]
            C, H, P = C[rest], H[rest], P[rest]
        else:
            Cb, Hb = C, H
            C, H, P = C[:0], H[:0], P[:0]
        processed += Cb.shape[0]
        th = s.theta(Cb)
        tv = s.values(th)
        if run["ascent"] is not None:
            top = np.argsort(-tv)[:4]
            ta, va = run["ascent"](th[top].copy())
            th, tv = np.vstack([th, ta]), np.concatenate([tv, va])
        dirs, vals = _merge_top(dirs, vals, th, tv, run["keep"])
        tau = max(float(vals.max()) * (1 + rtol), floor)
        U1, alive = _settle(s, Cb, Hb, tau, run["kmax"])
        if alive.any():
            Cn, Hn = _split(s, Cb[alive], Hb[alive])
            C = np.vstack([C, Cn])
            H = np.vstack([H, Hn])
            P = np.concatenate([P, np.tile(U1[alive], 2)])
    return C, H, P, dirs, vals, processed


def _child(conn, run, part):
    try:
        conn.send(_branch(run, *part))
    finally:
        conn.close()


def _two_halves(run, C, H, P, dirs, vals, processed):
    """The boxes in two interleaved halves (by decreasing bound), the second one branched in
    a forked process; the sup over Θ is the larger of the sups over the two halves, each
    bounded by its own boxes. Should the second process fail, its boxes are kept with their
    bounds (still an upper bound on the sup over them)."""
    order = np.argsort(-P, kind="stable")
    a, b = order[0::2], order[1::2]
    budget = max(run["max_boxes"] - processed, 0)
    sub = dict(run, max_boxes=budget // 2)
    ctx = fork_context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, sub, (C[b], H[b], P[b], dirs, vals, 0)),
                       daemon=True)
    proc.start()
    send.close()
    mine = _branch(dict(run, max_boxes=budget - budget // 2), C[a], H[a], P[a], dirs, vals, 0)
    # the child stops at the same deadline; a child that has not answered well after it
    # (or died) is replaced by its boxes with their bounds, still an upper bound on its half
    wait = min(max(run["deadline"] - time.perf_counter(), 0.0) + CHILD_GRACE, 1e6)
    other = None
    try:
        if recv.poll(wait):
            other = recv.recv()
    except (EOFError, OSError):
        other = None
    if other is None:
        proc.terminate()
        other = (C[b], H[b], P[b], dirs, vals, 0)
    proc.join()
    d2, v2 = _merge_top(mine[3], mine[4], other[3], other[4], run["keep"])
    return (np.vstack([mine[0], other[0]]), np.vstack([mine[1], other[1]]),
            np.concatenate([mine[2], other[2]]), d2, v2, processed + mine[5] + other[5])


def bounded_sup(Xt: np.ndarray, Z: np.ndarray, n: int, *, penalty: str, bias: str,
                radius: float, rtol: float = 1e-6, max_time: float = 5.0,
                seeds: "np.ndarray | None" = None, kmax: "int | None" = None,
                max_boxes: int = 5_000_000, keep: int = 64,
                ascent: "Callable | None" = None,
                workers: "int | None" = None) -> BoundResult:
    """Certified interval [lower, upper] ∋ sup_θ ‖c(θ)‖ by branch and bound.

    Parameters
    ----------
    Xt : ndarray (m, d+1)
        Augmented inputs (rows distinct; merged duplicates carry summed Z rows).
    Z : ndarray (m, T)
    n : int
        The 1/n of c (the original number of samples).
    penalty : {"group", "l1"};  bias : {"regularized", "free"};  radius : float (R)
    rtol : float
        Stop when every region is bounded by lower · (1 + rtol).
    max_time : float
        Seconds; on expiry the bound is the largest bound of the regions left.
    seeds : ndarray (k, d+1), optional
        Points of Θ (e.g. sampled and ascended maximizers): they set the first lower value.
    kmax : int, optional
        Bound 2 enumerates the activation patterns of up to this many uncertain samples per
        box (2^kmax patterns); default min(d, 3) (larger values settle vertex maximizers
        sooner but cost 2^kmax per box: slower overall in the measurements at d = 5).
    ascent : callable, optional
        ``ascent(thetas) -> (thetas, values)``: local ascent inside Θ to raise the lower value.
    workers : int, optional
        1 or 2 processes (default 2 on a machine with two cores or more, where ``fork`` is
        available): once there are boxes for two, the second half is branched in a forked
        process to the same deadline (the bound is the larger of the two halves' bounds).

    Returns
    -------
    BoundResult
    """
    if penalty not in ("group", "l1"):
        raise ValueError(f"bounded_sup: penalty must be 'group' or 'l1', got {penalty!r}")
    if bias not in ("regularized", "free"):
        raise ValueError(f"bounded_sup: bias must be 'regularized' or 'free', got {bias!r}")
    if not (rtol > 0 and np.isfinite(rtol)):
        raise ValueError(f"bounded_sup: rtol must be a positive number, got {rtol!r}")
    Xt = np.asarray(Xt, dtype=float)
    Z = np.asarray(Z, dtype=float)
    s = BoxSetup(Xt, Z, n, penalty, bias, radius)
    kmax = min(s.D - 1, 3) if kmax is None else int(kmax)
    t0 = time.perf_counter()
    C, H = _initial_boxes(s)
    dirs = s.theta(C)
    vals = s.values(dirs)
    if seeds is not None and len(seeds):
        seeds = s.theta(np.asarray(seeds, dtype=float))   # into Θ: values of points of Θ
        dirs, vals = _merge_top(dirs, vals, seeds, s.values(seeds), keep)
    P = np.full(C.shape[0], np.inf)
    run = dict(s=s, rtol=rtol, floor=1e-14 * s.global_bound, kmax=kmax, keep=keep,
               ascent=ascent, deadline=t0 + max_time, max_boxes=max_boxes,
               batch=int(max(256, min(32768, 4e6 // max(s.m * max(s.T, s.D), 1)))))
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"bounded_sup: workers must be >= 1, got {workers}")
    if workers >= 2 and can_fork():
        # one process until there are boxes for two, then two halves
        C, H, P, dirs, vals, processed = _branch(run, C, H, P, dirs, vals, 0,
                                                 until=SPLIT_AT_BOXES)
        if C.shape[0] >= 2 and processed < max_boxes:
            C, H, P, dirs, vals, processed = _two_halves(run, C, H, P, dirs, vals,
                                                         processed)
    else:
        C, H, P, dirs, vals, processed = _branch(run, C, H, P, dirs, vals, 0)
    floor = run["floor"]
    L = float(vals.max())
    tau = max(L * (1 + rtol), floor)
    complete = C.shape[0] == 0
    upper = tau if complete else max(tau, float(P.max()))
    upper = min(upper * (1 + BOUND_SAFETY), s.global_bound * (1 + BOUND_SAFETY))
    upper = max(upper, L)
    order = np.argsort(-vals)
    dirs, vals = dirs[order], vals[order]
    rt = upper / L - 1 if L > 0 else (0.0 if upper == 0 else np.inf)
    return BoundResult(lower=L, upper=float(upper), direction=dirs[0], directions=dirs,
                       values=vals, rtol=float(rt), complete=bool(complete),
                       n_boxes=int(processed))
