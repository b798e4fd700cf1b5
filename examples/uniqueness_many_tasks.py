"""Uniqueness with many tasks (Nakhleh, Shenouda & Nowak, arXiv 2410.21696, their Fig. 4):
min-norm multi-task interpolation of 8 points on two origin-centred squares — inner square
of side 1, value 1; outer square of side 2, value 0 — as task 0, plus K extra tasks with
Bernoulli(½) labels at the same 8 points.

With K = 0 the minimal-representation-cost interpolant of this symmetric data is not unique;
the paper's claim is that with many diverse extra tasks it becomes unique and close to a
kernel solution. Measured here, for K in 0, 1, 2, 4, 8, 16, 100 and 10 seeds of the
Bernoulli tasks per K (2 at K = 100, whose range programs dominate the run; mean ± s.e.
over seeds):

- certified refinement (``ls.solve(..., loss="interpolate", refine=True)``: exchange and
  sliding until the certified limit gap is tiny) from rotated Fibonacci starting grids;
  the disagreement between the starts is max |f₀(start a) − f₀(start b)| on a 41 × 41 grid
  of [−1.2, 1.2]²;
- the uniqueness measure: the width of task 0's prediction range
  (:func:`limitsolver.prediction_range`) at 13 points between and around the squares, over
  measures on the atoms of every certified start, within an ABSOLUTE slack ε·J₀ of the
  optimum (J₀ = task 0's cost alone, the same for every K: a slack relative to the joint
  objective would grow with K), at ε = 1e-5 and 1e-7. Every end is attained by an explicit
  measure, so width > 0 certifies that the ε-near-optimal set holds different functions.
  Around a unique optimum with quadratic growth the width shrinks like √ε; on a flat face
  of optimal measures it does not shrink: the collapse rate d log(width) / d log ε
  (≈ ½ vs ≈ 0) tells the two apart. The full run also prints, for K = 4, the width against
  ε, against the grid added to the support, and against the optimality of the solution
  the range is centred on;
- the learned-kernel approximation: task 0 of the joint fit against the minimum-norm
  interpolant of y₀ in the kernel K(x, x′) = Σ_j ‖V_j,others‖₂ relu(θ_j·x̃) relu(θ_j·x̃′) of
  the neurons weighted by the norms of their *other* tasks' weights (with all tasks in the
  weights that interpolant is task 0 exactly — printed as a check).

- the claim as a rate: per K, the fraction of seeds whose range collapses (rate > 0.4)
  with its exact binomial (Clopper–Pearson) 95 % interval, and the seeds whose range is
  flat (rate < 0.1);
- for every flat seed (and one collapsing seed as a contrast), the evidence that the flat
  face is in the data, not in the solver or the range code: the width at the widest point
  for ε = 1e-4 … 1e-8 (it levels off instead of shrinking), the same range programs
  written directly in cvxpy here (:func:`own_range`, Clarabel and ECOS), and the spread of
  f₀ there among twice as many certified refined starts (different certified optima).

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
from limitsolver.problem import LimitProblem  # noqa: E402
from limitsolver.refine import refine  # noqa: E402

SQUARE = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)
X = np.vstack([0.5 * SQUARE, SQUARE])          # inner side 1, outer side 2
Y0 = np.r_[np.ones(4), np.zeros(4)]            # inner vertices 1, outer 0
G1 = np.linspace(-1.2, 1.2, 41)
X_TEST = np.array(np.meshgrid(G1, G1)).reshape(2, -1).T
_ring = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], float)
X_RANGE = np.vstack([[0.0, 0.0], 0.75 * _ring, 0.75 * SQUARE, 1.2 * _ring])
#: Slacks of the range, relative to J₀ (task 0's cost alone): the near-optimal set is
#: {μ : J(μ) ≤ J* + ε·J₀}, the same absolute slack for every K (J* grows with K).
#: Not smaller: below ~1e-8 the conic solver's tolerance exceeds the slack, the attained
#: ends are pulled back towards the solution and the measured width collapses spuriously
#: (K = 0, 300 extra directions: conic width 1.40, attained 0.78 at ε = 1e-8).
EPS = (1e-5, 1e-7)
#: Fibonacci directions added to the range programs' support besides every start's atoms
#: (none: the width does not depend on them, see ``diagnostics``; they make the programs
#: larger and less accurate).
RANGE_GRID = 0
#: A start is kept only when certified this close to the infinite-width optimum (relative).
MAX_LIMIT_GAP = 1e-6
#: CPU seconds after which one refinement start is abandoned (a few stall on this problem).
START_CPU_LIMIT = 60.0


#: K values and seeds per K of the full run (K = 0 has no random task; K = 100 is the
#: paper's setting, its range programs the costliest: fewer seeds).
FULL_KS = (0, 1, 2, 4, 8, 16, 100)
FULL_SEEDS = {0: 1, 1: 10, 2: 10, 4: 10, 8: 10, 16: 10, 100: 2}
#: A seed's range "collapses" when its collapse rate exceeds COLLAPSED (≈ ½: width ∝ √ε)
#: and is "flat" below FLAT (≈ 0: a face of optima); in between it is neither.
COLLAPSED, FLAT = 0.4, 0.1


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
    """Certified refined interpolants from ``n_starts`` rotated grids. A failed start is
    retried on a 5× finer grid of the same rotation, then with ECOS, then replaced by the
    next rotation (some data sets stall from every coarse start: K = 1, seed 2)."""
    fits, rot = [], 0
    while len(fits) < n_starts and rot < 4 * n_starts:
        rot += 1
        for solver, size in (("auto", m), ("auto", 5 * m), ("ecos", m)):
            tag = f"rotation {rot}, {size} directions, solver {solver}"
            try:
                s = _solve_limited(Y, rotated_grid(size, rot), solver)
            except ls.SolverFailed as exc:
                log.append(f"{tag}: SolverFailed ({str(exc)[:60]}...)")
                continue
            except _OutOfTime:
                log.append(f"{tag}: refinement still running after {START_CPU_LIMIT:g} s of "
                           "CPU; start abandoned")
                continue
            rel = s.limit_gap / abs(s.objective) if s.limit_gap is not None else np.inf
            if not s.lower_bound_exact or rel > MAX_LIMIT_GAP:
                log.append(f"{tag}: refinement stopped at relative limit gap {rel:.1e} "
                           f"(> {MAX_LIMIT_GAP:g}); start discarded")
                continue
            fits.append(s)
            break
    if len(fits) < 2:
        raise RuntimeError(f"fewer than 2 certified starts ({len(fits)}); see the notes")
    return fits


def task0_cost(log=None):
    """J₀: the certified min-norm interpolation cost of task 0 alone (the slack unit)."""
    if "J0" not in _CACHE:
        fits = refined_fits(Y0[:, None], 2, 200, [] if log is None else log)
        _CACHE["J0"] = float(min(s.objective for s in fits))
    return _CACHE["J0"]


_CACHE = {}


def support(fits, best, n_grid):
    """The range programs' extra directions: the atoms of the other starts plus a
    ``n_grid``-direction Fibonacci grid (none for n_grid = 0)."""
    extra = [s.atom_directions for s in fits if s is not best]
    if n_grid:
        extra.append(sphere_grid(3, n_grid))
    return np.vstack(extra)


def range_width(best, fits, eps, n_grid, scale, log=None):
    """Max over X_RANGE of task 0's range width at slack ε·J₀, relative to ``scale``
    (attained ends; a note goes to ``log`` when they fall short of the conic values by more
    than 10 %, i.e. when the solver's tolerance, not the problem, limits the width)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = ls.prediction_range(best, X_RANGE, slack=eps * task0_cost(),
                                grid=support(fits, best, n_grid))
    width, conic = float(r.width.max()), float((r.conic_upper - r.conic_lower).max())
    if log is not None and width < 0.9 * conic:
        log.append(f"T = {best.problem.T}, eps {eps:g}: attained width {width / scale:.3g} "
                   f"< conic width {conic / scale:.3g} (solver tolerance)")
    return width / scale


