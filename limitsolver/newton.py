"""Joint Newton step on the directions and the weights of a 1-D solution.

For d = 1 each neuron has one direction parameter t: the angle of θ = (cos t, sin t) on S¹
(``bias="regularized"``) or the offset b of θ = (±1, b) on the cylinder (``bias="free"``;
the sign of w is kept). On a fixed activation pattern A_j = {i : θ_j·x̃_i > 0} — a *cell*,
the interval of t between two consecutive data breakpoints — relu(θ_j·x̃_i) = θ_j(t)·x̃_i
is smooth in t, so

    J(t, V, C) = (1/n) Σ_{i,t} ℓ(P_it, Y_it) + λ Ω(V),   P = Σ_j relu(X̃ θ_j) V_jᵀ + F C,

is smooth in (t, V, C) as long as no kink crosses a data point (and, for ``group``, no V_j
vanishes; for ``l1``, no active entry changes sign). On that piece Newton's method on the
KKT system ∇J = 0 converges quadratically, where sliding each neuron uphill on its
correlation (first order) gains a constant factor per exchange.

Each iteration

1. merges neurons that met (same t: weights summed, which never raises J) and neurons
   strictly inside one cell (on a cell c(θ) = Aθ is linear and ‖Aθ‖ has a single local
   maximum on an arc shorter than π, so an optimum holds at most one of them), and drops
   weights whose block minimizer with the others fixed is zero (‖c_j‖ ≤ λ without them);
2. puts every neuron in a closed cell [lo_j, hi_j]: the cell containing t_j, or, for a
   neuron sitting on a breakpoint, the neighbouring cell into which J decreases (the two
   one-sided derivatives decide); when J increases both ways the neuron's t is held fixed
   (kinks at data points are optimal and common);
3. builds the exact gradient and Hessian of J on those patterns (:func:`_model`) and takes
   a Levenberg–Marquardt step −(H + μI)⁻¹∇J: μ exceeds −λ_min(H) where J is not convex
   (a neuron at a saddle), μ = 0 — the Newton step — once H is positive definite and the
   model predicts the decrease well (Nielsen's update of μ);
4. accepts the step on the true J (sufficient decrease against the model), trying first
   the plain step — kinks may cross breakpoints: J is continuous, only the model changes —
   then the step with t_j projected onto [lo_j, hi_j], so that a kink whose optimum is a
   breakpoint lands on it (and is held there by step 2).

It stops when the Newton decrement ∇Jᵀ H⁻¹ ∇J is at rounding level. Saddles where a neuron
should split in two are not resolved here: the exchange step of refine adds the directions
the oracle finds.

Losses: squared and logistic (smooth, with separable curvature). The result is only a
candidate: :func:`limitsolver.refine.refine` certifies it with the exact oracle.
"""
from __future__ import annotations

import numpy as np

from .penalties import get_penalty

__all__ = ["joint_newton", "supports_joint_newton"]

#: A neuron is on the breakpoint of x_i when its parameter t is this close to it.
ON_BREAKPOINT = 1e-12



def supports_joint_newton(problem) -> bool:
    """d = 1, squared or logistic loss, group or l1 penalty (either bias, any free part)."""
    return (problem.d == 1 and problem.loss in ("squared", "logistic")
            and problem.penalty in ("group", "l1"))


