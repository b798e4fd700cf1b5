"""Rigorous bounds of ‖c(θ)‖ over one region of Θ (a box in the chart of :mod:`limitsolver.bound`).

c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i); in homogeneous coordinates u (D = d + 1 entries),
‖c(θ)‖ = ‖g(u)‖ / ν(u), g(u) = (1/n) Σ_i Z_i relu(u·x̃_i), ν(u) = ‖u‖ (regularized) or
‖v‖ for u = (v, β) (free). A box is B = {u_c + Δ : |Δ_j| ≤ h_j}.

Bound 1 (first order, any box). s_i(u) = u·x̃_i is linear, so over B it ranges exactly
    over [l_i, r_i] = u_c·x̃_i ∓ Σ_j h_j |x̃_ij|. Samples with r_i ≤ 0 are off, with l_i ≥ 0
    linear, the others ("uncertain", set U) have relu(s_i) = r_i/2 + e_i, |e_i| ≤ r_i/2.
    Hence g(u) = A u + m + Σ_{i∈U} Z_i e_i / n with A = (1/n) Σ_{l_i ≥ 0} Z_i x̃_iᵀ and
    m = (1/n) Σ_{i∈U} Z_i r_i / 2, and for every task t

        |g_t(u)| ≤ |A_t u_c + m_t| + Σ_j |A_tj| h_j + (1/n) Σ_{i∈U} |Z_it| r_i / 2 =: B_t,

    (for group also ‖g‖₂ ≤ ‖A u_c + m‖₂ + Σ_j ‖A_{:,j}‖₂ h_j + (1/n) Σ_{i∈U} ‖Z_i‖₂ r_i/2),
    and ν(u) ≥ ν_min(B) (coordinate-wise minimum of u_j² over the box). So
    sup_B ‖c‖ ≤ ‖B‖ / ν_min (‖·‖₂ of B, or the smaller group form; max_t B_t for l1).

Bound 2 (second order; boxes with |U| ≤ ``kmax``), a test of sup_B ‖c‖ ≤ τ. Every point
    of B lies in the closure of a cell of the arrangement, where the uncertain samples have
    a fixed pattern σ ∈ {0, 1}^U and, by continuity, g(u) = A_σ u with
    A_σ = A + (1/n) Σ_{i∈U, σ_i=1} Z_i x̃_iᵀ, on the polyhedron
    P_σ = B ∩ {(2σ_i − 1) u·x̃_i ≥ 0, i ∈ U}. ‖c‖ ≤ τ on P_σ iff φ(u) = ‖G u‖² − τ² ν(u)² ≤ 0
    for the form G = A_σ (group) or for each row G = (A_σ)_t (l1). φ is a quadratic:
    φ(u_c + Δ) = φ(u_c) + γ·Δ + Δᵀ M Δ, γ = 2 M u_c, M = GᵀG − τ² E (E the identity, or
    diag(1, …, 1, 0) for free). With Δ = h ⊙ ξ, |ξ_j| ≤ 1:
      - Δᵀ M Δ ≤ max(λ_max(diag(h) M diag(h)), 0) · #{j : h_j > 0};
      - max γ·Δ over P_σ ≤ Σ_j |γ_j + Σ_i μ_i a_ij| h_j − Σ_i μ_i ρ_i for any μ ≥ 0
        (weak Lagrangian duality for the constraints a_i·Δ ≥ ρ_i; μ is chosen by exact
        coordinate minimization over the breakpoints of this convex piecewise-linear
        function, but any μ ≥ 0 gives a valid bound).
    For free bias the cylinder's constraint |β| ≤ R‖v‖ is added in the relaxed (larger)
    form ±Δ_β − R v̂_c·Δ_v ≤ R(‖v_c‖ + ‖h_v‖²/(2 ν_min)) ∓ β_c, from
    ‖v_c + Δ_v‖ ≤ ‖v_c‖ + v̂_c·Δ_v + ‖Δ_v‖²/(2 ν_min) (the Hessian of ‖·‖ is ⪯ I/‖v‖).
    If the sum is ≤ 0 for every σ (and every task for l1), sup_B ‖c‖ ≤ τ. Near an interior
    maximizer M ⪯ 0 once τ exceeds it; at a maximizer on a kink the multipliers cancel the
    first-order term: the test is second-order accurate where first-order bounds stall.

Bound 3 (difference of convex functions; boxes with D ≤ ``DC_MAX_D``): see :func:`dc_bound`;
    it gives the smallest τ its test passes in closed form, a value bound like bound 1.
    It is exact on the convex part of c (samples whose weight has the sign of the tested
    component), so it settles boxes crossed by many hyperplanes, where bound 2 cannot
    enumerate the patterns.
"""
from __future__ import annotations

