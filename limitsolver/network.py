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
from numpy.typing import ArrayLike

from .losses import get_loss
from .penalties import get_penalty
from .problem import BIASES, FREES, PENALTIES, check_option

__all__ = ["Network", "training_loss"]


def training_loss(loss: str) -> type:
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


def _as_targets(Y, n: int, T: int, loss: str = "squared") -> np.ndarray:
    """Y as (n, T) floats; for ``loss="multinomial"`` 1-D integer labels in 0..T−1 (the
    output index of each sample's class) become one-hot rows."""
    Y = np.asarray(Y, dtype=float)
    if loss == "multinomial" and Y.ndim == 1 and Y.shape[0] == n:
        if np.any((Y != np.round(Y)) | (Y < 0) | (Y >= T)):
            raise ValueError(f"multinomial labels must be output indices 0..{T - 1}")
        Y = np.eye(T)[Y.astype(int)]
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
        Objective values along training (set by :func:`~limitsolver.trainer.train`).
    info : dict
        Training details (method, iterations, message).
    """

    def __init__(self, W: ArrayLike, b: ArrayLike, V: ArrayLike, *, bias: str = "regularized",
                 free: str = "none", intercept: ArrayLike | None = None,
                 affine: ArrayLike | None = None, tasks: ArrayLike | None = None) -> None:
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

    def predict(self, X: ArrayLike) -> np.ndarray:
        """f(X) for inputs X (n, d) (or (n,) when d = 1); returns (n, T)."""
        return self._forward(_as_inputs(X, self.d))[2]

    def penalty(self, lam: float) -> float:
        """(λ/2)(‖V‖² + ‖W‖² + ‖b‖²), with ‖b‖² only for ``bias="regularized"``."""
        sq = float(np.sum(self.V ** 2) + np.sum(self.W ** 2))
        if self.bias == "regularized":
            sq += float(np.sum(self.b ** 2))
        return 0.5 * float(lam) * sq

    def objective(self, X: ArrayLike, Y: ArrayLike, lam: float, loss: str = "squared") -> float:
        """Training objective L(f(X)) + penalty(λ) with L from :mod:`limitsolver.losses`;
        Y (n, T), for ``loss="multinomial"`` one-hot rows or output indices (n,)."""
        L = training_loss(loss)
        X = _as_inputs(X, self.d)
        Y = _as_targets(Y, X.shape[0], self.T, loss)
        return L.value(self._forward(X)[2], Y) + self.penalty(lam)

    def objective_and_gradient(self, X: ArrayLike, Y: ArrayLike, lam: float,
                               loss: str = "squared") -> tuple[float, dict[str, np.ndarray]]:
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
        L = training_loss(loss)
        X = _as_inputs(X, self.d)
        Y = _as_targets(Y, X.shape[0], self.T, loss)
        return self.value_and_grads(X, Y, float(lam), L)

    def value_and_grads(self, X: np.ndarray, Y: np.ndarray, lam: float,
                        L: type) -> tuple[float, dict[str, np.ndarray]]:
        """:meth:`objective_and_gradient` on validated arrays X (n, d), Y (n, T) and a loss
        class ``L`` of :mod:`limitsolver.losses` (no checks: the trainer's inner loop)."""
        H, Hp, F = self._forward(X)
        value = L.value(F, Y) + self.penalty(lam)
        G = L.gradient(F, Y)
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

    def set_params(self, theta: ArrayLike) -> None:
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
    def scales(self) -> np.ndarray:
        """Per-neuron norm of the penalized first-layer part: ‖(w_k, b_k)‖ or ‖w_k‖."""
        if self.bias == "regularized":
            return np.sqrt(np.sum(self.W ** 2, axis=1) + self.b ** 2)
        return np.linalg.norm(self.W, axis=1)

    def balanced(self) -> "Network":
        """The same function with every neuron rescaled so ‖v_k‖ = ‖(w_k, b_k)‖ (or ‖w_k‖
        for free bias); the penalty becomes λ Σ_k ‖v_k‖‖(w_k, b_k)‖ ≤ the original
        (ReLU is positively homogeneous). Neurons with a zero side are left unchanged."""
        net = self.copy()
        a = net.scales()
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

    def to_measure(self) -> tuple[np.ndarray, np.ndarray]:
        """The network as a measure μ = Σ_k V_k δ_{θ_k} (plus the unchanged free part);
        see :func:`limitsolver.network_measure.measure_of_network`.

        Returns
        -------
        directions : ndarray (k, d+1);  weights : ndarray (k, T)
        """
        from .network_measure import measure_of_network
        return measure_of_network(self)

    def penalty_of_measure(self, lam: float) -> float:
        """λ Ω(μ) of :meth:`to_measure` (the balanced penalty)."""
        _, weights = self.to_measure()
        return float(lam) * get_penalty(self.penalty_kind).value(weights)

    @classmethod
    def from_measure(cls, directions: ArrayLike, weights: ArrayLike, *, bias: str = "regularized",
                     free: str = "none", intercept: ArrayLike | None = None,
                     affine: ArrayLike | None = None, penalty: str = "group") -> "Network":
        """A balanced network with the function of μ = Σ_j V_j δ_{θ_j} (+ free part); see
        :func:`limitsolver.network_measure.neurons_of_measure` (each atom one balanced
        neuron, or one per task with V_t ≠ 0 for ``penalty="l1"``, so the training
        penalty is λ Ω(μ)).

        Parameters
        ----------
        directions : array_like (k, d+1);  weights : array_like (k, T)
        intercept : array_like (T,), optional;  affine : array_like (d, T), optional
        """
        from .network_measure import neurons_of_measure
        bias = check_option("bias", bias, BIASES)
        penalty = check_option("penalty", penalty, PENALTIES[:2])
        W, b, V, tasks = neurons_of_measure(directions, weights, bias=bias, penalty=penalty)
        return cls(W, b, V, bias=bias, free=free, intercept=intercept, affine=affine,
                   tasks=tasks)

    def __repr__(self) -> str:
        kind = "" if self.tasks is None else ", block (one task per neuron)"
        return (f"<Network width={self.width} d={self.d} T={self.T} bias={self.bias!r} "
                f"free={self.free!r}{kind}>")
