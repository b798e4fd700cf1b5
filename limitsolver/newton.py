"""Joint Newton step on the directions and the weights of a 1-D solution.

For d = 1 each neuron has one direction parameter t: the angle of θ = (cos t, sin t) on S¹
(``bias="regularized"``) or the offset b of θ = (±1, b) on the cylinder (``bias="free"``;
the sign of w is kept). On a fixed activation pattern A_j = {i : θ_j·x̃_i > 0} — a *cell*,
the interval of t between two consecutive data breakpoints — relu(θ_j·x̃_i) = θ_j(t)·x̃_i
is smooth in t, so

    J(t, V, C) = L(P) + λ Ω(V),   P = Σ_j relu(X̃ θ_j) V_jᵀ + F C,

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
should split in two are not resolved here (the exchange step of refine adds directions).
Every smooth loss (squared, logistic, multinomial) enters only through its ``value``,
``residual`` and second derivatives (:func:`limitsolver.newton_nd.gauss_newton`), the
penalty through ``gradient`` and ``hessian_blocks``. The result is a candidate:
:func:`limitsolver.refine.refine` certifies it with the exact oracle.
"""
from __future__ import annotations

import numpy as np

from .atoms_1d import fold_antipodal, merge_equal_1d, merge_same_cell_1d
from .atoms_nd import nonzero_blocks
from .losses import get_loss
from .newton_nd import add_penalty, gauss_newton
from .penalties import get_penalty
from .problem import LimitProblem

__all__ = ["joint_newton", "supports_joint_newton", "fold_antipodal"]

#: A neuron is on the breakpoint of x_i when its parameter t is this close to it.
ON_BREAKPOINT = 1e-12


