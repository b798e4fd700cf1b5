"""Uniqueness with many tasks (Nakhleh, Shenouda & Nowak, arXiv 2410.21696, their Fig. 4):
min-norm multi-task interpolation of 8 points on two origin-centred squares — inner square
of side 1, value 1; outer square of side 2, value 0 — as task 0, plus K extra tasks with
Bernoulli(½) labels at the same 8 points.

With K = 0 the minimal-representation-cost interpolant of this symmetric data is not unique;
the paper's claim is that with many diverse extra tasks it becomes unique and close to a
kernel solution. Measured here, for K in 0, 1, 4, 16, 100 and two seeds of the
Bernoulli tasks (mean ± s.e. over seeds):

- certified refinement (``ls.solve(..., loss="interpolate", refine=True)``: exchange and
  sliding until the certified limit gap is tiny) from rotated Fibonacci starting grids;
  the disagreement between the starts is max |f₀(start a) − f₀(start b)| on a 41 × 41 grid
  of [−1.2, 1.2]²;
- the uniqueness measure: the width of task 0's prediction range
  (:func:`limitsolver.prediction_range`, ε = 1e-6 relative; support: the atoms of every start
  plus a 300-direction grid) at 13 points between and around the squares — every end is
  attained by an explicit measure within ε of the optimum, so width > 0 *certifies*
  non-uniqueness of the near-optimal set;
- the learned-kernel approximation: task 0 of the joint fit against the minimum-norm
  interpolant of y₀ in the kernel K(x, x′) = Σ_j ‖V_j,others‖₂ relu(θ_j·x̃) relu(θ_j·x̃′) of
  the neurons weighted by the norms of their *other* tasks' weights (with all tasks in the
  weights that interpolant is task 0 exactly — printed as a check).

Negative control: K = 16 copies of task 0. T identical tasks have penalty √T times the
single task's, so the near-optimal set contains every single-task near-optimal function:
more tasks that are not diverse must NOT make the solution unique (the range must stay
as wide as at K = 0). Pure-noise tasks would not be a control (they are diverse).

Refinement on this problem sometimes stops with ``SolverFailed`` in the inner conic solve,
ends with a large certified limit gap, or runs for minutes; such a start is retried with the
ECOS backend, then replaced by the next rotation (all printed as notes; a start is abandoned
after 60 s of CPU time). Only starts certified to a relative limit gap ≤ 1e-6 are used.

    python examples/uniqueness_many_tasks.py [--quick] [--out DIR]
"""
import signal
import sys
import time
import warnings

import numpy as np

from _common import parse, save

import limitsolver as ls  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402

SQUARE = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)
X = np.vstack([0.5 * SQUARE, SQUARE])          # inner side 1, outer side 2
Y0 = np.r_[np.ones(4), np.zeros(4)]            # inner vertices 1, outer 0
G1 = np.linspace(-1.2, 1.2, 41)
X_TEST = np.array(np.meshgrid(G1, G1)).reshape(2, -1).T
_ring = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], float)
X_RANGE = np.vstack([[0.0, 0.0], 0.75 * _ring, 0.75 * SQUARE, 1.2 * _ring])
EPS = 1e-6
#: A start is kept only when certified this close to the infinite-width optimum (relative).
MAX_LIMIT_GAP = 1e-6
#: CPU seconds after which one refinement start is abandoned (a few stall on this problem).
START_CPU_LIMIT = 60.0