def measure(Y, n_starts, m, log, eps=EPS):
    """(disagreement, range width at ε = eps[0], kernel error, self-kernel error, worst rel.
    limit gap, fits, range width at every ε of ``eps``) for one target matrix Y (task 0
    first); the slack of the range is ε·J₀ (J₀ = task 0's cost alone) for every K."""
    eps = np.atleast_1d(eps)
    fits = refined_fits(Y, n_starts, m, log)
    best = min(fits, key=lambda s: s.objective)
    f = np.array([s.predict(X_TEST)[:, 0] for s in fits])
    scale = np.abs(f).max()
    disagree = float(np.ptp(f, axis=0).max() / scale)
    widths = [range_width(best, fits, e, RANGE_GRID, scale, log) for e in eps]
    f0 = best.predict(X_TEST)[:, 0]
    own = ls.fit_frozen(best, X, Y[:, 0], ridge=False, weights="output_norm", free="none")
    self_err = float(np.abs(own.predict(X_TEST)[:, 0] - f0).max() / scale)
    kern_err = np.nan
    if Y.shape[1] > 1:
        other = ls.fit_frozen(best, X, Y[:, 0], ridge=False, weights="output_norm",
                              tasks=list(range(1, Y.shape[1])), free="none")
        kern_err = float(np.abs(other.predict(X_TEST)[:, 0] - f0).max() / scale)
    gap = max(s.limit_gap / abs(s.objective) for s in fits)
    return disagree, widths[0], kern_err, self_err, gap, fits, widths