# ---------------------------------------------------------------------------------------
# parametrization of the directions
# ---------------------------------------------------------------------------------------
class _Param:
    """θ(t), θ'(t), θ''(t) and the breakpoint offsets for one bias convention (d = 1)."""

    def __init__(self, problem):
        self.regularized = problem.bias == "regularized"
        self.x = problem.X[:, 0]
        self.radius = problem.radius
        # for S¹: θ·x̃_i = ‖x̃_i‖ sin(t + α_i), zero at t = −α_i (mod π)
        self.alpha = np.arctan2(self.x, 1.0)

    def from_theta(self, D):
        """(t, s): parameters and (free bias) the fixed sign of w."""
        if self.regularized:
            return np.arctan2(D[:, 1], D[:, 0]), np.ones(D.shape[0])
        return D[:, 1].copy(), np.sign(D[:, 0])

    def theta(self, t, s):
        if self.regularized:
            return np.column_stack([np.cos(t), np.sin(t)])
        return np.column_stack([s, t])

    def dtheta(self, t, s):
        if self.regularized:
            return np.column_stack([-np.sin(t), np.cos(t)])
        return np.column_stack([np.zeros_like(t), np.ones_like(t)])

    def d2theta(self, t, s):
        if self.regularized:
            return -self.theta(t, s)
        return np.zeros((len(t), 2))

    def offsets(self, t, s):
        """(up, down, on): for every neuron (rows) and sample (columns), the distance to
        the next breakpoint of x_i above t (> 0), below t (< 0), and whether t is on one.
        Bounds of the parameter range (|b| ≤ R) count as breakpoints that never flip."""
        if self.regularized:
            up = np.mod(-self.alpha[None, :] - t[:, None], np.pi)
            on = (up <= ON_BREAKPOINT) | (np.pi - up <= ON_BREAKPOINT)
            return up, up - np.pi, on
        off = -s[:, None] * self.x[None, :] - t[:, None]
        on = np.abs(off) <= ON_BREAKPOINT * (1.0 + np.abs(self.x[None, :]))
        big = np.inf
        up = np.where(off > 0, off, big)
        down = np.where(off < 0, off, -big)
        return up, down, on

    def range(self, t):
        """(lower, upper) limits of t itself (±∞ on S¹, ±R for the free bias)."""
        if self.regularized:
            return np.full_like(t, -np.inf), np.full_like(t, np.inf)
        return np.full_like(t, -self.radius), np.full_like(t, self.radius)


# ---------------------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------------------
def _loss_parts(loss, P, Y, n):
    """Value, first and second derivative (entrywise, of (1/n)Σℓ times n) of the loss."""
    if loss == "squared":
        R = P - Y
        return 0.5 * float(np.sum(R * R)) / n, R, np.ones_like(P)
    from scipy.special import expit
    m = -Y * P
    s = expit(m)
    return float(np.sum(np.logaddexp(0.0, m))) / n, -Y * s, s * (1.0 - s)


def _objective(problem, Xt, theta, V, C, group, signs=None):
    P = np.maximum(Xt @ theta.T, 0.0) @ V + problem.F @ C
    L = _loss_parts(problem.loss, P, problem.Y, problem.n)[0]
    if group:
        Om = float(np.sum(np.linalg.norm(V, axis=1)))
    else:
        Om = float(np.sum(np.abs(V)))
    return L + problem.lam * Om


