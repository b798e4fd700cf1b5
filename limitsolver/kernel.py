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
g_t(θ) = Σ_i α_it relu(θ·x̃_i), and ‖f_t‖²_H = α_tᵀ K α_t. For the squared and logistic
losses each task is solved on its own (Y[:, t] alone determines f_t): the kernel regime has
no multi-task benefit. For the softmax loss (``loss="multinomial"``, K classes = T outputs)

    J(f) = (1/n) Σ_i [logsumexp(f(x_i)) − f_{y_i}(x_i)] + (λ/2) Σ_k ‖f_k‖²_H,

the class scores are coupled through the loss only (a softmax kernel ridge regression);
the penalty still charges each output's RKHS norm separately, no neuron is shared.

Solvers (all exact up to rounding):
- squared: (K + nλI) α + F c = y, Fᵀ α = 0 (a symmetric linear system per task, shared
  factorization); with no free part this is scikit-learn's ``KernelRidge(alpha=nλ)``.
- interpolate: the same with λ = 0 (min ‖f‖_H subject to f(x_i) = y_i); objective
  (1/2) Σ_t ‖f_t‖²_H.
- logistic, multinomial: Newton's method with backtracking on f = Bβ + F c, K = B Bᵀ
  (eigenvalue factorization), penalty (λ/2)‖β‖², until the gradient norm is below tol
  (:mod:`limitsolver.kernel_newton`; per task for logistic, jointly over the K classes for
  multinomial).

Certificate: the Fenchel dual of J over (g, c),

    D(u) = −Σ_i φ_i*(−u_i) − (1/(2λ)) uᵀ K u,    Fᵀ u = 0,

(φ_i = ℓ_i/n the per-sample loss, uᵀKu = Σ_t u_tᵀ K u_t) evaluated at u = −∇φ(f) = Z/n
(Z the loss's residual, :mod:`limitsolver.losses`), projected on F^⊥ for the squared loss,
gives a lower bound on the kernel optimum; ``gap`` = J − D. Since φ_i*(v) = ℓ_i*(n v)/n,
−Σ_i φ_i*(−u_i) is the loss's own dual value D_L(Z) = −(1/n) Σ_i ℓ_i*(−Z_i):

- squared: ⟨y, u⟩ − (n/2)‖u‖²;
- logistic: (1/n) Σ_it H_b(y_it Z_it), H_b the binary entropy, y∘Z = σ(−y∘f) ∈ [0, 1];
- multinomial: (1/n) Σ_i H(e_{y_i} − Z_i) = (1/n) Σ_i H(softmax(f(x_i))), H the entropy
  of the class probabilities (in the simplex, so always in the conjugate's domain).

For logistic and multinomial with a free part, Fᵀu = 0 holds at the optimum only (to the
solver's tolerance, reported as ``infeasibility``; the status needs it ≤ 1e-8).
"""
from __future__ import annotations

import time
import warnings

import numpy as np
from numpy.typing import ArrayLike

from .exceptions import ConvergenceWarning
from .kernel_functions import KERNELS, arccos_kernel, kernel_matrix, ntk_kernel
from .kernel_newton import newton_logistic, newton_multinomial
from .losses import get_loss
from .problem import LimitProblem

__all__ = ["arccos_kernel", "ntk_kernel", "kernel_matrix", "KernelSolution",
           "solve_kernel", "solve_kernel_problem", "KERNELS"]


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

    def __init__(self, problem: LimitProblem, kernel: str, alpha: ArrayLike, free_coef: ArrayLike,
                 K: np.ndarray, *, n_quadrature: int | None = None, solver: str = "kernel",
                 info: dict | None = None, depth: int = 1) -> None:
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
            self._certify_smooth(pred, n, lam, rk2)
        self.gap = float(self.objective - self.dual_value)
        self.rel_gap = float(self.gap / max(abs(self.objective), 1e-300))

    def _certify_smooth(self, pred, n: int, lam: float, rk2: float) -> None:
        """Objective, Fenchel dual value and gradient norm for a loss with a conjugate.

        u = Z/n with Z = −n∇L(f) the loss's residual (squared: projected on F^⊥, which keeps
        it in the conjugate's domain ℝ^{n×T}); −Σ_i φ_i*(−u_i) = ``loss.dual_value(n u)``
        (φ_i = ℓ_i/n, so φ_i*(v) = ℓ_i*(n v)/n). For the logistic and softmax losses
        Fᵀu = 0 is not enforced by a projection (it would leave the conjugate's domain);
        it holds at the optimum, and ``infeasibility`` = ‖Fᵀu‖_∞ says how far it is from
        holding, so the dual value is a lower bound exactly when it is 0 (no free part).
        """
        p = self.problem
        loss = get_loss(p.loss)
        self.loss_value = float(loss.value(pred, p.Y))
        self.objective = self.loss_value + 0.5 * lam * rk2
        Z = loss.residual(pred, p.Y)
        if loss.quadratic and p.F.shape[1]:
            Q, _ = np.linalg.qr(p.F)
            Z = Z - Q @ (Q.T @ Z)
        u = Z / n
        conj = float(loss.dual_value(Z, p.Y))
        self.infeasibility = (0.0 if loss.quadratic or not p.F.shape[1]
                              else float(np.max(np.abs(p.F.T @ u))))
        quad = float(np.einsum("it,ij,jt->", u, self.K, u))
        self.dual_value = conj - quad / (2 * lam)
        # gradient of J in (α, c) up to the factor K: r = ∇φ(f) + λα, Fᵀ∇φ(f)
        grad_phi = loss.gradient(pred, p.Y)
        r = grad_phi + lam * self.alpha
        g2 = float(np.einsum("it,ij,jt->", r, self.K, r))
        if p.F.shape[1]:
            g2 += float(np.sum((p.F.T @ grad_phi) ** 2))
        self.grad_norm = float(np.sqrt(max(g2, 0.0)))

    # evaluation ---------------------------------------------------------------------
    def kernel_to_train(self, X: ArrayLike) -> np.ndarray:
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

    def predict(self, X: ArrayLike) -> np.ndarray:
        """f(X) for inputs X (m, d) or (m,) when d = 1; returns (m, T)."""
        p = self.problem
        X = self._check_X(X)
        out = self.kernel_to_train(X) @ self.alpha
        if p.free != "none":
            out = out + self.free_coef[0]
        if p.free == "affine":
            out = out + X @ self.free_coef[1:]
        return out

    def density(self, directions: ArrayLike) -> np.ndarray:
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

    def group_cost(self, directions: ArrayLike | None = None,
                   weights: ArrayLike | None = None) -> float:
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
    if problem.loss in ("logistic", "multinomial"):
        newton = newton_logistic if problem.loss == "logistic" else newton_multinomial
        alpha, C, iters = newton(K, problem.F, problem.Y, problem.lam, tol=tol * 1e-2,
                                 max_iter=max_iter)
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


def solve_kernel(X: ArrayLike, Y: ArrayLike, *, lam: float | None = None,
                 loss: str = "squared", bias: str = "regularized", free: str = "none",
                 kernel: str = "arccos", tol: float = 1e-8, n_quadrature: int | None = None,
                 verbose: bool = False, depth: int = 1) -> KernelSolution:
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
