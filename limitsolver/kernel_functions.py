"""Kernel functions of the lazy baseline (``penalty="kernel"``): k(x, x') = E_{θ~π}
relu(θ·x̃) relu(θ·x̃') for the first-layer laws π of :mod:`limitsolver.kernel` (its module
docstring has the formulas), the NTK, and their deep compositions."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .features import augment

__all__ = ["arccos_kernel", "ntk_kernel", "kernel_matrix", "KERNELS", "DEFAULT_QUADRATURE",
           "DEFAULT_QUADRATURE_HIGH_D"]

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


def arccos_kernel(A: np.ndarray, B: np.ndarray) -> np.ndarray:
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


def ntk_kernel(A: np.ndarray, B: np.ndarray) -> np.ndarray:
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


def kernel_matrix(XA: ArrayLike, XB: ArrayLike, *, kernel: str = "arccos", bias: str = "regularized",
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