import itertools

import numpy as np

class BoxSetup:
    """Data, chart and dual norm of one problem (rows of Xt unique)."""

    def __init__(self, Xt, Z, n, penalty, bias, radius):
        self.Xt, self.Z, self.n = Xt, Z, float(n)
        self.m, self.D = Xt.shape
        self.T = Z.shape[1]
        self.penalty, self.bias, self.radius = penalty, bias, float(radius)
        self.nv = self.D if bias == "regularized" else self.D - 1
        self.E = np.zeros(self.D)
        self.E[:self.nv] = 1.0
        self.absX = np.abs(Xt)
        self.W = (Z[:, :, None] * Xt[:, None, :]).reshape(self.m, self.T * self.D)
        self.absZ = np.abs(Z)
        self.zrow = np.linalg.norm(Z, axis=1) if penalty == "group" else self.absZ.max(axis=1)
        self.scale_col = np.maximum(self.absX.max(axis=0), 1e-300)
        reach = (np.linalg.norm(Xt[:, :-1], axis=1) + self.radius if bias == "free"
                 else np.linalg.norm(Xt, axis=1))
        self.global_bound = float(self.zrow @ reach) / self.n

    def dual(self, C):
        return np.linalg.norm(C, axis=-1) if self.penalty == "group" else np.abs(C).max(axis=-1)

    def theta(self, U):
        """Points of Θ for homogeneous coordinates U (N × D)."""
        if self.bias == "regularized":
            return U / np.linalg.norm(U, axis=1, keepdims=True)
        nv = np.linalg.norm(U[:, :-1], axis=1, keepdims=True)
        return np.column_stack([U[:, :-1] / nv,
                                np.clip(U[:, -1:] / nv, -self.radius, self.radius)])

    def values(self, thetas):
        return self.dual(np.maximum(thetas @ self.Xt.T, 0.0) @ self.Z / self.n)



def norm_range(C, H, nv):
    """min and max over each box of ‖u_{:nv}‖."""
    lo, hi = C[:, :nv] - H[:, :nv], C[:, :nv] + H[:, :nv]
    mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(lo * lo, hi * hi))
    mx = np.maximum(lo * lo, hi * hi)
    return np.sqrt(mn.sum(axis=1)), np.sqrt(mx.sum(axis=1))


def first_order(s: BoxSetup, C, H):
    """Bound 1 for boxes (C, H): returns (bound, A (N, T, D), uncertain mask, r (N, m),
    ν_min)."""
    Sc = C @ s.Xt.T
    Sr = H @ s.absX.T
    lo, hi = Sc - Sr, Sc + Sr
    act = lo >= 0
    unc = (~act) & (hi > 0)
    N = C.shape[0]
    A = (act.astype(float) @ s.W).reshape(N, s.T, s.D) / s.n
    half = np.where(unc, 0.5 * hi, 0.0)
    mid = np.einsum("ntd,nd->nt", A, C) + half @ s.Z / s.n
    slope = np.einsum("ntd,nd->nt", np.abs(A), H)
    nu_min, _ = norm_range(C, H, s.nv)
    if s.penalty == "group":
        Bt = np.abs(mid) + slope + half @ s.absZ / s.n
        alt = (np.linalg.norm(mid, axis=1)
               + np.einsum("nd,nd->n", np.linalg.norm(A, axis=1), H)
               + half @ s.zrow / s.n)
        bound = np.minimum(np.linalg.norm(Bt, axis=1), alt)
    else:
        bound = (np.abs(mid) + slope + half @ s.absZ / s.n).max(axis=1)
    return bound / nu_min, A, unc, hi, lo, nu_min


