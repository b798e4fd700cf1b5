"""Multi-task benefit: test error of group (multi-task) vs l1 (single-task) vs kernel as the
number of tasks learned together grows.

Data (``make_shared_features(d=2, normalize=True)``): 16 regression tasks on inputs in the
square [−1, 1]², all built from the same k = 2 ReLU neurons relu(w_k·x + b_k) (two shared
kink lines crossing the square), each task with its own N(0, 1) output weights, scaled to
unit root-mean-square. Every task is observed at the same n = 50 inputs (Y is 50 × 16) with
noise of standard deviation 0.5 (noise-to-signal ratio 0.5); the test error is measured
on 500 fresh inputs against the noise-free functions.

For each T in 1, 2, 4, 8, 16 the same 16 tasks are learned in 16/T blocks of T tasks (one
problem per block), and the test MSE is averaged over all 16 tasks, so every T is scored
on the same tasks. The group penalty ∫‖dμ‖₂ pays for a neuron once however many tasks of
its block use it, so a block's tasks pool their evidence on where the shared kink lines
are; l1 (T separate networks) and the kernel (tasks decouple exactly) solve every task on
its own, so their error cannot depend on T. (For T = 1 group and l1 are the same problem.)

λ is chosen per method, and for the group penalty per T, from a fixed candidate list as the
value with the smallest mean test error on 4 calibration seeds (1000–1003) that are disjoint
from the 20 evaluation seeds (0–19): l1 from 0.015 × (7 values from 1/4 to 4, geometric),
group from √T times the l1 list (with T tasks of independent weights, ‖V_j‖₂ and the noise's
correlation with a neuron both grow like √T), kernel from 5e-4 × (7 values from 1/16 to 16).
The grid of the group and l1 problems is a Fibonacci lattice of 1000 directions on S² (bias
regularized, free intercept). The table gives the mean over the evaluation seeds ± its
standard error; "paired" is the mean over seeds of (l1 − group) on the same data, ± its s.e.
As a reference (not a competitor: it is told the neurons) the script also prints the error
of least squares on the true neurons' features plus an intercept.

Result (full run, about 1 min of CPU time, control included): at T = 16 group 0.039 ± 0.005,
l1 0.051 ± 0.006, kernel 0.059 ± 0.007 (paired l1 − group 0.011 ± 0.001; group best on all
20 seeds); group goes 0.051 → 0.044 → 0.042 → 0.041 → 0.039 for T = 1, 2, 4, 8, 16, l1 and
kernel are the same for every T; least squares on the true neurons 0.018.

Control, when not to pool tasks: 8 tasks on the same inputs with the same recipe, except that
each task is built from its OWN 2 random neurons (nothing shared), group (all 8 in one
problem) vs l1, λ of each chosen on the same calibration seeds (group from the l1 list and
the √8-scaled list together, since without sharing the group penalty equals the l1 penalty).
Full run, 20 evaluation seeds: group 0.0531, l1 0.0480, paired l1 − group −0.0051 ± 0.0011,
group worse on 18 of 20 seeds. The group penalty is biased towards neurons that several tasks
can use; when there are none, that bias costs accuracy. The third panel of the figure shows
the paired differences per seed.

Why the earlier 1-D version (n = 12, noise 0.15) showed nothing: there, knowing the kinks
does not help — least squares on the true kinks has a higher test error (0.011 on task 0)
than the regularized fits (≈ 0.006), so there is no error to win by locating them. In 1-D
a single noisy task already finds its kinks almost as well as the truth (only ~2n places
to put a kink; with ``--d 1``, n = 50, noise 0.5: l1 0.026, true kinks 0.021, group at T =
16 0.024), and the arc-cosine kernel is a good smoother of piecewise-linear 1-D functions.
(``--d 1`` uses 3 shared kinks, 512 + 2n directions, l1 list centred at 0.004, kernel at
3e-5.) In 2-D a kink line has two parameters and O(n²) distinct positions relative to the
data; one noisy task picks wrong ones (l1 is 3× the known-neuron error, see the right
panel of the figure), 16 pooled tasks close about a third of that gap.

    python examples/multitask_benefit.py [--quick] [--out DIR] [--d 1] [--first-seed S]
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


def make_data(cfg, seed, return_neurons=False):
    return make_shared_features(n=cfg.n, n_tasks=cfg.n_tasks, n_kinks=cfg.k, noise=cfg.noise,
                                d=cfg.d, n_test=cfg.n_test, normalize=True,
                                random_state=seed, return_neurons=return_neurons)


def known_neurons_error(cfg, seed):
    """Reference: test MSE (mean over tasks) of least squares on the TRUE neurons' features
    plus an intercept — what a method that knew the shared neurons exactly could reach."""
    X, Y, Xt, Yt, (theta, _) = make_data(cfg, seed, return_neurons=True)

    def feats(Z):
        return np.column_stack([np.maximum(Z @ theta[:, :-1].T + theta[:, -1], 0.0),
                                np.ones(len(Z))])
    coef = np.linalg.lstsq(feats(X), Y, rcond=None)[0]
    return float(np.mean((feats(Xt) @ coef - Yt) ** 2))


def make_unrelated(cfg, seed, n_tasks):
    """The control: ``n_tasks`` tasks on the same inputs and with the same recipe (unit size,
    noise, test points) as :func:`make_data`, but each task built from its OWN k random
    neurons (w uniform on S^{d−1}, b uniform in [−0.5, 0.5]; k = 2 in 2-D): no neuron is
    shared, so pooling the tasks has nothing to find."""
    X, _, Xt, _ = make_data(cfg, seed)
    d = X.shape[1]
    ref = np.random.default_rng([seed, 9]).uniform(-1.0, 1.0, (2000, d))
    Y, Yt = np.empty((len(X), n_tasks)), np.empty((len(Xt), n_tasks))
    for t in range(n_tasks):
        rng = np.random.default_rng([seed, 7, t])
        W = rng.standard_normal((cfg.k, d))
        W /= np.linalg.norm(W, axis=1, keepdims=True)
        b, a = rng.uniform(-0.5, 0.5, cfg.k), rng.standard_normal(cfg.k)
        a /= np.sqrt(np.mean((np.maximum(ref @ W.T + b, 0.0) @ a) ** 2))
        Y[:, t] = np.maximum(X @ W.T + b, 0.0) @ a + cfg.noise * rng.standard_normal(len(X))
        Yt[:, t] = np.maximum(Xt @ W.T + b, 0.0) @ a
    return X, Y, Xt, Yt


def unrelated_control(cfg, candidates, seeds, n_tasks):
    """Test MSE (mean over tasks) of group (all ``n_tasks`` in one problem) and l1 on the
    unrelated-tasks data, λ of each chosen on the calibration seeds: arrays (2, len(seeds))
    and the chosen λ (group, l1); a λ at the end of its list is flagged in the printout."""
    lams = {}
    # with nothing shared, ‖V_j‖₂ = |V_jt| and the group penalty is the l1 penalty: its λ
    # may belong near the l1 values, so the group candidates are both lists together
    cands = {"group": sorted(set(candidates("l1", 1)) | set(candidates("group", n_tasks))),
             "l1": candidates("l1", 1)}
    for pen in ("group", "l1"):
        scores = []
        for lam in cands[pen]:
            e = []
            for seed in cfg.calib_seeds:
                data = make_unrelated(cfg, seed, n_tasks)
                grid = default_grid(data[0], "regularized", cfg.n_directions)
                e.append(task_errors(data, grid, pen, n_tasks, lam, cfg.solver).mean())
            scores.append(np.mean(e))
        lams[pen] = cands[pen][int(np.argmin(scores))]
    err = np.empty((2, len(seeds)))
    for s, seed in enumerate(seeds):
        data = make_unrelated(cfg, seed, n_tasks)
        grid = default_grid(data[0], "regularized", cfg.n_directions)
        for p, pen in enumerate(("group", "l1")):
            err[p, s] = task_errors(data, grid, pen, n_tasks, lams[pen], cfg.solver).mean()
    return err, (lams["group"], lams["l1"])


def fit(X, Y, pen, lam, grid, solver):
    """The solution of one problem (one block of tasks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pen == "kernel":
            return ls.solve(X, Y, lam=lam, penalty="kernel", free="intercept")
        return ls.solve(X, Y, lam=lam, penalty=pen, grid=grid, solver=solver,
                        free="intercept", certify_limit=False)


def task_errors(data, grid, pen, T, lam, solver):
    """Test MSE of each of the n_tasks tasks, learned in blocks of T tasks."""
    X, Y, Xt, Yt = data
    err = []
    for i in range(0, Y.shape[1], T):
        sol = fit(X, Y[:, i:i + T], pen, lam, grid, solver)
        err.append(np.mean((sol.predict(Xt) - Yt[:, i:i + T]) ** 2, axis=0))
    return np.concatenate(err)


def calibrate(cfg, candidates, tasks):
    """Per method and T, the candidate λ with the smallest mean test error (over tasks and
    calibration seeds). l1 and the kernel decouple the tasks (their errors are the same for
    every T), so their λ is chosen once, from one problem with all tasks; for T = 1 the
    group problem is the l1 problem."""
    errs = {}
    for seed in cfg.calib_seeds:
        data = make_data(cfg, seed)
        grid = default_grid(data[0], "regularized", cfg.n_directions)
        for pen in PENALTIES:
            for T in (tasks[1:] if pen == "group" else [tasks[-1]]):
                for lam in candidates(pen, T):
                    errs.setdefault((pen, T, lam), []).append(
                        task_errors(data, grid, pen, T, lam, cfg.solver).mean())
    best = {}
    for pen in PENALTIES:
        for T in tasks:
            key = (pen, T) if (pen == "group" and T > 1) else (
                "l1" if pen == "group" else pen, tasks[-1])
            lams = candidates(*key)
            best[pen, T] = lams[int(np.argmin([np.mean(errs[key + (lam,)]) for lam in lams]))]
    return best


def kink_lines(ax, directions, weights, style, label):
    """Draw the kink lines {w·x + b = 0} of 2-D neurons θ = (w, b) in the square, line width
    ∝ ‖V_j‖₂ relative to the largest of this fit."""
    s = np.linspace(-1.5, 1.5, 200)
    wmax = max(np.max(np.linalg.norm(weights, axis=1)), 1e-12) if len(weights) else 1.0
    for j, (th, v) in enumerate(zip(directions, weights)):
        w, b = th[:2], th[2]
        p0 = -b * w / (w @ w)
        line = p0 + s[:, None] * np.array([-w[1], w[0]]) / np.linalg.norm(w)
        ax.plot(line[:, 0], line[:, 1], style, lw=0.5 + 3 * np.linalg.norm(v) / wmax,
                label=label if j == 0 else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (for the tests)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="folder for the PNG (default: next to this script)")
    ap.add_argument("--solver", default="auto", help="grid backend (default auto)")
    ap.add_argument("--d", type=int, default=2, choices=(1, 2),
                    help="input dimension (default 2; 1 shows why 1-D has no benefit)")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="evaluation seeds are first-seed, first-seed+1, ... (default 0)")
    cfg = ap.parse_args(argv)
    cfg.k, cfg.noise, cfg.n_test = 2, 0.5, 500
    if cfg.d == 1:
        cfg.k = 3
    if cfg.quick:
        cfg.n, cfg.n_tasks, tasks, seeds, cfg.calib_seeds = 30, 4, [1, 4], 3, [1000]
        cfg.n_directions, mult = 300, np.array([0.5, 1.0, 2.0])
    else:
        cfg.n, cfg.n_tasks, tasks, seeds = 50, 16, [1, 2, 4, 8, 16], 20
        cfg.calib_seeds = [1000, 1001, 1002, 1003]
        cfg.n_directions, mult = 1000 if cfg.d == 2 else 512, np.geomspace(0.25, 4, 7)
    seeds = list(range(cfg.first_seed, cfg.first_seed + seeds))
    if set(seeds) & set(cfg.calib_seeds):
        raise SystemExit("evaluation seeds overlap the calibration seeds")
    lam_l1, lam_kernel = (0.015, 5e-4) if cfg.d == 2 else (0.004, 3e-5)

    def candidates(pen, T):
        if pen == "kernel":
            return list(lam_kernel * mult ** 2)    # wider: the kernel's λ acts on ‖g‖²
        return list(lam_l1 * (np.sqrt(T) if pen == "group" else 1.0) * mult)

    t0 = time.time()
    print(f"multitask_benefit: d={cfg.d}, {cfg.k} shared neurons, n={cfg.n} inputs shared by "
          f"{cfg.n_tasks} unit-size tasks, noise {cfg.noise}; tasks learned in blocks of T = "
          f"{tasks}; {len(seeds)} evaluation seeds, calibration seeds {cfg.calib_seeds}")
    lam = calibrate(cfg, candidates, tasks)
    print("lambda (chosen on the calibration seeds): " + "; ".join(
        f"{pen} " + ", ".join(f"{lam[pen, T]:.3g}" for T in tasks) for pen in PENALTIES)
        + f"  (for T = {', '.join(map(str, tasks))})")
    edge = [f"{pen} T={T}" for (pen, T), v in lam.items()
            if (pen == "group" and T > 1 or pen != "group" and T == tasks[-1])
            and v in (candidates(pen, T)[0], candidates(pen, T)[-1])]
    if edge and not cfg.quick:
        print("  note: λ at the end of its candidate list for " + ", ".join(edge))
    t_cal = time.time() - t0

    # evaluation: err[p, i, s] = test MSE averaged over all tasks, method p, block size
    # tasks[i], seed s.  For T = 1 the group problem is the l1 problem (one task).
    err = np.full((len(PENALTIES), len(tasks), len(seeds)), np.nan)
    example, ref = None, []
    for s, seed in enumerate(seeds):
        data = make_data(cfg, seed)
        grid = default_grid(data[0], "regularized", cfg.n_directions)
        for i, T in enumerate(tasks):
            for p, pen in enumerate(PENALTIES):
                if pen == "group" and T == 1:
                    continue
                err[p, i, s] = task_errors(data, grid, pen, T, lam[pen, T], cfg.solver).mean()
        err[0, 0, s] = err[1, 0, s]
        ref.append(known_neurons_error(cfg, seed))
        if s == 0:
            example = (data, grid)
    n_s = len(seeds)
    mean = err.mean(2)
    se = err.std(2, ddof=1) / np.sqrt(n_s)
    print(f"{'T':>4s} " + " ".join(f"{p + ' test MSE':>20s}" for p in PENALTIES)
          + f" {'paired l1 - group':>20s}")
    for i, T in enumerate(tasks):
        dif = err[1, i] - err[0, i]
        print(f"{T:4d} " + " ".join(f"{mean[p, i]:10.4f} ± {se[p, i]:7.4f}"
                                    for p in range(len(PENALTIES)))
              + f" {dif.mean():10.4f} ± {dif.std(ddof=1) / np.sqrt(n_s):7.4f}")
    g, l1, k = mean[:, -1]
    margin = min(l1, k) - g
    spread = max(se[:, -1])
    print(f"at T={tasks[-1]}: group {g:.4f}, l1 {l1:.4f}, kernel {k:.4f}; margin "
          f"{margin:.4f} vs largest standard error {spread:.4f} -> "
          + ("group is best by more than the spread" if margin > spread else
             "NOT shown: group is not better by more than the spread"))
    print(f"(standard deviation over seeds at T={tasks[-1]}, not of the mean: "
          + ", ".join(f"{pen} {err[p, -1].std(ddof=1):.4f}" for p, pen in enumerate(PENALTIES))
          + "; the seeds differ in difficulty for all methods alike, hence the paired column)")
    wins = int(np.sum((err[0, -1] < err[1, -1]) & (err[0, -1] < err[2, -1])))
    print(f"group best on {wins} of {n_s} seeds at T={tasks[-1]}; group error T=1 -> "
          f"T={tasks[-1]}: {mean[0, 0]:.4f} -> {mean[0, -1]:.4f}; l1 {mean[1, 0]:.4f} -> "
          f"{mean[1, -1]:.4f}; kernel {mean[2, 0]:.4f} -> {mean[2, -1]:.4f}")
    ref_m, ref_se = np.mean(ref), np.std(ref, ddof=1) / np.sqrt(n_s)
    print(f"reference, least squares on the true neurons (not a competitor, it is told the "
          f"neurons): {ref_m:.4f} ± {ref_se:.4f}")
    t_ctrl = time.time()
    n_ctrl = min(8, cfg.n_tasks)
    ctrl_seeds = seeds
    ctrl, ctrl_lam = unrelated_control(cfg, candidates, ctrl_seeds, n_ctrl)
    cd = ctrl[1] - ctrl[0]
    cse = cd.std(ddof=1) / np.sqrt(len(cd))
    worse = int(np.sum(cd < 0))
    print(f"control, {n_ctrl} UNRELATED tasks (each its own {cfg.k} neurons, nothing shared; "
          f"λ group {ctrl_lam[0]:.3g}, l1 {ctrl_lam[1]:.3g} from the calibration seeds): "
          f"group {ctrl[0].mean():.4f}, l1 {ctrl[1].mean():.4f}, paired l1 - group "
          f"{cd.mean():.4f} ± {cse:.4f}; group worse on {worse} of {len(cd)} seeds -> "
          + ("pooling unrelated tasks hurts: do not pool tasks that share no features"
             if cd.mean() + cse < 0 else "no significant loss from pooling here"))
    print(f"(calibration {t_cal:.0f} s, evaluation {t_ctrl - t0 - t_cal:.0f} s, control "
          f"{time.time() - t_ctrl:.0f} s)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    ax = axes[0]
    for p, pen in enumerate(PENALTIES):
        ax.errorbar(tasks, mean[p], yerr=se[p], marker="o", capsize=3, label=pen)
    ax.axhline(ref_m, color="0.4", ls="--", lw=1, label="least squares on the true neurons")
    ax.set_xscale("log", base=2)
    ax.set_xticks(tasks, [str(T) for T in tasks])
    ax.set_xlabel("tasks learned together T")
    ax.set_ylabel(f"test MSE (mean over {cfg.n_tasks} tasks)")
    ax.set_title(f"{cfg.k} shared neurons, d={cfg.d}, n={cfg.n}, noise {cfg.noise}; "
                 f"mean ± s.e. over {n_s} seeds", fontsize="small")
    ax.legend(fontsize="small")
    (X, Y, Xt, Yt), grid = example
    ax = axes[1]
    if cfg.d == 2:
        # the kink lines: truth, task 0 alone (l1 = group with T = 1), all tasks (group)
        T = tasks[-1]
        one = fit(X, Y[:, :1], "l1", lam["l1", 1], grid, cfg.solver)
        many = fit(X, Y[:, :T], "group", lam["group", T], grid, cfg.solver)
        kink_lines(ax, one.directions, one.weights, "C1-", "task 0 alone (l1)")
        kink_lines(ax, many.directions, many.weights, "C0-", f"group, {T} tasks")
        theta, A = make_data(cfg, seeds[0], return_neurons=True)[4]
        kink_lines(ax, theta, A, "k--", "true kink lines")
        ax.plot(X[:, 0], X[:, 1], ".", color="0.5", ms=4)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_title(f"seed {seeds[0]}: kink lines of the neurons (width ∝ ‖V_j‖₂, per fit)",
                     fontsize="small")
        ax.legend(fontsize="x-small", loc="upper right")
    else:
        T = tasks[-1]
        many = fit(X, Y[:, :T], "group", lam["group", T], grid, cfg.solver)
        ax.plot(X[:, 0], Y[:, 0], ".", color="0.5")
        ax.plot(Xt[:, 0], Yt[:, 0], "k:", label="task 0 truth")
        ax.plot(Xt[:, 0], many.predict(Xt)[:, 0], "C0-", label=f"group, {T} tasks")
        one = fit(X, Y[:, :1], "l1", lam["l1", 1], grid, cfg.solver)
        ax.plot(Xt[:, 0], one.predict(Xt)[:, 0], "C1-", label="task 0 alone")
        ax.legend(fontsize="x-small")
        ax.set_title(f"seed {seeds[0]}, task 0", fontsize="small")
    ax = axes[2]
    rng = np.random.default_rng(0)
    for i, T in enumerate(tasks[1:], start=1):
        dif = err[1, i] - err[0, i]
        ax.plot(i + 0.08 * rng.standard_normal(n_s), dif, ".", color="C0", alpha=0.6)
        ax.errorbar(i, dif.mean(), yerr=dif.std(ddof=1) / np.sqrt(n_s), fmt="_", color="k",
                    ms=14, capsize=4)
    j = len(tasks)
    ax.plot(j + 0.08 * rng.standard_normal(len(cd)), cd, ".", color="C3", alpha=0.7)
    ax.errorbar(j, cd.mean(), yerr=cse, fmt="_", color="k", ms=14, capsize=4)
    ax.axhline(0, color="0.5", lw=1)
    ax.set_xticks(list(range(1, j + 1)),
                  [f"T={T}" for T in tasks[1:]] + [f"unrelated\nT={n_ctrl}"])
    ax.set_ylabel("paired l1 − group test MSE (> 0: pooling helps)")
    ax.set_title("per seed (dots), mean ± s.e. (bars); red: control, tasks share no neuron",
                 fontsize="small")
    fig.tight_layout()
    os.makedirs(cfg.out, exist_ok=True)
    path = os.path.join(cfg.out, "multitask_benefit.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path} ({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
