"""The restricted problem on a few columns: its value, derivatives and Newton systems.

For feature columns A (n × k), free columns F (n × p), a fixed offset O (n × T, default 0),
targets Y (n × T), a loss L and a penalty Ω (any classes of :mod:`limitsolver.losses` and
:mod:`limitsolver.penalties`, used only through their protocol methods),

    J(V, C) = L(A V + F C + O) + λ Ω(V),        V (k × T), C (p × T).

On a support (rows S of V and, for the l1 penalty, a mask of free entries) J is smooth in
X = [V_S; C] ((s + p) × T). With B = [A_S, F], P = A_S V_S + F C + O:

    ∇_X J = Bᵀ ∇L(P) + λ [∇Ω(V_S); 0]
    ∇²_X J = (1/n) Σ_i (b_i b_iᵀ) ⊗ ∇²ℓ_i(P_i) + λ ⊕_j ∇²Ω(V_j)        (row-major vec X)

with ∇²Ω(V_j) = (I − u_j u_jᵀ)/‖V_j‖ for the group penalty and 0 for l1. The loss block is
built by the route the loss's flags select (never its name):

- ``gram`` (``quadratic`` losses, free part eliminated by the caller): G_SS ⊗ I_T, with
  G = h AᵀA/n precomputed once (h the constant curvature), and for the group penalty with
  many unknowns the Kronecker/Woodbury solve of :mod:`.structured`;
- ``separable``: per task, Bᵀ diag(ℓ''_t/n) B (``curvature``);
- ``coupled``: the einsum of the per-sample blocks ``hessian_blocks`` (multinomial; its
  Hessian is singular along adding one constant to every class — the C part of an
  intercept — and the Levenberg ridge of :data:`LEVENBERG` makes every system solvable).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dgesv

from .mixed import MIXED_MIN_ROWS, refined_step
from .structured import dense_group_hessian, group_hessian_scale, group_newton_solve

__all__ = ["SupportModel", "Support", "spd_solve", "ridge_ladder", "woodbury_ladder", "system_too_large", "LEVENBERG", "DENSE_NEWTON_SIZE", "MAX_DENSE_SIZE",
           "MAX_STRUCTURED_ROWS"]

#: The Levenberg ladder: ridges (relative to the mean diagonal of the Hessian) tried in
#: turn until a step decreases J; a tiny one first, larger ones only when a step fails
#: (singular systems: dependent features of one activation cell, or the multinomial
#: shift invariance).
LEVENBERG = (1e-13, 1e-10, 1e-7, 1e-4, 1e-1, 1.0)

#: Group systems with more unknowns (rows × T) than this, in Gram form, use the structured
#: (Woodbury) solve instead of a dense factorization: O(s³ + s²T) against (sT)³/3, with a
#: larger constant (measured, one BLAS thread: equal near 100 unknowns; 20 × faster at 400,
#: T = 10).
DENSE_NEWTON_SIZE = 100

#: Largest dense Newton system (unknowns); larger supports are left to the caller.
MAX_DENSE_SIZE = 4000

#: Largest support (rows) of the structured group solve, O(s³ + s²T) per step. Supports
#: beyond n rows (near interpolation) stay in reach: G_SS is singular there but the system
#: is not (the penalty's curvature), and Newton converges where coordinate descent stalls
#: (measured at 2 480 rows, n = 1000, T = 10: 38 steps to gap 2e-14 against a gap of 0.1
#: after 600 sweeps).
MAX_STRUCTURED_ROWS = 4000


def spd_solve(H: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """x with H x = rhs for a symmetric H (LU up to 150 unknowns, Cholesky above); None
    when the factorization fails or x is not finite."""
    try:
        if H.shape[0] > 150:
            x = cho_solve(cho_factor(H, check_finite=False), rhs, check_finite=False)
        else:
            _, _, x, info = dgesv(H, rhs)          # H symmetric: its C order is its transpose
            if info != 0:
                return None
    except (np.linalg.LinAlgError, ValueError):
        return None
    return x if np.all(np.isfinite(x)) else None

def system_too_large(rows: int, unknowns: int, structured: bool) -> bool:
    """Whether a support's Newton systems are too large to form: more than
    :data:`MAX_STRUCTURED_ROWS` rows on the Woodbury route (``structured``), else more than
    :data:`MAX_DENSE_SIZE` unknowns."""
    return rows > MAX_STRUCTURED_ROWS if structured else unknowns > MAX_DENSE_SIZE


def ridge_ladder(H: np.ndarray, rhs: np.ndarray) -> Iterator[np.ndarray]:
    """Solutions x of (H + ρ·mean(diag H)·I) x = rhs for the ridges ρ of :data:`LEVENBERG`
    in turn (singular factorizations skipped). H (N × N, symmetric) is modified: the ridge
    is set on its diagonal in place (the solves copy H)."""
    N = H.shape[0]
    diag = np.diag(H).copy()
    scale = float(np.sum(diag)) / N if N else 1.0
    scale = scale if scale > 0 else 1.0
    for ridge in LEVENBERG:
        H.flat[::N + 1] = diag + ridge * scale
        x = spd_solve(H, rhs)
        if x is not None:
            yield x


def woodbury_ladder(GSS: np.ndarray, VS: np.ndarray, lam: float,
                    grad: np.ndarray, nrm: np.ndarray | None = None,
                    U: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Group-penalty Newton steps (H + ρ I)⁻¹ grad (s × T) by the Woodbury route of
    :mod:`.structured`, H = G_SS ⊗ I_T + ⊕_j c_j (I_T − u_j u_jᵀ) with c_j = λ/‖V_j‖,
    u_j = V_j/‖V_j‖, for the ridges ρ of :data:`LEVENBERG` relative to H's scale. From
    :data:`.mixed.MIXED_MIN_ROWS` rows the first ridge's step is tried by the float32
    factorization refined in float64 (:func:`.mixed.refined_step`) and, when it is
    found, not factored again in float64. ``nrm`` (the row norms ‖V_j‖) and ``U`` (the
    unit rows), when the caller has them."""
    if nrm is None:
        nrm = np.sqrt(np.add.reduce(VS * VS, axis=1))
    U = VS / nrm[:, None] if U is None else U
    c = lam / nrm
    scale = group_hessian_scale(GSS, c, VS.shape[1]) or 1.0
    ladder = LEVENBERG
    if GSS.shape[0] >= MIXED_MIN_ROWS:
        X = refined_step(GSS, U, c, LEVENBERG[0] * scale, grad)
        if X is not None:
            yield X
            ladder = LEVENBERG[1:]
    for ridge in ladder:
        try:
            yield group_newton_solve(GSS, U, c, grad, ridge * scale)
        except np.linalg.LinAlgError:
            continue


