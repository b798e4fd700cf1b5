"""Finite-width shallow ReLU networks trained with weight decay, in NumPy/SciPy.

A network of width m with T outputs (MATH.md, "Data and networks")::

    f(x) = Σ_k v_k · relu(w_k·x + b_k)  (+ free part c + Aᵀx)

    W : (m, d)   b : (m,)   V : (m, T)   c : (T,) (free="intercept"/"affine")
    A : (d, T) (free="affine")

Training objective (the same loss functions as :mod:`limitsolver.losses`)::

    L(f(X)) + (λ/2) (‖V‖² + ‖W‖² + ‖b‖²)     bias="regularized"
    L(f(X)) + (λ/2) (‖V‖² + ‖W‖²)            bias="free"   (hidden biases not penalized)

Single-task penalty (``penalty="l1"``): a T-output network with weight decay has the
*group* limit (a neuron shared by tasks is paid once). The single-task limit is that of T
separate networks. Such a network is represented here as one block-structured network: each
neuron k feeds exactly one task ``tasks[k]`` (the other entries of V_k are fixed at zero),
``width`` neurons per task, m = width · T in all. Because the loss and the penalty are
sums over tasks, training it is training T independent single-output networks.

Conversions to and from the limit's measures μ = Σ_j V_j δ_{θ_j}:

- :meth:`Network.to_measure` gives atoms θ_k = (w_k, b_k)/‖(w_k, b_k)‖ with weights
  v_k ‖(w_k, b_k)‖ (``bias="regularized"``), or θ_k = (w_k, b_k)/‖w_k‖ with weights
  v_k ‖w_k‖ (``bias="free"``, the cylinder convention of :mod:`limitsolver.grids`). The
  function is unchanged and λ · Ω(μ) equals the penalty of the balanced network.
- :meth:`Network.from_measure` is the inverse: each atom becomes one balanced neuron
  (‖v_k‖ = ‖(w_k, b_k)‖, resp. ‖w_k‖), so its training objective equals the measure's
  limit objective L + λ Ω(μ).
"""
from __future__ import annotations

import numpy as np

from .features import augment
from .losses import get_loss
from .penalties import get_penalty
from .problem import BIASES, FREES, PENALTIES, LimitProblem, check_option

__all__ = ["Network", "train", "METHODS"]

METHODS = ("auto", "bfgs", "lbfgs", "adam", "gd")

#: ``method="auto"`` uses full BFGS up to this many parameters, scipy's L-BFGS beyond.
BFGS_MAX_PARAMS = 4000


def _training_loss(loss: str):
    """The loss class for a training loss; interpolation is a constraint, not a loss."""
    if loss == "interpolate":
        raise ValueError("loss='interpolate' is the λ → 0 limit (a constraint F(x_i) = y_i), "
                         "not a training loss; train with loss='squared' and a small lam")
    return get_loss(loss)


def _as_inputs(X, d: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1 and d == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n, {d}), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    return X