def _lp_bound(g, H, Acon, rhs, sweeps=2):
    """Upper bound on max g·Δ over |Δ_j| ≤ h_j, a_i·Δ ≥ ρ_i (weak duality, μ ≥ 0).

    g (N, F, D);  H (N, D);  Acon (N, m, D);  rhs (N, m).  Returns (N, F).
    """
    N, F, D = g.shape
    mc = Acon.shape[1]
    Hb = H[:, None, :]
    if mc == 0:
        return np.sum(np.abs(g) * Hb, axis=-1)
    mu = np.zeros((N, F, mc))
    for _ in range(sweeps):
        for i in range(mc):
            a = Acon[:, None, i, :]                                    # (N, 1, D)
            q = g + np.einsum("nfm,nmd->nfd", mu, Acon) - mu[..., i:i + 1] * a
            with np.errstate(divide="ignore", invalid="ignore"):
                cand = -q / a
            cand = np.where(np.isfinite(cand) & (cand > 0), cand, 0.0)
            cand = np.concatenate([np.zeros((N, F, 1)), cand], axis=-1)  # (N, F, D+1)
            val = (np.abs(q[:, :, None, :] + cand[..., None] * a[:, :, None, :])
                   * Hb[:, :, None, :]).sum(axis=-1) - cand * rhs[:, None, i:i + 1]
            mu[..., i] = np.take_along_axis(cand, np.argmin(val, axis=-1)[..., None],
                                            axis=-1)[..., 0]
    gq = g + np.einsum("nfm,nmd->nfd", mu, Acon)
    return np.sum(np.abs(gq) * Hb, axis=-1) - np.einsum("nfm,nm->nf", mu, rhs)


def _cylinder_constraints(s: BoxSetup, C, H, nu_min):
    """Relaxed |β| ≤ R‖v‖ as two rows a·Δ ≥ ρ (see the module docstring)."""
    v = C[:, :-1]
    nv = np.linalg.norm(v, axis=1)
    q = np.sum(H[:, :-1] ** 2, axis=1) / (2 * nu_min)
    cap = s.radius * (nv + q)
    rows, rhs = [], []
    for sgn in (1.0, -1.0):          # sgn·β ≤ R‖v‖
        a = np.zeros_like(C)
        a[:, :-1] = s.radius * v / nv[:, None]
        a[:, -1] = -sgn
        rows.append(a)
        rhs.append(sgn * C[:, -1] - cap)
    return np.stack(rows, axis=1), np.stack(rhs, axis=1)


def _second_order_pass(s: BoxSetup, C, H, A, idx, tau, nu_min, nu_max, mrest, rho):
    """Bound 2 for boxes whose enumerated uncertain samples are ``idx`` (N, k), the other
    uncertain ones entering as g ∈ G u + mrest + {‖e‖ ≤ ρ}: True where sup ≤ τ.

    mrest : (N, T);  rho : (N, F) (F = 1 for group, T for l1: one ρ per task).
    """
    N, k = idx.shape
    ok = tau * nu_min > rho.max(axis=1)
    Xu = s.Xt[idx]                                                  # (N, k, D)
    Wu = s.W[idx].reshape(N, k, s.T, s.D) / s.n
    su = np.einsum("nkd,nd->nk", Xu, C)
    if s.bias == "free":
        cyl_a, cyl_r = _cylinder_constraints(s, C, H, nu_min)
    nfree = (H > 0).sum(axis=1)
    Hd = H[:, None, :, None] * H[:, None, None, :]
    for sigma in itertools.product((0.0, 1.0), repeat=k):
        sg = np.array(sigma)
        G = A + np.einsum("k,nktd->ntd", sg, Wu) if k else A.copy()
        sign = 2 * sg - 1
        Acon = sign[None, :, None] * Xu
        rhs = -sign[None, :] * su
        if s.bias == "free":
            Acon = np.concatenate([Acon, cyl_a], axis=1)
            rhs = np.concatenate([rhs, cyl_r], axis=1)
        forms = G[:, None] if s.penalty == "group" else G[:, :, None, :]  # (N, F, r, D)
        off = mrest[:, None, :] if s.penalty == "group" else mrest[:, :, None]  # (N, F, r)
        M = np.einsum("nfrd,nfre->nfde", forms, forms) - tau ** 2 * np.diag(s.E)
        resid = np.einsum("nfrd,nd->nfr", forms, C) + off
        phi_c = np.sum(resid ** 2, axis=-1) - tau ** 2 * np.sum(s.E * C * C, axis=1)[:, None]
        grad = 2 * (np.einsum("nfrd,nfr->nfd", forms, resid)
                    - tau ** 2 * (s.E * C)[:, None, :])
        lam = np.linalg.eigvalsh(M * Hd)[..., -1]
        quad = np.maximum(lam, 0.0) * nfree[:, None]
        lin = _lp_bound(grad, H, Acon, rhs)
        extra = 2 * tau * rho * nu_max[:, None] - rho ** 2
        ok &= np.all(phi_c + lin + quad + extra <= 0, axis=1)
        if not ok.any():
            break
    return ok


