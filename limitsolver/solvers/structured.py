"""Newton systems of the group lasso on a support (Kronecker structure), and the line searches
that let units leave the support.

On the support S (s rows V_j ≠ 0, T tasks) the Hessian of
(1/(2n))‖Y − A_S V‖² + λ Σ_j ‖V_j‖₂ with respect to vec(V) (row-major, V s × T) is

    H = G ⊗ I_T + ⊕_j c_j (I_T − u_j u_jᵀ),     c_j = λ/‖V_j‖,  u_j = V_j/‖V_j‖,

G = A_Sᵀ A_S / n (s × s). With a ridge ρ (Levenberg damping, H + ρ I) and
K = (G + diag(c) + ρ I) ⊗ I_T it is a rank-s correction of a Kronecker product:

    H + ρ I = K − W diag(c) Wᵀ,     W = [e_1 ⊗ u_1, …, e_s ⊗ u_s]   (sT × s).

Woodbury's identity, with B = G + diag(c) + ρ I (s × s, positive definite since c > 0),

    (H + ρI)⁻¹ g = K⁻¹g + K⁻¹W (diag(1/c) − WᵀK⁻¹W)⁻¹ WᵀK⁻¹g,

where K⁻¹ acts on an s × T matrix X as B⁻¹X, WᵀK⁻¹W = B⁻¹ ∘ (U Uᵀ) (Hadamard product)
and Wᵀ vec(X) = (⟨u_j, X_j⟩)_j. The capacitance matrix diag(1/c) − B⁻¹ ∘ (U Uᵀ) is
positive definite whenever H + ρI is (Schur complements of [[K, W], [Wᵀ, diag(1/c)]]),
so both factorizations are Cholesky. Cost: O(s³ + s² T) per step instead of O(s³ T³) for
the dense sT × sT system.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg.lapack import dposv, dpotrf, dpotri, dpotrs, spotrf, spotri, spotrs

__all__ = ["group_hessian_scale", "group_newton_solve", "WoodburyFactor", "dense_group_hessian",
           "crossing_times", "radial_line_search"]


def group_hessian_scale(GSS: np.ndarray, c: np.ndarray, T: int) -> float:
    """mean(diag(H)) = mean_j (G_jj + c_j (T − 1)/T): the scale the ridge is relative to."""
    return (float(GSS.trace()) + float(c.sum()) * (T - 1) / T) / c.size if c.size else 1.0


def dense_group_hessian(GSS: np.ndarray, U: np.ndarray, c: np.ndarray) -> np.ndarray:
    """H (sT × sT) formed densely (the reference route; small supports only)."""
    s_, T = U.shape
    eye = np.eye(T)
    H4 = GSS[:, None, :, None] * eye[None, :, None, :]       # G_SS ⊗ I_T
    blocks = (eye[None] - U[:, :, None] * U[:, None, :]) * c[:, None, None]
    ar = np.arange(s_)
    H4[ar, :, ar, :] += blocks
    return H4.reshape(s_ * T, s_ * T)


def _diagonal(X: np.ndarray) -> np.ndarray:
    """A writable view of the diagonal of a square X stored contiguously (C or Fortran
    order: the diagonal's stride is s + 1 entries in both)."""
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        raise ValueError("the diagonal view needs a contiguous matrix")
    return X.reshape(-1, order="A")[::X.shape[0] + 1]


def _inverse_and_capacitance(GSS, U, c, ridge, potrf, potri):
    """The Cholesky factor L_B of B = G_SS + diag(c) + ρI, B⁻¹ and the capacitance
    diag(1/c) − B⁻¹ ∘ (U Uᵀ), in the precision of ``U`` (float32 or float64; ``potrf`` and
    ``potri`` the LAPACK routines of that precision). LAPACK directly: the scipy.linalg
    wrappers' checks cost more than these small factorizations."""
    B = GSS.astype(U.dtype)                 # one s × s copy; no dense diagonal matrix
    _diagonal(B)[...] += c + ridge
    LB, info = potrf(B, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrf failed ({info})")
    Binv, info = potri(LB, lower=1)        # B⁻¹ from the factor (lower triangle, mirrored)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotri failed ({info})")
    Binv += Binv.T                          # (the upper triangle is 0: LB is cleaned)
    _diagonal(Binv)[...] *= 0.5
    cap = Binv * (U @ U.T)
    np.negative(cap, out=cap)
    _diagonal(cap)[...] += 1.0 / c
    return LB, Binv, cap


class WoodburyFactor:
    """The factorizations of the Woodbury solve of H + ρI at one point (module docstring).

    Built once from (G_SS, U, c, ρ): the Cholesky factor of B = G_SS + diag(c) + ρI, B⁻¹
    and the Cholesky factor of the capacitance diag(1/c) − B⁻¹ ∘ (U Uᵀ), O(s³) in all;
    :meth:`solve` then costs O(s² T) per right-hand side. Built in float32 it is a
    preconditioner of the float64 system (:mod:`.mixed`).

    Parameters
    ----------
    GSS : ndarray (s, s)   Gram matrix of the support (positive semidefinite).
    U : ndarray (s, T)     unit rows u_j = V_j/‖V_j‖.
    c : ndarray (s,)       curvatures λ/‖V_j‖ > 0.
    ridge : float          ρ > 0 (absolute).
    single : bool          factor and solve in float32 (half the time of float64; a
        preconditioner for :func:`.mixed.refined_step`, not an exact solve).

    Raises numpy.linalg.LinAlgError when a factorization fails (numerically singular).
    """

    def __init__(self, GSS: np.ndarray, U: np.ndarray, c: np.ndarray, ridge: float,
                 single: bool = False) -> None:
        potrf, potri, self._potrs = (spotrf, spotri, spotrs) if single else \
            (dpotrf, dpotri, dpotrs)
        U = U.astype(np.float32 if single else np.float64, copy=False)
        LB, Binv, cap = _inverse_and_capacitance(GSS, U, c, ridge, potrf, potri)
        Lc, info = potrf(cap, lower=1, clean=1)
        if info != 0 or not np.isfinite(Lc).all():
            # (float32 overflows or a capacitance that is not positive definite in its
            # precision are failures too)
            raise np.linalg.LinAlgError(f"the capacitance factorization failed ({info})")
        self.U, self.c, self.ridge = U, c, float(ridge)
        self.LB, self.Binv, self.Lc = LB, Binv, Lc

    @property
    def size(self) -> int:
        return int(self.c.size)

    def solve(self, grad: np.ndarray) -> np.ndarray:
        """X (s × T) with (H + ρI) X = grad, H at the factor's point (float64; computed
        in the factor's precision)."""
        g = grad.astype(self.LB.dtype, copy=False)
        X0 = self._potrs(self.LB, g, lower=1)[0]                       # K⁻¹ g
        w = np.add.reduce(self.U * X0, axis=1)                        # Wᵀ K⁻¹ g
        z = self._potrs(self.Lc, w[:, None], lower=1)[0]
        X = X0 + self.Binv @ (z * self.U)
        if X.dtype != np.float64:
            X = X.astype(np.float64)
        if not np.isfinite(X).all():
            raise np.linalg.LinAlgError("non-finite Newton step")
        return X


def group_newton_solve(GSS: np.ndarray, U: np.ndarray, c: np.ndarray, grad: np.ndarray,
                       ridge: float) -> np.ndarray:
    """Solve (H + ridge·I) X = grad for X (s × T) by the Woodbury route (module docstring);
    arguments as :class:`WoodburyFactor`, grad (s, T). Raises numpy.linalg.LinAlgError when
    a factorization fails (numerically singular).

    The float64 arithmetic of :class:`WoodburyFactor` for one right-hand side, without the
    object, the capacitance system factored and solved in one LAPACK call (dposv)."""
    s_ = GSS.shape[0]
    LB, Binv, cap = _inverse_and_capacitance(GSS, U, c, ridge, dpotrf, dpotri)
    X0 = dpotrs(LB, grad, lower=1)[0]                                  # K⁻¹ g
    w = np.add.reduce(U * X0, axis=1)                                  # Wᵀ K⁻¹ g
    _, z, info = dposv(cap, w[:, None], lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the capacitance factorization failed ({info})")
    X = X0 + Binv @ (z * U)
    if s_ and not np.isfinite(X).all():
        raise np.linalg.LinAlgError("non-finite Newton step")
    return X


def crossing_times(VS: np.ndarray, step: np.ndarray, rowwise: bool) -> np.ndarray:
    """Step lengths t at which a unit of VS − t·step reaches zero (+inf: never).

    A unit is a row V_j (``rowwise``, the group penalty: the radial component
    ⟨V_j, V_j − t s_j⟩ vanishes at t = ‖V_j‖²/⟨s_j, V_j⟩) or an entry V_jt (l1: the entry
    crosses zero at t = V_jt/s_jt). Shape (s,) rowwise, else (s, T); entries that are zero
    (off the support) never cross.
    """
    if rowwise:
        nrm2, a_ = np.add.reduce(VS * VS, axis=1), np.add.reduce(step * VS, axis=1)
    else:
        nrm2, a_ = VS * VS, step * VS
    tc = np.full(a_.shape, np.inf)
    pos = a_ > 0
    tc[pos] = nrm2[pos] / a_[pos]
    return tc


def radial_line_search(VS: np.ndarray, step: np.ndarray,
                       objective: Callable[[np.ndarray, float], float], P0: float, *,
                       rowwise: bool = True, t_floor: float = 1e-12, tc: np.ndarray | None = None
                       ) -> tuple[float, np.ndarray, float] | None:
    """Backtracking along VS − t·step for the active-set Newton method.

    The first trial step is cut where the first unit (row or entry, :func:`crossing_times`)
    reaches zero, and that unit is set exactly to 0 there (it leaves the support); then t
    halves until ``objective(V_new, t)`` is ≤ P0 up to rounding. Returns (t, V_new, P_new),
    or None when no t > ``t_floor`` decreases the objective. ``tc``: the crossing times,
    when the caller has them.
    """
    tc = crossing_times(VS, step, rowwise) if tc is None else tc
    tmin = float(tc.min()) if tc.size else np.inf
    t = min(1.0, tmin)
    cross = np.unravel_index(int(np.argmin(tc)), tc.shape) if tmin <= 1.0 else None
    while t > t_floor:
        Vn = VS - t * step
        if cross is not None and t == tmin:
            Vn[cross] = 0.0
        Pn = objective(Vn, t)
        if Pn <= P0 + 1e-15 * abs(P0):
            return t, Vn, Pn
        t *= 0.5
        cross = None
    return None
