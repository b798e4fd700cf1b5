"""The kernel (lazy, fixed-feature) baseline: ``penalty="kernel"``.

The first layer is frozen at a uniform random draw θ ~ π and only the output weights are
trained with weight decay; as the width m → ∞ the network becomes ridge regression in the
reproducing-kernel Hilbert space (RKHS) of

    k(x, x') = E_{θ~π} relu(θ·x̃) relu(θ·x̃')                               (MATH.md)

- ``bias="regularized"``: π uniform on S^d, which gives the arc-cosine kernel in closed form

      k(x, x') = ‖x̃‖‖x̃'‖ (sin α + (π − α) cos α) / (2π(d+1)),   α = angle(x̃, x̃').

  (For a standard Gaussian g, E relu(g·a) relu(g·b) is the same without the 1/(d+1); the
  Gaussian's squared norm has mean d+1 and is independent of its direction.)
- ``bias="free"``: π = uniform(w ∈ S^{d−1}) × uniform(b ∈ [−R, R]), R = max‖x_i‖. The
  integral over b is done in closed form; the mean over w is exact for d = 1 (w = ±1) and a
  deterministic quadrature on S^{d−1} otherwise (``n_quadrature`` points), so for d ≥ 2 the
  kernel is a (very accurate) approximation of the π-average.
- ``kernel="ntk"``: the neural tangent kernel of the two-layer ReLU network, which adds the
  first-layer term x̃·x̃' (π − α)/(2π) (= E 1{θ·x̃>0} 1{θ·x̃'>0} x̃·x̃'); for
  ``bias="free"`` the analogous quadrature term with the bias's gradient included.
- ``depth=L`` (default 1): the arc-cosine kernel / NTK of a network with L hidden ReLU
  layers whose first layer has the law π above, composed layer by layer
  (:mod:`limitsolver.deep_kernel`: Cho & Saul 2009; Jacot et al. 2018; Arora et al. 2019).
  Depth 1 is exactly the two-layer kernel; k_L(x, x) = k_1(x, x) at every depth.

What λ means
------------
Write the infinite-width network as f(x) = ∫ relu(θ·x̃) g(θ) dπ(θ) with an output-weight
density g: Θ → R^T. A width-m network with frozen θ_k ~ π and output weights v_k = g(θ_k)/m
has f_m → f, and the mean-field weight decay (λ m / 2) Σ_k ‖v_k‖² → (λ/2) ∫ ‖g‖² dπ.
The kernel problem is therefore

    J(f) = L(f) + (λ/2) Σ_t ‖f_t‖²_H,    ‖f_t‖²_H = min { ∫ g_t² dπ : f_{g_t} = f_t },

with the same loss L as the group problem (squared: (1/(2n)) Σ_i ‖f(x_i) − y_i‖²) and λ
multiplying a norm of the same density g: the group problem charges λ ∫ ‖g‖₂ dπ, the kernel
problem (λ/2) ∫ ‖g‖₂² dπ. By Jensen ∫‖g‖₂ dπ ≤ (∫‖g‖₂² dπ)^{1/2} = ``penalty_value``, and the
kernel solution's density is a feasible measure μ = g dπ for the group problem, so its group
cost L(f) + λ ∫‖g‖₂ dπ is an upper bound on the group optimum (tested). The free part
(intercept c or affine c + Aᵀx) is never penalized.

By the representer theorem f_t = Σ_i α_it k(·, x_i) + free part, the density is
g_t(θ) = Σ_i α_it relu(θ·x̃_i), and ‖f_t‖²_H = α_tᵀ K α_t. Each task is solved on its own
(Y[:, t] alone determines f_t): the kernel regime has no multi-task benefit.

Solvers (all exact up to rounding):
- squared: (K + nλI) α + F c = y, Fᵀ α = 0 (a symmetric linear system per task, shared
  factorization); with no free part this is scikit-learn's ``KernelRidge(alpha=nλ)``.
- interpolate: the same with λ = 0 (min ‖f‖_H subject to f(x_i) = y_i); objective
  (1/2) Σ_t ‖f_t‖²_H.
- logistic: Newton's method with backtracking on f = Bβ + F c, K = B Bᵀ (eigenvalue
  factorization), penalty (λ/2)‖β‖², until the gradient norm is below tol.

Certificate: the Fenchel dual of J over (g, c),

    D(u) = −Σ_i φ_i*(−u_i) − (1/(2λ)) uᵀ K u,    Fᵀ u = 0,

(φ_i the per-sample loss; squared: D = ⟨y, u⟩ − (n/2)‖u‖² − uᵀKu/(2λ)) evaluated at
u = −∇φ(f) projected on F^⊥ for squared loss, gives a lower bound on the kernel optimum;
``gap`` = J − D.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .exceptions import ConvergenceWarning
from .features import augment
from .losses import get_loss
from .problem import LimitProblem

__all__ = ["arccos_kernel", "ntk_kernel", "kernel_matrix", "KernelSolution",
           "solve_kernel", "solve_kernel_problem", "KERNELS"]

KERNELS = ("arccos", "ntk")

#: Default number of quadrature directions w ∈ S^{d−1} for ``bias="free"`` and d ≥ 2.
DEFAULT_QUADRATURE = {2: 2048}
DEFAULT_QUADRATURE_HIGH_D = 8192


def _angles(A: np.ndarray, B: np.ndarray):
    """Norms (m,), (n,) and the angle matrix α (m, n) between rows of A and B."""
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(B, axis=1)
    denom = np.outer(na, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(denom > 0, (A @ B.T) / np.where(denom > 0, denom, 1.0), 1.0)
    np.clip(cos, -1.0, 1.0, out=cos)
    return na, nb, np.arccos(cos), cos


def arccos_kernel(A, B) -> np.ndarray:
    """The degree-1 arc-cosine kernel of augmented inputs, normalized for θ uniform on S^d.

    k(a, b) = ‖a‖‖b‖ (sin α + (π − α) cos α) / (2π D),  D = len(a) = d + 1.

    Parameters
    ----------
    A : ndarray (m, D);  B : ndarray (n, D)   augmented inputs x̃ = (x, 1)

    Returns
    -------
    ndarray (m, n)
    """
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    na, nb, alpha, cos = _angles(A, B)
    J = np.sqrt(np.maximum(1.0 - cos**2, 0.0)) + (np.pi - alpha) * cos
    return np.outer(na, nb) * J / (2 * np.pi * A.shape[1])


def ntk_kernel(A, B) -> np.ndarray:
    """The two-layer ReLU NTK: arc-cosine kernel plus a·b (π − α)/(2π).  Shapes as
    :func:`arccos_kernel`."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    _, _, alpha, _ = _angles(A, B)
    return arccos_kernel(A, B) + (A @ B.T) * (np.pi - alpha) / (2 * np.pi)


