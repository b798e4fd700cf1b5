"""Joint Newton step on the directions and the weights of the atoms, in any input dimension.

The objective of k atoms θ_j ∈ Θ with output weights V_j ∈ R^T and free part C (p × T) is

    J(θ, V, C) = L(P) + λ Σ_j Ω(V_j),   P = Σ_j relu(X̃ θ_j) V_jᵀ + F C     (n × T),

Ω = ‖·‖₂ (``group``) or ‖·‖₁ (``l1``). Directions move in a local chart around the current
point θ⁰_j, rebuilt at every iteration:

- sphere (``bias="regularized"``): θ_j(t) = (θ⁰_j + B_j t)/‖θ⁰_j + B_j t‖, B_j ((d+1) × d)
  an orthonormal basis of θ⁰_j^⊥; at t = 0, ∂θ/∂t = B_j and ∂²θ/∂t_a∂t_b = −δ_ab θ⁰_j
  (from ‖θ⁰ + h‖ = 1 + ‖h‖²/2 + O(‖h‖⁴) for h ⊥ θ⁰);
- cylinder (``bias="free"``): θ_j(t) = u/‖u_w‖ with u = (w⁰_j + B_j t_w, b⁰_j + t_b), B_j
  (d × (d−1)) a basis of w⁰_j^⊥; at t = 0, ∂θ/∂t_w = (B_j, 0), ∂θ/∂t_b = e_b and
  ∂²θ/∂t_a∂t_b = −δ_ab θ⁰_j for a, b in the w block (from 1/‖w⁰ + B t‖ = 1 − ‖t‖²/2 + ...),
  0 otherwise.

In both charts θ_j(t)·x̃_i is a positive multiple of (θ⁰_j + G_j t)·x̃_i, so the hyperplane
{θ·x̃_i = 0} is the affine hyperplane {(G_jᵀ x̃_i)·t = −θ⁰_j·x̃_i} of the chart: an atom can be
held on a face exactly by linear constraints.

On the activation patterns a_ij = 1[θ⁰_j·x̃_i > 0], s_ij = θ_j·x̃_i is smooth, with
g_ij = ∂s_ij/∂t_j = G_jᵀ x̃_i and ∂²s_ij/∂t_j² = −(θ⁰_j·x̃_i) I (on the w block for the
cylinder). With E = ℓ'(P), h = ℓ''(P) (or the loss's per-sample T × T blocks),

    ∂P_it/∂t_j = a_ij V_jt g_ij,   ∂P_it/∂V_jt = a_ij s_ij,   ∂P_it/∂C_ct = F_ic,
    ∇J  = (1/n) Σ_{i,t} E_it ∂P_it + λ ∇Ω,
    ∇²J = (1/n) Σ_i ∂P_iᵀ h_i ∂P_i + (1/n) Σ_{i,t} E_it ∂²P_it + λ ∇²Ω,
    ∂²P_it/∂t_j² = a_ij V_jt ∂²s_ij,   ∂²P_it/∂t_j∂V_jt = a_ij g_ij,

and for ``group`` ∇Ω = u_j = V_j/‖V_j‖, ∇²Ω = (I − u_j u_jᵀ)/‖V_j‖; for ``l1`` the nonzero
entries keep their signs (∇Ω = sign V, ∇²Ω = 0) and zero entries stay zero.

Each iteration merges atoms that met (closer than ``merge_tol``: weights summed, which never
raises J at equal directions) and atoms strictly inside one cell (:func:`~limitsolver.atoms_nd.merge_same_cell`,
kept when J does not rise), drops weights whose block minimizer is zero (with the others
fixed), takes a Levenberg–Marquardt step −(H + μD)⁻¹∇J (D = diag|H|; μ = 0, the Newton step,
when H is positive definite and the step is accepted) and accepts it only if the true J (with
the true relu, so patterns may change) decreases. Once the patterns settle it converges
quadratically. The result is a candidate; the caller certifies it.
"""
from __future__ import annotations

import time

import numpy as np

from .atoms_nd import ON_FACE, face_basis, land, merge_equal, merge_same_cell, nonzero_blocks
from .losses import get_loss
from .penalties import get_penalty
from .problem import LimitProblem

__all__ = ["joint_newton_nd", "supports_joint_newton_nd", "newton_model", "objective"]


