"""Circles of the d = 3 arrangement: crossings, arc forms and the faces next to each arc.

Helpers of :mod:`limitsolver.faces3d` (whose docstring has the method and its proof). A
block of circles L_{ij} = H_i ∩ H_j ∩ Θ is processed at once; each face next to an arc is
described by a *spec* (Wadd, basis, checks, kink): its form is (M_arc + Wadd) restricted to
``basis`` (None: all of R⁴, a cell), ``checks`` are the sides of inputs through the arc it
lies on, ``kink`` (2-faces only) the input whose hyperplane holds it.
"""
from __future__ import annotations

import numpy as np

from .faces3d_eig import approx_top_pair, exact_top_pair

#: Input k lies on the circle L_{ij} when ‖P_{ij}ᵀ x̃_k‖ ≤ this × ‖Q_iᵀ x̃_k‖.
ON_CIRCLE_RTOL = 1e-10
#: Sign tests of a candidate against its face are loosened by this (absolute, unit normals).
SIGN_SLACK = 1e-9

# ---------------------------------------------------------------------------------------
# bases
# ---------------------------------------------------------------------------------------
def _complement_3(y):
    """Orthonormal bases (b, 3, 2) of y^⊥ ⊂ R³ for nonzero rows y (b, 3)."""
    u = y / np.linalg.norm(y, axis=1, keepdims=True)
    k = np.argmin(np.abs(u), axis=1)
    e = np.zeros_like(u)
    e[np.arange(len(u)), k] = 1.0
    a = e - np.sum(e * u, axis=1, keepdims=True) * u
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    return np.stack([a, np.cross(u, a)], axis=2)


def wall_bases(Xt, bias):
    """Q (m, 4, 3) with Θ ∩ H_i = {Q_i w : ‖w‖ = 1}.

    regularized: an orthonormal basis of x̃_i^⊥ (columns of a Householder reflection);
    free: Q_i = [I₃; −x_iᵀ] (b = −w·x_i).
    """
    m = Xt.shape[0]
    if bias == "free":
        Q = np.zeros((m, 4, 3))
        Q[:, [0, 1, 2], [0, 1, 2]] = 1.0
        Q[:, 3, :] = -Xt[:, :3]
        return Q
    u = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
    k = np.argmax(np.abs(u), axis=1)
    v = u.copy()
    v[np.arange(m), k] += np.where(u[np.arange(m), k] >= 0, 1.0, -1.0)
    H = np.eye(4)[None] - 2 * v[:, :, None] * v[:, None, :] / np.sum(v * v, axis=1)[:, None, None]
    keep = np.ones((m, 4), dtype=bool)
    keep[np.arange(m), k] = False
    return H.transpose(0, 2, 1)[keep].reshape(m, 3, 4).transpose(0, 2, 1)


# ---------------------------------------------------------------------------------------
# circles L_{ij}: crossings, arcs and their forms
# ---------------------------------------------------------------------------------------
def circle_geometry(Xt, Q, I, J):
    """What the circles L_{ij} (pairs I, J) need from X alone.

    θ(φ) = P (cos φ, sin φ) with P = Q_i E (b, 4, 2), E an orthonormal basis of
    (Q_iᵀ x̃_j)^⊥. Input k is on for φ ∈ (on_k, on_k + π): θ(φ)·x̃_k = g_k·(cos φ, sin φ)
    with g_k = Pᵀ x̃_k, so on_k = arg g_k − π/2. Inputs on the circle (g_k ≈ 0, including
    i and j) get no crossing (sentinel angle 2π, no change). Events are sorted; arc j runs
    from ``ang[j]`` over ``length[j]``, with the pattern ``init`` plus events 0..j.
    """
    Qi = Q[I]
    y = np.einsum("bak,ba->bk", Qi, Xt[J])
    P = Qi @ _complement_3(y)                                   # (b, 4, 2)
    G = np.einsum("bak,ma->bmk", P, Xt)                         # (b, m, 2)
    scale = np.linalg.norm(np.einsum("bak,ma->bmk", Qi, Xt), axis=2)
    on_circle = np.linalg.norm(G, axis=2) <= ON_CIRCLE_RTOL * scale
    rows = np.arange(len(I))
    on_circle[rows, I] = on_circle[rows, J] = True
    on = np.mod(np.arctan2(G[..., 1], G[..., 0]) - 0.5 * np.pi, 2 * np.pi)
    off = np.mod(on + np.pi, 2 * np.pi)
    init = (off < on) & ~on_circle
    on[on_circle] = off[on_circle] = 2 * np.pi
    ev = np.concatenate([on, off], axis=1)
    m = Xt.shape[0]
    change = np.concatenate([np.ones(m), -np.ones(m)])[None] * np.tile(~on_circle, 2)
    order = np.argsort(ev, axis=1, kind="stable")
    ang = np.take_along_axis(ev, order, axis=1)
    sg = np.take_along_axis(change, order, axis=1)
    nxt = np.concatenate([ang[:, 1:], ang[:, :1] + 2 * np.pi], axis=1)
    return dict(I=I, J=J, P=P, ang=ang, length=nxt - ang, k=order % m, sg=sg,
                init=init, on_circle=on_circle)