# ---------------------------------------------------------------------------------------
# the method
# ---------------------------------------------------------------------------------------
def _model(problem, par, t, s, V, C, act, jf, signs):
    """Gradient and Hessian of J at (t, V, C) on the activation patterns ``act`` (n, k).

    Variables, in order: t_j for j in ``jf`` (the free kinks), V_jt (row-major), C_ct
    (row-major). With P = Σ_j (θ_j(t)·x̃ ⊙ act_j) V_jᵀ + F C, E = ℓ'(P), h = ℓ''(P):

        ∇J = (1/n) Σ_{i,t} E_it ∂P_it + λ ∇Ω,
        ∇²J = (1/n) Σ_{i,t} [h_it ∂P_it ∂P_itᵀ + E_it ∂²P_it] + λ ∇²Ω,

    where ∂P_it/∂t_j = V_jt θ_j'·x̃_i, ∂P_it/∂V_jt = θ_j·x̃_i (on act_j), ∂P_it/∂C_ct = F_ic,
    ∂²P_it/∂t_j² = V_jt θ_j''·x̃_i, ∂²P_it/∂t_j∂V_jt = θ_j'·x̃_i; for ``group``
    ∇Ω = u_j = V_j/‖V_j‖ and ∇²Ω = (I − u_j u_jᵀ)/‖V_j‖, for ``l1`` ∇Ω = sign(V), ∇²Ω = 0.
    Returns (g, H) over all V entries (the caller drops the masked ones).
    """
    n, T, lam = problem.n, problem.T, problem.lam
    Xt, F, Y = problem.Xt, problem.F, problem.Y
    p, k, kf = F.shape[1], len(t), len(jf)
    th = par.theta(t, s)
    G = (Xt @ th.T) * act                                        # relu on the pattern
    Dm = (Xt @ par.dtheta(t, s).T) * act                         # ∂relu(θ_j·x̃_i)/∂t_j
    D2m = (Xt @ par.d2theta(t, s).T) * act
    P = G @ V + F @ C
    _, E, h = _loss_parts(problem.loss, P, Y, n)                 # (n, T)
    Nfull = kf + k * T + p * T
    m = k + p                                                    # per-task block (V_·t, C_·t)
    # loss part, assembled task-major (t, then V_·t and C_·t of each task), then permuted
    A = np.hstack([G, F])                                        # (n, m)
    Bt = Dm[:, jf][None, :, :] * V[jf].T[:, None, :]             # (T, n, kf): Φ'_j V_jt
    hn = (h / n).T[:, :, None]                                   # (T, n, 1)
    Bh = Bt * hn
    Htt = Bh.reshape(T * n, kf).T @ Bt.reshape(T * n, kf)
    Hta = Bh.transpose(0, 2, 1) @ A                              # (T, kf, m)
    if problem.loss == "squared":                                # h = 1: one Gram matrix
        Haa = np.broadcast_to((A.T @ A) / n, (T, m, m))
    else:
        Haa = (A[None] * hn).transpose(0, 2, 1) @ A              # (T, m, m)
    gt = Bt.reshape(T * n, kf).T @ E.T.ravel() / n
    ga = (A.T @ E / n).T                                         # (T, m)
    Hm = np.zeros((kf + T * m, kf + T * m))
    Hm[:kf, :kf] = Htt
    for tt in range(T):
        sl = slice(kf + tt * m, kf + (tt + 1) * m)
        Hm[:kf, sl] = Hta[tt]
        Hm[sl, :kf] = Hta[tt].T
        Hm[sl, sl] = Haa[tt]
    gm = np.concatenate([gt, ga.ravel()])
    # task-major (t, [j..., c...]) → row-major (V_jt at kf + jT + t, C_ct at kf + kT + cT + t)
    tt_, rr_ = np.divmod(np.arange(T * m), m)
    pos = np.where(rr_ < k, kf + rr_ * T + tt_, kf + k * T + (rr_ - k) * T + tt_)
    perm = np.empty(Nfull, dtype=int)
    perm[:kf] = np.arange(kf)
    perm[kf + np.arange(T * m)] = pos
    inv = np.empty(Nfull, dtype=int)
    inv[perm] = np.arange(Nfull)
    g = gm[inv]
    H = Hm[np.ix_(inv, inv)]
    # second derivatives of P against the loss gradient
    if kf:
        EV = E @ V[jf].T                                         # (n, kf): E_i·V_j
        H[np.arange(kf), np.arange(kf)] += np.sum(D2m[:, jf] * EV, axis=0) / n
        cross = Dm[:, jf].T @ E / n                              # (kf, T)
        rq = np.repeat(np.arange(kf), T)
        cq = kf + (jf[:, None] * T + np.arange(T)[None, :]).ravel()
        H[rq, cq] += cross.ravel()
        H[cq, rq] += cross.ravel()
    # penalty
    if problem.penalty == "group":
        nr = np.linalg.norm(V, axis=1)
        U = V / nr[:, None]
        g[kf:kf + k * T] += lam * U.ravel()
        blk = lam * (np.eye(T)[None] - U[:, :, None] * U[:, None, :]) / nr[:, None, None]
        base = kf + np.arange(k)[:, None, None] * T
        H[base + np.arange(T)[None, :, None], base + np.arange(T)[None, None, :]] += blk
    else:
        g[kf:kf + k * T] += lam * signs.ravel()
    return g, H


