"""Locality vs globality: a k-local target (depends on k of the d coordinates) and a
k-global one (a function of a direction that mixes all d coordinates) — here k = 1, d = 4 —
fitted by the infinite-width limit (weight decay, feature learning) and by the kernel
(lazy) regime at several λ; the best test error of each is printed.

Note: the seed paper's claim is about depth (deep networks favour local functions); this
library's models are shallow, so the comparison here is limit (feature learning) vs kernel
on the same two targets — what it shows is printed, not assumed.

    python examples/locality_globality.py [--quick] [--out DIR]
"""
import sys
import time
import warnings

import numpy as np

from _common import parse, save

import limitsolver as ls  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    d = 4
    n = 40 if args.quick else 80
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, d))
    Xt = rng.uniform(-1, 1, (500, d))
    u = np.ones(d) / np.sqrt(d)
    targets = {"local (|x_1|)": lambda Z: np.abs(Z[:, 0]),
               "global (|u·x|, u = 1/√d)": lambda Z: np.abs(Z @ u) * np.sqrt(d) / 2}
    noise = 0.05
    lams = [1e-3, 1e-2] if args.quick else [1e-4, 1e-3, 1e-2]
    klams = [1e-4, 1e-3] if args.quick else [1e-5, 1e-4, 1e-3, 1e-2]
    grid = sphere_grid(d + 1, 800 if args.quick else 3000, random_state=0)
    print(f"locality_globality: d={d}, n={n}, noise={noise}, grid {len(grid)} directions")
    res = {}
    for name, f in targets.items():
        y = f(X) + noise * rng.standard_normal(n)
        yt = f(Xt)
        errs = {}
        for pen, ls_ in (("group", lams), ("kernel", klams)):
            e = []
            for lam in ls_:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    kw = {} if pen == "kernel" else dict(grid=grid, solver=args.solver)
                    s = ls.solve(X, y, lam=lam, penalty=pen, free="intercept", **kw)
                if s.status != "optimal":
                    print(f"  {name}, {pen}, lam={lam:g}: {s.status}")
                e.append(float(np.mean((s.predict(Xt)[:, 0] - yt) ** 2)))
            errs["limit" if pen == "group" else "kernel"] = min(e)
        res[name] = errs
        var = float(np.var(yt))
        print(f"{name:28s} best test MSE: limit {errs['limit']:.4g}, kernel "
              f"{errs['kernel']:.4g} (target variance {var:.3g})")
    for name, e in res.items():
        print(f"{name}: {'limit' if e['limit'] < e['kernel'] else 'kernel'} is better "
              f"(ratio kernel/limit {e['kernel'] / e['limit']:.2f})")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(res)
    xs = np.arange(len(names))
    ax.bar(xs - 0.2, [res[k]["limit"] for k in names], 0.4, label="limit (weight decay)")
    ax.bar(xs + 0.2, [res[k]["kernel"] for k in names], 0.4, label="kernel (lazy)")
    ax.set_xticks(xs)
    ax.set_xticklabels(names, fontsize="small")
    ax.set_ylabel("best test MSE over λ")
    ax.legend(fontsize="small")
    save(fig, args, "locality_globality.png")
    print(f"({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