def _w_quadrature(d: int, n_quadrature) -> tuple[np.ndarray, np.ndarray]:
    """Directions w on S^{d−1} and weights (summing to 1) for the mean over w."""
    if d == 1:
        return np.array([[1.0], [-1.0]]), np.array([0.5, 0.5])
    if n_quadrature is None:
        n_quadrature = DEFAULT_QUADRATURE.get(d, DEFAULT_QUADRATURE_HIGH_D)
    n_quadrature = int(n_quadrature)
    if n_quadrature < 2:
        raise ValueError(f"n_quadrature must be >= 2, got {n_quadrature}")
    if d == 2:  # midpoint rule on the circle
        phi = (np.arange(n_quadrature) + 0.5) * 2 * np.pi / n_quadrature
        W = np.column_stack([np.cos(phi), np.sin(phi)])
    else:
        from .grids import sphere_grid
        W = sphere_grid(d, n_quadrature, random_state=0)
        W = np.vstack([W, -W])  # symmetric: exact for odd integrands in w
    return W, np.full(W.shape[0], 1.0 / W.shape[0])


def _free_bias_kernels(XA, XB, radius, n_quadrature, *, ntk: bool) -> np.ndarray:
    """E_{w,b} relu(w·x+b) relu(w·x'+b) (+ the NTK first-layer term) for w uniform on
    S^{d−1}, b uniform on [−R, R]; exact in b, quadrature in w."""
    d = XA.shape[1]
    W, wts = _w_quadrature(d, n_quadrature)
    R = float(radius)
    out = np.zeros((XA.shape[0], XB.shape[0]))
    dot1 = XA @ XB.T + 1.0
    # blocks over w keep memory at O(block · m · n)
    m, n = out.shape
    block = max(1, min(W.shape[0], (32 * 2**20) // max(1, 8 * m * n)))
    for s in range(0, W.shape[0], block):
        U = XA @ W[s:s + block].T             # (m, q)
        Up = XB @ W[s:s + block].T            # (n, q)
        u = U.T[:, :, None]                   # (q, m, 1)
        up = Up.T[:, None, :]                 # (q, 1, n)
        lo = np.clip(-np.minimum(u, up), -R, R)

        def prim(b):
            return b**3 / 3 + (u + up) * b**2 / 2 + u * up * b

        val = (prim(R) - prim(lo)) / (2 * R)
        if ntk:
            val = val + dot1[None] * (R - lo) / (2 * R)
        out += np.tensordot(wts[s:s + block], val, axes=(0, 0))
    return out


def _free_bias_diag(X, radius, n_quadrature) -> np.ndarray:
    """k₁(x_i, x_i) = E_{w,b} relu(w·x_i + b)² for the free-bias law, shape (m,)."""
    W, wts = _w_quadrature(X.shape[1], n_quadrature)
    R = float(radius)
    u = X @ W.T                                # (m, q)
    lo = np.clip(-u, -R, R)

    def prim(b):
        return (b + u) ** 3 / 3

    return ((prim(R) - prim(lo)) / (2 * R)) @ wts


def kernel_matrix(XA, XB, *, kernel: str = "arccos", bias: str = "regularized",
                  radius: float | None = None, n_quadrature: int | None = None,
                  depth: int = 1) -> np.ndarray:
    """Kernel matrix between raw inputs XA (m, d) and XB (n, d).

    ``bias="regularized"``: closed form on the augmented inputs (:func:`arccos_kernel`,
    :func:`ntk_kernel`). ``bias="free"``: needs ``radius`` R (the training data's
    max‖x_i‖); see the module docstring. ``depth`` L ≥ 1: the kernel of L hidden ReLU
    layers (:func:`limitsolver.deep_kernel.deep_kernels`).

    Returns
    -------
    ndarray (m, n)
    """
    from .problem import check_option
    check_option("kernel", kernel, KERNELS)
    check_option("bias", bias, ("regularized", "free"))
    XA = np.atleast_2d(np.asarray(XA, dtype=float))
    XB = np.atleast_2d(np.asarray(XB, dtype=float))
    if XA.shape[1] != XB.shape[1]:
        raise ValueError(f"inputs have different dimensions: {XA.shape[1]} and {XB.shape[1]}")
    from .deep_kernel import check_depth, deep_kernels
    depth = check_depth(depth)
    ntk = kernel == "ntk"
    if bias == "regularized":
        A, B = augment(XA), augment(XB)
        k1 = arccos_kernel(A, B)
        if depth == 1:
            return ntk_kernel(A, B) if ntk else k1
        g1 = ntk_kernel(A, B) - k1 if ntk else None
        dA = np.sum(A * A, axis=1) / (2 * A.shape[1])       # k₁(x, x) = ‖x̃‖²/(2D)
        dB = np.sum(B * B, axis=1) / (2 * B.shape[1])
        return deep_kernels(k1, g1, dA, dB, depth, ntk=ntk)
    if radius is None or not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"bias='free' needs a positive radius R, got {radius!r}")
    if depth == 1:
        return _free_bias_kernels(XA, XB, radius, n_quadrature, ntk=ntk)
    k1 = _free_bias_kernels(XA, XB, radius, n_quadrature, ntk=False)
    g1 = _free_bias_kernels(XA, XB, radius, n_quadrature, ntk=True) - k1 if ntk else None
    return deep_kernels(k1, g1, _free_bias_diag(XA, radius, n_quadrature),
                        _free_bias_diag(XB, radius, n_quadrature), depth, ntk=ntk)


class KernelSolution:
    """Solution of the kernel (lazy) problem: f_t = Σ_i α_it k(·, x_i) + free part.

    Attributes
    ----------
    problem : LimitProblem           (``penalty="kernel"``)
    kernel : str                     "arccos" or "ntk"
    depth : int                      hidden ReLU layers L of the kernel (1: two-layer net)
    alpha : ndarray (n, T)           representer coefficients
    free_coef : ndarray (p, T)       free part (rows: intercept, then the affine part)
    K : ndarray (n, n)               training kernel matrix
    objective : float                J = L(f) + (λ/2) Σ_t ‖f_t‖²_H (interpolate: ½ Σ_t ‖f_t‖²_H)
    dual_value, gap, rel_gap : float dual lower bound D(u) and J − D (see module docstring)
    grad_norm : float                norm of the gradient of J in the solver's variables
    infeasibility : float            interpolation: max |f(x_i) − y_i|; else ‖Fᵀu‖_∞
    rkhs_norms : ndarray (T,)        ‖f_t‖_H
    n_neurons : float                ``inf``: every direction θ carries weight
    shared_fraction : float          ``nan``: not defined for a dense measure
    status, solver, info
    """

    n_neurons = float("inf")
    shared_fraction = float("nan")

    def __init__(self, problem, kernel, alpha, free_coef, K, *, n_quadrature=None,
                 solver="kernel", info=None, depth=1):
        self.problem = problem
        self.kernel = kernel
        self.depth = int(depth)
        self.alpha = np.asarray(alpha, dtype=float)
        self.free_coef = np.asarray(free_coef, dtype=float).reshape(-1, problem.T)
        self.K = K
        self.n_quadrature = n_quadrature
        self.solver = solver
        self.status = "unknown"
        self.info = dict(info or {})
        self.lower_bound = None
        self.limit_gap = None
        self._certify()

    # values -----------------------------------------------------------------------
    def _train_pred(self) -> np.ndarray:
        p = self.problem
        return self.K @ self.alpha + p.F @ self.free_coef

    @property
    def rkhs_norms(self) -> np.ndarray:
        """‖f_t‖_H = (α_tᵀ K α_t)^{1/2}, shape (T,)."""
        q = np.einsum("it,ij,jt->t", self.alpha, self.K, self.alpha)
        return np.sqrt(np.maximum(q, 0.0))

    def penalty_value(self, penalty: str | None = None) -> float:
        """(Σ_t ‖f_t‖²_H)^{1/2} = (∫ ‖g‖₂² dπ)^{1/2}, the L²(π) norm of the weight density
        (λ not included). ``penalty`` may only be None or "kernel"."""
        if penalty not in (None, "kernel"):
            raise ValueError("a KernelSolution has only the 'kernel' penalty value; "
                             "use group_cost() for ∫‖g‖₂ dπ")
        return float(np.sqrt(np.sum(self.rkhs_norms**2)))

    def _certify(self):
        p = self.problem
        pred = self._train_pred()
        n, lam = p.n, p.lam
        rk2 = float(np.sum(self.rkhs_norms**2))
        if p.loss == "interpolate":
            self.loss_value = 0.0
            self.objective = 0.5 * rk2
            self.infeasibility = float(np.max(np.abs(pred - p.Y)))
            # dual of min ½αᵀKα s.t. Kα + Fc = y:  max ⟨y,u⟩ − ½uᵀKu, Fᵀu = 0; u = α
            u = self.alpha
            self.dual_value = float(np.sum(p.Y * u) - 0.5 * np.einsum("it,ij,jt->", u, self.K, u))
            self.grad_norm = self.infeasibility
        else:
            loss = get_loss(p.loss)
            self.loss_value = float(loss.value(pred, p.Y))
            self.objective = self.loss_value + 0.5 * lam * rk2
            if p.loss == "squared":
                u = (p.Y - pred) / n
                if p.F.shape[1]:
                    Q, _ = np.linalg.qr(p.F)
                    u = u - Q @ (Q.T @ u)
                conj = float(np.sum(p.Y * u) - 0.5 * n * np.sum(u**2))
                self.infeasibility = 0.0
            else:
                a = 1.0 / (1.0 + np.exp(np.clip(p.Y * pred, -700, 700)))   # σ(−y f)
                u = p.Y * a / n
                with np.errstate(divide="ignore", invalid="ignore"):
                    ent = np.where(a > 0, a * np.log(a), 0.0) + \
                        np.where(a < 1, (1 - a) * np.log1p(-a), 0.0)
                conj = float(-np.sum(ent) / n)
                self.infeasibility = float(np.max(np.abs(p.F.T @ u))) if p.F.shape[1] else 0.0
            quad = float(np.einsum("it,ij,jt->", u, self.K, u))
            self.dual_value = conj - quad / (2 * lam)
            # gradient of J in (α, c) up to the factor K: r = ∇φ(f) + λα, Fᵀ∇φ(f)
            grad_phi = -u if p.loss == "logistic" else (pred - p.Y) / n
            r = grad_phi + lam * self.alpha
            g2 = float(np.einsum("it,ij,jt->", r, self.K, r))
            if p.F.shape[1]:
                g2 += float(np.sum((p.F.T @ grad_phi) ** 2))
            self.grad_norm = float(np.sqrt(max(g2, 0.0)))
        self.gap = float(self.objective - self.dual_value)
        self.rel_gap = float(self.gap / max(abs(self.objective), 1e-300))

    # evaluation ---------------------------------------------------------------------
    def kernel_to_train(self, X) -> np.ndarray:
        """k(X, X_train), shape (m, n)."""
        p = self.problem
        X = self._check_X(X)
        return kernel_matrix(X, p.X, kernel=self.kernel, bias=p.bias, radius=p.radius,
                             n_quadrature=self.n_quadrature, depth=self.depth)

    def _check_X(self, X) -> np.ndarray:
        p = self.problem
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 and p.d == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != p.d:
            raise ValueError(f"X must have shape (m, {p.d}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or inf")
        return X

    def predict(self, X) -> np.ndarray:
        """f(X) for inputs X (m, d) or (m,) when d = 1; returns (m, T)."""
        p = self.problem
        X = self._check_X(X)
        out = self.kernel_to_train(X) @ self.alpha
        if p.free != "none":
            out = out + self.free_coef[0]
        if p.free == "affine":
            out = out + X @ self.free_coef[1:]
        return out

    def density(self, directions) -> np.ndarray:
        """Output-weight density g(θ) = Σ_i α_i relu(θ·x̃_i) at directions (M, d+1) → (M, T)
        (arc-cosine kernel only: the NTK has no such one-layer density)."""
        if self.kernel != "arccos" or self.depth != 1:
            raise ValueError("density() is defined for kernel='arccos' of depth 1 only")
        from .features import relu_features
        theta = np.atleast_2d(np.asarray(directions, dtype=float))
        if theta.shape[1] != self.problem.dim:
            raise ValueError(f"directions must have {self.problem.dim} columns, "
                             f"got shape {theta.shape}")
        return relu_features(self.problem.Xt, theta).T @ self.alpha

    def group_cost(self, directions=None, weights=None) -> float:
        """∫ ‖g(θ)‖₂ dπ(θ) by quadrature: the group penalty of the measure g dπ (λ not
        included). ``directions`` (M, d+1) are samples of π with ``weights`` (default equal);
        by default a fine uniform grid (d = 1) or 20000 quasi-random points."""
        p = self.problem
        if directions is None:
            directions = _pi_samples(p, 20000)
        g = self.density(directions)
        w = np.full(len(g), 1.0 / len(g)) if weights is None else np.asarray(weights, float)
        return float(w @ np.linalg.norm(g, axis=1))

    def summary(self) -> str:
        p = self.problem
        lam = "" if p.loss == "interpolate" else f", lam={p.lam:g}"
        return "\n".join([
            f"KernelSolution(kernel={self.kernel}, depth={self.depth}, loss={p.loss}, "
            f"bias={p.bias}, free={p.free}{lam})",
            f"  objective      {self.objective:.10g}",
            f"  dual gap       {self.gap:.3e} (relative {self.rel_gap:.3e})",
            f"  gradient norm  {self.grad_norm:.3e}",
            f"  RKHS norms     " + ", ".join(f"{v:.4g}" for v in self.rkhs_norms),
            f"  neurons        dense (every direction; tasks solved independently)",
            f"  status         {self.status} ({self.solver})"])

    def __repr__(self) -> str:
        return (f"<KernelSolution kernel={self.kernel!r} objective={self.objective:.6g} "
                f"gap={self.gap:.2e} status={self.status!r}>")


def _pi_samples(problem, m: int) -> np.ndarray:
    """Equal-weight samples of π (the uniform first-layer law) for quadrature."""
    d = problem.d
    if problem.bias == "regularized":
        if d == 1:
            phi = (np.arange(m) + 0.5) * 2 * np.pi / m
            return np.column_stack([np.cos(phi), np.sin(phi)])
        from .grids import sphere_grid
        return sphere_grid(d + 1, m, kind="sobol", random_state=0)
    R = problem.radius
    if d == 1:
        half = m // 2
        b = -R + (np.arange(half) + 0.5) * 2 * R / half
        return np.vstack([np.column_stack([np.ones(half), b]),
                          np.column_stack([-np.ones(half), b])])
    from .grids import sphere_grid
    W = sphere_grid(d, m, kind="sobol", random_state=0)
    b = -R + (np.arange(m) + 0.5) * 2 * R / m
    b = np.random.default_rng(0).permutation(b)
    return np.column_stack([W, b])


# ---- solvers -------------------------------------------------------------------------

def _solve_linear(K, F, Y, shift):
    """Solve [[K + shift I, F], [Fᵀ, 0]] [α; c] = [Y; 0] for all tasks at once."""
    n, p = F.shape
    A = np.zeros((n + p, n + p))
    A[:n, :n] = K + shift * np.eye(n)
    A[:n, n:] = F
    A[n:, :n] = F.T
    rhs = np.vstack([Y, np.zeros((p, Y.shape[1]))])
    try:
        sol = np.linalg.solve(A, rhs)
        if not np.all(np.isfinite(sol)):
            raise np.linalg.LinAlgError
        method = "solve"
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
        method = "lstsq"
    return sol[:n], sol[n:], method


def _newton_logistic(K, F, Y, lam, *, tol, max_iter):
    """Kernel logistic regression per task by Newton's method on f = Bβ + Fc."""
    n = K.shape[0]
    e, U = np.linalg.eigh(K)
    keep = e > max(e.max(), 0.0) * 1e-13
    B = U[:, keep] * np.sqrt(e[keep])
    r, p = B.shape[1], F.shape[1]
    M = np.hstack([B, F])
    reg = np.concatenate([np.full(r, lam), np.zeros(p)])
    T = Y.shape[1]
    alpha = np.zeros((n, T))
    C = np.zeros((p, T))
    iters = []
    for t in range(T):
        y = Y[:, t]
        z = np.zeros(r + p)

        def obj(z):
            f = M @ z
            return float(np.mean(np.logaddexp(0.0, -y * f)) + 0.5 * np.sum(reg * z * z))

        J = obj(z)
        for it in range(max_iter):
            f = M @ z
            s = 1.0 / (1.0 + np.exp(np.clip(y * f, -700, 700)))      # σ(−y f)
            grad = M.T @ (-y * s) / n + reg * z
            gnorm = float(np.linalg.norm(grad))
            if gnorm <= tol:
                break
            w = s * (1 - s) / n
            H = (M.T * w) @ M + np.diag(reg)
            try:
                step = np.linalg.solve(H + 1e-14 * np.eye(r + p), -grad)
            except np.linalg.LinAlgError:
                step = -np.linalg.lstsq(H, grad, rcond=None)[0]
            lr = 1.0
            while lr > 1e-12:
                Jn = obj(z + lr * step)
                if Jn <= J + 1e-4 * lr * float(grad @ step):
                    break
                lr *= 0.5
            z = z + lr * step
            J = obj(z)
        iters.append(it)
        beta = z[:r]
        # α with K α = B β and α in the range of K: α = U diag(1/√e) β
        alpha[:, t] = U[:, keep] @ (beta / np.sqrt(e[keep]))
        C[:, t] = z[r:]
    return alpha, C, iters


def solve_kernel_problem(problem: LimitProblem, *, kernel: str = "arccos", tol: float = 1e-8,
                         n_quadrature: int | None = None, max_iter: int = 100,
                         verbose: bool = False, depth: int = 1) -> KernelSolution:
    """Solve the kernel problem for a validated :class:`LimitProblem` (any penalty field;
    the penalty is taken to be ``"kernel"``). See the module docstring for the objective;
    ``depth`` L selects the kernel of L hidden ReLU layers (default 1)."""
    from .deep_kernel import check_depth
    from .problem import check_option
    check_option("kernel", kernel, KERNELS)
    depth = check_depth(depth)
    if problem.penalty != "kernel":
        problem = _as_kernel_problem(problem)
    t0 = time.perf_counter()
    K = kernel_matrix(problem.X, problem.X, kernel=kernel, bias=problem.bias,
                      radius=problem.radius, n_quadrature=n_quadrature, depth=depth)
    K = 0.5 * (K + K.T)
    info = {}
    if problem.loss == "logistic":
        alpha, C, iters = _newton_logistic(K, problem.F, problem.Y, problem.lam,
                                           tol=tol * 1e-2, max_iter=max_iter)
        solver, info["newton_iterations"] = "kernel-newton", iters
    else:
        shift = 0.0 if problem.loss == "interpolate" else problem.n * problem.lam
        alpha, C, method = _solve_linear(K, problem.F, problem.Y, shift)
        solver = f"kernel-{method}"
    info["time_total"] = time.perf_counter() - t0
    sol = KernelSolution(problem, kernel, alpha, C, K, n_quadrature=n_quadrature,
                         solver=solver, info=info, depth=depth)
    scale = max(1.0, float(np.abs(problem.Y).max()))
    if problem.loss == "interpolate":
        ok = sol.infeasibility <= 1e-7 * scale
        msg = f"interpolation residual {sol.infeasibility:.2e}"
    else:
        ok = abs(sol.rel_gap) <= max(tol, 1e-10) and sol.infeasibility <= 1e-8
        msg = f"relative dual gap {sol.rel_gap:.2e}"
    sol.status = "optimal" if ok else "inaccurate"
    if not ok:
        warnings.warn(f"kernel solver {solver}: {msg} exceeds tol={tol:g} "
                      "(ill-conditioned kernel matrix?)", ConvergenceWarning, stacklevel=3)
    if verbose:
        print(sol.summary())
    return sol


def _as_kernel_problem(problem):
    new = object.__new__(LimitProblem)
    new.__dict__.update(problem.__dict__)
    new.penalty = "kernel"
    return new


def solve_kernel(X, Y, *, lam=None, loss="squared", bias="regularized", free="none",
                 kernel="arccos", tol=1e-8, n_quadrature=None, verbose=False,
                 depth=1) -> KernelSolution:
    """Solve the kernel (lazy) baseline on data X (n, d), Y (n, T).

    Minimizes, for each task independently, L(f) + (λ/2) ‖f_t‖²_H over the RKHS of the
    arc-cosine kernel (``kernel="arccos"``) or the NTK (``kernel="ntk"``) of a ReLU network
    with ``depth`` hidden layers (default 1: the two-layer network), plus an unpenalized
    free part. See the module docstring for the meaning of λ.

    Returns
    -------
    KernelSolution
    """
    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty="kernel", bias=bias, free=free)
    return solve_kernel_problem(problem, kernel=kernel, tol=tol, n_quadrature=n_quadrature,
                                verbose=verbose, depth=depth)