def joint_newton(problem, directions, V, C, *, max_iter=50, rtol=1e-15, max_tries=12,
                 max_polish=1, fold=True):
    """Newton's method on (directions, weights, free part) of a d = 1 solution.

    Parameters
    ----------
    problem : LimitProblem
        d = 1, ``loss`` squared or logistic, ``penalty`` group or l1.
    directions : ndarray (k, 2);  V : ndarray (k, T);  C : ndarray (p, T)
        Starting point; rows of V that are zero are dropped, duplicate directions merged.
    max_iter : int
        Newton iterations.
    rtol : float
        Once the Newton decrement ∇Jᵀ H⁻¹ ∇J is at most ``rtol``·|J| (rounding in J),
        ``max_polish`` more plain Newton steps are taken (accepted unless J rises beyond
        rounding): the certificate needs the KKT residual at rounding level, not only J.
    max_tries : int
        Damped trial steps per iteration before giving up.
    fold : bool
        With a free affine part, fold nearly antipodal atom pairs into one neuron
        (:func:`fold_antipodal`) and continue from there, when J does not rise.

    Returns
    -------
    directions : ndarray (k', 2);  V : ndarray (k', T);  C : ndarray (p, T);
    info : dict
        ``iterations``, ``objective`` (J at the result), ``start`` (J at the start),
        ``fixed`` (neurons held on a breakpoint at the last iteration), ``polished``
        (iterations that began below rounding in J).
    """
    if not supports_joint_newton(problem):
        raise ValueError("joint_newton is for d = 1 with a squared or logistic loss and the "
                         "group or l1 penalty")
    pen = get_penalty(problem.penalty)
    group = problem.penalty == "group"
    rows = pen.row_norms(V) > 0
    D = problem.check_directions(np.asarray(directions, dtype=float)[rows])
    V = np.array(V, dtype=float)[rows]
    C = np.array(C, dtype=float)
    par = _Param(problem)
    t, s = par.from_theta(D)
    t, s, V, _ = _merge_equal(t, s, V)
    n, T = problem.n, problem.T
    Xt, F, Y = problem.Xt, problem.F, problem.Y
    p = F.shape[1]
    mask = np.ones_like(V, dtype=bool) if group else V != 0
    signs = np.sign(V)
    tmin, tmax = par.range(t)
    f = _objective(problem, Xt, par.theta(t, s), V, C, group)
    f0, it, fixed, mu, nu, polished = f, 0, np.zeros(len(t), dtype=bool), 0.0, 2.0, 0
    for it in range(1, max_iter + 1):
        # two kinks that met (typically on one breakpoint) are one neuron; weights whose
        # block minimizer (the others fixed) is zero are dropped. Neither raises J.
        t, s, V, merged = _merge_equal(t, s, V)
        offsets = par.offsets(t, s)
        if it > 1:
            t2, s2, V2, merged_cell = _merge_same_cell(par, Xt, t, s, V, offsets[2])
            # kept only when J does not rise: a merge far from the optimum can send
            # Newton to another local minimum
            if merged_cell and _objective(problem, Xt, par.theta(t2, s2), V2, C, group) <= f:
                t, s, V, merged = t2, s2, V2, True
        if merged and not group:
            mask = V != 0
        keep = _nonzero_blocks(problem, Xt, par.theta(t, s), V, C, group, mask)
        if merged or not keep.all():
            if not group:
                mask = keep & (V != 0)
                V = np.where(mask, V, 0.0)
            rows = mask.any(axis=1) if not group else keep.all(axis=1)
            t, s, V = t[rows], s[rows], V[rows]
            mask = np.ones_like(V, dtype=bool) if group else mask[rows]
            signs = np.sign(V)
            tmin, tmax = par.range(t)
            f = _objective(problem, Xt, par.theta(t, s), V, C, group)
            offsets = par.offsets(t, s)
        k = len(t)
        if k == 0:
            break
        S, dS = Xt @ par.theta(t, s).T, Xt @ par.dtheta(t, s).T  # (n, k)
        G = np.maximum(S, 0.0)
        P = G @ V + F @ C
        E = _loss_parts(problem.loss, P, Y, n)[1]                # (n, T): ℓ'
        up, down, on = offsets                                   # (k, n)
        strict = (S > 0) & ~on.T                                 # (n, k)
        EV = E @ V.T                                             # (n, k): E_i·V_j
        # the cell of each neuron; for one on a breakpoint, the side into which J decreases
        # (one-sided derivatives of the loss part in t_j; Ω does not depend on t)
        nxt_up = np.where(on, np.inf, up).min(axis=1)
        nxt_dn = np.where(on, -np.inf, down).max(axis=1)
        at_top, at_bot = t >= tmax, t <= tmin
        onT = on.T                                               # (n, k)
        plus = strict | (onT & (dS > 0))
        minus = strict | (onT & (dS < 0))
        g_up = np.sum(EV * dS * plus, axis=0) / n
        g_dn = np.sum(EV * dS * minus, axis=0) / n
        edge = on.any(axis=1) | at_top | at_bot
        go_up = edge & (g_up < 0) & ~at_top
        go_dn = edge & ~go_up & (g_dn > 0) & ~at_bot
        free = ~edge | go_up | go_dn
        act = np.where(go_up[None, :], plus, np.where(go_dn[None, :], minus, strict))
        lo = np.where(go_up, t, t + nxt_dn)
        hi = np.where(go_dn, t, t + nxt_up)
        lo = np.where(free, lo, t)
        hi = np.where(free, hi, t)
        lo, hi = np.maximum(lo, tmin), np.minimum(hi, tmax)
        fixed = ~free
        jf = np.flatnonzero(free)
        kf = len(jf)
        if group and np.any(np.linalg.norm(V, axis=1) == 0):
            break
        g, H = _model(problem, par, t, s, V, C, act, jf, signs)
        vidx = np.flatnonzero(mask.ravel())
        nv = len(vidx)
        if nv < k * T:
            sel = np.concatenate([np.arange(kf), kf + vidx, kf + k * T + np.arange(p * T)])
            g, H = g[sel], H[np.ix_(sel, sel)]
        # Levenberg–Marquardt: step −(H + μI)⁻¹ g with μ > −λ_min(H); μ = 0 (Newton) once
        # H is positive definite and full steps are accepted
        # in variables scaled by √|diag H| (kinks in radians and weights of any size, the
        # targets of any scale), so that the eigenvalue thresholds and μ are relative ones
        dg = np.abs(np.diag(H))
        if not np.any(dg > 0):
            break
        sc = np.sqrt(np.maximum(dg, 1e-16 * dg.max()))
        w, Q = np.linalg.eigh(H / np.outer(sc, sc))
        Q = Q / sc[:, None]                  # columns: eigenvectors in the original variables
        wmax = float(np.max(np.abs(w))) if w.size else 0.0
        if wmax == 0.0:
            break
        gq = Q.T @ g
        posdef = w[0] > 1e-13 * wmax
        mu = max(mu, 0.0 if posdef else 2.0 * max(0.0, -w[0]) + 1e-13 * wmax)
        newton_dec = float(np.sum(gq * gq / w)) if posdef else np.inf
        # below rounding in J the decrease cannot be measured, but the certificate needs
        # the KKT residual itself small (‖c(θ_j)‖ = λ at every atom): a few plain Newton
        # steps are still taken, accepted unless J rises beyond rounding
        polish = newton_dec <= rtol * max(abs(f), 1e-300)
        polished += polish
        accepted = False
        # where H is positive definite the plain Newton step is tried first
        for m in ([0.0] if posdef and mu > 0 else []) + [None] * max_tries:
            if m is None:
                m = mu
            step = -Q @ (gq / (w + m))
            Vn = V.copy()
            Vn.ravel()[vidx] += step[kf:kf + nv]
            Cn = C + step[kf + nv:].reshape(p, T) if p else C
            if group or not np.any(np.sign(Vn[mask]) != signs[mask]):
                # the plain step (kinks may cross breakpoints: J is continuous, only its
                # model changes), else every t_j projected onto its cell (so that a kink
                # whose optimum is a breakpoint lands on it)
                tried = []
                for bounds in ((tmin[jf], tmax[jf]), (lo[jf], hi[jf])):
                    tn = t.copy()
                    tn[jf] = np.clip(t[jf] + step[:kf], *bounds)
                    if any(np.array_equal(tn, u) for u in tried):
                        continue
                    tried.append(tn)
                    dx = step.copy()
                    dx[:kf] = tn[jf] - t[jf]
                    pred = -float(g @ dx + 0.5 * dx @ (H @ dx))
                    fn = _objective(problem, Xt, par.theta(tn, s), Vn, Cn, group)
                    if polish:
                        accepted = fn <= f + 1e-13 * abs(f)
                        break
                    if fn < f and pred > 0 and f - fn >= 1e-4 * pred:
                        accepted = True
                        break
            if polish:
                break
            if accepted:
                # Nielsen's update of the damping
                rho = (f - fn) / pred
                mu = m * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                if mu <= 1e-13 * wmax:
                    mu = 0.0
                nu = 2.0
                break
            mu = max(nu * mu, 1e-10 * wmax)
            nu *= 2.0
        if not accepted:
            break
        moved = np.max(np.abs(step)) > 1e-15 * max(1.0, np.max(np.abs(V)), np.max(np.abs(t)))
        t, V, C, f = tn, Vn, Cn, fn
        if polish and (polished >= max_polish or not moved):
            break
    t, s, V, _ = _merge_equal(t, s, V)
    D = par.theta(t, s)
    info = dict(iterations=it, objective=f, start=f0, fixed=int(np.count_nonzero(fixed)),
                polished=polished)
    if fold:
        Df, Vf, Cf = fold_antipodal(problem, D, V, C, tol=1e-6)
        if Df.shape[0] < D.shape[0]:
            # nearly antipodal pairs: fold them and let Newton settle the single neuron;
            # kept only when J is no higher beyond rounding
            Df, Vf, Cf, inf = joint_newton(problem, Df, Vf, Cf, max_iter=max_iter, rtol=rtol,
                                           max_tries=max_tries, max_polish=max_polish,
                                           fold=False)
            if inf["objective"] <= f + 1e-13 * abs(f):
                inf.update(start=f0, iterations=it + inf["iterations"], folded=True)
                return Df, Vf, Cf, inf
    return D, V, C, info