def collapse_rate(w_big, w_small, eps_big, eps_small):
    """Log-log slope of the range width in ε between two slacks: ≈ 1/2 when the width
    shrinks like √ε (quadratic growth of J around a unique optimum, the range a
    sublevel set), ≈ 0 when it does not shrink (a flat face of optimal measures)."""
    return float(np.log(max(w_big, 1e-300) / max(w_small, 1e-300))
                 / np.log(eps_big / eps_small))


def clopper_pearson(k, n, level=0.95):
    """Exact (Clopper–Pearson) binomial interval for a proportion k/n: the endpoints are
    the Beta(k, n−k+1) and Beta(k+1, n−k) quantiles at (1 ∓ level)/2."""
    from scipy.stats import beta
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def own_range(fits, Y, x, slack, solver):
    """Task 0's range at one point x, written here directly in cvxpy (not through
    :func:`limitsolver.prediction_range`): J_S = min J over measures on the atoms S of every
    start, then min and max of f₀(x) subject to the interpolation and J ≤ J_S + slack.
    Returns (conic width, J_S); the values are the solver's (estimates)."""
    import cvxpy as cp
    from limitsolver.features import augment, relu_features
    S = np.vstack([s.atom_directions for s in fits])
    Phi, p = relu_features(augment(X), S), relu_features(augment(x[None]), S)[0]
    V = cp.Variable((len(S), Y.shape[1]))
    pen, cons = cp.sum(cp.norm(V, 2, axis=1)), [Phi @ V == Y]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        J_S = cp.Problem(cp.Minimize(pen), cons).solve(solver=solver)
        ends = [sg * cp.Problem(cp.Minimize(sg * (p @ V[:, 0])),
                                cons + [pen <= J_S + slack]).solve(solver=solver)
                for sg in (1.0, -1.0)]
    return float(ends[1] - ends[0]), float(J_S)


def face_evidence(Y, n_starts, m, log):
    """For one data set: (widest range point, library width at ε = 1e-4…1e-8, the same by
    :func:`own_range` with Clarabel and with ECOS at 1e-6 and 1e-8, the largest
    disagreement among ``n_starts`` certified starts at that point, their worst relative
    limit gap); widths relative to max|f₀|."""
    fits = refined_fits(Y, n_starts, m, log)
    best = min(fits, key=lambda s: s.objective)
    scale = np.abs(np.array([s.predict(X_TEST)[:, 0] for s in fits])).max()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = ls.prediction_range(best, X_RANGE, slack=EPS[1] * task0_cost(),
                                grid=support(fits, best, 0))
    i = int(np.argmax(r.width[:, 0]))
    lib = {e: range_width(best, fits, e, 0, scale) for e in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)}
    own = {(sv, e): own_range(fits, Y, X_RANGE[i], e * task0_cost(), sv)[0] / scale
           for sv in ("CLARABEL", "ECOS") for e in (1e-6, 1e-8)}
    f_i = [float(s.predict(X_RANGE[i:i + 1])[0, 0]) for s in fits]
    gap = max(s.limit_gap / abs(s.objective) for s in fits)
    return X_RANGE[i], lib, own, float(np.ptp(f_i) / scale), gap