def arc_forms(Wf, geo):
    """M of every arc (b, K, Tc, 4): init pattern plus the cumulative rank-one changes."""
    b, K = geo["ang"].shape
    D = Wf[geo["k"]] * geo["sg"][..., None]                      # (b, K, Tc*4)
    np.cumsum(D, axis=1, out=D)
    D += (geo["init"].astype(float) @ Wf)[:, None, :]
    return D.reshape(b, K, -1, 4)


def _arc_contains(start, length, angle):
    return np.mod(angle - start, 2 * np.pi) <= length


def vertex_edge(M, geo, tau):
    """Vertices (arc starts, valued with the arc's form: c is continuous) and ±(top
    eigenvector of the arc's 2 × 2 form) inside their arcs; directions and claims above
    ``tau`` (at least the best one), and the number of claims."""
    P, ang, length = geo["P"], geo["ang"], geo["length"]
    B = np.matmul(M, P[:, None])                                # (b, K, Tc, 2)
    a = np.einsum("bjt,bjt->bj", B[..., 0], B[..., 0])
    c = np.einsum("bjt,bjt->bj", B[..., 1], B[..., 1])
    h = np.einsum("bjt,bjt->bj", B[..., 0], B[..., 1])
    ca, sa = np.cos(ang)[..., None], np.sin(ang)[..., None]
    vcl = np.linalg.norm(B[..., 0] * ca + B[..., 1] * sa, axis=2)
    lam = np.sqrt(np.maximum(0.5 * (a + c) + np.hypot(0.5 * (a - c), h), 0.0))
    phi = 0.5 * np.arctan2(2 * h, a - c)
    angles = np.stack([ang, phi, phi + np.pi])
    claims = np.stack([vcl, np.where(_arc_contains(ang, length, phi), lam, -np.inf),
                       np.where(_arc_contains(ang, length, phi + np.pi), lam, -np.inf)])
    keep = claims > tau
    if not keep.any():                       # keep the best vertex: the pool is never empty
        keep.flat[np.argmax(vcl)] = True
    f, bi, j = np.nonzero(keep)
    ph = angles[f, bi, j]
    dirs = np.einsum("nak,nk->na", P[bi], np.column_stack([np.cos(ph), np.sin(ph)]))
    return dirs, claims[f, bi, j], 3 * vcl.size


# ---------------------------------------------------------------------------------------
# 2-faces and cells next to the arcs
# ---------------------------------------------------------------------------------------
def arc_end_checks(Xt, geo):
    """Every face next to arc j lies on the arc's side of the inputs switched at its two
    ends: (x̃ (b·K, 4), sign (b·K,)) for the start and the end event (sentinels: x̃ = 0)."""
    k, sg = geo["k"], geo["sg"]
    xs = (Xt / np.linalg.norm(Xt, axis=1, keepdims=True))[k] * (sg != 0)[..., None]
    xe = np.roll(xs, -1, axis=1)
    return [(xs.reshape(-1, 4), sg.ravel()), (xe.reshape(-1, 4), -np.roll(sg, -1, axis=1).ravel())]