#: Bound 2 is tried on boxes with at most kmax + this many uncertain samples (the others
#: enter through the offset and radius; beyond, the test rarely passes: at d = 5, n = 60 a
#: limit of kmax + 2 certified a 1e-3 interval in 26 % less CPU than kmax + 15).
SECOND_ORDER_EXTRA = 2


def second_order_sweep(s: BoxSetup, C, H, A, unc, r_hi, nu_min, tau, kmax, alive):
    """Run bound 2 on the ``alive`` boxes, clearing those it settles (in place).

    The min(k, kmax) uncertain samples of largest ‖Z_i‖ r_i are enumerated; the rest enter
    through the offset m' = (1/n) Σ Z_i r_i / 2 and the radius ρ = (1/n) Σ ‖Z_i‖ r_i / 2
    (per task |Z_it| for l1): |relu(s_i) − r_i/2| ≤ r_i/2 on the box. Then
    ‖g(u)‖ ≤ ‖G u + m'‖ + ρ, and ‖G u + m'‖ + ρ ≤ τ ν(u) follows from
    ‖G u + m'‖² − τ² ν(u)² + 2 τ ρ ν_max − ρ² ≤ 0 when τ ν_min ≥ ρ (expand (τν − ρ)²).
    """
    _, nu_max = norm_range(C, H, s.nv)
    weight = np.where(unc, r_hi * s.zrow[None, :], -1.0)
    ku_all = unc.sum(axis=1)
    ku = np.minimum(ku_all, kmax)
    # boxes crossed by many hyperplanes are too wide for this test to settle (and what
    # bound 3 leaves of them is cheaper to split than to test)
    alive_try = alive & (ku_all <= kmax + SECOND_ORDER_EXTRA)
    for k in range(kmax + 1):
        sel = np.flatnonzero(alive_try & (ku == k))
        if sel.size == 0:
            continue
        idx = np.argsort(-weight[sel], axis=1, kind="stable")[:, :k]
        rest = unc[sel].copy()
        rest[np.arange(sel.size)[:, None], idx] = False
        half = np.where(rest, 0.5 * r_hi[sel], 0.0)
        mrest = half @ s.Z / s.n
        rho = (half @ s.zrow / s.n)[:, None] if s.penalty == "group" else half @ s.absZ / s.n
        ok = _second_order_pass(s, C[sel], H[sel], A[sel], idx, tau, nu_min[sel],
                                nu_max[sel], mrest, rho)
        alive[sel[ok]] = False


#: The convex-part test enumerates the 2^(D−1) vertices of a box; it is skipped above this D.
DC_MAX_D = 8


def _vertex_data(s: BoxSetup, C, H, lo, hi):
    """Per box: s_i and relu(s_i) at the 2^(D−1) vertices (N, V, m), the chord slopes λ_i
    (N, m) and ν̂_c·v at the vertices (N, V)."""
    N, D = C.shape
    free = np.argsort(H <= 0, axis=1, kind="stable")[:, :D - 1]
    xi = np.array(list(itertools.product((-1.0, 1.0), repeat=D - 1)))       # (V, D−1)
    off = np.zeros((N, xi.shape[0], D))
    hf = np.take_along_axis(H, free, axis=1)                               # (N, D−1)
    np.put_along_axis(off, np.broadcast_to(free[:, None, :], (N, xi.shape[0], D - 1)),
                      xi[None] * hf[:, None, :], axis=2)
    Vt = C[:, None, :] + off                                                # (N, V, D)
    Sv = Vt @ s.Xt.T                                                        # (N, V, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(hi <= 0, 0.0, np.where(lo >= 0, 1.0, hi / (hi - lo)))
    nuc = C * s.E
    nuc = nuc / np.linalg.norm(nuc, axis=1, keepdims=True)
    return Sv, np.maximum(Sv, 0.0), lam, np.einsum("nvd,nd->nv", Vt, nuc)