def flat_faces(res, n_starts, m, log):
    """Prints the evidence of :func:`face_evidence` (with twice the starts) for every seed
    whose range is flat (collapse rate < FLAT), and for K = 4, seed 0 (a collapsing one)."""
    cases = [(K, r["seed"]) for K, rows in res.items() if K > 0
             for r in rows if r["rate"] < FLAT]
    print("flat-face evidence (widths relative to max|f0| at the widest range point):")
    for K, seed in cases + [(4, 0)]:
        x, lib, own, dis, gap = face_evidence(bernoulli(K, seed), 2 * n_starts, m, log)
        print(f"  K = {K}, seed {seed}, x = ({x[0]:g}, {x[1]:g}): library range vs eps "
              + ", ".join(f"{e:g}: {w:.3g}" for e, w in lib.items())
              + "; own cvxpy range " + ", ".join(f"{sv} {e:g}: {w:.3g}"
                                                  for (sv, e), w in own.items())
              + f"; {2 * n_starts} certified starts (rel. limit gap <= {gap:.1e}) "
                f"spread {dis:.3g}", flush=True)


def bernoulli(K, seed):
    """Task 0 and K Bernoulli(½) tasks (seed-dependent)."""
    B = np.random.default_rng(seed).integers(0, 2, size=(8, K)).astype(float)
    return np.column_stack([Y0, B])


def _stats(rows, col):
    v = np.array([r[col] for r in rows], float)
    if np.isnan(v).all():
        return np.nan, np.nan
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return float(np.nanmean(v)), float(se)


def _row(K, rows):
    """One printed table line: mean ± s.e. over seeds (rows: dicts of one (K, seed))."""
    cells = [f"{m:9.2e} ± {e:7.1e}" for m, e in (_stats(rows, c) for c in
                                                   ("disagree", "w_hi", "w_lo", "rate",
                                                    "kern"))]
    return (f"{K:>9} " + " ".join(cells) + f" {max(r['self'] for r in rows):10.1e} "
            f"{max(r['gap'] for r in rows):9.1e}")


def run_case(Y, n_starts, m, log):
    """The measurements of one target matrix as a dict (and its fits)."""
    dis, _, kern, own, gap, fits, (w_hi, w_lo) = measure(Y, n_starts, m, log)
    return dict(disagree=dis, w_hi=w_hi, w_lo=w_lo, rate=collapse_rate(w_hi, w_lo, *EPS),
                kern=kern, self=own, gap=gap), fits