class Support:
    """Rows S (s,) of V that are on the support, the mask (s, T) of their free entries,
    and the columns B = [A_S, F] (n × (s + p)) and, in Gram form, G_SS (gathered on
    first use: the restricted gap needs only A_S)."""

    def __init__(self, model: "SupportModel", S: np.ndarray, mask: np.ndarray) -> None:
        self.S, self.mask = S, mask
        self.AS = model.A[:, S]
        self.B = np.hstack([self.AS, model.F]) if model.F.shape[1] else self.AS
        self._gram, self._GSS = model.gram, None

    @property
    def GSS(self) -> np.ndarray | None:
        if self._GSS is None and self._gram is not None:
            self._GSS = self._gram[np.ix_(self.S, self.S)]
        return self._GSS

    @property
    def size(self) -> int:
        return int(self.S.size)


class SupportModel:
    """J(V, C) on the columns A with free columns F (module docstring).

    Parameters
    ----------
    A : ndarray (n, k);  F : ndarray (n, p);  Y : ndarray (n, T);  lam : float > 0
    loss, penalty : classes of :mod:`limitsolver.losses` / :mod:`limitsolver.penalties`
    offset : ndarray (n, T) or None — fixed predictions added to A V + F C.
    gram : ndarray (k, k) or None — G = h AᵀA/n for a quadratic loss of constant curvature
        h whose free part the caller eliminated (then p must be 0).
    rowwise : bool — the support is made of whole rows (group penalty, or T = 1).
    """

    def __init__(self, A: np.ndarray, F: np.ndarray, Y: np.ndarray, lam: float, loss: type,
                 penalty: type, *, offset: np.ndarray | None = None,
                 gram: np.ndarray | None = None, rowwise: bool = True) -> None:
        self.A, self.F, self.Y = A, F, Y
        self.n, self.T = Y.shape
        self.lam = float(lam)
        self.loss, self.penalty = loss, penalty
        self.offset = offset
        self.gram = gram
        self.rowwise = rowwise
        self._last_support = None
        if gram is not None:
            self.route = "gram"
        elif loss.separable:
            self.route = "separable"
        else:
            self.route = "coupled"

    def task(self, t: int) -> "SupportModel":
        """The same model for task t alone (T = 1); for separable losses with l1."""
        off = None if self.offset is None else self.offset[:, t:t + 1]
        return SupportModel(self.A, self.F, self.Y[:, t:t + 1], self.lam, self.loss,
                            self.penalty, offset=off, gram=self.gram, rowwise=True)

    # values ------------------------------------------------------------------------
    def support(self, V: np.ndarray) -> Support:
        """The support of V: the penalty's ``support`` mask (whole rows when ``rowwise``)."""
        if self.rowwise:
            S = np.flatnonzero(np.any(V != 0, axis=1))
            mask = None
        else:
            full = self.penalty.support(V)
            S = np.flatnonzero(np.any(full, axis=1))
            mask = full[S]
        key = (S.tobytes(), None if mask is None else mask.tobytes())
        last = self._last_support
        if last is not None and last[0] == key:      # the columns of an unchanged support
            return last[1]
        sup = Support(self, S, np.ones((S.size, V.shape[1]), dtype=bool) if mask is None
                      else mask)
        self._last_support = (key, sup)
        return sup

    def predict(self, sup: Support, VS: np.ndarray, C: np.ndarray) -> np.ndarray:
        P = sup.AS @ VS if sup.size else np.zeros((self.n, self.T))
        if self.F.shape[1]:
            P = P + self.F @ C
        return P if self.offset is None else P + self.offset

    def value(self, P: np.ndarray, VS: np.ndarray) -> float:
        """J from predictions P (n × T) and the support weights VS."""
        return self.loss.value(P, self.Y) + self.lam * self.penalty.value(VS)

    def objective(self, sup: Support, VS: np.ndarray, C: np.ndarray) -> float:
        return self.value(self.predict(sup, VS, C), VS)

    # derivatives ---------------------------------------------------------------------
    def gradient(self, sup: Support, P: np.ndarray, VS: np.ndarray) -> np.ndarray:
        """∇_X J, ((s + p) × T), zero on the entries off the mask."""
        g = sup.B.T @ self.loss.gradient(P, self.Y)
        s_ = sup.size
        if s_:
            g[:s_] += self.lam * self.penalty.gradient(VS)
            if not self.rowwise:
                g[:s_][~sup.mask] = 0.0
        return g

    def loss_hessian(self, sup: Support, P: np.ndarray) -> np.ndarray:
        """The loss part of ∇²_X J as an (m, T, m, T) array, m = s + p."""
        B, T = sup.B, self.T
        m = B.shape[1]
        if self.route == "gram":
            H4 = np.zeros((m, T, m, T))
            for t in range(T):
                H4[:, t, :, t] = sup.GSS
            return H4
        if self.route == "separable":
            h = self.loss.curvature(P, self.Y) / self.n
            H4 = np.zeros((m, T, m, T))
            for t in range(T):
                H4[:, t, :, t] = (B.T * h[:, t]) @ B
            return H4
        Hl = self.loss.hessian_blocks(P, self.Y) / self.n                 # (n, T, T)
        BH = B[:, :, None, None] * Hl[:, None, :, :]                        # (n, m, T, T)
        return np.tensordot(BH, B, axes=([0], [0])).transpose(0, 1, 3, 2)  # (m, T, m, T)

    def hessian(self, sup: Support, P: np.ndarray, VS: np.ndarray) -> np.ndarray:
        """∇²_X J restricted to the free entries: (N, N), N = mask entries + p·T."""
        if self.T == 1 and self.route != "coupled":
            # one task (rowwise: every entry free): the m × m loss block plus the
            # penalty's 1 × 1 blocks on the diagonal
            if self.route == "gram":
                H = sup.GSS.copy()
            else:
                h = self.loss.curvature(P, self.Y)[:, 0] / self.n
                H = (sup.B.T * h) @ sup.B
            s_ = sup.size
            if s_:
                ar = np.arange(s_)
                H[ar, ar] += self.lam * self.penalty.hessian_blocks(VS)[:, 0, 0]
            return H
        if self.route == "gram" and self.penalty.name == "group":
            # G_SS ⊗ I + blocks c_j (I − u_j u_jᵀ), formed directly (the common case)
            nrm = self.penalty.row_norms(VS)
            return dense_group_hessian(sup.GSS, VS / nrm[:, None], self.lam / nrm)
        H4 = self.loss_hessian(sup, P)
        s_ = sup.size
        if s_:
            ar = np.arange(s_)
            H4[ar, :, ar, :] += self.lam * self.penalty.hessian_blocks(VS)
        m, T = H4.shape[0], H4.shape[1]
        H = H4.reshape(m * T, m * T)
        free = self.free_index(sup)
        return H if free is None else H[np.ix_(free, free)]

    def free_index(self, sup: Support) -> np.ndarray | None:
        """Positions of the free entries in row-major vec X (None: all are free)."""
        if sup.mask.all():
            return None
        full = np.ones((sup.size + self.F.shape[1], self.T), dtype=bool)
        full[:sup.size] = sup.mask
        return np.flatnonzero(full.ravel())

    def unknowns(self, sup: Support) -> int:
        return int(np.count_nonzero(sup.mask)) + self.F.shape[1] * self.T

    def structured(self, sup: Support) -> bool:
        """Whether the Woodbury route of :mod:`.structured` solves this support's systems:
        Gram form, group penalty (blocks c_j (I − u_j u_jᵀ)), T > 1, many unknowns."""
        return (self.route == "gram" and self.penalty.name == "group" and self.T > 1
                and sup.size * self.T > DENSE_NEWTON_SIZE)

    def too_large(self, sup: Support) -> bool:
        return system_too_large(sup.size, self.unknowns(sup), self.structured(sup))

    def newton_steps(self, sup: Support, P: np.ndarray, VS: np.ndarray,
                     grad: np.ndarray) -> Iterator[np.ndarray]:
        """Levenberg-damped Newton steps (H + ρ I)⁻¹ ∇J, shape ((s + p) × T), for the
        ridges ρ of :data:`LEVENBERG` in turn (singular factorizations are skipped)."""
        s_, T = sup.size, self.T
        if self.structured(sup):
            yield from woodbury_ladder(sup.GSS, VS, self.lam, grad)
            return
        H = self.hessian(sup, P, VS)
        free = self.free_index(sup)
        rhs = grad.ravel() if free is None else grad.ravel()[free]
        N, m = H.shape[0], s_ + self.F.shape[1]
        if N == 0:                                   # nothing free: the zero step
            yield np.zeros((m, T))
            return
        for x in ridge_ladder(H, rhs):
            if free is None:
                yield x.reshape(m, T)
            else:
                step = np.zeros(m * T)
                step[free] = x
                yield step.reshape(m, T)

    # entering ----------------------------------------------------------------------
    def entering_step(self, V: np.ndarray, C: np.ndarray, tol_kkt: float,
                      sup: Support | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Proximal steps of the entries off the support that violate their KKT condition.

        With g = Aᵀ∇L(P) (k × T) and the diagonal curvature d_j = (1/n) Σ_i A_ij² h̄_i
        (h̄_i the mean over tasks of diag ∇²ℓ_i), an entry (row, for the group penalty)
        off the support enters with the step prox_{λ/d_j Ω}(−g_j/d_j) when that step is
        nonzero with the threshold λ(1 + ``tol_kkt``). Returns (Δ (k × T), rows entering).
        """
        sup = self.support(V) if sup is None else sup
        P = self.predict(sup, V[sup.S], C)
        g = self.A.T @ self.loss.gradient(P, self.Y)
        if self.rowwise:
            g[sup.S] = 0.0
        else:
            g[self.penalty.support(V)] = 0.0
        k = V.shape[0]
        if not k:
            return np.zeros_like(V), np.zeros(0, dtype=int)
        hit = np.any(self.penalty.prox(-g, self.lam * (1.0 + tol_kkt)) != 0, axis=1)
        rows = np.flatnonzero(hit)
        if not rows.size:
            return np.zeros_like(V), rows
        if self.route == "gram":
            d = np.maximum(np.diag(self.gram)[rows], 1e-300)
        else:
            if self.loss.separable:
                h = self.loss.curvature(P, self.Y)
            else:
                h = np.diagonal(self.loss.hessian_blocks(P, self.Y), axis1=1, axis2=2)
            d = np.maximum((self.A[:, rows] ** 2).T @ np.mean(h, axis=1) / self.n, 1e-12)
        d = d[:, None]
        delta = np.zeros_like(V)
        delta[rows] = self.penalty.prox(-g[rows] / d, self.lam / d)
        return delta, rows
