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

Measured (seed 0; 2 shared cores at load 2–7; refinement 30 s at d = 5 and 10, 90 s at
d = 20):

    d   n    T   sup ratio  angles (°)  energy  probe m = 16
    5   80   16  1.004      0.1, 1.2    0.988   0.060
    5   160  16  1.000      0.3, 0.8    0.995   0.043
    10  80   16  1.032      0.6, 0.9    0.958   0.045
    10  160  16  1.023      0.2, 0.8    0.988   0.042
    20  80   16  1.010      3.4, 7.1    0.849   0.147
    20  160  16  1.012      1.3, 1.5    0.961   0.091
    20  320  16  1.001      0.9, 1.2    0.990   0.071
    20  80   32  1.018      2.0, 4.2    0.886   0.114

At d = 20 and n = 80 the fit is converged (sup ratio 1.010) and the subspace is found
(angles ≤ 7°), but 15 % of the first layer's mass sits outside span U, on neurons the
targets do not need (they depend on Uᵀx only): with 80 points in 20 dimensions they fit
the sample; the probe on all atoms pays for them. More upstream inputs remove them
(energy 0.990 at n = 320, the probe error back near its d = 5, 10 values); doubling T at
n = 80 helps less than doubling n at the same number of labels (0.886 vs 0.961).

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


#: (d, n, T) of the measured table (seed 0): n = 80 at every d, n = 16·d, more n and more T
#: at d = 20.
CONFIGS = ((5, 80, 16), (5, 160, 16), (10, 80, 16), (10, 160, 16), (20, 80, 16),
           (20, 160, 16), (20, 320, 16), (20, 80, 32))


def main(argv=None):
    args = parse(__doc__, argv)
    quick = args.quick
    configs = ((5, 40, 16),) if quick else CONFIGS
    rounds = 2 if quick else fl.ROUNDS
    print("upstream fits as in feature_learning (group λ = √T · 0.005, up to "
          f"{rounds} exchange rounds{'' if quick else ' + refinement ' + str(fl.REFINE_TIME)}"
          " s by d), seed 0")
    print("d  n    T   λ      sup ratio  angles (deg)   energy  probe m=16  atoms  s")
    for d, n, n_tasks in configs:
        grid = sphere_grid(d + 1, 300 if quick else fl.GRID, kind="sobol", random_state=0)
        lam = np.sqrt(n_tasks) * 0.005
        sol, U, ratio, sec = upstream_fit(d, 0, n, n_tasks, lam, grid, rounds,
                                          0.0 if quick else fl.REFINE_TIME[d])
        ang, en = principal_angles(sol, U)
        print(f"{d:<3d}{n:<5d}{n_tasks:<4d}{lam:<7.3g}{ratio:<11.3f}"
              f"{ang[0]:5.1f} {ang[-1]:5.1f}    {en:.3f}   {probe16(sol, d, U, 0):.3f}       "
              f"{len(sol.atom_directions):<6d} {sec:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