def supports_joint_newton_nd(problem: LimitProblem) -> bool:
    """A loss with second derivatives (``smooth``: squared, logistic, multinomial) and the
    group or l1 penalty. The predicate for "refinement by exchange + joint Newton applies"."""
    return bool(getattr(get_loss(problem.loss), "smooth", False)
                and problem.penalty in ("group", "l1"))


def _tangent_basis(D, bias):
    """(k, d+1, d) matrices G_j with ∂θ_j/∂t = G_j at t = 0, and the (k, d+1) vectors whose
    negatives are the second derivatives ∂²θ/∂t_a² (times δ_ab on the sphere / w block)."""
    k, dim = D.shape
    if bias == "regularized":
        _, _, Vt = np.linalg.svd(D[:, None, :], full_matrices=True)   # (k, dim, dim)
        return np.transpose(Vt[:, 1:, :], (0, 2, 1)), D.copy()
    W = D[:, :-1]
    d = dim - 1
    G = np.zeros((k, dim, d))
    if d > 1:
        _, _, Vt = np.linalg.svd(W[:, None, :], full_matrices=True)   # (k, d, d)
        G[:, :-1, :d - 1] = np.transpose(Vt[:, 1:, :], (0, 2, 1))
    G[:, -1, d - 1] = 1.0
    return G, D.copy()


def _retract(D, G, dt, bias):
    """θ_j(t_j) in the chart of :func:`_tangent_basis` at ``D``; dt is (k, d)."""
    moved = D + np.einsum("kad,kd->ka", G, dt)
    if bias == "regularized":
        return moved / np.linalg.norm(moved, axis=1, keepdims=True)
    return moved / np.linalg.norm(moved[:, :-1], axis=1, keepdims=True)


def _clip_bias(problem, D):
    if problem.bias == "free":
        D = D.copy()
        D[:, -1] = np.clip(D[:, -1], -problem.radius, problem.radius)
    return D


def objective(problem: LimitProblem, D: np.ndarray, V: np.ndarray, C: np.ndarray) -> float:
    """J(θ, V, C) with the true relu (no pattern fixed)."""
    loss = get_loss(problem.loss)
    P = np.maximum(problem.Xt @ D.T, 0.0) @ V + problem.F @ C
    return loss.value(P, problem.Y) + problem.lam * float(
        np.sum(get_penalty(problem.penalty).row_norms(V)))


def newton_model(problem: LimitProblem, D: np.ndarray, V: np.ndarray, C: np.ndarray,
                 mask: "np.ndarray | None" = None) -> tuple:
    """Gradient and Hessian of J at (D, V, C) in the chart variables z = (t, V, C).

    Variables, in order: t_j ∈ R^d for every atom (k·d), V_jt row-major where ``mask``
    (default: all; l1 passes V ≠ 0), C_ct row-major (p·T). Patterns a_ij = 1[θ_j·x̃_i > 0].
    Returns (g (N,), H (N, N), G) with G the (k, d+1, d) chart bases. Cost
    O(n T N²) for the Gauss–Newton part (N = k d + k T + p T).
    """
    loss = get_loss(problem.loss)
    n, T, lam = problem.n, problem.T, problem.lam
    Xt, F, Y = problem.Xt, problem.F, problem.Y
    k, dim = D.shape
    d, p = dim - 1, F.shape[1]
    Gb, curv_dir = _tangent_basis(D, problem.bias)
    S = Xt @ D.T                                                 # (n, k)
    A = (S > 0).astype(float)
    P = (S * A) @ V + F @ C
    E = -loss.residual(P, Y)                                     # ℓ'(P), (n, T)
    gx = np.einsum("nD,kDd->nkd", Xt, Gb) * A[:, :, None]        # a_ij g_ij, (n, k, d)
    kd, kT = k * d, k * T
    N = kd + kT + p * T
    SA = S * A
    g, H = gauss_newton(loss, P, Y, gx, V, SA, F)
    eyeT = np.eye(T)
    # second derivatives of P against ℓ'
    EV = E @ V.T                                                 # (n, k): E_i·V_j
    s2 = Xt @ curv_dir.T                                         # (n, k): θ⁰_j·x̃_i (w-part)
    diag_tt = -np.sum(EV * s2 * A, axis=0) / n                   # (k,)
    nd = d if problem.bias == "regularized" else d - 1           # curved chart coordinates
    for j in range(k):
        ix = j * d + np.arange(nd)
        H[ix, ix] += diag_tt[j]
        cross = np.einsum("nd,nt->dt", gx[:, j, :], E) / n       # (d, T)
        r = j * d + np.arange(d)
        c = kd + j * T + np.arange(T)
        H[np.ix_(r, c)] += cross
        H[np.ix_(c, r)] += cross.T
    add_penalty(problem, V, g, H, kd)
    if mask is not None:
        keep = np.concatenate([np.ones(kd, dtype=bool), np.asarray(mask).ravel(),
                               np.ones(p * T, dtype=bool)])
        g, H = g[keep], H[np.ix_(keep, keep)]
    return g, H, Gb


