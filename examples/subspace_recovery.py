"""How well the multi-task limit recovers the relevant subspace, against upstream n, T and d.

The diagnosis behind ``feature_learning.py``'s choice of the upstream sample size. Setting
and solve as there (labels y = relu(a·Uᵀx − τ) + 0.05 ε on an r = 2 subspace U of R^d,
the group-penalty limit by grid + exchange rounds, :func:`feature_learning.exchange_limit`),
with the upstream n and the number of tasks T varied. Per fit it prints:

- the principal angles between U and the learned subspace Û: the top-r eigenvectors of
  M = Σ_j ‖V_j‖ w_j w_jᵀ, with θ_j = (w_j, b_j) ∈ S^d the atoms and V_j their output
  weights (‖V_j‖^{1/2} w_j is the input weight of neuron j of the balanced network that
  realizes the solution, so M is the second-moment matrix of the first layer);
- the energy fraction tr(UᵀMU)/tr(M) (1 when every neuron lies in span U);
- the sup ratio max ‖c(θ)‖/λ (an estimate; 1 at the optimum);
- the downstream probe error at m = 16 (relative test MSE, √‖V_j‖-weighted features), the
  feature_learning protocol.

    python examples/subspace_recovery.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from _common import parse

import feature_learning as fl  # noqa: E402
import subspace_angles  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402


def principal_angles(sol, U):
    """Principal angles (degrees) and energy fraction of a solution's neurons against U
    (:func:`subspace_angles.principal_angles`)."""
    return subspace_angles.principal_angles(sol.atom_directions, sol.atom_weights, U)


def upstream_fit(d, seed, n, n_tasks, lam, grid, rounds, refine_time=0.0):
    """The feature_learning upstream fit with n inputs and n_tasks tasks; returns
    (solution, U, sup ratio, seconds). Same seeding as ``feature_learning.upstream``."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((d, fl.R)))[0]
    f = fl.task_family(U, n_tasks, rng)
    X = rng.standard_normal((n, d))
    Y = f(X) + fl.NOISE * rng.standard_normal((n, n_tasks))
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol, ratio, _ = fl.exchange_limit(X, Y, lam, "group", grid, rounds, refine_time)
    return sol, U, ratio, time.time() - t0


def probe16(sol, d, U, seed):
    """Downstream relative test MSE at m = 16 on the √‖V_j‖-weighted learned features."""
    w = np.sqrt(np.linalg.norm(sol.atom_weights, axis=1))
    out = fl.downstream({"w": (sol.atom_directions, w)}, d, U, seed, (16,))
    return float(out["w"][0])


def main(argv=None):
    args = parse(__doc__, argv)
    quick = args.quick
    dims = (5,) if quick else (5, 10, 20)
    ns = (40,) if quick else (80, 160, 320)
    tasks = (16,) if quick else (16, 32)
    seeds = (0,) if quick else (0, 1)
    lam0, rounds = 0.005, (2 if quick else 12)
    print("d  n    T   seed  λ      sup ratio  angles (deg)   energy  probe m=16  atoms  s")
    for d in dims:
        grid = sphere_grid(d + 1, 300 if quick else fl.GRID, kind="sobol", random_state=0)
        for n in ns:
            for n_tasks in tasks:
                lam = np.sqrt(n_tasks) * lam0
                for seed in seeds:
                    sol, U, ratio, sec = upstream_fit(d, seed, n, n_tasks, lam, grid, rounds)
                    ang, en = principal_angles(sol, U)
                    print(f"{d:<3d}{n:<5d}{n_tasks:<4d}{seed:<6d}{lam:<7.3g}{ratio:<11.3f}"
                          f"{ang[0]:5.1f} {ang[-1]:5.1f}    {en:.3f}   "
                          f"{probe16(sol, d, U, seed):.3f}       "
                          f"{len(sol.atom_directions):<6d} {sec:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