def rotated_grid(m, seed):
    """A Fibonacci lattice of m directions on S², rotated by a random orthogonal matrix."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    return sphere_grid(3, m) @ Q.T


class _OutOfTime(Exception):
    pass


def _out_of_time(signum, frame):
    raise _OutOfTime


def _solve_limited(Y, grid, solver):
    """One certified refinement, abandoned after START_CPU_LIMIT seconds of CPU time."""
    limited = hasattr(signal, "setitimer")
    if limited:
        old = signal.signal(signal.SIGPROF, _out_of_time)
        signal.setitimer(signal.ITIMER_PROF, START_CPU_LIMIT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ls.solve(X, Y, loss="interpolate", grid=grid, refine=True, solver=solver)
    finally:
        if limited:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)


def refined_fits(Y, n_starts, m, log):
    """Certified refined interpolants from ``n_starts`` rotated grids (failed starts are
    retried with ECOS, then replaced by the next rotation)."""
    fits, rot = [], 0
    while len(fits) < n_starts and rot < 4 * n_starts:
        rot += 1
        for solver in ("auto", "ecos"):
            try:
                s = _solve_limited(Y, rotated_grid(m, rot), solver)
            except ls.SolverFailed as exc:
                log.append(f"rotation {rot}, solver {solver}: SolverFailed "
                           f"({str(exc)[:60]}...)")
                continue
            except _OutOfTime:
                log.append(f"rotation {rot}, solver {solver}: refinement still running after "
                           f"{START_CPU_LIMIT:g} s of CPU; start abandoned")
                continue
            rel = s.limit_gap / abs(s.objective) if s.limit_gap is not None else np.inf
            if not s.lower_bound_exact or rel > MAX_LIMIT_GAP:
                log.append(f"rotation {rot}, solver {solver}: refinement stopped at relative "
                           f"limit gap {rel:.1e} (> {MAX_LIMIT_GAP:g}); start discarded")
                continue
            fits.append(s)
            break
    if len(fits) < 2:
        raise RuntimeError(f"fewer than 2 certified starts ({len(fits)}); see the notes")
    return fits


def measure(Y, n_starts, m, log):
    """(disagreement, range width, kernel error, self-kernel error, worst rel. limit gap,
    fits) for one target matrix Y (task 0 first)."""
    fits = refined_fits(Y, n_starts, m, log)
    best = min(fits, key=lambda s: s.objective)
    f = np.array([s.predict(X_TEST)[:, 0] for s in fits])
    scale = np.abs(f).max()
    disagree = float(np.ptp(f, axis=0).max() / scale)
    extra = np.vstack([s.atom_directions for s in fits if s is not best]
                      + [sphere_grid(3, 300)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rng_ = ls.prediction_range(best, X_RANGE, eps=EPS, grid=extra)
    width = float(rng_.width.max() / scale)
    f0 = best.predict(X_TEST)[:, 0]
    own = ls.fit_frozen(best, X, Y[:, 0], ridge=False, weights="output_norm", free="none")
    self_err = float(np.abs(own.predict(X_TEST)[:, 0] - f0).max() / scale)
    kern_err = np.nan
    if Y.shape[1] > 1:
        other = ls.fit_frozen(best, X, Y[:, 0], ridge=False, weights="output_norm",
                              tasks=list(range(1, Y.shape[1])), free="none")
        kern_err = float(np.abs(other.predict(X_TEST)[:, 0] - f0).max() / scale)
    gap = max(s.limit_gap / abs(s.objective) for s in fits)
    return disagree, width, kern_err, self_err, gap, fits


def bernoulli(K, seed):
    """Task 0 and K Bernoulli(½) tasks (seed-dependent)."""
    B = np.random.default_rng(seed).integers(0, 2, size=(8, K)).astype(float)
    return np.column_stack([Y0, B])


def _row(K, vals):
    v = np.array(vals)
    se = v.std(0, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.zeros(v.shape[1])
    mean = v.mean(0)
    cells = [f"{mean[c]:9.2e} ± {se[c]:7.1e}" for c in range(3)]
    return f"{K:>9} " + " ".join(cells) + f" {v[:, 3].max():10.1e} {v[:, 4].max():9.1e}"


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    Ks = [0, 4] if args.quick else [0, 1, 4, 16, 100]
    seeds = [0] if args.quick else [0, 1]
    n_starts, m, n_copies = 2, 200, (4 if args.quick else 16)
    print(f"uniqueness_many_tasks: 8 points on two squares; K extra Bernoulli(1/2) tasks, "
          f"seeds {seeds}; refined from {n_starts} rotated grids of {m} directions; "
          f"prediction range of task 0 at {len(X_RANGE)} points, eps {EPS:g}")
    head = (f"{'K':>9} {'start disagreement':>19} {'range width':>19} "
            f"{'kernel(others) err':>19} {'self-kernel':>10} {'limit gap':>9}")
    print("(all relative to max|f0|; mean ± s.e. over seeds)\n" + head)
    res, log, example = {}, [], {}
    for K in Ks:
        rows = []
        for seed in (seeds if K > 0 else seeds[:1]):   # K = 0: no random task
            *vals, fits = measure(bernoulli(K, seed), n_starts, m, log)
            rows.append(vals)
            example.setdefault(K, fits)
        res[K] = np.array(rows)
        print(_row(K, rows), flush=True)
    *ctrl, ctrl_fits = measure(np.repeat(Y0[:, None], n_copies + 1, axis=1), n_starts, m, log)
    print(_row(f"{n_copies} copies", [ctrl]) + "   <- control: copies of task 0")
    for line in log:
        print("  note: " + line)
    w0, wK, wc = res[0][:, 1].mean(), res[Ks[-1]][:, 1].mean(), ctrl[1]
    unique = wK < 0.1 * w0 and wc > 0.5 * w0
    print(f"verdict: range width of task 0 is {w0:.3g} with no extra task, {wK:.3g} with "
          f"{Ks[-1]} Bernoulli tasks, {wc:.3g} with {n_copies} copies of task 0 -> "
          + ("many diverse tasks make the interpolant (near-)unique, copies do not"
             if unique else "NOT shown: the range does not shrink with diverse tasks only"))
    if Ks[-1] > 0:
        print(f"kernel approximation at K={Ks[-1]}: task 0 within "
              f"{np.nanmean(res[Ks[-1]][:, 2]):.3g} (relative sup) of the min-norm "
              f"interpolant in the kernel of the other tasks' neurons")
    _figure(args, Ks, res, ctrl, n_copies, example)
    print(f"({time.time() - t0:.1f} s)")
    return 0


def _figure(args, Ks, res, ctrl, n_copies, example):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    xk = [max(K, 0.5) for K in Ks]

    def bars(ax, col, label, **kw):
        v = [res[K][:, col] for K in Ks]
        m = np.array([np.nanmean(a) for a in v])
        se = np.array([np.nanstd(a, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0 for a in v])
        ax.errorbar(xk, m, yerr=se, marker="o", capsize=3, label=label, **kw)

    ax = axes[0]
    bars(ax, 1, f"prediction range width (ε = {EPS:g})")
    bars(ax, 0, "disagreement of refined starts")
    ax.plot([max(Ks[-1], 1)], [ctrl[1]], "rs", ms=8,
            label=f"control: {n_copies} copies of task 0 (range width)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("extra tasks K (K = 0 drawn at 0.5)")
    ax.set_ylabel("relative to max |f₀|")
    ax.set_title("task 0: non-uniqueness vs number of extra tasks", fontsize="small")
    ax.legend(fontsize="x-small")
    ax = axes[1]
    Kp = [K for K in Ks if K > 0]
    if Kp:
        m = [np.nanmean(res[K][:, 2]) for K in Kp]
        se = [np.nanstd(res[K][:, 2], ddof=1) / np.sqrt(len(res[K])) if len(res[K]) > 1
              else 0 for K in Kp]
        ax.errorbar(Kp, m, yerr=se, marker="o", capsize=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("extra tasks K")
    ax.set_ylabel("max |f₀ − kernel interpolant| / max |f₀|")
    ax.set_title("task 0 vs min-norm interpolant in the other tasks' neuron kernel",
                 fontsize="small")
    ax = axes[2]
    t = np.linspace(-1.2, 1.2, 201)
    diag = np.column_stack([t, t])
    for K, style in ((Ks[0], "-"), (Ks[-1], "--")):
        for a, s in enumerate(example[K]):
            ax.plot(t, s.predict(diag)[:, 0], style, color=f"C{a}",
                    label=f"K = {K}, start {a + 1}")
    ax.plot(X[[0, 2, 4, 6], 0], Y0[[0, 2, 4, 6]], "ko", label="data on the diagonal")
    ax.set_xlabel("t (point (t, t) on the diagonal)")
    ax.set_ylabel("task 0")
    ax.set_title("task 0 along the diagonal, two refined starts each", fontsize="small")
    ax.legend(fontsize="x-small")
    save(fig, args, "uniqueness_many_tasks.png")


if __name__ == "__main__":
    sys.exit(main())