def fold_antipodal(problem, D, V, C, *, tol=1e-12):
    """With a free affine part, a neuron at −θ is the neuron at θ minus an affine function:
    relu(−θ·x̃) = relu(θ·x̃) − (w·x + b) for θ = (w, b). A pair of atoms at θ and −θ (within
    ``tol``) becomes one atom at θ with weight V_θ + V_−θ, the free part absorbing
    −V_−θ (w·x + b) (the atom at −θ is taken as exactly −θ): the fitted function is unchanged and the penalty does not rise
    (Ω(V₁ + V₂) ≤ Ω(V₁) + Ω(V₂), equal when the two weights are parallel, as at an optimum).
    Other free parts cannot absorb the linear term: the atoms are returned unchanged.

    D : ndarray (k, d+1);  V : ndarray (k, T);  C : ndarray (p, T) with p = 1 + d (affine).
    Returns (D', V', C')."""
    if problem.free != "affine" or D.shape[0] <= 1:
        return D, V, C
    V, C = np.array(V, dtype=float), np.array(C, dtype=float)
    keep = np.ones(D.shape[0], dtype=bool)
    close = np.linalg.norm(D[:, None, :] + D[None, :, :], axis=2) <= tol
    for j, l in zip(*np.nonzero(np.triu(close, 1))):
        if not (keep[j] and keep[l]):
            continue
        V[j] += V[l]
        # V_l relu(θ_l·x̃) = V_l relu(θ_j·x̃) + V_l (θ_l·x̃), θ_l = −θ_j = (w_l, b_l)
        C[0] += D[l, -1] * V[l]
        C[1:] += np.outer(D[l, :-1], V[l])
        keep[l] = False
    return D[keep], V[keep], C


