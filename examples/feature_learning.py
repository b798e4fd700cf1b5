"""Feature learning with many tasks: binary classification tasks whose labels depend on r
of the d input directions (d = 3, r = 1). Multi-task (group) logistic fits in the limit; we
report the fraction of the learned measure's mass ‖μ‖ carried by directions w outside the
relevant subspace, Σ_j ‖V_j‖ ‖P_⊥ w_j‖/‖w_j‖ / Σ_j ‖V_j‖, as the number of tasks grows.
The expectation (from the seed paper) is that this fraction falls with more tasks; the
script prints whether it does.

    python examples/feature_learning.py [--quick] [--out DIR]
"""
import sys
import time
import warnings

import numpy as np

from _common import parse, save

import limitsolver as ls  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402


def make_tasks(n, d, r, T, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, d))
    Y = np.empty((n, T))
    for t in range(T):
        trng = np.random.default_rng([seed, t])
        a = trng.standard_normal(r)
        c = trng.uniform(-0.3, 0.3)
        z = np.abs(X[:, :r] @ a / np.linalg.norm(a)) - 0.4 - c   # non-linear in the subspace
        Y[:, t] = np.where(z >= 0, 1.0, -1.0)
    return X, Y


def outside_fraction(sol, r):
    # the certified atoms, not the merged summary: merging neighbouring grid atoms chains
    # through many tiny atoms in d = 3 and can produce one spurious averaged neuron
    W = sol.atom_directions[:, :-1]
    w_perp = np.linalg.norm(W[:, r:], axis=1) / np.maximum(np.linalg.norm(W, axis=1), 1e-300)
    m = np.linalg.norm(sol.atom_weights, axis=1)
    return float(np.sum(m * w_perp) / max(m.sum(), 1e-300))


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    d, r, n, lam = 3, 1, 40, 1e-2
    Ts = [1, 4] if args.quick else [1, 4, 8]
    seeds = [0] if args.quick else [0, 1, 2]
    grid = sphere_grid(d + 1, 500 if args.quick else 1000, random_state=0)
    print(f"feature_learning: d={d}, r={r}, n={n}, lam={lam}, logistic loss, group penalty, "
          f"grid of {len(grid)} directions")
    out = np.zeros((len(Ts), len(seeds)))
    bad = []
    for i, T in enumerate(Ts):
        for s, seed in enumerate(seeds):
            X, Y = make_tasks(n, d, r, T, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sol = ls.solve(X, Y, lam=lam, loss="logistic", free="intercept", grid=grid,
                               solver=args.solver)
            out[i, s] = outside_fraction(sol, r)
            if sol.status != "optimal":
                bad.append(f"T={T} seed={seed}: {sol.status} (rel. gap {sol.rel_gap:.1e})")
        print(f"T={T:3d}: fraction of ‖μ‖ outside the relevant subspace "
              f"{out[i].mean():.3f} (seeds: {', '.join(f'{v:.3f}' for v in out[i])})")
    if bad:
        print("NOT certified (numbers from these fits are unreliable): " + "; ".join(bad))
    drop = out[0].mean() - out[-1].mean()
    spread = max(out[0].std(), out[-1].std())
    if drop > spread:
        verdict = "falls by more than the seed spread"
    elif drop > 0:
        verdict = "falls, but by less than the seed spread (NOT a clear effect)"
    else:
        verdict = "does NOT fall"
    print(f"the fraction {verdict} from T={Ts[0]} to T={Ts[-1]} "
          f"({out[0].mean():.3f} -> {out[-1].mean():.3f}, seed std {spread:.3f})")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.errorbar(Ts, out.mean(1), yerr=out.std(1), marker="o", capsize=3)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of tasks T")
    ax.set_ylabel("fraction of ‖μ‖ outside span(e_1..e_r)")
    ax.set_title(f"feature learning, d={d}, r={r}")
    save(fig, args, "feature_learning.png")
    print(f"({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