def supports_joint_newton(problem: LimitProblem) -> bool:
    """d = 1, a smooth loss (squared, logistic, multinomial), group or l1 penalty (either
    bias, any free part)."""
    return (problem.d == 1 and bool(getattr(get_loss(problem.loss), "smooth", False))
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
# objective and its model
# ---------------------------------------------------------------------------------------
def _objective(problem, Xt, theta, V, C):
    """J = L(P) + λ Ω(V), P = relu(X̃ θᵀ) V + F C (the true relu)."""
    P = np.maximum(Xt @ theta.T, 0.0) @ V + problem.F @ C
    return (get_loss(problem.loss).value(P, problem.Y)
            + problem.lam * get_penalty(problem.penalty).value(V))


def _model(problem, par, t, s, V, C, act, jf):
    """Gradient and Hessian of J at (t, V, C) on the activation patterns ``act`` (n, k).

    Variables, in order: t_j for j in ``jf`` (the free kinks), V_jt (row-major), C_ct
    (row-major). With P = Σ_j (θ_j(t)·x̃ ⊙ act_j) V_jᵀ + F C, E = ℓ'(P) = −Z and the
    loss's per-sample Hessians h_i:

        ∇J = (1/n) Σ_{i,t} E_it ∂P_it + λ ∇Ω,
        ∇²J = (1/n) Σ_i ∂P_iᵀ h_i ∂P_i + (1/n) Σ_{i,t} E_it ∂²P_it + λ ∇²Ω,

    where ∂P_it/∂t_j = V_jt θ_j'·x̃_i, ∂P_it/∂V_jt = θ_j·x̃_i (on act_j), ∂P_it/∂C_ct = F_ic,
    ∂²P_it/∂t_j² = V_jt θ_j''·x̃_i, ∂²P_it/∂t_j∂V_jt = θ_j'·x̃_i; ∇Ω and ∇²Ω are the
    penalty's ``gradient`` and ``hessian_blocks`` (group: u_j and (I − u_j u_jᵀ)/‖V_j‖;
    l1: sign V and 0). Returns (g, H) over all V entries (the caller drops masked ones).
    """
    n, T = problem.n, problem.T
    Xt, F, Y = problem.Xt, problem.F, problem.Y
    k, kf = len(t), len(jf)
    G = (Xt @ par.theta(t, s).T) * act                           # relu on the pattern
    Dm = (Xt @ par.dtheta(t, s).T) * act                         # ∂relu(θ_j·x̃_i)/∂t_j
    D2m = (Xt @ par.d2theta(t, s).T) * act
    P = G @ V + F @ C
    loss = get_loss(problem.loss)
    g, H = gauss_newton(loss, P, Y, Dm[:, jf][:, :, None], V[jf], G, F)
    if kf:
        E = -loss.residual(P, Y)                                 # (n, T): ℓ'
        EV = E @ V[jf].T                                         # (n, kf): E_i·V_j
        H[np.arange(kf), np.arange(kf)] += np.sum(D2m[:, jf] * EV, axis=0) / n
        cross = Dm[:, jf].T @ E / n                              # (kf, T)
        rq = np.repeat(np.arange(kf), T)
        cq = kf + (jf[:, None] * T + np.arange(T)[None, :]).ravel()
        H[rq, cq] += cross.ravel()
        H[cq, rq] += cross.ravel()
    add_penalty(problem, V, g, H, kf)
    return g, H


# ---------------------------------------------------------------------------------------
# the method
# ---------------------------------------------------------------------------------------
class _State:
    """The iterate of :func:`joint_newton`: parameters t (k,), signs s (k,), weights V
    (k, T), free part C (p, T), J = f, the l1 support ``mask`` and its ``signs``, and the
    parameter range [tmin, tmax] of every neuron."""

    def __init__(self, problem, par, t, s, V, C):
        self.problem, self.par = problem, par
        self.group = problem.penalty == "group"
        self.t, self.s, self.V, self.C = t, s, V, C
        self.mask = np.ones_like(V, dtype=bool) if self.group else V != 0
        self.refresh()

    def refresh(self):                     # after V or t changed shape
        self.signs = np.sign(self.V)
        self.tmin, self.tmax = self.par.range(self.t)
        self.f = self.objective(self.t, self.V, self.C)

    def objective(self, t, V, C) -> float:
        return _objective(self.problem, self.problem.Xt, self.par.theta(t, self.s), V, C)


def _prune(st: _State, it: int):
    """Merge neurons that met (and, after the first iteration, neurons sharing a cell when
    J does not rise) and drop weights whose block minimizer is zero; neither raises J.
    Returns the breakpoint offsets of the pruned neurons (``_Param.offsets``)."""
    problem, par, Xt = st.problem, st.par, st.problem.Xt
    st.t, st.s, st.V, merged = merge_equal_1d(st.t, st.s, st.V)
    offsets = par.offsets(st.t, st.s)
    if it > 1:
        t2, s2, V2, merged_cell = merge_same_cell_1d(par, Xt, st.t, st.s, st.V, offsets[2])
        # kept only when J does not rise: a merge far from the optimum can send Newton to
        # another local minimum
        if merged_cell and _objective(problem, Xt, par.theta(t2, s2), V2, st.C) <= st.f:
            st.t, st.s, st.V, merged = t2, s2, V2, True
    if merged and not st.group:
        st.mask = st.V != 0
    keep = nonzero_blocks(problem, Xt, par.theta(st.t, st.s), st.V, st.C, st.group, st.mask)
    if merged or not keep.all():
        if not st.group:
            st.mask = keep & (st.V != 0)
            st.V = np.where(st.mask, st.V, 0.0)
        rows = keep.all(axis=1) if st.group else st.mask.any(axis=1)
        st.t, st.s, st.V = st.t[rows], st.s[rows], st.V[rows]
        st.mask = np.ones_like(st.V, dtype=bool) if st.group else st.mask[rows]
        st.refresh()
        offsets = par.offsets(st.t, st.s)
    return offsets


def _cells(st: _State, offsets):
    """The closed cell [lo_j, hi_j] of every neuron and its activation pattern (n, k): the
    cell containing t_j, or for a neuron on a breakpoint the neighbouring cell into which J
    decreases (one-sided derivatives of the loss part; Ω does not depend on t); a neuron
    for which J rises both ways is held (``free`` False). Returns (act, lo, hi, free)."""
    problem, par, t, Xt, n = st.problem, st.par, st.t, st.problem.Xt, st.problem.n
    S, dS = Xt @ par.theta(t, st.s).T, Xt @ par.dtheta(t, st.s).T      # (n, k)
    P = np.maximum(S, 0.0) @ st.V + problem.F @ st.C
    E = -get_loss(problem.loss).residual(P, problem.Y)                # (n, T): ℓ'
    up, down, on = offsets                                            # (k, n)
    strict = (S > 0) & ~on.T                                          # (n, k)
    EV = E @ st.V.T                                                   # (n, k): E_i·V_j
    nxt_up = np.where(on, np.inf, up).min(axis=1)
    nxt_dn = np.where(on, -np.inf, down).max(axis=1)
    at_top, at_bot = t >= st.tmax, t <= st.tmin
    onT = on.T
    plus = strict | (onT & (dS > 0))
    minus = strict | (onT & (dS < 0))
    g_up = np.sum(EV * dS * plus, axis=0) / n
    g_dn = np.sum(EV * dS * minus, axis=0) / n
    edge = on.any(axis=1) | at_top | at_bot
    go_up = edge & (g_up < 0) & ~at_top
    go_dn = edge & ~go_up & (g_dn > 0) & ~at_bot
    free = ~edge | go_up | go_dn
    act = np.where(go_up[None, :], plus, np.where(go_dn[None, :], minus, strict))
    lo = np.where(free, np.where(go_up, t, t + nxt_dn), t)
    hi = np.where(free, np.where(go_dn, t, t + nxt_up), t)
    return act, np.maximum(lo, st.tmin), np.minimum(hi, st.tmax), free


class _Damping:
    """Levenberg–Marquardt damping μ with Nielsen's update (factor ν)."""
    mu, nu = 0.0, 2.0

def _lm_step(st: _State, g, H, vidx, jf, lo, hi, damp: _Damping, rtol, max_tries):
    """One damped Newton step −(H + μI)⁻¹ g in variables scaled by √|diag H| (kinks in
    radians, weights of any size: the eigenvalue thresholds and μ are relative), μ above
    −λ_min(H) where J is not convex and 0 (Newton) once H is positive definite and full
    steps are accepted. The plain step is tried first (kinks may cross breakpoints: J is
    continuous, only its model changes), then t projected onto each neuron's cell [lo, hi].
    Below rounding in J (``polish``) a step is accepted unless J rises beyond rounding.

    Returns None (nothing accepted, or a degenerate model) or (t, V, C, f, step, polish)."""
    kf, nv, p, T = len(jf), len(vidx), st.C.shape[0], st.V.shape[1]
    dg = np.abs(np.diag(H))
    if not np.any(dg > 0):
        return None
    sc = np.sqrt(np.maximum(dg, 1e-16 * dg.max()))
    w, Q = np.linalg.eigh(H / np.outer(sc, sc))
    Q = Q / sc[:, None]                  # columns: eigenvectors in the original variables
    wmax = float(np.max(np.abs(w))) if w.size else 0.0
    if wmax == 0.0:
        return None
    gq = Q.T @ g
    posdef = w[0] > 1e-13 * wmax
    damp.mu = max(damp.mu, 0.0 if posdef else 2.0 * max(0.0, -w[0]) + 1e-13 * wmax)
    newton_dec = float(np.sum(gq * gq / w)) if posdef else np.inf
    polish = newton_dec <= rtol * max(abs(st.f), 1e-300)
    t, f = st.t, st.f
    for m in ([0.0] if posdef and damp.mu > 0 else []) + [None] * max_tries:
        m = damp.mu if m is None else m
        step = -Q @ (gq / (w + m))
        Vn = st.V.copy()
        Vn.ravel()[vidx] += step[kf:kf + nv]
        Cn = st.C + step[kf + nv:].reshape(p, T) if p else st.C
        accepted, tried = False, []
        if st.group or not np.any(np.sign(Vn[st.mask]) != st.signs[st.mask]):
            for bounds in ((st.tmin[jf], st.tmax[jf]), (lo[jf], hi[jf])):
                tn = t.copy()
                tn[jf] = np.clip(t[jf] + step[:kf], *bounds)
                if any(np.array_equal(tn, u) for u in tried):
                    continue
                tried.append(tn)
                dx = step.copy()
                dx[:kf] = tn[jf] - t[jf]
                pred = -float(g @ dx + 0.5 * dx @ (H @ dx))
                fn = st.objective(tn, Vn, Cn)
                accepted = (fn <= f + 1e-13 * abs(f) if polish
                            else fn < f and pred > 0 and f - fn >= 1e-4 * pred)
                if accepted or polish:
                    break
        if polish:
            return (tn, Vn, Cn, fn, step, True) if accepted else None
        if accepted:
            rho = (f - fn) / pred                # Nielsen's update of the damping
            damp.mu = m * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            if damp.mu <= 1e-13 * wmax:
                damp.mu = 0.0
            damp.nu = 2.0
            return tn, Vn, Cn, fn, step, False
        damp.mu = max(damp.nu * damp.mu, 1e-10 * wmax)
        damp.nu *= 2.0
    return None


def joint_newton(problem: LimitProblem, directions: np.ndarray, V: np.ndarray, C: np.ndarray,
                 *, max_iter: int = 50, rtol: float = 1e-15, max_tries: int = 12,
                 max_polish: int = 1, fold: bool = True) -> tuple:
    """Newton's method on (directions, weights, free part) of a d = 1 solution.

    Parameters
    ----------
    problem : LimitProblem
        d = 1, a smooth ``loss`` (squared, logistic, multinomial), ``penalty`` group or l1.
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
        (:func:`~limitsolver.atoms_1d.fold_antipodal`) and continue from there, when J
        does not rise.

    Returns
    -------
    directions : ndarray (k', 2);  V : ndarray (k', T);  C : ndarray (p, T);
    info : dict
        ``iterations``, ``objective`` (J at the result), ``start`` (J at the start),
        ``fixed`` (neurons held on a breakpoint at the last iteration), ``polished``
        (iterations that began below rounding in J).
    """
    if not supports_joint_newton(problem):
        raise ValueError("joint_newton is for d = 1 with a smooth loss (squared, logistic, "
                         "multinomial) and the group or l1 penalty")
    rows = get_penalty(problem.penalty).row_norms(V) > 0
    D = problem.check_directions(np.asarray(directions, dtype=float)[rows])
    par = _Param(problem)
    t, s = par.from_theta(D)
    t, s, Vm, _ = merge_equal_1d(t, s, np.array(V, dtype=float)[rows])
    st = _State(problem, par, t, s, Vm, np.array(C, dtype=float))
    T, p = problem.T, problem.F.shape[1]
    f0, it, fixed, polished, damp = st.f, 0, np.zeros(len(t), dtype=bool), 0, _Damping()
    for it in range(1, max_iter + 1):
        offsets = _prune(st, it)
        k = len(st.t)
        if k == 0:
            break
        act, lo, hi, free = _cells(st, offsets)
        fixed, jf = ~free, np.flatnonzero(free)
        if st.group and np.any(np.linalg.norm(st.V, axis=1) == 0):
            break
        g, H = _model(problem, par, st.t, st.s, st.V, st.C, act, jf)
        vidx = np.flatnonzero(st.mask.ravel())
        if len(vidx) < k * T:
            kf = len(jf)
            sel = np.concatenate([np.arange(kf), kf + vidx, kf + k * T + np.arange(p * T)])
            g, H = g[sel], H[np.ix_(sel, sel)]
        out = _lm_step(st, g, H, vidx, jf, lo, hi, damp, rtol, max_tries)
        if out is None:
            break
        tn, Vn, Cn, fn, step, polish = out
        polished += polish
        moved = np.max(np.abs(step)) > 1e-15 * max(1.0, np.max(np.abs(st.V)),
                                                   np.max(np.abs(st.t)))
        st.t, st.V, st.C, st.f = tn, Vn, Cn, fn
        if polish and (polished >= max_polish or not moved):
            break
    t, s, V, _ = merge_equal_1d(st.t, st.s, st.V)
    D = par.theta(t, s)
    info = dict(iterations=it, objective=st.f, start=f0, fixed=int(np.count_nonzero(fixed)),
                polished=polished)
    if fold:
        Df, Vf, Cf = fold_antipodal(problem, D, V, st.C, tol=1e-6)
        if Df.shape[0] < D.shape[0]:
            # nearly antipodal pairs: fold them and let Newton settle the single neuron;
            # kept only when J is no higher beyond rounding
            Df, Vf, Cf, inf = joint_newton(problem, Df, Vf, Cf, max_iter=max_iter, rtol=rtol,
                                           max_tries=max_tries, max_polish=max_polish,
                                           fold=False)
            if inf["objective"] <= st.f + 1e-13 * abs(st.f):
                inf.update(start=f0, iterations=it + inf["iterations"], folded=True)
                return Df, Vf, Cf, inf
    return D, V, st.C, info