def _inside_tests(th, v, H, A, circ, gidx, spec, arc_checks, slack):
    """Necessary conditions for θ (rows ``th``; ``gidx`` their arc indices in the block,
    ``circ`` their circles, H and A their restricted and full forms) to be the maximizer
    of its face: the sides of i, j and of the arc's end inputs, and for a 2-face in H_i
    the kink condition 0 ≤ c·Aδ ≤ −c·W_iδ (no ascent into either neighbouring cell; δ
    crosses H_i: x̃_i on the sphere, e_b on the cylinder). Returns a mask."""
    _, _, checks, kink = spec
    live = np.arange(len(th))
    tests = [(xk, None, s, True) for xk, s in checks] + \
            [(xk, s, 1.0, False) for xk, s in arc_checks]
    for xk, sv, s, per_circle in tests:          # unit normals: slack is absolute
        r = live
        x = xk[circ[r]] if per_circle else xk[gidx[r]]
        sg = s if sv is None else sv[gidx[r]]
        live = r[sg * np.einsum("na,na->n", th[r], x) >= -slack]
    if kink is not None and len(live):
        Wi, delta = kink
        r, dl = live, delta[circ[live]]
        c = np.einsum("ntk,nk->nt", H[r], v[r])
        Ad = np.einsum("nta,na->nt", A[r], dl)
        Wd = np.einsum("nta,na->nt", Wi[circ[r]], dl)
        s0, s1 = np.sum(c * Ad, axis=1), np.sum(c * Wd, axis=1)
        tol = slack * np.linalg.norm(c, axis=1) * (np.linalg.norm(Ad, axis=1)
                                                    + np.linalg.norm(Wd, axis=1))
        live = r[(s0 >= -tol) & (s0 + s1 <= tol)]
    ok = np.zeros(len(th), dtype=bool)
    ok[live] = True
    return ok


