"""The ReLU feature map, the one place where ``relu(θ·x̃)`` is computed.

For inputs ``X`` (n × d) the augmented inputs are ``X̃ = [X, 1]`` (n × (d+1)); a direction
``θ = (w, b)`` in R^{d+1} gives the feature column ``Φ[:, j] = relu(X̃ θ_j)``.  The same
formula serves both bias conventions (MATH.md): with ``bias="regularized"`` the directions
lie on the unit sphere S^d, with ``bias="free"`` on the cylinder ‖w‖ = 1, |b| ≤ R.

Every routine that touches Φ goes through :func:`relu_features`; the blocked products
:func:`features_matvec` and :func:`features_rmatvec` evaluate ``Φ V`` and ``Φᵀ Z`` without
forming all of Φ when it would exceed a memory budget.
"""
from __future__ import annotations

import numpy as np

from .budget import blas_threads

__all__ = [
    "augment",
    "relu_features",
    "relu_inplace",
    "features_matvec",
    "features_rmatvec",
    "correlation_norm_gradient",
    "norm_subgradient",
    "DEFAULT_BLOCK_BYTES",
]

#: Memory budget (bytes) of one block of Φ in the blocked products.
DEFAULT_BLOCK_BYTES = 64 * 2**20

#: n·M above which :func:`features_rmatvec` builds its blocks with one BLAS thread: the
#: build, a product with inner dimension d+1, is bound by writing its output, and a second
#: thread contending for a shared core made it about twice slower (measured, 2 cores).
SINGLE_THREAD_ABOVE = 2**22


#: Entries of the zero array :func:`relu_inplace` compares against, per chunk.
ZERO_CHUNK = 2**18

_ZEROS: dict = {}


def relu_inplace(a: np.ndarray) -> np.ndarray:
    """a ← max(a, 0) in place (any shape, float32 or float64); returns ``a``.

    The same values as ``np.maximum(a, 0.0, out=a)`` (up to the sign of zero entries), by
    comparing against a zero array rather than a scalar: NumPy's maximum against a scalar
    runs an unvectorized loop (measured, NumPy 2.4, 2-core x86-64: 2.2 ns per float32
    entry against 0.3 ns with an array operand; float64 1.1 against 0.7 ns). Contiguous
    arrays (C or Fortran order) go by chunks of :data:`ZERO_CHUNK` entries against one
    cached zero array per dtype; others by the scalar route."""
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
    elif a.flags.f_contiguous:
        flat = a.T.reshape(-1)
    else:
        np.maximum(a, 0.0, out=a)
        return a
    z = _ZEROS.get(flat.dtype)
    if z is None:
        z = _ZEROS[flat.dtype] = np.zeros(ZERO_CHUNK, dtype=flat.dtype)
    for s in range(0, flat.size, ZERO_CHUNK):
        piece = flat[s:s + ZERO_CHUNK]
        np.maximum(piece, z[:piece.size], out=piece)
    return a