def diagnostics(log):
    """Where the width left at K ≥ 1 comes from, on K = 4, seed 0: the width against the
    slack ε, against the grid added to the support, and against the refinement tolerance
    of the solution the range is centred on."""
    Y = bernoulli(4, 0)
    fits = refined_fits(Y, 2, 200, log)
    best = min(fits, key=lambda s: s.objective)
    scale = np.abs(np.array([s.predict(X_TEST)[:, 0] for s in fits])).max()
    eps_list = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
    vs_eps = [range_width(best, fits, e, 0, scale) for e in eps_list]
    print("diagnostics, K = 4, seed 0 (width relative to max|f0|):")
    print("  vs slack eps (x J0), support = atoms of both starts: " + ", ".join(
        f"{e:g}: {w:.2e}" for e, w in zip(eps_list, vs_eps)))
    print("  vs grid added (eps 1e-6): " + ", ".join(
        f"{g}: {range_width(best, fits, 1e-6, g, scale):.3e}" for g in (0, 300, 1000)))
    prob = LimitProblem(X, Y, loss="interpolate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = ls.solve(X, Y, loss="interpolate", grid=rotated_grid(200, 1), refine=False)
        centres = [("grid solve, no refinement", start)] + [
            (f"refined to tol {t:g}", refine(prob, start, tol=t)) for t in (1e-3, 1e-9)]
    parts = []
    for name, sol in centres:
        rel = (sol.objective - best.objective) / best.objective
        parts.append(f"{name} (J - J_best = {rel:.1e} J): "
                     f"{range_width(sol, fits, 1e-6, 0, scale):.2e}")
    print("  vs the centre's optimality (eps 1e-6): " + "; ".join(parts))
    return eps_list, vs_eps


def main(argv=None):
    args = parse(__doc__, argv)
    t0 = time.time()
    Ks = [0, 4] if args.quick else list(FULL_KS)
    n_starts, m, n_copies = 2, 200, (4 if args.quick else 16)
    log = []
    print(f"uniqueness_many_tasks: 8 points on two squares; K extra Bernoulli(1/2) tasks, "
          f"seeds per K {'0' if args.quick else FULL_SEEDS}; refined from {n_starts} rotated "
          f"grids of {m} directions; prediction range of task 0 at {len(X_RANGE)} points, "
          f"slack eps x J0 with J0 = {task0_cost(log):.6g} (task 0 alone), eps = {EPS[0]:g} "
          f"and {EPS[1]:g}")
    head = (f"{'K':>9} {'start disagreement':>19} {'width eps=' + format(EPS[0], 'g'):>19} "
            f"{'width eps=' + format(EPS[1], 'g'):>19} {'collapse rate':>19} "
            f"{'kernel(others) err':>19} {'self-kernel':>10} {'limit gap':>9}")
    print("(widths relative to max|f0|; collapse rate = dlog width / dlog eps, 1/2 for a "
          "unique optimum, 0 for a flat face; mean ± s.e. over seeds)\n" + head)
    res, example = {}, {}
    for K in Ks:
        rows = []
        seeds = [0] if args.quick or K == 0 else list(range(FULL_SEEDS.get(K, 0)))
        for seed in seeds:
            try:
                row, fits = run_case(bernoulli(K, seed), n_starts, m, log)
            except RuntimeError as exc:
                log.append(f"K = {K}, seed {seed} left out: {exc}")
                continue
            rows.append(dict(row, seed=seed))
            example.setdefault(K, fits)
        res[K] = rows
        print(_row(K, rows) + "   rates per seed: " +
              " ".join(f"{r['rate']:.2f}" for r in rows), flush=True)
    ctrl, _ = run_case(np.repeat(Y0[:, None], n_copies + 1, axis=1), n_starts, m, log)
    print(_row(f"{n_copies} copies", [ctrl]) + "   <- control: copies of task 0")
    diag = None if args.quick else diagnostics(log)
    if not args.quick:
        flat_faces(res, n_starts, m, log)
    for line in log:
        print("  note: " + line)
    verdict(Ks, res, ctrl, n_copies)
    _figure(args, Ks, res, ctrl, n_copies, example, diag)
    print(f"({time.time() - t0:.1f} s)")
    return 0


def collapse_counts(rows):
    """(seeds whose range collapses, flat seeds, seeds) among one K's rows."""
    return (sum(r["rate"] > COLLAPSED for r in rows), sum(r["rate"] < FLAT for r in rows),
            len(rows))


def verdict(Ks, res, ctrl, n_copies):
    """The printed verdict: no extra task and copies give a flat face; with diverse tasks
    the fraction of seeds whose range collapses (binomial 95 % interval) per K."""
    w0, r0 = _stats(res[0], "w_lo")[0], _stats(res[0], "rate")[0]
    print(f"verdict: at slack {EPS[1]:g} x J0 the range width of task 0 is {w0:.3g} with no "
          f"extra task (collapse rate {r0:.2f}) and {ctrl['w_lo']:.3g} with {n_copies} copies "
          f"of task 0 (rate {ctrl['rate']:.2f}): "
          + ("a flat face, not unique, in both" if max(r0, ctrl["rate"]) < FLAT and
             ctrl["w_lo"] > 0.5 * w0 > 0.05 else "NOT the expected flat face"))
    parts = []
    for K in (K for K in Ks if K > 0):
        c, f, n = collapse_counts(res[K])
        lo, hi = clopper_pearson(c, n)
        parts.append(f"K={K}: {c}/{n} [{lo:.2f}, {hi:.2f}], flat {f}")
    print(f"  seeds whose range collapses (rate > {COLLAPSED:g}; 95 % Clopper-Pearson "
          "interval), and flat ones (rate < " + f"{FLAT:g}): " + "; ".join(parts))
    big = [K for K in Ks if K >= 8]
    if big:
        every = all(collapse_counts(res[K])[0] == collapse_counts(res[K])[2] for K in big)
        print("  unique on every seed at K >= 8: " + str(every) + "; so the claim 'with >= 4 "
              "extra tasks the solution is unique' holds for the fraction of seeds above "
              "at K = 4, not for every draw of the tasks")
    K = Ks[-1]
    if K > 0:
        print(f"kernel approximation at K={K}: task 0 within "
              f"{_stats(res[K], 'kern')[0]:.3g} (relative sup) of the min-norm "
              f"interpolant in the kernel of the other tasks' neurons")


def _figure(args, Ks, res, ctrl, n_copies, example, diag):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 5, figsize=(23, 4.3))
    xk = [max(K, 0.5) for K in Ks]

    def bars(ax, col, Kl, label, **kw):
        st = np.array([_stats(res[K], col) for K in Kl])
        ax.errorbar([max(K, 0.5) for K in Kl], st[:, 0], yerr=st[:, 1], marker="o",
                    capsize=3, label=label, **kw)

    ax = axes[0]
    for col, e in (("w_hi", EPS[0]), ("w_lo", EPS[1])):
        bars(ax, col, Ks, f"range width, slack {e:g}·J₀")
        ax.plot([xk[-1]], [ctrl[col]], "s", ms=8, label=f"control: {n_copies} copies, {e:g}")
    bars(ax, "disagree", Ks, "disagreement of refined starts")
    ax.set(xscale="log", yscale="log", xlabel="extra tasks K (K = 0 drawn at 0.5)",
           ylabel="relative to max |f₀|")
    ax.set_title("task 0: non-uniqueness vs number of extra tasks", fontsize="small")
    ax.legend(fontsize="x-small")
    ax = axes[1]
    bars(ax, "rate", Ks, "collapse rate d log width / d log ε")
    for K in Ks:
        r = [row["rate"] for row in res[K]]
        ax.plot(max(K, 0.5) * np.exp(0.08 * np.linspace(-1, 1, len(r))), r, ".", color="0.5")
    ax.plot([xk[-1]], [ctrl["rate"]], "rs", ms=8, label=f"control: {n_copies} copies")
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    if diag is not None:
        ins = ax.inset_axes([0.55, 0.12, 0.4, 0.4])
        ins.loglog(*diag, "o-", ms=3)
        ins.set_title("K=4: width vs ε", fontsize="xx-small")
        ins.tick_params(labelsize="xx-small")
    ax.set(xscale="log", xlabel="extra tasks K", ylabel="rate")
    ax.set_title("½: width ∝ √ε → 0 (unique);  0: a flat face (not unique)", fontsize="small")
    ax.legend(fontsize="x-small", loc="upper left")
    ax = axes[2]
    Kp = [K for K in Ks if K > 0]
    bars(ax, "kern", Kp, "task 0 vs kernel interpolant")
    ax.set(xscale="log", yscale="log", xlabel="extra tasks K",
           ylabel="max |f₀ − kernel interpolant| / max |f₀|")
    ax.set_title("task 0 vs min-norm interpolant in the other tasks' neuron kernel",
                 fontsize="small")
    ax = axes[3]
    t = np.linspace(-1.2, 1.2, 201)
    diag_pts = np.column_stack([t, t])
    for K, style in ((Ks[0], "-"), (Ks[-1], "--")):
        for a, s in enumerate(example[K]):
            ax.plot(t, s.predict(diag_pts)[:, 0], style, color=f"C{a}",
                    label=f"K = {K}, start {a + 1}")
    ax.plot(X[[0, 2, 4, 6], 0], Y0[[0, 2, 4, 6]], "ko", label="data on the diagonal")
    ax.set_xlabel("t (point (t, t) on the diagonal)")
    ax.set_ylabel("task 0")
    ax.set_title("task 0 along the diagonal, two refined starts each", fontsize="small")
    ax.legend(fontsize="x-small")
    ax = axes[4]
    Kp = [K for K in Ks if K > 0]
    frac = np.array([collapse_counts(res[K])[0] / max(len(res[K]), 1) for K in Kp])
    ci = np.array([clopper_pearson(*collapse_counts(res[K])[::2]) for K in Kp])
    ax.errorbar(Kp, frac, yerr=[frac - ci[:, 0], ci[:, 1] - frac], marker="o", capsize=3)
    for K, f in zip(Kp, frac):
        c, _, n = collapse_counts(res[K])
        ax.annotate(f"{c}/{n}", (K, f), textcoords="offset points", xytext=(4, -12),
                    fontsize="x-small")
    ax.set(xscale="log", ylim=(0, 1.05), xlabel="extra tasks K",
           ylabel=f"fraction of seeds with rate > {COLLAPSED:g}")
    ax.set_title("seeds whose range collapses (95 % Clopper–Pearson)", fontsize="small")
    save(fig, args, "uniqueness_many_tasks.png")


if __name__ == "__main__":
    sys.exit(main())
