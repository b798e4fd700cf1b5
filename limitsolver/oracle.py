"""The oracle: sup over the whole direction set Θ of the correlation of a dual candidate.

For a dual candidate Z (n × T) the correlation of a direction θ = (w, b) is

    c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i)  ∈ R^T,

and the oracle computes S = sup_{θ ∈ Θ} ‖c(θ)‖ (‖·‖ the penalty's dual norm: ‖·‖₂ for
``group``, ‖·‖_∞ for ``l1``) together with maximizing directions. With S,
Z · λ / S is feasible for the *continuous* dual problem, so the certificate built from it
is a lower bound on the infinite-width optimum OPT (MATH.md, "Discretization and
certificates").

c is linear on each cell of the arrangement of the hyperplanes {θ·x̃_i = 0}; the sup is found
cell by cell:

- d = 1, ``bias="regularized"`` (Θ = S¹): the 2n breakpoints θ ⊥ x̃_i split S¹ into arcs; on
  an arc c(θ) = A θ (A is T × 2) and max ‖Aθ‖² is at an endpoint or at ±(top eigenvector of
  AᵀA) when it lies in the arc. Exact, O(n² T); only the candidates whose value (from their
  arc's form) can reach the best are evaluated through the feature map.
- d = 1, ``bias="free"`` (Θ = {±1} × [−R, R]): for fixed w, c is piecewise linear in b with
  breakpoints b = −w x_i, and a norm of an affine map is convex, so the max is at a
  breakpoint or at b = ±R. Exact.
- d = 2, ``bias="regularized"`` (Θ = S²): cells of the arrangement of n great circles.
  Every cell has an edge; walking each great circle through its 2(n − 1) crossings gives
  every edge (arc) and, from its two sides, every cell. Candidates: the vertices, on every
  arc ±(top eigenvector of the 2 × 2 restricted form) when inside the arc, and for the cells
  on both sides ±(top eigenvector of the 3 × 3 form AᵀA). Exact, O(n³ T). What depends on
  X alone (crossing angles, vertices, the activation pattern of every arc) is kept for the
  last two input sets, so repeated calls on one data set (refinement) only redo the Z parts.
- d = 2, ``bias="free"`` (Θ = S¹ × [−R, R]): on a cell ‖c‖² is convex in b for fixed w, so
  the max lies on a cell boundary: the curves b = −w·x_i (arcs, 2 × 2 eigenproblems in w),
  their crossings, and the edge b = R (a trigonometric polynomial of degree 2 in the angle
  of w, solved through the roots of a quartic); on b = −R, c = 0. Exact.
- d ≥ 3 (and d = 2 beyond ``EXACT_MAX_N_2D`` inputs unless ``exact=True``): sampling plus
  projected ascent from the best samples give a value (a point of Θ, so below the sup), and
  the branch and bound of :mod:`limitsolver.bound` proves an upper end: the result is the
  interval [``value``, ``upper``] (``exact=False``, ``method="bounded"``), and only ``upper``
  enters a certificate.

Exactness is up to rounding: a candidate whose claimed value (from its cell's eigenvalue)
is within a relative ``1e-12`` of the best verified value is not re-evaluated. Every value
returned is the true ‖c(θ)‖ at a returned direction, so ``value`` never exceeds the sup;
``upper`` never falls below it (exact: ``value · (1 + SUP_SAFETY)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import correlation_norm_gradient, features_rmatvec
from .penalties import get_penalty

__all__ = ["SupResult", "sup_correlation", "limit_certificate", "attach_limit_certificate",
           "EXACT_DIMENSIONS", "EXACT_MAX_N_2D", "shortcut_sup_bound"]

#: Input dimensions d for which the oracle is exact.
EXACT_DIMENSIONS = (1, 2, 3)

#: For d = 2 the exact oracle costs O(n³ T) (about 0.1 s at n = 100, 1.5 s at n = 300);
#: with ``exact=None`` it is used up to this many distinct inputs, and the sampled estimate
#: beyond (so that a default ``solve`` stays fast; ``refine`` always uses the exact one).
EXACT_MAX_N_2D = 100

#: The exact sup is inflated by this relative margin before it scales a dual point, so
#: rounding in c(θ) cannot make a certified lower bound overshoot.
SUP_SAFETY = 1e-12

#: Non-exact oracle: relative width of [value, upper] at which the branch and bound stops,
#: and its time budget in seconds per oracle call (on expiry the interval is wider but
#: still certified).
BOUND_RTOL = 1e-9
BOUND_MAX_TIME = 2.0
#: First-pass budget of :func:`attach_limit_certificate` with a ``target_rel_gap``.
BOUND_QUICK_TIME = 0.25

#: Candidates whose claimed value is within this relative margin of the best verified value
#: are not evaluated (their true value can exceed it only by rounding).
_VERIFY_RTOL = 1e-12


@dataclass
class SupResult:
    """Result of :func:`sup_correlation`.

    Attributes
    ----------
    value : float
        S = sup_θ ‖c(θ)‖ when ``exact``; otherwise the best value found (≤ S).
    direction : ndarray (d+1,)
        A maximizing direction (normalized like the problem's grid directions).
    directions : ndarray (k, d+1)
        Distinct directions with the largest values found, best first (candidates for an
        exchange step).
    values : ndarray (k,)
        ‖c‖ at ``directions``.
    exact : bool
        Whether ``value`` is the exact sup (face enumeration, d ≤ 2).
    n_candidates : int
        How many candidate directions were generated.
    n_evaluated : int
        How many of them were evaluated with the feature map.
    upper : float
        A certified upper bound on S: ``value · (1 + SUP_SAFETY)`` when exact, else the
        branch-and-bound bound (:func:`limitsolver.bound.bounded_sup`).
    rtol : float
        upper / value − 1, the relative width reached.
    method : {"exact", "bounded"}
    """

    value: float
    direction: np.ndarray
    directions: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    exact: bool
    n_candidates: int = 0
    n_evaluated: int = 0
    upper: float = None
    rtol: float = None
    method: str = None

    def __post_init__(self):
        if self.upper is None:
            self.upper = (self.value * (1 + SUP_SAFETY) if self.exact
                          else float(np.inf))
        if self.rtol is None:
            self.rtol = (self.upper / self.value - 1 if self.value > 0
                         else (0.0 if self.upper == 0 else float(np.inf)))
        if self.method is None:
            self.method = "exact" if self.exact else "bounded"


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _unique_rows(X, Z):
    """Merge samples with identical inputs (their hyperplanes coincide): Z rows summed."""
    Xu, inv = np.unique(X, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    if Xu.shape[0] == X.shape[0]:
        order = np.argsort(inv)
        return X[order], Z[order]
    Zu = np.zeros((Xu.shape[0], Z.shape[1]))
    np.add.at(Zu, inv, Z)
    return Xu, Zu


def _values(Xt, Z, n, thetas, dual):
    """‖c(θ)‖ for directions (m × (d+1)) — the true values, through the feature map."""
    if thetas.shape[0] == 0:
        return np.zeros(0)
    return dual(features_rmatvec(Xt, thetas, Z) / n)


def _top_eig(M):
    """Top eigenvalue and unit eigenvector of symmetric matrices M (..., k, k)."""
    w, U = np.linalg.eigh(M)
    return np.maximum(w[..., -1], 0.0), U[..., :, -1]


def _arc_contains(start, length, angle):
    """Whether ``angle`` lies in the arc [start, start + length] (mod 2π)."""
    return np.mod(angle - start, 2 * np.pi) <= length


def _verify(Xt, Z, n, cand, claimed, dual, threshold=np.inf):
    """Evaluate candidates in decreasing order of claimed value until no unevaluated
    candidate can beat the best verified one, nor has a claimed value above ``threshold``;
    returns (values, evaluated mask)."""
    m = cand.shape[0]
    order = np.argsort(-claimed, kind="stable")
    vals = np.full(m, -np.inf)
    best, pos, batch = -np.inf, 0, 512
    while pos < m:
        if np.isfinite(best) and claimed[order[pos]] <= min(best * (1 + _VERIFY_RTOL),
                                                             threshold):
            break
        idx = order[pos:pos + batch]
        vals[idx] = _values(Xt, Z, n, cand[idx], dual)
        best = max(best, float(vals[idx].max()))
        pos += batch
        batch *= 2
    return vals, np.isfinite(vals)


def _dual_norm(penalty):
    return get_penalty(penalty).dual_norms


# ---------------------------------------------------------------------------------------
# d = 1
# ---------------------------------------------------------------------------------------
def _cands_1d_sphere(X, Z, n):
    """Candidates on S¹: breakpoints and ±(top eigenvector) of every arc's 2 × 2 form."""
    Xt = np.column_stack([X[:, 0], np.ones(X.shape[0])])
    # θ ⊥ x̃_i: θ = ±(1, −x_i) / ‖·‖
    base = np.arctan2(-X[:, 0], 1.0)
    ang = np.sort(np.mod(np.concatenate([base, base + np.pi]), 2 * np.pi))
    nxt = np.concatenate([ang[1:], ang[:1] + 2 * np.pi])
    mid = 0.5 * (ang + nxt)
    Mid = np.column_stack([np.cos(mid), np.sin(mid)])
    P = (Mid @ Xt.T) > 0                                       # (arcs, n)
    T = Z.shape[1]
    W = (Z[:, :, None] * Xt[:, None, :]).reshape(Xt.shape[0], T * 2)
    A = (P @ W).reshape(-1, T, 2) / n
    lam, v = _top_eig(np.einsum("kti,ktj->kij", A, A))
    # vertices: arc starts, with the arc's exact linear form (c is continuous there)
    verts = np.column_stack([np.cos(ang), np.sin(ang)])
    cl_v = np.linalg.norm(np.einsum("kti,ki->kt", A, verts), axis=1)
    # ±(top eigenvector) where it lies inside its arc (else the arc's max is a vertex)
    a = np.arctan2(v[:, 1], v[:, 0])
    length = nxt - ang
    cand, claimed = [verts], [cl_v]
    for sign, ang_c in ((1.0, a), (-1.0, a + np.pi)):
        inside = _arc_contains(ang, length, ang_c)
        cand.append(sign * v[inside])
        claimed.append(np.sqrt(lam[inside]))
    return np.vstack(cand), np.concatenate(claimed)


def _cands_1d_cylinder(X, radius):
    """Candidates on {±1} × [−R, R]: the breakpoints b = −w x_i and b = ±R."""
    x = X[:, 0]
    b = np.concatenate([-x, [-radius, radius]])
    cand = np.vstack([np.column_stack([np.ones_like(b), b]),
                      np.column_stack([-np.ones_like(b), np.concatenate([x, [-radius, radius]])])])
    return cand, np.full(cand.shape[0], np.inf)


# ---------------------------------------------------------------------------------------
# d = 2
# ---------------------------------------------------------------------------------------
def _circle_bases(Xt, bias):
    """P_i (3 × 2) with θ = P_i φ, φ ∈ S¹, parametrizing the curve {θ·x̃_i = 0} ∩ Θ.

    regularized: an orthonormal basis of x̃_i^⊥ (so ‖θ‖ = 1); free: θ = (φ, −φ·x_i)
    (so ‖w‖ = 1 and b = −w·x_i).
    """
    m = Xt.shape[0]
    if bias == "regularized":
        u = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
        # a vector not parallel to u: e_k for the smallest |u_k|
        k = np.argmin(np.abs(u), axis=1)
        e = np.zeros_like(u)
        e[np.arange(m), k] = 1.0
        a = e - np.sum(e * u, axis=1, keepdims=True) * u
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b = np.cross(u, a)
        return np.stack([a, b], axis=2)                        # (m, 3, 2)
    P = np.zeros((m, 3, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    P[:, 2, :] = -Xt[:, :2]
    return P


#: The arrangement of the last few input sets (d = 2), reused across oracle calls on the
#: same data (refinement calls the oracle once per iteration): key → arrangement.
_ARRANGEMENTS: dict = {}
_ARRANGEMENTS_KEPT = 2
#: Arrangements whose activation patterns take more bytes than this are not kept.
ARRANGEMENT_CACHE_BYTES = 96 * 2**20


def _arrangement_2d(X, bias, block_bytes):
    """What the d = 2 candidates need from X alone: the circle bases, and per block of
    circles the sorted crossing angles, arc lengths, vertex directions and the activation
    pattern of every arc. Cached for the last ``_ARRANGEMENTS_KEPT`` input sets."""
    import hashlib
    key = (bias, X.shape, block_bytes, hashlib.sha1(np.ascontiguousarray(X).tobytes()).digest())
    hit = _ARRANGEMENTS.get(key)
    if hit is not None:
        return hit
    m = X.shape[0]
    Xt = np.column_stack([X, np.ones(m)])
    P = _circle_bases(Xt, bias)                                # (m, 3, 2)
    G = np.einsum("iak,ja->ijk", P, Xt)                        # (m, m, 2): P_iᵀ x̃_j
    if m == 1:
        ang_all = np.array([[0.0, np.pi]])
    else:
        off = ~np.eye(m, dtype=bool)
        base = np.arctan2(G[..., 1], G[..., 0]) + 0.5 * np.pi   # φ ⊥ P_iᵀ x̃_j
        base = base[off].reshape(m, m - 1)
        ang_all = np.sort(np.mod(np.concatenate([base, base + np.pi], axis=1), 2 * np.pi),
                          axis=1)
    K = ang_all.shape[1]
    per_circle = 8 * K * m * 2
    bs = max(1, min(m, block_bytes // max(per_circle, 1)))
    blocks = []
    for s in range(0, m, bs):
        idx = np.arange(s, min(m, s + bs))
        ang = ang_all[idx]                                     # (b, K)
        nxt = np.concatenate([ang[:, 1:], ang[:, :1] + 2 * np.pi], axis=1)
        length = nxt - ang
        mid = 0.5 * (ang + nxt)
        Pb = P[idx]                                            # (b, 3, 2)
        phi_mid = np.stack([np.cos(mid), np.sin(mid)], axis=2)  # (b, K, 2)
        th_mid = np.einsum("bak,bjk->bja", Pb, phi_mid)        # (b, K, 3)
        pat = np.einsum("bja,ia->bji", th_mid, Xt) > 0         # (b, K, m)
        pat[np.arange(len(idx)), :, idx] = False               # on the circle itself
        phi_v = np.stack([np.cos(ang), np.sin(ang)], axis=2)
        th_v = np.einsum("bak,bjk->bja", Pb, phi_v)            # vertices: arc starts
        blocks.append((idx, ang, length, Pb, pat.reshape(-1, m), th_v))
    out = (Xt, blocks)
    if m * K * m <= ARRANGEMENT_CACHE_BYTES:
        while len(_ARRANGEMENTS) >= _ARRANGEMENTS_KEPT:
            _ARRANGEMENTS.pop(next(iter(_ARRANGEMENTS)))
        _ARRANGEMENTS[key] = out
    return out


def _cands_2d(X, Z, n, bias, radius, block_bytes=48 * 2**20):
    """Candidates for d = 2 (see the module docstring); returns (cand, claimed)."""
    m, T = X.shape[0], Z.shape[1]
    Xt, blocks = _arrangement_2d(X, bias, block_bytes)
    W = (Z[:, :, None] * Xt[:, None, :]).reshape(m, T * 3)
    cands, claims = [], []
    for idx, ang, length, Pb, pat, th_v in blocks:
        K = ang.shape[1]
        A = (pat @ W).reshape(len(idx), K, T, 3) / n
        # vertices: arc starts, with the arc's exact linear form
        cands.append(th_v.reshape(-1, 3))
        claims.append(np.linalg.norm(np.einsum("bjta,bja->bjt", A, th_v), axis=2).ravel())
        # edges: 2 × 2 eigenproblems on each arc, kept when inside the arc
        B = np.einsum("bjta,bak->bjtk", A, Pb)
        lam2, phi = _top_eig(np.einsum("bjtk,bjtl->bjkl", B, B))
        a = np.arctan2(phi[..., 1], phi[..., 0])
        for sign, ang_c in ((1.0, a), (-1.0, a + np.pi)):
            inside = _arc_contains(ang, length, ang_c)
            th = np.einsum("bak,bjk->bja", Pb, sign * phi)[inside]
            cands.append(th)
            claims.append(np.sqrt(lam2[inside]))
        if bias == "regularized":
            # cells on both sides of each arc: 3 × 3 eigenproblems
            zi = (Z[idx][:, :, None] * Xt[idx][:, None, :]) / n  # (b, T, 3)
            for Ac in (A, A + zi[:, None, :, :]):
                lam3, v = _top_eig(np.einsum("bjta,bjtc->bjac", Ac, Ac))
                v = v.reshape(-1, 3)
                cl = np.sqrt(lam3).ravel()
                cands += [v, -v]
                claims += [cl, cl]
    if bias == "free":
        cands.append(_top_edge_candidates(X, Z, n, radius))
        claims.append(np.full(cands[-1].shape[0], np.inf))
    return np.vstack(cands), np.concatenate(claims)


def _top_edge_candidates(X, Z, n, radius):
    """Critical points of ‖c(w, R)‖² over w ∈ S¹ (all samples active on b = R).

    c(w, R) = G w + h with G = (1/n) Zᵀ X, h = (R/n) Σ Z_i; with w = (cos α, sin α),
    d/dα ‖c‖²/2 = p sin 2α + q cos 2α − g₁ sin α + g₂ cos α, where M = GᵀG, g = Gᵀh,
    p = (M₂₂ − M₁₁)/2, q = M₁₂. Times z² (z = e^{iα}) it is a quartic in z; every root's
    angle is a candidate (plus four fixed angles when the quartic vanishes).
    """
    G = Z.T @ X / n                                            # (T, 2)
    h = radius * Z.sum(axis=0) / n
    M, g = G.T @ G, G.T @ h
    p, q = 0.5 * (M[1, 1] - M[0, 0]), M[0, 1]
    coef = np.array([p / 2j + q / 2, -g[0] / 2j + g[1] / 2, 0.0,
                     g[0] / 2j + g[1] / 2, -p / 2j + q / 2], dtype=complex)
    alphas = [0.0, 0.5 * np.pi, np.pi, 1.5 * np.pi]
    if np.max(np.abs(coef)) > 0:
        nz = np.flatnonzero(np.abs(coef) > 1e-300)
        roots = np.roots(coef[nz[0]:])
        alphas += list(np.angle(roots[np.isfinite(roots)]))
    alphas = np.asarray(alphas)
    return np.column_stack([np.cos(alphas), np.sin(alphas), np.full(len(alphas), radius)])


# ---------------------------------------------------------------------------------------
# d >= 3: an estimate
# ---------------------------------------------------------------------------------------
def _normalize(theta, bias, radius):
    if bias == "regularized":
        return theta / np.linalg.norm(theta, axis=-1, keepdims=True)
    w = theta[..., :-1] / np.linalg.norm(theta[..., :-1], axis=-1, keepdims=True)
    b = np.clip(theta[..., -1:], -radius, radius)
    return np.concatenate([w, b], axis=-1)


def _ascent(Xt, Z, n, theta, penalty, bias, radius, max_iter=60):
    """Projected gradient ascent of ‖c(θ)‖ from each row of ``theta`` (backtracking)."""
    dual = _dual_norm(penalty)
    val = _values(Xt, Z, n, theta, dual)
    step = np.full(theta.shape[0], 0.5)
    for _ in range(max_iter):
        grad = correlation_norm_gradient(Xt, theta, Z, penalty)  # (k, d+1)
        new = _normalize(theta + step[:, None] * grad / np.maximum(
            np.linalg.norm(grad, axis=1, keepdims=True), 1e-300), bias, radius)
        nv = _values(Xt, Z, n, new, dual)
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
    vals = _values(Xt, Z, n, S, _dual_norm(penalty))
    top = np.argsort(-vals)[:n_starts]
    theta, val = _ascent(Xt, Z, n, S[top].copy(), penalty, bias, radius)
    return np.vstack([S, theta]), np.concatenate([vals, val])


def _bounded(problem, X, Zu, Z, penalty, top_k, n_samples, n_starts, rng, rtol, max_time,
             extra=None):
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
    seeds, _ = _distinct_top(cand, vals, max(top_k, 16))
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
    starts, _ = _distinct_top(allc, allv, 48, atol=0.02)
    asc_c, asc_v = ascent(starts.copy())
    dirs, dv = _distinct_top(np.vstack([asc_c, allc]), np.concatenate([asc_v, allv]),
                             top_k, atol=1e-6)
    value = float(dv[0])
    upper = max(float(res.upper), value)
    return SupResult(value=value, direction=dirs[0], directions=dirs, values=dv, exact=False,
                     n_candidates=cand.shape[0] + res.n_boxes,
                     n_evaluated=cand.shape[0] + res.n_boxes, upper=upper,
                     method="bounded")


# ---------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------
def _distinct_top(cand, vals, k, atol=1e-9):
    """The ``k`` best candidates (finite values), skipping any within ``atol`` (max-norm)
    of a better one kept."""
    order = np.argsort(-vals, kind="stable")
    order = order[np.isfinite(vals[order])]
    keep = []
    kept = np.empty((min(k, len(order)), cand.shape[1]))
    for i in order:
        m = len(keep)
        if m == 0 or np.max(np.abs(kept[:m] - cand[i]), axis=1).min() > atol:
            kept[m] = cand[i]
            keep.append(i)
            if len(keep) >= k:
                break
    keep = np.array(keep, dtype=int)
    return cand[keep], vals[keep]


def sup_correlation(problem, Z, *, penalty=None, exact=None, top_k=16, threshold=None,
                    n_samples=4096, n_starts=16, random_state=0, bound_rtol=BOUND_RTOL,
                    bound_max_time=BOUND_MAX_TIME, seeds=None) -> SupResult:
    """sup over Θ of ‖c(θ)‖, c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i), with maximizing directions.

    Parameters
    ----------
    problem : LimitProblem
        Supplies X (n × d), the bias convention (Θ = S^d or S^{d−1} × [−R, R]) and the penalty.
    Z : array_like (n, T) or (n,)
        Dual candidate (for instance a residual, or interpolation multipliers).
    penalty : {"group", "l1"}, optional
        Dual norm ‖·‖₂ (group) or ‖·‖_∞ (l1); defaults to the problem's.
    exact : bool, optional
        Force (True) or skip (False) the exact method; True raises a ValueError for d ≥ 4.
        By default exact for d = 1, for d = 2 up to ``EXACT_MAX_N_2D`` and for d = 3 up to
        ``faces3d.EXACT_MAX_N_3D`` distinct inputs.
    top_k : int
        Number of distinct best directions returned in ``directions``.
    threshold : float, optional
        Exact method: also evaluate every candidate (vertex, edge or cell stationary point)
        whose value may exceed ``threshold``, so that ``directions`` holds all the local
        maximizers above it (up to ``top_k``), not only the best ones.
    n_samples, n_starts, random_state :
        Non-exact path: number of quasi-random samples, number of ascent starts, seed (they
        give the first lower value and the exchange directions).
    bound_rtol, bound_max_time :
        Non-exact path: the branch and bound stops when upper ≤ value · (1 + bound_rtol)
        or after ``bound_max_time`` seconds (then with a wider, still certified, interval).
    seeds : ndarray (k, d+1), optional
        Non-exact path: directions to evaluate first (e.g. a solution's atoms, which are
        near-maximizers); they are mapped into Θ before evaluation.

    Returns
    -------
    SupResult
        ``exact`` is True when the exact method ran (d ≤ 3; exact up to rounding). Either
        way ``upper`` is a certified upper bound on the sup.
    """
    from .grids import check_random_state
    penalty = penalty or problem.penalty
    if penalty not in ("group", "l1"):
        raise ValueError(f"sup_correlation: penalty={penalty!r} has no dual norm here; "
                         "expected 'group' or 'l1'")
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2 or Z.shape[0] != problem.n:
        raise ValueError(f"sup_correlation: Z must have shape (n, T) = ({problem.n}, T), "
                         f"got {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("sup_correlation: Z contains NaN or inf")
    n, d, bias, radius = problem.n, problem.d, problem.bias, problem.radius
    dual = _dual_norm(penalty)
    Xt_full = problem.Xt
    X, Zu = _unique_rows(problem.X, Z)
    if exact and d not in EXACT_DIMENSIONS:
        raise ValueError(f"sup_correlation: the exact oracle is for d = 1, 2, 3, got d = {d}")
    from .faces3d import EXACT_MAX_N_3D, exact_sup_3d
    if exact is None:
        exact = d == 1 or (d == 2 and X.shape[0] <= EXACT_MAX_N_2D) or \
            (d == 3 and X.shape[0] <= EXACT_MAX_N_3D)
    if not exact:
        return _bounded(problem, X, Zu, Z, penalty, top_k, int(n_samples), int(n_starts),
                        check_random_state(random_state), bound_rtol, bound_max_time, seeds)
    if d == 3:  # face enumeration of the arrangement in R⁴ (limitsolver.faces3d)
        r = exact_sup_3d(np.column_stack([X, np.ones(X.shape[0])]), Zu, n, penalty=penalty,
                         bias=bias, radius=radius, top_k=top_k, threshold=threshold)
        return SupResult(value=r.value, direction=r.direction, directions=r.directions,
                         values=r.values, exact=True, n_candidates=r.n_candidates,
                         n_evaluated=r.n_evaluated)
    # l1: sup_θ max_t |c_t| = max_t sup_θ |c_t| — candidates of each column's problem
    columns = [Zu] if penalty == "group" else [Zu[:, [t]] for t in range(Zu.shape[1])]
    cands, claims = [], []
    for Zc in columns:
        if d == 1 and bias == "regularized":
            c, cl = _cands_1d_sphere(X, Zc, n)
        elif d == 1:
            c, cl = _cands_1d_cylinder(X, radius)
        else:
            c, cl = _cands_2d(X, Zc, n, bias, radius)
        cands.append(c)
        claims.append(cl)
        if d == 1 and bias == "free":
            break  # the candidates do not depend on Z
    cand = np.vstack(cands)
    claimed = np.concatenate(claims)
    Xtu = np.column_stack([X, np.ones(X.shape[0])])
    vals, _ = _verify(Xtu, Zu, n, cand, claimed, dual,
                      np.inf if threshold is None else float(threshold))
    dirs, dv = _distinct_top(cand, vals, top_k)
    return SupResult(value=float(dv[0]), direction=dirs[0], directions=dirs, values=dv,
                     exact=True, n_candidates=cand.shape[0],
                     n_evaluated=int(np.isfinite(vals).sum()))


# ---------------------------------------------------------------------------------------
# the certificate on the whole direction set
# ---------------------------------------------------------------------------------------
def shortcut_sup_bound(problem, Zc, Zp, Sp, *, penalty=None):
    """Bound sup_θ ‖c_{Zc}(θ)‖ through a candidate Zp whose sup is bounded by Sp.

    With a = ⟨Zc, Zp⟩ / ⟨Zp, Zp⟩ > 0 and E = Zc − a Zp, c is linear in the candidate, so
    for every θ ∈ Θ

        ‖c_{Zc}(θ)‖ ≤ a ‖c_{Zp}(θ)‖ + (1/n) Σ_i ‖E_i‖ relu(θ·x̃_i)
                    ≤ a Sp + (1/n) Σ_i ‖E_i‖ ρ_i,     ρ_i = max_{θ ∈ Θ} relu(θ·x̃_i),

    ‖·‖ the dual norm (‖·‖₂ for group, ‖·‖_∞ for l1, applied to the rows E_i), and
    ρ_i = ‖x̃_i‖ on the sphere (Cauchy–Schwarz, ‖θ‖ = 1) and ρ_i = ‖x_i‖ + R on the cylinder
    (|w·x_i + b| ≤ ‖w‖‖x_i‖ + |b|, ‖w‖ = 1, |b| ≤ R).

    Returns
    -------
    (a, slack) with the bound a·Sp + slack, or None when a ≤ 0 (no bound of this form).
    """
    penalty = penalty or problem.penalty
    Zc = np.asarray(Zc, dtype=float)
    Zp = np.asarray(Zp, dtype=float)
    den = float(np.sum(Zp * Zp))
    a = float(np.sum(Zc * Zp)) / den if den > 0 else 0.0
    if a <= 0:
        return None
    E = Zc - a * Zp
    if problem.bias == "free":
        reach = np.linalg.norm(problem.X, axis=1) + problem.radius
    else:
        reach = np.linalg.norm(problem.Xt, axis=1)
    rows = np.abs(E).max(axis=1) if penalty == "l1" else np.linalg.norm(E, axis=1)
    return a, float(rows @ reach) / problem.n


def limit_certificate(problem, directions, V, C, *, Z=None, exact=None, **oracle_options):
    """The certificate of (V, C) on ``directions`` against the infinite-width optimum.

    Runs :func:`~limitsolver.certificate.certify` with ``sup_norm`` the oracle's sup over Θ
    replaced by its certified upper end ``SupResult.upper`` (the exact sup inflated by
    ``SUP_SAFETY``, or the branch-and-bound bound): the dual candidate scaled by λ / upper
    is feasible for the continuous problem, so ``certificate.dual`` is a certified lower
    bound on OPT in every dimension.

    Parameters
    ----------
    directions : ndarray (M, d+1);  V : ndarray (M, T);  C : ndarray (p, T)
    Z : ndarray (n, T) or list of them, optional
        Dual candidates (the residual of (V, C) is always added for squared and logistic
        losses; interpolation needs the solver's multipliers here).

    Returns
    -------
    certificate : Certificate
    sup : SupResult
        The oracle's result for the candidate that gave the bound (or the last one tried).
    """
    from .certificate import certify, primal_value
    from .losses import get_loss
    raw = [] if Z is None else ([Z] if isinstance(Z, np.ndarray) else list(Z))
    if problem.loss != "interpolate":
        _, pred = primal_value(problem, directions, V, C)
        raw = raw + [get_loss(problem.loss).residual(pred, problem.Y)]
    seen = []
    penalty = oracle_options.get("penalty") or problem.penalty

    def sup_norm(Zc):
        # a candidate nearly parallel to one already seen (the grid dual point is a scaled
        # residual): bounded through the one seen, without a second oracle call
        for Zp, Sp, res in seen:
            short = shortcut_sup_bound(problem, Zc, Zp, Sp, penalty=penalty)
            if short is not None and short[1] <= 1e-10 * short[0] * Sp:
                S = short[0] * Sp + short[1]
                seen.append((Zc, S, res))
                return S
        opts = dict(oracle_options)
        if len(directions):
            opts.setdefault("seeds", directions)
        res = sup_correlation(problem, Zc, exact=exact, **opts)
        S = res.upper
        seen.append((Zc, S, res))
        return S

    cert = certify(problem, directions, V, C, Z=raw or None, sup_norm=sup_norm)
    match = [res for _, S, res in seen if S == cert.max_correlation]
    sup = match[0] if match else (seen[-1][2] if seen else None)
    if sup is None:  # no usable candidate: the bound is 0 (Z = 0); report the residual's sup
        sup = sup_correlation(problem, cert.dual_point, exact=exact, **oracle_options)
    return cert, sup


def attach_limit_certificate(solution, *, Z=None, exact=None, target_rel_gap=None,
                             **oracle_options):
    """Set ``lower_bound``, ``limit_gap`` and ``lower_bound_exact`` on a LimitSolution.

    The dual candidates are the solution's grid dual point, any ``Z`` given, and (squared,
    logistic) the residual; the best bound is kept. ``lower_bound`` is always a certified
    lower bound on OPT; ``info`` records how: ``lower_bound_method`` ("exact" or
    "bounded"), ``sup_interval`` = (best value found, certified upper bound) of the sup
    behind it, and ``sup_rtol`` its relative width. Oracle options (``bound_rtol``,
    ``bound_max_time``, ...) are passed on. Returns the SupResult of the oracle.

    With ``target_rel_gap`` (refinement's tolerance) and a bounded oracle, a first pass
    runs with ``BOUND_QUICK_TIME``; the full budget is spent only when that bound misses
    the target while the estimate (the same dual point scaled with the best value found
    instead of the certified upper end; ``info["estimated_lower_bound"]``,
    ``info["estimated_limit_gap"]``) says the target may be reachable. Either way the
    stored ``lower_bound`` is certified.
    """
    if solution.problem.loss == "interpolate" and solution.objective == 0.0:
        # the free part interpolates: OPT = 0 exactly (a dual point would be rounding noise)
        solution.lower_bound, solution.limit_gap, solution.lower_bound_exact = 0.0, 0.0, True
        solution.info["limit_rel_gap"] = 0.0
        sup = sup_correlation(solution.problem, np.zeros_like(solution.problem.Y),
                              exact=exact, **oracle_options)
        _record_sup(solution, sup)
        solution.info["lower_bound_method"] = "exact"
        return sup
    Zs = [solution.certificate.dual_point]
    if Z is not None:
        Zs += [Z] if isinstance(Z, np.ndarray) else list(Z)
    def run(**extra):
        return limit_certificate(solution.problem, solution.atom_directions,
                                 solution.atom_weights, solution.free_coef, Z=Zs,
                                 exact=exact, **{**oracle_options, **extra})
    staged = (target_rel_gap is not None and "bound_max_time" not in oracle_options
              and not exact)
    cert, sup = run(bound_max_time=BOUND_QUICK_TIME) if staged else run()
    if not sup.exact:
        est = _estimated_dual(solution.problem, cert, sup)
        if staged and cert.rel_gap > target_rel_gap and est is not None and \
                (solution.objective - est) <= target_rel_gap * abs(solution.objective):
            cert, sup = run()
            est = _estimated_dual(solution.problem, cert, sup)
        if est is not None:
            solution.info["estimated_lower_bound"] = float(est)
            solution.info["estimated_limit_gap"] = float(solution.objective - est)
    solution.lower_bound = float(cert.dual)
    solution.limit_gap = float(solution.objective - cert.dual)
    solution.lower_bound_exact = bool(sup.exact)
    _record_sup(solution, sup)
    solution.info["limit_rel_gap"] = float(cert.rel_gap)
    return sup


def _estimated_dual(problem, cert, sup):
    """The dual value of the certificate's dual point rescaled by upper / value (as if the
    sup were the best value found): an estimate, never a bound. None when undefined."""
    from .losses import get_loss
    if not (sup.value > 0 and np.isfinite(sup.upper)) or not np.any(cert.dual_point):
        return None
    loss = get_loss(problem.loss)
    Zd = cert.dual_point
    f = sup.upper / sup.value
    if not loss.dual_feasible(f * Zd, problem.Y):
        return None
    return max(float(loss.dual_value(f * Zd, problem.Y)), float(cert.dual))


def _record_sup(solution, sup):
    """How the lower bound was certified, in ``solution.info``."""
    solution.info["limit_sup"] = float(sup.value)
    solution.info["lower_bound_method"] = sup.method
    solution.info["sup_interval"] = (float(sup.value), float(sup.upper))
    solution.info["sup_rtol"] = float(sup.rtol)
