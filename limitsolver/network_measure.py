"""Conversions between a :class:`~limitsolver.network.Network` and the limit's measures.

A measure μ = Σ_j V_j δ_{θ_j} on the direction set Θ (MATH.md) and a network with one neuron
per atom have the same function: relu is positively homogeneous, so the neuron
(w, b) = s θ, v = V/s has v relu((w, b)·x̃) = V relu(θ·x̃) for every s > 0, and s = √‖V‖
balances it, (λ/2)(‖v‖² + ‖(w, b)‖²) = λ‖V‖ (‖θ‖ = 1, or ‖w‖ = 1 for ``bias="free"``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["measure_of_network", "neurons_of_measure"]


def measure_of_network(net: Any) -> tuple[np.ndarray, np.ndarray]:
    """The measure of a network: atoms and weights (the free part is unchanged).

    ``bias="regularized"``: θ_k = (w_k, b_k)/‖(w_k, b_k)‖ ∈ S^d, V_k = v_k ‖(w_k, b_k)‖;
    ``bias="free"``: θ_k = (w_k, b_k)/‖w_k‖ (‖w‖ = 1, the cylinder convention of
    :mod:`limitsolver.grids`), V_k = v_k ‖w_k‖. The function is unchanged, and λ Σ_k ‖V_k‖
    (group; Σ_t |V_kt| for a block network, the same number) equals
    ``net.balanced().penalty(λ)``. Neurons with ‖v_k‖ = 0 or a zero penalized part
    (relu(θ·x̃) ≡ 0) are dropped.

    Returns
    -------
    directions : ndarray (k, d+1);  weights : ndarray (k, T)

    Raises
    ------
    ValueError
        For ``bias="free"``, a neuron with w_k = 0, b_k > 0 and v_k ≠ 0 is the constant
        relu(b_k) v_k, which is no atom of the cylinder.
    """
    a = net.scales()
    v = np.linalg.norm(net.V, axis=1)
    if net.bias == "free":
        const = (a == 0) & (net.b > 0) & (v > 0)
        if const.any():
            k = int(np.flatnonzero(const)[0])
            raise ValueError(
                f"neuron {k} has w = 0 with bias='free': it is the constant "
                f"relu(b) v = {net.b[k] * net.V[k]}, not an atom of the cylinder; "
                "move it into the intercept first")
    keep = (a > 0) & (v > 0)
    theta = np.column_stack([net.W, net.b])[keep] / a[keep, None]
    return theta, net.V[keep] * a[keep, None]


def neurons_of_measure(directions: np.typing.ArrayLike, weights: np.typing.ArrayLike, *,
                       bias: str, penalty: str
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Balanced neurons (W (m, d), b (m,), V (m, T), tasks (m,) or None) of a measure.

    Each direction is first normalized (‖θ‖ = 1, or ‖w‖ = 1 for ``bias="free"``); an atom
    (θ, V) becomes the neuron (w, b) = √‖V‖ θ, v = V/√‖V‖, whose penalty
    (λ/2)(‖v‖² + ‖(w, b)‖²) is λ‖V‖. With ``penalty="l1"`` each atom is split into one
    neuron per task with V_t ≠ 0 (``tasks`` gives each neuron's task), so the penalty is
    λ Σ_t |V_t|. Atoms with V = 0 are dropped.
    """
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
    return G[:, :-1] * s[:, None], G[:, -1] * s, Vm / s_safe[:, None], tasks