def _as_targets(Y, n: int, T: int) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1 and T == 1:
        Y = Y[:, None]
    if Y.shape != (n, T):
        raise ValueError(f"Y must have shape ({n}, {T}), got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("Y contains NaN or inf")
    return Y


class Network:
    """A shallow ReLU network with T outputs and an optional unpenalized free part.

    Parameters
    ----------
    W : array_like (m, d)
        Input weights w_k (rows).
    b : array_like (m,)
        Hidden biases b_k.
    V : array_like (m, T)
        Output weights v_k (rows).
    bias : {"regularized", "free"}
        Whether b enters the weight-decay penalty.
    free : {"none", "intercept", "affine"}
        Free part: nothing, c (T,), or c + Aᵀx.
    intercept : array_like (T,), optional
        c (zeros by default; only with free ≠ "none").
    affine : array_like (d, T), optional
        A (zeros by default; only with free="affine").
    tasks : array_like (m,) of int, optional
        Block structure for the single-task penalty: neuron k feeds task ``tasks[k]`` only
        (V[k, t] must be 0 for t ≠ tasks[k]). None: every neuron feeds every task.

    Attributes
    ----------
    history : ndarray or None
        Objective values along training (set by :func:`train`).
    info : dict
        Training details (method, iterations, message).
    """

    def __init__(self, W, b, V, *, bias="regularized", free="none", intercept=None,
                 affine=None, tasks=None):
        self.bias = check_option("bias", bias, BIASES)
        self.free = check_option("free", free, FREES)
        W = np.array(W, dtype=float, ndmin=2)
        b = np.array(b, dtype=float).reshape(-1)
        V = np.array(V, dtype=float)
        if V.ndim == 1:
            V = V[:, None]
        if W.ndim != 2 or V.ndim != 2:
            raise ValueError(f"W must be (m, d) and V (m, T); got W {W.shape}, V {V.shape}")
        m, d = W.shape
        if b.shape != (m,) or V.shape[0] != m:
            raise ValueError(f"inconsistent widths: W {W.shape}, b {b.shape}, V {V.shape}")
        T = V.shape[1]
        if T == 0 or d == 0:
            raise ValueError(f"need d >= 1 and T >= 1, got W {W.shape}, V {V.shape}")
        for name, arr in (("W", W), ("b", b), ("V", V)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
        self.W, self.b, self.V = W, b, V
        c = np.zeros(T) if intercept is None else np.array(intercept, dtype=float).reshape(-1)
        A = np.zeros((d, T)) if affine is None else np.array(affine, dtype=float).reshape(d, T)
        if c.shape != (T,):
            raise ValueError(f"intercept must have shape ({T},), got {c.shape}")
        if self.free == "none" and np.any(c != 0):
            raise ValueError("a nonzero intercept needs free='intercept' or 'affine'")
        if self.free != "affine" and np.any(A != 0):
            raise ValueError("a nonzero affine part needs free='affine'")
        self.intercept, self.affine = c, A
        if tasks is not None:
            tasks = np.asarray(tasks).reshape(-1)
            if tasks.shape != (m,) or not np.issubdtype(tasks.dtype, np.integer) \
                    or np.any((tasks < 0) | (tasks >= T)):
                raise ValueError(f"tasks must be {m} integers in [0, {T}), got {tasks!r}")
            if np.any(V[self._off_mask(tasks)] != 0):
                raise ValueError("V has nonzero entries outside its neurons' tasks")
        self.tasks = tasks
        self.history = None
        self.info = {}

    # shapes -----------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of hidden neurons m."""
        return self.W.shape[0]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.W.shape[1]

    @property
    def T(self) -> int:
        """Number of outputs (tasks)."""
        return self.V.shape[1]

    @property
    def penalty_kind(self) -> str:
        """"l1" for a block-structured (one task per neuron) network, else "group"."""
        return "group" if self.tasks is None else "l1"

    def _off_mask(self, tasks=None) -> np.ndarray:
        tasks = self.tasks if tasks is None else tasks
        mask = np.ones((len(tasks), self.V.shape[1]), dtype=bool)
        mask[np.arange(len(tasks)), tasks] = False
        return mask

    @property
    def output_mask(self) -> np.ndarray:
        """Boolean (m, T): which entries of V are trainable (all, unless ``tasks`` is set)."""
        if self.tasks is None:
            return np.ones(self.V.shape, dtype=bool)
        return ~self._off_mask()

    def copy(self) -> "Network":
        """A deep copy (without the training history)."""
        return Network(self.W.copy(), self.b.copy(), self.V.copy(), bias=self.bias,
                       free=self.free, intercept=self.intercept.copy(),
                       affine=self.affine.copy(),
                       tasks=None if self.tasks is None else self.tasks.copy())

    # evaluation -------------------------------------------------------------------------
    def _forward(self, X):
        H = X @ self.W.T + self.b
        Hp = np.maximum(H, 0.0)
        F = Hp @ self.V
        if self.free != "none":
            F = F + self.intercept
        if self.free == "affine":
            F = F + X @ self.affine
        return H, Hp, F

    def predict(self, X) -> np.ndarray:
        """f(X) for inputs X (n, d) (or (n,) when d = 1); returns (n, T)."""
        return self._forward(_as_inputs(X, self.d))[2]

    def penalty(self, lam) -> float:
        """(λ/2)(‖V‖² + ‖W‖² + ‖b‖²), with ‖b‖² only for ``bias="regularized"``."""
        sq = float(np.sum(self.V ** 2) + np.sum(self.W ** 2))
        if self.bias == "regularized":
            sq += float(np.sum(self.b ** 2))
        return 0.5 * float(lam) * sq

    def objective(self, X, Y, lam, loss="squared") -> float:
        """Training objective L(f(X)) + penalty(λ) with L from :mod:`limitsolver.losses`."""
        L = _training_loss(loss)
        X = _as_inputs(X, self.d)
        Y = _as_targets(Y, X.shape[0], self.T)
        return L.value(self._forward(X)[2], Y) + self.penalty(lam)

    def objective_and_gradient(self, X, Y, lam, loss="squared"):
        """The objective and its exact gradient.

        With G = ∇_F L = −Z/n (Z the generalized residual of :mod:`limitsolver.losses`),
        H = X Wᵀ + b, D = 1[H > 0] ∘ (G Vᵀ)::

            ∂V = relu(H)ᵀ G + λV      ∂W = Dᵀ X + λW      ∂b = Dᵀ1 (+ λb if regularized)
            ∂c = Gᵀ1                  ∂A = Xᵀ G

        (ReLU'(0) taken as 0; off-task entries of ∂V are zero for block networks.)

        Returns
        -------
        value : float
        grads : dict with keys "W" (m, d), "b" (m,), "V" (m, T), "intercept" (T,),
            "affine" (d, T)
        """
        L = _training_loss(loss)
        X = _as_inputs(X, self.d)
        Y = _as_targets(Y, X.shape[0], self.T)
        return self._value_grad(X, Y, float(lam), L)

    def _value_grad(self, X, Y, lam, L):
        n = X.shape[0]
        H, Hp, F = self._forward(X)
        value = L.value(F, Y) + self.penalty(lam)
        G = -L.residual(F, Y) / n
        gV = Hp.T @ G + lam * self.V
        if self.tasks is not None:
            gV[self._off_mask()] = 0.0
        D = (G @ self.V.T) * (H > 0)
        gW = D.T @ X + lam * self.W
        gb = D.sum(axis=0)
        if self.bias == "regularized":
            gb = gb + lam * self.b
        gc = G.sum(axis=0) if self.free != "none" else np.zeros(self.T)
        gA = X.T @ G if self.free == "affine" else np.zeros((self.d, self.T))
        return value, dict(W=gW, b=gb, V=gV, intercept=gc, affine=gA)

    # flat parameter vectors (trainable entries only) -------------------------------------
    def get_params(self) -> np.ndarray:
        """The trainable parameters as one vector: W, b, V (masked entries), c, A."""
        parts = [self.W.ravel(), self.b, self.V[self.output_mask]]
        if self.free != "none":
            parts.append(self.intercept)
        if self.free == "affine":
            parts.append(self.affine.ravel())
        return np.concatenate(parts)

    def set_params(self, theta) -> None:
        """Inverse of :meth:`get_params` (in place)."""
        theta = np.asarray(theta, dtype=float)
        m, d, T = self.width, self.d, self.T
        mask = self.output_mask
        sizes = [m * d, m, int(mask.sum())]
        sizes += [T] if self.free != "none" else []
        sizes += [d * T] if self.free == "affine" else []
        if theta.shape != (sum(sizes),):
            raise ValueError(f"parameter vector must have length {sum(sizes)}, got {theta.shape}")
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        self.W = parts[0].reshape(m, d).copy()
        self.b = parts[1].copy()
        V = np.zeros((m, T))
        V[mask] = parts[2]
        self.V = V
        if self.free != "none":
            self.intercept = parts[3].copy()
        if self.free == "affine":
            self.affine = parts[4].reshape(d, T).copy()

    def flat_gradient(self, grads: dict) -> np.ndarray:
        """Gradient dict of :meth:`objective_and_gradient` in the layout of :meth:`get_params`."""
        parts = [grads["W"].ravel(), grads["b"], grads["V"][self.output_mask]]
        if self.free != "none":
            parts.append(grads["intercept"])
        if self.free == "affine":
            parts.append(grads["affine"].ravel())
        return np.concatenate(parts)

    # rescaling, pruning, measures ----------------------------------------------------------
    def _scales(self) -> np.ndarray:
        """Per-neuron norm of the penalized first-layer part: ‖(w_k, b_k)‖ or ‖w_k‖."""
        if self.bias == "regularized":
            return np.sqrt(np.sum(self.W ** 2, axis=1) + self.b ** 2)
        return np.linalg.norm(self.W, axis=1)

    def balanced(self) -> "Network":
        """The same function with every neuron rescaled so ‖v_k‖ = ‖(w_k, b_k)‖ (or ‖w_k‖
        for free bias); the penalty becomes λ Σ_k ‖v_k‖‖(w_k, b_k)‖ ≤ the original
        (ReLU is positively homogeneous). Neurons with a zero side are left unchanged."""
        net = self.copy()
        a = net._scales()
        v = np.linalg.norm(net.V, axis=1)
        ok = (a > 0) & (v > 0)
        s = np.ones_like(a)
        s[ok] = np.sqrt(v[ok] / a[ok])
        net.W *= s[:, None]
        net.b = net.b * s
        net.V /= s[:, None]
        return net

    def active(self, tol: float = 0.0) -> np.ndarray:
        """Boolean (m,): neurons whose size ‖v_k‖·‖(w_k, b_k)‖ exceeds ``tol`` times the
        largest size (``tol=0``: all neurons that are not exactly zero)."""
        size = np.linalg.norm(self.V, axis=1) * np.sqrt(np.sum(self.W ** 2, axis=1)
                                                         + self.b ** 2)
        if size.size == 0:
            return np.zeros(0, dtype=bool)
        return size > tol * float(size.max())

    def prune(self, tol: float = 1e-6) -> "Network":
        """A copy without the neurons whose size ‖v_k‖·‖(w_k, b_k)‖ is at most ``tol``
        times the largest one (``tol=0``: drop exactly-zero neurons only)."""
        keep = self.active(tol)
        net = self.copy()
        net.W, net.b, net.V = net.W[keep], net.b[keep], net.V[keep]
        if net.tasks is not None:
            net.tasks = net.tasks[keep]
        return net

    def n_active(self, tol: float = 1e-6) -> int:
        """Number of neurons kept by :meth:`prune` with the same ``tol``."""
        return int(self.active(tol).sum())

    def to_measure(self):
        """The network as a measure μ = Σ_k V_k δ_{θ_k} (plus the unchanged free part).

        ``bias="regularized"``: θ_k = (w_k, b_k)/‖(w_k, b_k)‖ ∈ S^d, V_k = v_k ‖(w_k, b_k)‖;
        ``bias="free"``: θ_k = (w_k, b_k)/‖w_k‖ (‖w‖ = 1, the cylinder convention),
        V_k = v_k ‖w_k‖. The function is unchanged, and λ Σ_k ‖V_k‖ (group; Σ_t |V_kt| for a
        block network, the same number) equals ``self.balanced().penalty(λ)``. Neurons
        with ‖v_k‖ = 0 or a zero penalized part (relu(θ·x̃) ≡ 0) are dropped.

        Returns
        -------
        directions : ndarray (k, d+1);  weights : ndarray (k, T)

        Raises
        ------
        ValueError
            For ``bias="free"``, a neuron with w_k = 0, b_k > 0 and v_k ≠ 0 is the constant
            relu(b_k) v_k, which is no atom of the cylinder.
        """
        a = self._scales()
        v = np.linalg.norm(self.V, axis=1)
        if self.bias == "free":
            const = (a == 0) & (self.b > 0) & (v > 0)
            if const.any():
                k = int(np.flatnonzero(const)[0])
                raise ValueError(
                    f"neuron {k} has w = 0 with bias='free': it is the constant "
                    f"relu(b) v = {self.b[k] * self.V[k]}, not an atom of the cylinder; "
                    "move it into the intercept first")
        keep = (a > 0) & (v > 0)
        theta = np.column_stack([self.W, self.b])[keep] / a[keep, None]
        return theta, self.V[keep] * a[keep, None]

    def penalty_of_measure(self, lam) -> float:
        """λ Ω(μ) of :meth:`to_measure` (the balanced penalty)."""
        _, weights = self.to_measure()
        return float(lam) * get_penalty(self.penalty_kind).value(weights)

    @classmethod
    def from_measure(cls, directions, weights, *, bias="regularized", free="none",
                     intercept=None, affine=None, penalty="group") -> "Network":
        """A balanced network with the function of μ = Σ_j V_j δ_{θ_j} (+ free part).

        Each direction is first normalized (‖θ‖ = 1, or ‖w‖ = 1 for ``bias="free"``); an
        atom (θ, V) becomes the neuron (w, b) = √‖V‖ θ, v = V/√‖V‖, whose penalty
        (λ/2)(‖v‖² + ‖(w, b)‖²) is λ‖V‖. With ``penalty="l1"`` each atom is split into one
        neuron per task with V_t ≠ 0 (a block network), so the penalty is λ Σ_t |V_t|.
        Atoms with V = 0 are dropped.

        Parameters
        ----------
        directions : array_like (k, d+1);  weights : array_like (k, T)
        intercept : array_like (T,), optional;  affine : array_like (d, T), optional
        """
        bias = check_option("bias", bias, BIASES)
        penalty = check_option("penalty", penalty, PENALTIES[:2])
        G = np.array(directions, dtype=float, ndmin=2)
        Vm = np.array(weights, dtype=float)
        if Vm.ndim == 1:
            Vm = Vm[:, None]
        if G.ndim != 2 or Vm.ndim != 2 or G.shape[0] != Vm.shape[0] or G.shape[1] < 2:
            raise ValueError(f"directions must be (k, d+1) and weights (k, T) with the same k, "
                             f"got {G.shape} and {Vm.shape}")
        if not (np.all(np.isfinite(G)) and np.all(np.isfinite(Vm))):
            raise ValueError("directions or weights contain NaN or inf")
        norms = np.linalg.norm(G if bias == "regularized" else G[:, :-1], axis=1)
        if np.any(norms <= 1e-300):
            raise ValueError(f"direction {int(np.argmin(norms))} is zero in its penalized part")
        G = G / norms[:, None]
        T = Vm.shape[1]
        tasks = None
        if penalty == "l1":
            j, t = np.nonzero(Vm)
            G = G[j]
            V1 = np.zeros((len(j), T))
            V1[np.arange(len(j)), t] = Vm[j, t]
            Vm, tasks = V1, t.astype(int)
        else:
            keep = np.linalg.norm(Vm, axis=1) > 0
            G, Vm = G[keep], Vm[keep]
        s = np.sqrt(np.linalg.norm(Vm, axis=1))
        s_safe = np.where(s > 0, s, 1.0)
        return cls(G[:, :-1] * s[:, None], G[:, -1] * s, Vm / s_safe[:, None], bias=bias,
                   free=free, intercept=intercept, affine=affine, tasks=tasks)

    def __repr__(self) -> str:
        kind = "" if self.tasks is None else ", block (one task per neuron)"
        return (f"<Network width={self.width} d={self.d} T={self.T} bias={self.bias!r} "
                f"free={self.free!r}{kind}>")


# -------------------------------------------------------------------------------------------
# training
# -------------------------------------------------------------------------------------------

def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _init_network(problem: LimitProblem, width: int, init_scale: float, rng, tasks):
    """Random start: (w_k, b_k) with i.i.d. N(0, 1) entries, rescaled to norm
    ``init_scale``; for free bias the kinks −b_k/‖w_k‖ uniform in [−R, R]; v_k i.i.d.
    N(0, init_scale²/m)."""
    m = width if tasks is None else len(tasks)
    d, T = problem.d, problem.T
    W = rng.standard_normal((m, d))
    b = -rng.uniform(-1.0, 1.0, m) * max(problem.radius, 1e-12) * np.linalg.norm(W, axis=1)
    if problem.bias == "regularized":
        nrm = np.sqrt(np.sum(W ** 2, axis=1) + b ** 2)
    else:
        nrm = np.linalg.norm(W, axis=1)
    nrm = np.maximum(nrm, 1e-12)
    W = init_scale * W / nrm[:, None]
    b = init_scale * b / nrm
    V = init_scale * rng.standard_normal((m, T)) / np.sqrt(m)
    if tasks is not None:
        off = np.ones((m, T), dtype=bool)
        off[np.arange(m), tasks] = False
        V[off] = 0.0
    return Network(W, b, V, bias=problem.bias, free=problem.free, tasks=tasks)


def _weak_wolfe(fg, x, f, g, p, c1=1e-4, c2=0.9, max_iter=60):
    """Bisection line search for the weak Wolfe conditions (Lewis & Overton): works on
    the piecewise-smooth training objective, where exact line searches stall at kinks."""
    gp = float(g @ p)
    t, lo, hi = 1.0, 0.0, np.inf
    xn, fn, gn = x, f, g
    for _ in range(max_iter):
        xn = x + t * p
        fn, gn = fg(xn)
        if not np.isfinite(fn) or fn > f + c1 * t * gp:
            hi = t
        elif float(gn @ p) < c2 * gp:
            lo = t
        else:
            return xn, fn, gn, True
        t = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * lo
    return xn, fn, gn, False


def _single_threaded_blas():
    """One BLAS thread while BFGS runs (its O(p²) level-2 updates are memory-bound; with
    several threads on a busy machine they ran 10× slower). Uses threadpoolctl when
    installed (it comes with scikit-learn), else does nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _bfgs(fg, x, steps, report):
    """Full-memory BFGS with a weak Wolfe line search (Lewis & Overton, "Nonsmooth
    optimization via quasi-Newton methods", Math. Program. 2013). On the ReLU training
    objective, whose minimizers sit on kinks (neurons with a kink at a data point), it
    reaches 1e-6-relative accuracy where scipy's L-BFGS stops at ~1e-3. The inverse
    Hessian is kept as the upper triangle of a Fortran array and updated in place by BLAS
    (dsymv, dsyr2, dsyr): O(p²) per step, no temporaries.

    Returns (x, iterations, message)."""
    from scipy.linalg.blas import dsymv, dsyr, dsyr2
    f, g = fg(x)
    H = None
    for k in range(1, steps + 1):
        p = -dsymv(1.0, H, g) if H is not None else -g
        if float(g @ p) >= 0:  # not a descent direction: restart from steepest descent
            H, p = None, -g
        if not np.any(p):
            return x, k - 1, "zero gradient"
        xn, fn, gn, ok = _weak_wolfe(fg, x, f, g, p)
        if not ok:  # Lewis–Overton's stopping rule: no weak Wolfe point at machine precision
            if fn < f and report(k, fn):
                return xn, k, "stopped by callback"
            if fn < f:
                return xn, k, "line search failed (converged to machine precision)"
            return x, k - 1, "line search failed (converged to machine precision)"
        s, y = xn - x, gn - g
        x, f, g = xn, fn, gn
        if report(k, f):
            return x, k, "stopped by callback"
        sy = float(s @ y)
        if sy > 0:
            if H is None:
                H = np.asfortranarray((sy / float(y @ y)) * np.eye(len(x)))
            rho = 1.0 / sy
            Hy = dsymv(1.0, H, y)
            # H ← H − ρ(s Hyᵀ + Hy sᵀ) + (ρ² yᵀHy + ρ) s sᵀ
            H = dsyr2(-rho, s, Hy, a=H, overwrite_a=1)
            H = dsyr(rho * rho * float(y @ Hy) + rho, s, a=H, overwrite_a=1)
    return x, steps, "reached steps"


def train(X, Y, *, lam, width=None, loss="squared", penalty="group", bias="regularized",
          free="none", method="auto", steps=3000, init_scale=1.0, random_state=0,
          callback=None, init=None, lr=None, tol=1e-12) -> Network:
    """Train a width-m shallow ReLU network with weight decay, full batch.

    Minimizes L(f(X)) + (λ/2)(‖V‖² + ‖W‖² [+ ‖b‖² if bias="regularized"]) over all
    parameters (the free part c, A unpenalized), with L from :mod:`limitsolver.losses`.

    Parameters
    ----------
    X : array_like (n, d) or (n,);  Y : array_like (n, T) or (n,)
        Validated by :class:`~limitsolver.problem.LimitProblem` (same checks as ``solve``).
    lam : float
        λ > 0.
    width : int
        Hidden neurons m (per task for ``penalty="l1"``, m · T in all). Optional when
        ``init`` is given.
    loss : {"squared", "logistic"}
        ``"interpolate"`` is not a training loss (ValueError).
    penalty : {"group", "l1"}
        ``group``: one T-output network (its limit is the multi-task problem). ``l1``: T
        independent single-output networks of ``width`` neurons each, stored as one block
        network (see :class:`Network`); its limit is the single-task problem.
    bias, free : str
        As in :class:`~limitsolver.problem.LimitProblem`.
    method : {"auto", "bfgs", "lbfgs", "adam", "gd"}
        ``bfgs``: full BFGS with a weak Wolfe line search (Lewis–Overton), the method that
        reaches the limit to ~1e-6 relative: the minimizers have kinks at data points,
        where the objective is not differentiable, and scipy's L-BFGS stalls near 1e-3;
        ``lbfgs``: scipy.optimize.minimize(method="L-BFGS-B") with the exact gradient
        (memory O(#params), for wide networks); ``auto``: bfgs up to
        ``BFGS_MAX_PARAMS`` = 4000 parameters, lbfgs beyond;
        ``adam``: Adam (β = 0.9, 0.999) with step ``lr`` (default 1e-2);
        ``gd``: gradient descent with step ``lr`` (default 1e-1).
    steps : int
        Iterations (L-BFGS: ``maxiter``; BFGS stops earlier when no decrease is found).
    init_scale : float
        Norm of each neuron's (w_k, b_k) at the start (output weights N(0, init_scale²/m)).
    random_state : None, int or Generator
        Seed of the initialization; equal seeds give bit-identical runs.
    callback : callable, optional
        ``callback(step, network, objective)`` after each iteration; returning True stops.
    init : Network, optional
        Start from a copy of this network (e.g. ``LimitSolution.to_network()``).
    lr : float, optional
        Step size for adam and gd.
    tol : float
        L-BFGS ``ftol`` and ``gtol``.

    Returns
    -------
    Network
        The trained network, with ``history`` (objective at the start and after each
        iteration) and ``info`` (method, iterations, message).
    """
    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
    L = _training_loss(problem.loss)
    if problem.penalty == "kernel":
        raise ValueError("penalty='kernel' is the lazy regime (frozen first layer); train "
                         "takes penalty='group' or 'l1'")
    method = check_option("method", method, METHODS)
    steps = _check_int("steps", steps, 0)
    if not (np.isscalar(init_scale) and np.isfinite(init_scale) and init_scale > 0):
        raise ValueError(f"init_scale must be a positive number, got {init_scale!r}")
    if lr is not None and not (np.isscalar(lr) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable")
    Xa, Ya, lam = problem.X, problem.Y, problem.lam
    if init is not None:
        if not isinstance(init, Network):
            raise ValueError(f"init must be a Network, got {type(init).__name__}")
        if (init.d, init.T) != (problem.d, problem.T):
            raise ValueError(f"init has d={init.d}, T={init.T}; the data have "
                             f"d={problem.d}, T={problem.T}")
        if (init.bias, init.free, init.penalty_kind) != (problem.bias, problem.free,
                                                         problem.penalty):
            raise ValueError(
                f"init has bias={init.bias!r}, free={init.free!r}, penalty="
                f"{init.penalty_kind!r}; train was called with bias={problem.bias!r}, "
                f"free={problem.free!r}, penalty={problem.penalty!r}")
        net = init.copy()
    else:
        if width is None:
            raise ValueError("width is required when no init network is given")
        width = _check_int("width", width, 1)
        rng = np.random.default_rng(random_state)
        tasks = None
        if problem.penalty == "l1":
            tasks = np.repeat(np.arange(problem.T), width)
        net = _init_network(problem, width, float(init_scale), rng, tasks)

    def fg(theta):
        net.set_params(theta)
        value, grads = net._value_grad(Xa, Ya, lam, L)
        return value, net.flat_gradient(grads)

    theta = net.get_params()
    if method == "auto":
        method = "bfgs" if theta.size <= BFGS_MAX_PARAMS else "lbfgs"
    history = [fg(theta)[0]]
    info = dict(method=method, steps=steps)

    stop = [False]

    def report(k, value):
        history.append(float(value))
        if callback is not None and callback(k, net, float(value)):
            stop[0] = True
        return stop[0]

    if method == "bfgs":
        with _single_threaded_blas():
            theta, it, msg = _bfgs(fg, theta, steps, report)
        info.update(iterations=it, message=msg, success=True)
    elif method == "lbfgs":
        from scipy.optimize import minimize
        if steps > 0:
            counter = [0]

            def cb(intermediate_result):
                counter[0] += 1
                net.set_params(intermediate_result.x)
                if report(counter[0], intermediate_result.fun / scale):
                    raise StopIteration

            # ftol is relative to max(|f|, 1): rescale so tol is relative for small f too
            scale = 1.0 / max(abs(history[0]), 1e-300)

            def fg_scaled(th):
                value, grad = fg(th)
                return value * scale, grad * scale

            res = minimize(fg_scaled, theta, jac=True, method="L-BFGS-B", callback=cb,
                           options=dict(maxiter=steps, maxfun=4 * steps + 20, ftol=tol,
                                        gtol=tol, maxcor=30))
            theta = res.x
            info.update(iterations=int(res.nit), message=str(res.message),
                        success=bool(res.success))
        else:
            info.update(iterations=0, message="steps=0", success=True)
    else:
        lr = (1e-2 if method == "adam" else 1e-1) if lr is None else float(lr)
        m1 = np.zeros_like(theta)
        m2 = np.zeros_like(theta)
        b1, b2, eps = 0.9, 0.999, 1e-8
        k = 0
        for k in range(1, steps + 1):
            _, g = fg(theta)
            if method == "adam":
                m1 = b1 * m1 + (1 - b1) * g
                m2 = b2 * m2 + (1 - b2) * g * g
                step = lr * (m1 / (1 - b1 ** k)) / (np.sqrt(m2 / (1 - b2 ** k)) + eps)
            else:
                step = lr * g
            theta = theta - step
            net.set_params(theta)
            value = net._value_grad(Xa, Ya, lam, L)[0]
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"{method} diverged at step {k} (objective {value}); lower lr={lr:g}")
            if report(k, value):
                break
        info.update(iterations=k, message="stopped by callback" if stop[0] else
                    "reached steps", success=True, lr=lr)
    net.set_params(theta)
    net.history = np.array(history)
    net.info = info
    net.info["objective"] = float(fg(theta)[0])
    return net
