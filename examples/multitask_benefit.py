"""Multi-task benefit: test error of group (multi-task) vs l1 (single-task) vs kernel as the
number of tasks grows.

Data (``make_shared_features``): 1-D tasks that share the same few kink positions, each with
its own slopes, observed at the same n noisy points. The group penalty pays for a neuron
once however many tasks use it, so more tasks help it to locate the shared kinks; l1 (T
separate networks) and the kernel (tasks decouple exactly) cannot share anything, so their
error should not improve with T. The error reported is that of task 0 (the same task for
every T; the other tasks are auxiliary), so the numbers at different T are comparable.

λ is chosen per method from the same candidate list on separate calibration seeds (never
the evaluation seeds); for the group penalty it is re-chosen for every T, because T tasks
with independent slopes change the balance between the loss and ‖V_j‖₂ (for T identical
tasks the group fit at λ is the single-task fit at λ/√T). The mean test error of task 0 over
seeds is printed with its spread (standard error over seeds).

    python examples/multitask_benefit.py [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import limitsolver as ls  # noqa: E402
from limitsolver.datasets import make_shared_features  # noqa: E402
from limitsolver.grids import default_grid  # noqa: E402

PENALTIES = ("group", "l1", "kernel")


def fit_error(X, Y, Xt, Yt, pen, lam, grid, solver):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = ls.compare(X, Y, lam=lam, penalties=(pen,), X_test=Xt, Y_test=Yt, grid=grid,
                         solver=solver, free="intercept")
    pred = tab[pen].solution.predict(Xt)
    return float(np.mean((pred[:, 0] - Yt[:, 0]) ** 2))   # task 0: the task of interest


def calibrate(args, grid, lams, T):
    """Per method, the λ with the smallest task-0 test error on calibration seeds with T
    tasks. l1 and kernel decouple the tasks (their task-0 fit does not depend on T), the
    group fit does, so the group λ is chosen again for every T."""
    best = {}
    for pen in PENALTIES:
        errs = np.zeros(len(lams[pen]))
        for seed in args.calib_seeds:
            X, Y, Xt, Yt = make_shared_features(n=args.n, n_tasks=T if pen == "group" else 1,
                                                noise=args.noise, random_state=seed)
            errs += [fit_error(X, Y, Xt, Yt, pen, lam, grid, args.solver) for lam in lams[pen]]
        best[pen] = lams[pen][int(np.argmin(errs))]
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (for the tests)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="folder for the PNG (default: next to this script)")
    ap.add_argument("--solver", default="auto", help="grid backend (default auto)")
    args = ap.parse_args(argv)
    args.n, args.noise = 12, 0.15
    tasks = [1, 4] if args.quick else [1, 4, 16]
    seeds = range(2) if args.quick else range(10)
    t0 = time.time()
    X0 = np.linspace(-1, 1, args.n)[:, None]
    grid = default_grid(X0, "regularized", 256 if args.quick else 512)
    lams = {"group": [1e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2],
            "l1": [1e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2],
            "kernel": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}
    if args.quick:
        lams = {k: v[1:4] for k, v in lams.items()}
    args.calib_seeds = [1000]
    print(f"multitask_benefit: n={args.n} points per task, noise={args.noise}, "
          f"tasks={tasks}, seeds={len(seeds)}")
    lam_T = {}
    for T in tasks:
        lam_T[T] = calibrate(args, grid, lams, T)
    lam = lam_T[tasks[-1]]
    print("lambda per method and T (chosen on calibration seeds): "
          + "; ".join(f"T={T}: " + ", ".join(f"{p}={lam_T[T][p]:g}" for p in PENALTIES)
                      for T in tasks))
    err = np.full((len(PENALTIES), len(tasks), len(seeds)), np.nan)
    for i, T in enumerate(tasks):
        for s, seed in enumerate(seeds):
            X, Y, Xt, Yt = make_shared_features(n=args.n, n_tasks=T, noise=args.noise,
                                                random_state=seed)
            for p, pen in enumerate(PENALTIES):
                err[p, i, s] = fit_error(X, Y, Xt, Yt, pen, lam_T[T][pen], grid,
                                         args.solver)
    mean = err.mean(2)
    se = err.std(2, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros_like(mean)
    print(f"{'tasks':>6s} " + " ".join(f"{p + ' task-0 MSE':>22s}" for p in PENALTIES))
    for i, T in enumerate(tasks):
        print(f"{T:6d} " + " ".join(f"{mean[p, i]:12.4g} ± {se[p, i]:7.2g}"
                                    for p in range(len(PENALTIES))))
    g, l1, k = mean[:, -1]
    margin = min(l1, k) - g
    spread = max(se[:, -1])
    ok = margin > spread
    print(f"at T={tasks[-1]}: group {g:.4g}, l1 {l1:.4g}, kernel {k:.4g}; margin "
          f"{margin:.3g} vs largest standard error {spread:.3g} -> "
          + ("group is best by more than the spread" if ok else
             "NOT shown: group is not better by more than the spread"))
    print(f"group error T={tasks[0]} -> T={tasks[-1]}: {mean[0, 0]:.4g} -> {mean[0, -1]:.4g}"
          f" ({'improves' if mean[0, -1] < mean[0, 0] else 'does not improve'})")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for p, pen in enumerate(PENALTIES):
        ax.errorbar(tasks, mean[p], yerr=se[p], marker="o", capsize=3,
                    label=f"{pen} (λ={lam[pen]:g})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of tasks T")
    ax.set_ylabel("test MSE of task 0")
    ax.set_title("multi-task benefit: shared kinks, few samples")
    ax.legend(fontsize="small")
    # the fits of one seed at the largest T: first two tasks
    from limitsolver.plotting import plot_fit_1d
    X, Y, Xt, Yt = make_shared_features(n=args.n, n_tasks=tasks[-1], noise=args.noise,
                                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = ls.solve(X, Y, lam=lam["group"], grid=grid, solver=args.solver,
                       free="intercept")
    sub = ls.solve(X, Y[:, :2], lam=lam["group"], grid=grid, solver=args.solver,
                   free="intercept")
    plot_fit_1d(sub, ax=axes[1], label="group, 2 tasks")
    axes[1].plot(Xt[:, 0], sol.predict(Xt)[:, 0], "k--", lw=1,
                 label=f"task 0 fitted with {tasks[-1]} tasks")
    axes[1].plot(Xt[:, 0], Yt[:, 0], "k:", lw=1, label="task 0 truth")
    axes[1].legend(fontsize="x-small")
    axes[1].set_title("group fits (kinks marked)")
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "multitask_benefit.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path} ({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