def add_penalty(problem: LimitProblem, V: np.ndarray, g: np.ndarray, H: np.ndarray,
                offset: int) -> None:
    """Add λ ∇Ω and λ ∇²Ω (the penalty's ``gradient`` and ``hessian_blocks``: group
    u_j = V_j/‖V_j‖ and (I − u_j u_jᵀ)/‖V_j‖, l1 sign V and 0) in place to g (N,) and
    H (N, N), whose V_jt variables sit at ``offset + j·T + t``."""
    pen = get_penalty(problem.penalty)
    k, T = V.shape
    lam = problem.lam
    g[offset:offset + k * T] += lam * pen.gradient(V).ravel()
    blocks = pen.hessian_blocks(V)
    if np.any(blocks):
        base = offset + np.arange(k)[:, None, None] * T
        H[base + np.arange(T)[None, :, None], base + np.arange(T)[None, None, :]] += lam * blocks


def gauss_newton(loss, P: np.ndarray, Y: np.ndarray, gx: np.ndarray, Vt: np.ndarray,
                 SA: np.ndarray, F: np.ndarray) -> tuple:
    """Loss gradient and Gauss–Newton Hessian in the variables (t, V, C) of a network.

    With ∂P_it/∂t_ja = Vt_jt gx_ija (t-parameters of the atoms listed in ``gx``),
    ∂P_it/∂V_jt = SA_ij, ∂P_it/∂C_ct = F_ic, returns g = (1/n) Σ_{i,t} E_it ∂P_it and
    H = (1/n) Σ_i ∂P_iᵀ ∇²ℓ_i ∂P_i, E = ℓ'(P) = −``loss.residual``. Variables: t_ja
    (row-major, kf·a of them), V_jt row-major (k·T), C_ct row-major (p·T).

    gx : (n, kf, a);  Vt : (kf, T) the weights of those atoms;  SA : (n, k);  F : (n, p).
    A separable loss (``curvature``) goes task by task, O(n T (kf a + k + p)²); otherwise
    the per-sample blocks ``hessian_blocks`` (n, T, T), O(n T² N²) with N all variables.
    """
    n = P.shape[0]
    E = -loss.residual(P, Y)
    if loss.separable and callable(getattr(loss, "curvature", None)):
        return _gauss_newton_separable(gx, SA, F, Vt, E, loss.curvature(P, Y), n)
    from .losses import hessian_blocks
    kf, a = gx.shape[1], gx.shape[2]
    k, T, p = SA.shape[1], Y.shape[1], F.shape[1]
    kd, kT = kf * a, k * T
    N = kd + kT + p * T
    eyeT = np.eye(T)
    Jac = np.zeros((n, T, N))
    Jac[:, :, :kd] = (gx[:, None, :, :] * Vt.T[None, :, :, None]).reshape(n, T, kd)
    Jac[:, :, kd:kd + kT] = (SA[:, None, :, None] * eyeT[None, :, None, :]).reshape(n, T, kT)
    if p:
        Jac[:, :, kd + kT:] = (F[:, None, :, None] * eyeT[None, :, None, :]).reshape(
            n, T, p * T)
    flat = Jac.reshape(n * T, N)
    g = flat.T @ E.ravel() / n
    HJ = np.einsum("its,isN->itN", hessian_blocks(loss, P, Y), Jac)
    return g, flat.T @ HJ.reshape(n * T, N) / n