def _nonzero_blocks(problem, Xt, theta, V, C, group, mask):
    """Which weights survive a block-coordinate check: V_j (group; entries V_jt for l1) is
    kept unless, with the others fixed, its minimizer is zero — ‖c_j‖ ≤ λ for the
    correlation c_j = (1/n) Φ_jᵀ Z of the residual Z computed without it. (k, T) mask.
    Checked only when some neuron is small (below 1e-2 of the largest): a heuristic that
    speeds up convergence, the certificate decides."""
    n, lam = problem.n, problem.lam
    k, T = V.shape
    size = np.linalg.norm(V, axis=1) if group else np.abs(V).max(axis=1)
    if k == 0 or np.all(size > 1e-2 * size.max()):
        return np.ones((k, T), dtype=bool) if group else mask.copy()
    G = np.maximum(Xt @ theta.T, 0.0)
    P = G @ V + problem.F @ C
    if problem.loss == "squared":
        Z = problem.Y - P
        c = (G.T @ Z + np.sum(G * G, axis=0)[:, None] * V) / n
        if group:
            return np.repeat((np.linalg.norm(c, axis=1) > lam)[:, None], T, axis=1)
        return mask & (np.abs(c) > lam)
    out = np.zeros((k, T), dtype=bool)
    for j in range(k):
        E = _loss_parts(problem.loss, P - np.outer(G[:, j], V[j]), problem.Y, n)[1]
        c = -(G[:, j] @ E) / n
        if group:
            out[j] = np.linalg.norm(c) > lam
        else:
            out[j] = mask[j] & (np.abs(c) > lam)
    return out