def augment(X: np.ndarray) -> np.ndarray:
    """Return the augmented inputs ``X̃ = [X, 1]``, shape (n, d+1)."""
    X = np.asarray(X, dtype=float)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def relu_features(Xt: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """ReLU features ``Φ = relu(X̃ Θᵀ)``.

    Parameters
    ----------
    Xt : ndarray, shape (n, d+1)
        Augmented inputs (see :func:`augment`).
    directions : ndarray, shape (M, d+1)
        Neuron directions θ_j = (w_j, b_j), one per row.

    Returns
    -------
    Phi : ndarray, shape (n, M)
    """
    Phi = Xt @ np.asarray(directions, dtype=float).T
    return relu_inplace(Phi)


def _block_size(n: int, M: int, block_bytes: int | None) -> int:
    budget = DEFAULT_BLOCK_BYTES if block_bytes is None else int(block_bytes)
    return max(1, min(M, budget // max(1, 8 * n)))


def features_matvec(Xt: np.ndarray, directions: np.ndarray, V: np.ndarray, *,
                    block_bytes: int | None = None) -> np.ndarray:
    """Compute ``Φ V`` block by block.

    Parameters
    ----------
    Xt : ndarray, shape (n, d+1)
    directions : ndarray, shape (M, d+1)
    V : ndarray, shape (M, T)

    Returns
    -------
    ndarray, shape (n, T)
    """
    directions = np.asarray(directions, dtype=float)
    V = np.asarray(V, dtype=float)
    n, M = Xt.shape[0], directions.shape[0]
    out = np.zeros((n, V.shape[1]))
    bs = _block_size(n, M, block_bytes)
    for s in range(0, M, bs):
        Vb = V[s:s + bs]
        rows = np.any(Vb != 0.0, axis=1)
        if not rows.any():
            continue
        out += relu_features(Xt, directions[s:s + bs][rows]) @ Vb[rows]
    return out


def features_rmatvec(Xt: np.ndarray, directions: np.ndarray, Z: np.ndarray, *,
                     block_bytes: int | None = None) -> np.ndarray:
    """Compute ``Φᵀ Z`` block by block.

    Parameters
    ----------
    Xt : ndarray, shape (n, d+1)
    directions : ndarray, shape (M, d+1)
    Z : ndarray, shape (n, T)

    Returns
    -------
    ndarray, shape (M, T)
    """
    directions = np.asarray(directions, dtype=float)
    Z = np.asarray(Z, dtype=float)
    n, M = Xt.shape[0], directions.shape[0]
    out = np.empty((M, Z.shape[1]))
    bs = _block_size(n, M, block_bytes)
    if n * M < SINGLE_THREAD_ABOVE:
        for s in range(0, M, bs):
            out[s:s + bs] = relu_features(Xt, directions[s:s + bs]).T @ Z
        return out
    # rows of Φᵀ built in one reused buffer with one BLAS thread (bound by writing them)
    XT = np.ascontiguousarray(Xt.T)
    buf = np.empty((bs, n))
    with blas_threads(1):
        for s in range(0, M, bs):
            k = min(bs, M - s)
            np.matmul(directions[s:s + k], XT, out=buf[:k])
            relu_inplace(buf[:k])
            out[s:s + k] = buf[:k] @ Z
    return out


def norm_subgradient(C: np.ndarray, penalty: str) -> np.ndarray:
    """The unit (sub)gradient u of ‖·‖ at each row of ``C`` (k, T): c/‖c‖₂ for
    ``penalty="group"``, sign(c_t) e_t at the largest |c_t| for ``"l1"`` (‖·‖_∞)."""
    if penalty == "group":
        return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-300)
    U = np.zeros_like(C)
    t = np.argmax(np.abs(C), axis=1)
    U[np.arange(len(t)), t] = np.sign(C[np.arange(len(t)), t])
    return U


def correlation_norm_gradient(Xt: np.ndarray, theta: np.ndarray, Z: np.ndarray,
                              penalty: str) -> np.ndarray:
    """Gradient in θ of ‖c(θ)‖, c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i), at each row of ``theta``.

    ‖·‖ is ‖·‖₂ (``penalty="group"``) or ‖·‖_∞ (``"l1"``). With u the unit (sub)gradient of
    the norm at c(θ) (c/‖c‖, or sign(c_t) e_t at the largest |c_t|), the gradient is
    (1/n) Σ_{i: θ·x̃_i > 0} (u·Z_i) x̃_i (relu's derivative taken as 0 at 0).

    Xt : (n, d+1);  theta : (k, d+1);  Z : (n, T).  Returns (k, d+1).
    """
    n = Xt.shape[0]
    U = norm_subgradient(features_rmatvec(Xt, theta, Z) / n, penalty)   # (k, T)
    act = (theta @ Xt.T) > 0                                   # (k, n)
    return ((U @ Z.T) * act) @ Xt / n