def face_candidates(M, spec, arc_checks, tau, msq=None):
    """Candidates ±(top eigenvector) of the faces whose form is A = M + Wadd restricted
    to ``basis`` (None: all of R⁴), one face per arc, kept when their claim exceeds
    ``tau`` and they pass :func:`_inside_tests`. M (b, K, Tc, 4); spec = (Wadd (b, Tc, 4)
    or None, basis (b, 4, k) or None, checks [(x̃ (b, 4), s)], kink None or
    (W_i (b, Tc, 4), δ (b, 4))); msq: ‖M‖_F² per arc, if known.

    Screens, each an upper bound on the claim λ_max(HᵀH), H = A·basis: ‖A‖_F² ‖basis‖₂²
    (without forming A), then ‖H‖_F², then closed-form eigenpairs with loose tests; the
    survivors get LAPACK eigenpairs and strict tests."""
    Wadd, basis, _, _ = spec
    b, K, Tc, _ = M.shape
    Mf = M.reshape(b * K, Tc, 4)
    tau2 = tau * tau if tau > 0 else -1.0
    asq = np.einsum("nta,nta->n", Mf, Mf) if msq is None else msq
    if Wadd is not None:
        asq = (asq.reshape(b, K) + 2 * np.einsum("bjta,bta->bj", M, Wadd)
               + np.einsum("bta,bta->b", Wadd, Wadd)[:, None]).ravel()
    if basis is not None:
        qn = np.linalg.norm(basis, ord=2, axis=(1, 2)) ** 2
        asq = (asq.reshape(b, K) * qn[:, None]).ravel()
    idx = np.flatnonzero(asq > tau2 * (1 - 1e-9))
    A = Mf[idx] if Wadd is None else Mf[idx] + Wadd[idx // K]
    H = A if basis is None else A @ basis[idx // K]
    keep = np.einsum("ntk,ntk->n", H, H) > tau2 * (1 - 1e-9)
    idx, A, H = idx[keep], A[keep], H[keep]
    if 2 <= Tc <= H.shape[2]:                    # λ_max ≤ ‖HHᵀ‖_F
        G = np.einsum("ntk,nsk->nts", H, H)
        keep = np.sqrt(np.einsum("nts,nts->n", G, G)) > tau2 * (1 - 1e-9)
        idx, A, H = idx[keep], A[keep], H[keep]
    for exact in ((False, True) if min(Tc, H.shape[2]) >= 3 else (True,)):
        lam, v = (exact_top_pair if exact and min(Tc, H.shape[2]) >= 3
                  else approx_top_pair)(H)
        big = lam > (tau2 if exact else tau2 * (1 - 1e-6))
        idx, A, H, lam, v = idx[big], A[big], H[big], lam[big], v[big]
        circ = idx // K
        th = v if basis is None else np.einsum("nak,nk->na", basis[circ], v)
        slack = SIGN_SLACK if exact else 1e-6
        oks = [_inside_tests(sg * th, sg * v, H, A, circ, idx, spec, arc_checks, slack)
               for sg in (1.0, -1.0)]
        if not exact:
            sel = oks[0] | oks[1]
            idx, A, H = idx[sel], A[sel], H[sel]
    dirs = np.vstack([th[oks[0]], -th[oks[1]]])
    claims = np.sqrt(np.concatenate([lam[oks[0]], lam[oks[1]]]))
    return dirs, claims, b * K


def generic_families(Xt, Q, W, geo, sphere):
    """Specs of the faces next to an arc of L_{ij} when only x̃_i and x̃_j lie on the
    circle: 2-faces in H_i (j off / on), in H_j (i off / on), and on the sphere the four
    cells (i, j) ∈ {off, on}²."""
    I, J = geo["I"], geo["J"]
    U = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
    xi, xj, Wi, Wj = U[I], U[J], W[I], W[J]
    di, dj = (xi, xj) if sphere else (np.eye(4)[[3] * len(I)],) * 2
    fams = [(None, Q[I], [(xj, -1.0)], (Wi, di)), (Wj, Q[I], [(xj, 1.0)], (Wi, di)),
            (None, Q[J], [(xi, -1.0)], (Wj, dj)), (Wi, Q[J], [(xi, 1.0)], (Wj, dj))]
    if sphere:
        fams += [(None, None, [(xi, -1.0), (xj, -1.0)], None),
                 (Wi, None, [(xi, 1.0), (xj, -1.0)], None),
                 (Wj, None, [(xi, -1.0), (xj, 1.0)], None),
                 (Wi + Wj, None, [(xi, 1.0), (xj, 1.0)], None)]
    return fams


def degenerate_families(Xt, Q, W, ks, sphere):
    """Specs of the faces next to a circle holding the inputs ``ks`` (≥ 3): in the normal
    plane N = span(x̃_k : k ∈ ks) the lines {δ·x̃_k = 0} cut 2|ks| rays (2-faces in H_k, the
    other inputs on by the side of δ) and 2|ks| sectors (cells)."""
    U = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
    u1 = U[ks[0]]
    u2 = Xt[ks[1]] - (Xt[ks[1]] @ u1) * u1
    u2 /= np.linalg.norm(u2)
    h = Xt[ks] @ np.column_stack([u1, u2])                      # (|ks|, 2)
    beta = np.arctan2(h[:, 1], h[:, 0])
    rays = np.mod(np.concatenate([beta + 0.5 * np.pi, beta - 0.5 * np.pi]), 2 * np.pi)
    line = np.tile(np.arange(len(ks)), 2)
    order = np.argsort(rays)
    rays, line = rays[order], line[order]
    mids = 0.5 * (rays + np.concatenate([rays[1:], rays[:1] + 2 * np.pi]))
    fams = []
    for r, ln in zip(rays, line):
        on = h @ np.array([np.cos(r), np.sin(r)]) > 0
        on[ln] = False
        checks = [(U[[k]], 1.0 if on[q] else -1.0) for q, k in enumerate(ks) if q != ln]
        delta = U[[ks[ln]]] if sphere else np.eye(4)[[3]]
        fams.append((W[ks][on].sum(axis=0)[None], Q[[ks[ln]]], checks,
                     (W[[ks[ln]]], delta)))
    if sphere:
        for mid in mids:
            on = h @ np.array([np.cos(mid), np.sin(mid)]) > 0
            checks = [(U[[k]], 1.0 if on[q] else -1.0) for q, k in enumerate(ks)]
            fams.append((W[ks][on].sum(axis=0)[None], None, checks, None))
    return fams
