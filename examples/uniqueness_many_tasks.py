"""Uniqueness with many tasks: min-norm multi-task interpolation on 2-D points lying on two
origin-centred squares, one task of interest plus K random extra tasks.

With a single task the minimal-representation-cost interpolant of such symmetric data need
not be unique; with many random extra tasks the multi-task interpolant is (almost surely)
unique. We measure non-uniqueness numerically: solve the same problem on two different
direction grids (two random rotations of a Fibonacci lattice) and report the largest
difference of task 0's fitted function on a test grid, relative to its size. Discretization
alone also creates a difference, so the number to read is how it changes with K.

    python examples/uniqueness_many_tasks.py [--quick] [--out DIR]
"""
import sys
import time
import warnings

import numpy as np

from _common import parse, save

import limitsolver as ls  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402


def rotated_grid(m, seed):
    G = sphere_grid(3, m)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    return G @ Q.T


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    sq = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)
    X = np.vstack([0.5 * sq, sq])                     # two origin-centred squares
    y0 = np.array([1.0, 0, 1, 0, 0, 1, 0, 1])          # the task of interest
    Ks = [0, 4] if args.quick else [0, 1, 4, 16]
    m = 600 if args.quick else 1500
    g = np.linspace(-1.2, 1.2, 41)
    Xt = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    rng = np.random.default_rng(0)
    extra = rng.standard_normal((8, max(Ks)))
    print(f"uniqueness_many_tasks: 8 points on two squares, grids of {m} directions")
    print(f"{'extra tasks':>11s} {'cost':>10s} {'rel. diff of task 0 between grids':>34s}")
    res = []
    for K in Ks:
        Y = np.column_stack([y0, extra[:, :K]])
        fits = []
        for seed in (1, 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = ls.solve(X, Y, loss="interpolate", free="none",
                             grid=rotated_grid(m, seed), solver=args.solver)
            fits.append(s)
        for s in fits:
            if s.status != "optimal":
                print(f"  K={K}: a solve is {s.status} (rel. gap {s.rel_gap:.1e}, "
                      f"interpolation residual {s.certificate.infeasibility:.1e})")
        f1, f2 = (s.predict(Xt)[:, 0] for s in fits)
        diff = float(np.abs(f1 - f2).max() / max(np.abs(f1).max(), 1e-12))
        res.append(diff)
        print(f"{K:11d} {fits[0].objective:10.5g} {diff:34.3g}")
    verdict = "smaller" if res[-1] < res[0] else "NOT smaller"
    print(f"difference with {Ks[-1]} extra tasks is {verdict} than with none "
          f"({res[-1]:.3g} vs {res[0]:.3g}); a difference at the level of the grid spacing "
          "is discretization, not non-uniqueness")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    axes[0].semilogy(Ks, res, "o-")
    axes[0].set_xlabel("number of extra random tasks K")
    axes[0].set_ylabel("max |f₀(grid 1) − f₀(grid 2)| / max|f₀|")
    axes[0].set_title("task 0 across two grids")
    for ax, K, s in ((axes[1], 0, None), (axes[2], Ks[-1], fits[0])):
        if s is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = ls.solve(X, y0, loss="interpolate", grid=rotated_grid(m, 1),
                             solver=args.solver)
        im = ax.contourf(g, g, s.predict(Xt)[:, 0].reshape(41, 41), 20)
        ax.plot(X[:, 0], X[:, 1], "ko")
        ax.set_title(f"task 0 interpolant, K = {K}")
        fig.colorbar(im, ax=ax)
    save(fig, args, "uniqueness_many_tasks.png")
    print(f"({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
