"""Newton solvers of the kernel problem for the smooth classification losses.

Both work in a square-root factorization of the kernel matrix, K = B Bᵀ (B = U diag(√e)
from K's eigenvalue factorization, eigenvalues below 1e-13·max dropped), with the
predictions f = B β + F c on the training points (F the free-part columns) and the
objective

    J(β, c) = L(B β + F c) + (λ/2) ‖β‖²_F,

which is the kernel problem of :mod:`limitsolver.kernel` (‖f_t‖²_H = ‖β_t‖² for the
representer f_t = K α_t, B β_t = K α_t). The loss value and derivatives come from the loss
objects of :mod:`limitsolver.losses`. Steps are Newton steps with Armijo backtracking until
the gradient norm is below ``tol``; J is strictly convex in β (λ > 0), and the free part is
identified as described per solver.
"""
from __future__ import annotations

import numpy as np

from .losses import LogisticLoss, MultinomialLoss

__all__ = ["kernel_factor", "newton_logistic", "newton_multinomial"]


def kernel_factor(K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B (n, r), U_r (n, r), e_r (r,)): K ≈ B Bᵀ with B = U_r diag(√e_r)."""
    e, U = np.linalg.eigh(K)
    keep = e > max(e.max(), 0.0) * 1e-13
    return U[:, keep] * np.sqrt(e[keep]), U[:, keep], e[keep]


def _coefficients(U, e, beta):
    """α with K α = B β and α in the range of K: α = U diag(1/√e) β."""
    return U @ (beta / np.sqrt(e)[:, None])


def _backtrack(obj, z, J, grad, step):
    """Armijo backtracking from the full step; returns the new point and its value."""
    lr = 1.0
    slope = float(np.sum(grad * step))
    while lr > 1e-12:
        Jn = obj(z + lr * step)
        if Jn <= J + 1e-4 * lr * slope:
            break
        lr *= 0.5
    z = z + lr * step
    return z, obj(z)


def newton_logistic(K: np.ndarray, F: np.ndarray, Y: np.ndarray, lam: float, *, tol: float,
                    max_iter: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Kernel logistic regression, each ±1 task on its own (the tasks decouple).

    Parameters
    ----------
    K : (n, n);  F : (n, p) free-part columns;  Y : (n, T) ±1 labels;  lam : λ > 0

    Returns
    -------
    alpha (n, T), C (p, T), iterations (list of T ints)
    """
    n = K.shape[0]
    B, U, e = kernel_factor(K)
    r, p = B.shape[1], F.shape[1]
    M = np.hstack([B, F])
    reg = np.concatenate([np.full(r, lam), np.zeros(p)])
    T = Y.shape[1]
    alpha, C, iters = np.zeros((n, T)), np.zeros((p, T)), []
    for t in range(T):
        y = Y[:, t:t + 1]

        def obj(z):
            return LogisticLoss.value(M @ z[:, None], y) + 0.5 * float(np.sum(reg * z * z))

        z = np.zeros(r + p)
        J = obj(z)
        it = 0
        for it in range(max_iter):
            f = (M @ z)[:, None]
            grad = M.T @ LogisticLoss.gradient(f, y)[:, 0] + reg * z
            if float(np.linalg.norm(grad)) <= tol:
                break
            w = LogisticLoss.curvature(f, y)[:, 0] / n
            H = (M.T * w) @ M + np.diag(reg)
            try:
                step = np.linalg.solve(H + 1e-14 * np.eye(r + p), -grad)
            except np.linalg.LinAlgError:
                step = -np.linalg.lstsq(H, grad, rcond=None)[0]
            z, J = _backtrack(obj, z, J, grad, step)
        iters.append(it)
        alpha[:, t] = _coefficients(U, e, z[:r, None])[:, 0]
        C[:, t] = z[r:]
    return alpha, C, iters


def newton_multinomial(K: np.ndarray, F: np.ndarray, Y: np.ndarray, lam: float, *, tol: float,
                       max_iter: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Kernel softmax regression: the K_c = T class scores are coupled by the loss.

    Variables β (r × T) and c (p × T); the loss is invariant under c_t → c_t + s for all t
    at once (a free part common to every class), so the free coefficients of the last class
    are fixed at 0, which leaves the optimal value and the predicted probabilities unchanged
    and makes the Newton system nonsingular. Gradient Mᵀ∇L(f) + λ[β; 0]; Hessian
    (1/n) Σ_i (m_i m_iᵀ) ⊗ (diag(p_i) − p_i p_iᵀ) + λ on β (M = [B, F], m_i its rows).

    Parameters
    ----------
    K : (n, n);  F : (n, p);  Y : (n, T) one-hot rows;  lam : λ > 0

    Returns
    -------
    alpha (n, T), C (p, T), iterations (list with one int)
    """
    n, T = Y.shape
    B, U, e = kernel_factor(K)
    r, p = B.shape[1], F.shape[1]
    M = np.hstack([B, F])
    q = r + p
    free = np.ones((q, T), dtype=bool)
    free[r:, T - 1] = False                  # pinned: the last class's free part
    reg = np.zeros((q, T))
    reg[:r] = lam

    def obj(Zv):
        return MultinomialLoss.value(M @ Zv, Y) + 0.5 * float(np.sum(reg * Zv * Zv))

    Zv = np.zeros((q, T))
    J = obj(Zv)
    it = 0
    for it in range(max_iter):
        f = M @ Zv
        grad = (M.T @ MultinomialLoss.gradient(f, Y) + reg * Zv) * free
        if float(np.linalg.norm(grad)) <= tol:
            break
        Hb = MultinomialLoss.hessian_blocks(f, Y) / n                  # (n, T, T)
        H = np.einsum("ia,ib,ikl->akbl", M, M, Hb).reshape(q * T, q * T)
        H[np.diag_indices(q * T)] += reg.ravel()
        idx = np.flatnonzero(free.ravel())
        step = np.zeros(q * T)
        try:
            step[idx] = np.linalg.solve(H[np.ix_(idx, idx)], -grad.ravel()[idx])
        except np.linalg.LinAlgError:
            step[idx] = -np.linalg.lstsq(H[np.ix_(idx, idx)], grad.ravel()[idx],
                                         rcond=None)[0]
        Zv, J = _backtrack(obj, Zv, J, grad, step.reshape(q, T))
    return _coefficients(U, e, Zv[:r]), Zv[r:], [it]