def _gauss_newton_separable(gx, SA, F, Vt, E, h, n):
    """(1/n) Σ_i ∂P_iᵀ diag(h_i) ∂P_i and (1/n) Σ E_it ∂P_it for a loss that is a sum over
    entries: task by task, on the columns that task t touches (all t_j, V_·t, C_·t), which
    costs O(n T (kf a + k + p)²) instead of O(n T N²). Shapes as in :func:`gauss_newton`."""
    n_, kf, a = gx.shape
    k, T, p = SA.shape[1], Vt.shape[1], F.shape[1]
    kd, kT = kf * a, k * T
    N = kd + kT + p * T
    g = np.zeros(N)
    H = np.zeros((N, N))
    for t in range(T):
        Jt = np.hstack([(gx * Vt[:, t][None, :, None]).reshape(n_, kd), SA, F])
        idx = np.concatenate([np.arange(kd), kd + np.arange(k) * T + t,
                              kd + kT + np.arange(p) * T + t])
        g[idx] += Jt.T @ E[:, t] / n
        H[np.ix_(idx, idx)] += (Jt.T * (h[:, t] / n)) @ Jt
    return g, H


def _unpack(z, k, d, T, p, mask):
    dt = z[:k * d].reshape(k, d)
    dV = np.zeros(k * T)
    nv = int(mask.sum())
    dV[mask.ravel()] = z[k * d:k * d + nv]
    dC = z[k * d + nv:].reshape(p, T) if p else np.zeros((0, T))
    return dt, dV.reshape(k, T), dC


def _prune(problem, D, V, C, f, merge_tol):
    """Merges (equal atoms, then same-cell atoms) and drops (zero block minimizers), each
    kept only when J does not rise. Returns (D, V, f)."""
    pen = get_penalty(problem.penalty)
    group = problem.penalty == "group"
    for merge in (lambda D, V: merge_equal(problem, D, V, merge_tol),
                  lambda D, V: merge_same_cell(problem, D, V)):
        D2, V2, merged = merge(D, V)
        if merged:
            f2 = objective(problem, D2, V2, C)
            if f2 <= f:
                D, V, f = D2, V2, f2
    mask = np.ones_like(V, dtype=bool) if group else V != 0
    keep = nonzero_blocks(problem, problem.Xt, D, V, C, group, mask)
    if not keep.all():
        Vk = V * keep
        live = pen.row_norms(Vk) > 0
        fk = objective(problem, D[live], Vk[live], C)
        if fk <= f:
            D, V, f = D[live], Vk[live], fk
    return D, V, f


class _Damped:
    """Solves (H + μ S²) z = −g for the Levenberg–Marquardt steps, with S² = diag|H| (the
    damping is relative to each variable's own curvature), by Cholesky factorization: a
    factorization failure means H + μS² is not positive definite (μ must grow)."""

    def __init__(self, H, g, P=None):
        if P is not None:
            H, g = P.T @ H @ P, P.T @ g
        self.P = P
        dg = np.abs(np.diag(H))
        self.sc = np.sqrt(np.maximum(dg, 1e-16 * max(float(dg.max(initial=0.0)), 1e-300)))
        self.Hs = H / np.outer(self.sc, self.sc)
        self.gs = g / self.sc

    def step(self, mu):
        from scipy.linalg import LinAlgError, cho_factor, cho_solve
        if self.gs.size == 0:
            return None
        try:
            fac = cho_factor(self.Hs + mu * np.eye(len(self.gs)), lower=True,
                             check_finite=False)
        except LinAlgError:
            return None
        z = -cho_solve(fac, self.gs, check_finite=False) / self.sc
        return z if self.P is None else self.P @ z