def dc_bound(s: BoxSetup, C, H, lo, hi, nu_min):
    """Bound 3 (difference of convex functions): per box a τ* (inf if none) with
    sup_B ‖c‖ ≤ τ* proved.

    For weights a ∈ R^m and τ ≥ 0, h(u) = Σ_i a_i relu(s_i(u)) − τ ν(u) ≤ F(u) with
    F(u) = p(u) − τ ν̂_c·u, p(u) = Σ_{a_i>0} a_i relu(s_i) + Σ_{a_i<0} a_i λ_i s_i
    (relu(s) ≥ λ s for λ ∈ [0, 1], exact for λ = 1 / 0 on samples active / off on the
    whole box, the chord slope r/(r − l) otherwise; ν(u) ≥ ν̂_c·u by Cauchy–Schwarz). F is
    convex, so max_B F = max over the box's vertices v of p(v) − τ n(v), n(v) = ν̂_c·v.
    When n(v) > 0 at every vertex this is ≤ 0 iff τ ≥ max_v p(v)/n(v): the smallest τ is
    explicit (inf when some n(v) ≤ 0).
    l1: a = ±Z_{:,t}/n for every t, τ* = max(0, max_{t, ±, v} p(v)/n(v)).
    group: Q orthogonal with first column e₁ = g(u_c)/‖g(u_c)‖, g' = Qᵀg; for t ≥ 2
    b_t ≥ max_B |g'_t| (max over the vertices of the convex p for a = ±(Z Q)_{:,t}/n,
    τ = 0), β² = Σ b_t²; ‖g‖ ≤ τν follows from |g'_1| ≤ τν − β²/(τ ν_min) (as
    √(a² − β²) ≥ a − β²/a for a ≥ β) with τ ν_min ≥ β. With p₁ the p of a = ±(Z Q)_{:,1}/n
    this holds when p₁(v) − τ n(v) + β²/(τ ν_min) ≤ 0 at every vertex, i.e. (n(v) > 0)
    τ² n(v) − τ p₁(v) − β²/ν_min ≥ 0, i.e. τ ≥ (p₁ + √(p₁² + 4 n β²/ν_min)) / (2 n):
    τ* = max(β/ν_min, max over v and ± of that root).
    """
    N = C.shape[0]
    Sv, Rv, lam, nuv = _vertex_data(s, C, H, lo, hi)
    pos = np.all(nuv > 0, axis=1)
    nsafe = np.where(nuv > 0, nuv, 1.0)

    def pmax(a):
        """p at the vertices for weights a (N, m, K) → (N, V, K)."""
        return np.matmul(Rv, np.maximum(a, 0.0)) + \
            np.matmul(Sv, np.minimum(a, 0.0) * lam[:, :, None])
    if s.penalty == "l1":
        a = np.concatenate([s.Z, -s.Z], axis=1) / s.n                        # (m, 2T)
        P = pmax(np.broadcast_to(a[None], (N,) + a.shape))
        tau = np.maximum((P / nsafe[:, :, None]).max(axis=(1, 2)), 0.0)
        return np.where(pos, tau, np.inf)
    T = s.T
    gc = np.maximum(C @ s.Xt.T, 0.0) @ s.Z / s.n                            # (N, T)
    e1 = gc / np.maximum(np.linalg.norm(gc, axis=1, keepdims=True), 1e-300)
    e1[np.linalg.norm(gc, axis=1) == 0, 0] = 1.0
    w = -e1.copy()
    w[:, 0] += 1.0
    wn = np.linalg.norm(w, axis=1, keepdims=True)
    w = np.where(wn > 1e-12, w / np.maximum(wn, 1e-300), 0.0)
    Q = np.eye(T)[None] - 2 * w[:, :, None] * w[:, None, :]                  # Q e₁ = e1
    Q[wn[:, 0] <= 1e-12] = np.eye(T)
    a = np.einsum("mt,nts->nms", s.Z, Q) / s.n                              # (N, m, T)
    P = pmax(np.concatenate([a, -a], axis=2))                               # (N, V, 2T)
    Pm = P.max(axis=1)
    b = np.maximum(np.maximum(Pm[:, :T], Pm[:, T:]), 0.0)[:, 1:]
    q = np.sum(b * b, axis=1)[:, None] / np.maximum(nu_min, 1e-300)[:, None]  # β²/ν_min
    p1 = np.maximum(P[:, :, 0], P[:, :, T])                                 # (N, V)
    root = (p1 + np.sqrt(p1 * p1 + 4 * nsafe * q)) / (2 * nsafe)
    tau = np.maximum(root.max(axis=1), np.sqrt(q[:, 0] / np.maximum(nu_min, 1e-300)))
    return np.where(pos & (nu_min > 0), tau, np.inf)