def _merge_same_cell(par, Xt, t, s, V, on):
    """Neurons strictly inside one cell (same activation pattern, on no breakpoint) become
    one: on a cell c(θ) = Aθ is linear, and ‖Aθ‖ has one local maximum on an arc shorter
    than π, so the optimum holds at most one of them. The merged neuron sits at the
    ‖V‖-weighted mean parameter and carries V_j + V_l (J may rise: the caller keeps the
    merge only when it does not; then Newton converges to the single neuron instead of
    crawling along a degenerate pair)."""
    if len(t) <= 1:
        return t, s, V, False
    inside = ~on.any(axis=1)
    if inside.sum() <= 1:
        return t, s, V, False
    act = (Xt @ par.theta(t, s).T > 0).T                         # (k, n)
    groups = {}
    for j in np.flatnonzero(inside):
        groups.setdefault((s[j], act[j].tobytes()), []).append(j)
    if all(len(g) == 1 for g in groups.values()):
        return t, s, V, False
    keep = np.ones(len(t), dtype=bool)
    t, V = t.copy(), V.copy()
    for idx in groups.values():
        if len(idx) == 1:
            continue
        j0 = idx[0]
        w = np.linalg.norm(V[idx], axis=1)
        tt = t[idx]
        if par.regularized:                                     # unwrap around t[j0]
            tt = t[j0] + np.mod(tt - t[j0] + np.pi, 2 * np.pi) - np.pi
        t[j0] = float(w @ tt / w.sum()) if w.sum() > 0 else t[j0]
        V[j0] = V[idx].sum(axis=0)
        keep[idx[1:]] = False
    return t[keep], s[keep], V[keep], True


def _merge_equal(t, s, V, tol=1e-12):
    """Neurons with the same parameter (and sign) become one, weights summed (this never
    raises J: Ω(V₁ + V₂) ≤ Ω(V₁) + Ω(V₂)). Returns (t, s, V, whether any merged)."""
    if len(t) <= 1:
        return t, s, V, False
    order = np.lexsort((t, s))
    t, s, V = t[order], s[order], V[order]
    same = (s[1:] == s[:-1]) & (np.diff(t) <= tol)
    if not same.any():
        return t, s, V, False
    group_id = np.concatenate([[0], np.cumsum(~same)])
    Vm = np.zeros((group_id[-1] + 1, V.shape[1]))
    np.add.at(Vm, group_id, V)
    first = np.concatenate([[True], ~same])
    return t[first], s[first], Vm, True