def joint_newton_nd(problem: LimitProblem, directions: np.ndarray, V: np.ndarray,
                    C: np.ndarray, *, max_iter: int = 30, rtol: float = 1e-15,
                    merge_tol: float = 1e-9, max_tries: int = 16,
                    deadline: "float | None" = None) -> tuple:
    """Levenberg–Marquardt/Newton on (directions, weights, free part) of a solution, any d.

    Each iteration tries, for the current damping μ, the step of the free model (patterns
    of the current point; atoms may cross hyperplanes: J is continuous) and, for atoms on a
    face (samples with |θ·x̃_i| ≤ ``ON_FACE``‖x̃_i‖), the step that holds them there; each
    also shortened so every atom stops on the first hyperplane it crosses. The first that
    decreases J enough against its model is taken; else μ grows (and steps halve).

    Parameters
    ----------
    problem : LimitProblem
        A smooth loss (squared, logistic, multinomial), group or l1 penalty, either bias,
        any free part.
    directions : ndarray (k, d+1);  V : ndarray (k, T);  C : ndarray (p, T)
        Starting atoms (zero rows dropped) and free part.
    max_iter : int
        Iterations.
    rtol : float
        Stop once the predicted decrease is below ``rtol``·|J| (after one more step accepted
        unless J rises beyond rounding).
    deadline : float, optional
        ``time.monotonic()`` time after which no new iteration starts.

    Returns
    -------
    directions (k', d+1), V (k', T), C (p, T), info (dict: ``iterations``, ``objective``,
    ``start``, ``history`` — J after every accepted step).
    """
    if not supports_joint_newton_nd(problem):
        raise ValueError("joint_newton_nd needs a smooth loss (squared, logistic, "
                         "multinomial) and the group or l1 penalty")
    pen = get_penalty(problem.penalty)
    group = problem.penalty == "group"
    rows = pen.row_norms(np.asarray(V, dtype=float)) > 0
    D = problem.check_directions(np.asarray(directions, dtype=float)[rows])
    V = np.array(V, dtype=float)[rows]
    C = np.array(C, dtype=float).reshape(problem.F.shape[1], problem.T)
    T, p, dim = problem.T, problem.F.shape[1], problem.dim
    xn = np.linalg.norm(problem.Xt, axis=1)[:, None]
    f = objective(problem, D, V, C)
    f0, hist, it, mu, polishing = f, [f], 0, 0.0, False
    for it in range(1, max_iter + 1):
        if deadline is not None and it > 1 and time.monotonic() >= deadline:
            break
        D, V, f = _prune(problem, D, V, C, f, merge_tol)
        k = D.shape[0]
        if k == 0:
            break
        mask = np.ones_like(V, dtype=bool) if group else V != 0
        g, H, Gb = newton_model(problem, D, V, C, mask=None if group else mask)
        tight = np.abs(problem.Xt @ D.T) <= ON_FACE * xn
        variants = [_Damped(H, g)]
        if tight.any():
            variants.append(_Damped(H, g, face_basis(problem, D, Gb, tight,
                                                      int(mask.sum()), p * T)))
        step = None
        for trial in range(max_tries):
            not_pd = False
            for var in variants:
                z = var.step(mu)
                if z is None:
                    not_pd = True
                    continue
                if trial % 2:               # every other trial: half the step (a kink in J
                    z = 0.5 * z             # where patterns change, not a bad model)
                for on_face in (False, True):
                    step = _try(problem, D, V, C, f, g, H, z, Gb, mask, tight, on_face, rtol)
                    if step is not None:
                        break
                if step is not None:
                    break
            if step is not None:
                break
            if trial % 2 or not_pd:
                mu = max((10.0 if not_pd else 4.0) * mu, 1e-4)
        if step is None:
            break
        Dn, Vn, Cn, fn, small = step
        live = pen.row_norms(Vn) > 0
        D, V, C, f = Dn[live], Vn[live], Cn, fn
        hist.append(f)
        mu = mu / 8.0 if mu > 1e-12 else 0.0
        if small:
            if polishing:
                break
            polishing = True
    return D, V, C, dict(iterations=it, objective=f, start=f0, history=hist)


def _try(problem, D, V, C, f, g, H, z, Gb, mask, tight, on_face, rtol):
    """The point reached by step ``z`` (optionally landed on faces) when it is accepted:
    J decreases by at least 1e-4 of the model's prediction (or, once the prediction is
    below ``rtol``·|J|, does not rise beyond rounding). Returns (D, V, C, J, small) or None."""
    k, T, p = V.shape[0], V.shape[1], C.shape[0]
    d = Gb.shape[2]
    dt, dV, dC = _unpack(z, k, d, T, p, mask)
    if on_face:
        dt2 = land(problem, D, Gb, dt, tight)
        if np.array_equal(dt2, dt):
            return None
        dt = dt2
        z = z.copy()
        z[:k * d] = dt.ravel()
    pred = -float(g @ z + 0.5 * z @ (H @ z))
    Dn = _clip_bias(problem, _retract(D, Gb, dt, problem.bias))
    Vn = V + dV
    if problem.penalty == "l1":                                  # no sign changes in l1
        Vn = np.where(np.sign(Vn) == np.sign(V), Vn, 0.0)
    Cn = C + dC
    fn = objective(problem, Dn, Vn, Cn)
    small = pred <= rtol * max(abs(f), 1e-300)
    if (small and fn <= f + 1e-13 * abs(f)) or (fn < f and f - fn >= 1e-4 * pred):
        return Dn, Vn, Cn, fn, small
    return None
