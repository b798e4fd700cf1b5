"""k-local vs k-global targets: the shallow weight-decay limit against NTKs of depth 1…4.

Mori & Ueda, "Interplay between depth of neural networks and locality of target
functions", arXiv 2201.12082 (2022; earlier "Is deeper better? It depends on locality of
relevant features", arXiv 2005.12488): depth helps to learn k-local targets and hurts
k-global ones, and the NTK does not capture this. Their targets, as used here (the search
tool gave us their abstracts, not the formulas, so the definitions below are our reading of
the paper, not a quotation): for a Boolean input x ∈ {−1, +1}^d,

    k-local:   f(x) = x_{i_1} x_{i_2} ⋯ x_{i_k}           (k fixed coordinates)
    k-global:  f(x) = Π_{j=1..k} M_j(x),  M_j = (k/d)^{1/2} Σ_{i ∈ G_j} x_i,

G_1..G_k a partition of the coordinates into blocks of d/k (both have mean 0 and variance 1
under the uniform law; the local one depends on k coordinates, the global one on all d).
Here d = 12, k = 2; per seed the relevant coordinates and the partition are random; n = 200
training, 200 validation and 1000 test points drawn without replacement from the 4096
points of the cube; noiseless labels.

Models (squared loss, free intercept, regularized bias): the shallow limit (group penalty,
one task) on a 2000-point Sobol grid of S^d plus ``REFINE_ITERS`` = 2 exchange/slide
iterations of ``limitsolver.refine.refine``; the NTK of depth L = 1…4
(``penalty="kernel", kernel="ntk", depth=L``; :mod:`limitsolver.deep_kernel`). Every
model's λ is the one of its list with the least validation MSE. Relative test MSE
(MSE / test variance), mean ± s.e. over 4 seeds.

Negative control: Gaussian inputs x ~ N(0, I_d). Then M_j = u_j·x with orthonormal u_j, so
the k-global target is a rotation of the k-local one and the input law is rotation
invariant: the global problem is run on the same sample rotated by Q (Q e_{i_j} = u_j), on
which it has exactly the local problem's labels. Every model here is rotation equivariant
(the NTKs exactly, the limit up to its grid, which is not rotation invariant), so the
local − global gap must vanish there: exactly for the NTKs, to the grid's effect for the
limit. On the cube the two targets are not rotations of each other (the cube is not
rotation invariant), which is what lets locality matter at all.

    python examples/locality_globality.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from _common import parse, save

import limitsolver as ls  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402
from limitsolver.problem import LimitProblem  # noqa: E402
from limitsolver.refine import refine  # noqa: E402

D, K, N, N_VAL, N_TEST = 12, 2, 200, 200, 1000
GRID, REFINE_ITERS = 2000, 2
LIMIT_LAMS = (1e-3, 3e-3, 1e-2)
NTK_LAMS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
DEPTHS = (1, 2, 3, 4)
#: ``--quick`` (and the headline test): d = 8, 250 of the 256 cube points
QUICK = dict(d=8, n=100, n_val=50, n_test=100, limit_lams=(3e-3,), depths=(1, 3))


def targets(d, k, rng):
    """(local, global) target functions with random relevant coordinates / blocks, and an
    orthogonal Q (d × d) with global(x Qᵀ) = local(x) (Q e_{i_j} = u_j, u_j the unit
    block-sum direction of block j)."""
    perm = rng.permutation(d)
    idx = perm[:k]
    blocks = np.array_split(rng.permutation(d), k)
    B = np.zeros((d, k))
    for j, b in enumerate(blocks):
        B[b, j] = 1.0 / np.sqrt(len(b))
    C = np.linalg.qr(np.hstack([B, rng.standard_normal((d, d - k))]))[0][:, k:]
    Q = np.zeros((d, d))
    Q[:, idx] = B
    Q[:, np.setdiff1d(np.arange(d), idx)] = C

    def local(X):
        return np.prod(X[:, idx], axis=1)

    def global_(X):
        return np.prod([X[:, b].sum(axis=1) / np.sqrt(len(b)) for b in blocks], axis=0)
    return local, global_, Q


def make_data(seed, *, gaussian=False, d=D, n=N, n_val=N_VAL, n_test=N_TEST):
    """Train / validation / test inputs: distinct cube points, or Gaussian (control)."""
    rng = np.random.default_rng(seed)
    total = n + n_val + n_test
    if gaussian:
        X = rng.standard_normal((total, d))
    else:
        codes = rng.choice(2**d, size=total, replace=False)
        X = 2.0 * ((codes[:, None] >> np.arange(d)) & 1) - 1.0
    return X[:n], X[n:n + n_val], X[n + n_val:], rng


def fit_limit(X, y, lam, grid):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, y, lam=lam, free="intercept", grid=grid, certify_limit=False)
        return refine(LimitProblem(X, y, lam=lam, free="intercept"), sol, tol=1e-6,
                      max_iter=REFINE_ITERS)


def fit_ntk(X, y, lam, depth):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ls.solve(X, y, lam=lam, penalty="kernel", kernel="ntk", depth=depth,
                        free="intercept")


def best_on_validation(fits, Xv, yv, Xt, yt):
    """Relative test MSE of the fit with the least validation MSE."""
    best = min(fits, key=lambda s: float(np.mean((s.predict(Xv)[:, 0] - yv) ** 2)))
    return float(np.mean((best.predict(Xt)[:, 0] - yt) ** 2) / np.var(yt))


def run_seed(seed, grid, *, gaussian=False, limit_lams=LIMIT_LAMS, depths=DEPTHS, **kw):
    """Relative test MSE per model for the local and the global target of one seed:
    {"local"|"global": {"limit": e, "NTK L=1": e, ...}}."""
    X0, Xv0, Xt0, rng = make_data(seed, gaussian=gaussian, **kw)
    local, global_, Q = targets(X0.shape[1], K, rng)
    out = {}
    for name, f in (("local", local), ("global", global_)):
        X, Xv, Xt = X0, Xv0, Xt0
        if gaussian and name == "global":      # the same sample, rotated: global = local
            X, Xv, Xt = X0 @ Q.T, Xv0 @ Q.T, Xt0 @ Q.T
        y, yv, yt = f(X), f(Xv), f(Xt)
        row = {"limit": best_on_validation([fit_limit(X, y, lam, grid) for lam in limit_lams],
                                           Xv, yv, Xt, yt)}
        for L in depths:
            row[f"NTK L={L}"] = best_on_validation([fit_ntk(X, y, lam, L) for lam in NTK_LAMS],
                                                   Xv, yv, Xt, yt)
        out[name] = row
    return out


def summarize(runs):
    """{target: {model: (mean, s.e.)}} and the paired local − global differences."""
    models = list(runs[0]["local"])
    tab, diff = {}, {}
    for tgt in ("local", "global"):
        tab[tgt] = {}
        for m in models:
            v = np.array([r[tgt][m] for r in runs])
            tab[tgt][m] = (v.mean(), v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0)
    for m in models:
        v = np.array([r["local"][m] - r["global"][m] for r in runs])
        diff[m] = (v.mean(), v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0)
    return tab, diff


def report(title, tab, diff):
    print(title)
    print(f"  {'model':10s} {'k-local':>15s} {'k-global':>15s} {'local − global':>16s}")
    for m in tab["local"]:
        a, b, c = tab["local"][m], tab["global"][m], diff[m]
        print(f"  {m:10s} {a[0]:8.3f}±{a[1]:.3f} {b[0]:8.3f}±{b[1]:.3f} "
              f"{c[0]:+9.3f}±{c[1]:.3f}")


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    seeds = (0,) if args.quick else (0, 1, 2, 3)
    kw = QUICK if args.quick else dict(d=D, n=N, n_val=N_VAL, n_test=N_TEST)
    d = kw["d"]
    grid = sphere_grid(d + 1, 500 if args.quick else GRID, kind="sobol", random_state=0)
    print(f"locality_globality: d = {d}, k = {K}, n = {kw['n']} (validation {kw['n_val']}, "
          f"test {kw['n_test']}), seeds {seeds}; relative test MSE, mean ± s.e.")
    cube = summarize([run_seed(s, grid, **kw) for s in seeds])
    report("Boolean inputs (the paper's setting):", *cube)
    gauss = summarize([run_seed(100 + s, grid, gaussian=True, **kw) for s in seeds])
    report("CONTROL, Gaussian inputs (global = rotated local):", *gauss)
    verdict(cube, gauss)
    plot(cube, gauss, d, args)
    print(f"({time.time() - t0:.1f} s)")
    return 0


def verdict(cube, gauss):
    tab, diff = cube
    ntk = [m for m in tab["local"] if m.startswith("NTK")]
    loc = [tab["local"][m][0] for m in ntk]
    glo = [tab["global"][m][0] for m in ntk]
    print(f"verdict: NTK depth {ntk[0][4:]}→{ntk[-1][4:]}: k-local {loc[0]:.3f}→{loc[-1]:.3f}, "
          f"k-global {glo[0]:.3f}→{glo[-1]:.3f}")
    same = np.sign(loc[-1] - loc[0]) == np.sign(glo[-1] - glo[0])
    print("  depth moves the NTK's error in the " + ("same direction for both targets "
          "(no locality/depth interplay, as the paper says of the NTK)" if same else
          "opposite directions for the two targets (an interplay in the NTK itself)"))
    lim_l, lim_g = tab["local"]["limit"][0], tab["global"]["limit"][0]
    best_l = min(loc)
    print(f"  shallow limit: k-local {lim_l:.3f} (best NTK {best_l:.3f}), k-global "
          f"{lim_g:.3f} (best NTK {min(glo):.3f}); local − global: limit "
          f"{diff['limit'][0]:+.3f}±{diff['limit'][1]:.3f}")
    g = gauss[1]
    ntk_gap = max(abs(v[0]) for m, v in g.items() if m.startswith("NTK"))
    print(f"  control (Gaussian inputs, global = rotated local): largest NTK |local − global| "
          f"{ntk_gap:.1e} (rotation invariance: must be ~0), limit "
          f"{g['limit'][0]:+.3f}±{g['limit'][1]:.3f} (its grid is not rotation invariant)")


def plot(cube, gauss, d, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (tab, _), title in zip(axes, (cube, gauss),
                                   ("Boolean inputs", "control: Gaussian inputs")):
        models = list(tab["local"])
        xs = np.arange(len(models))
        for off, tgt in ((-0.2, "local"), (0.2, "global")):
            ax.bar(xs + off, [tab[tgt][m][0] for m in models], 0.4,
                   yerr=[tab[tgt][m][1] for m in models], capsize=3, label=f"k-{tgt}")
        ax.set_xticks(xs)
        ax.set_xticklabels(models, fontsize="small", rotation=20)
        ax.set_title(f"{title} (d = {d}, k = {K})")
    axes[0].set_ylabel("relative test MSE (λ on validation)")
    axes[0].legend(fontsize="small")
    save(fig, args, "locality_globality.png")


if __name__ == "__main__":
    sys.exit(main())
