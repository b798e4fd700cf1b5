"""Refinement in any input dimension: exchange (continuous pricing) + joint Newton.

Starting from a solution (typically on a small grid), repeat until the relative limit gap is
at most ``tol``, no progress is made, or the ``deadline`` passes:

1. **price** — :func:`~limitsolver.ascent.price` on the residual, started from the atoms
   (and points next to some of them, :func:`price_plan`), a quasi-random sample and
   data-defined directions, within a share of the time left; its sup gives the round's
   estimated gap (the residual scaled by the sup value found);
2. **certify** (see ``CERTIFY_FACTOR``: the first round, an estimate near ``tol``, or while
   certificates took at most ``CERTIFY_SHARE`` of the time) —
   :func:`~limitsolver.limitattach.attach_limit_certificate` gives the lower bound on OPT
   (certified where the oracle is; see ``lower_bound_exact`` and
   ``info["lower_bound_method"]``). Where it is only a sampled estimate, the pricing
   estimate (a larger sup, hence a lower, more honest estimate) is kept when lower;
3. **exchange** — up to ``max_new`` priced directions with ‖c‖ ≥ (1 − ``exchange_margin``)λ,
   ``EXCHANGE_SEPARATION`` apart, enter; the weights are re-solved (``inner_solve``, warm);
4. **joint Newton** (:func:`~limitsolver.newton_nd.joint_newton_nd`, within
   ``NEWTON_SHARE`` of the time left) on the directions and weights of the active atoms;
   atoms that meet are merged, vanishing ones dropped.

The best solution by objective is returned (never worse than the start), certified at the
end. For a certified bound the best bound of all certified rounds and the final one is kept
(each is valid); an estimate is recomputed at the returned solution.
"""
from __future__ import annotations

import time
import warnings
from typing import Callable

import numpy as np

from .budget import MIN_CPU_SHARE, cpu_share
from .exceptions import ConvergenceWarning
from .limitattach import warn_limit_gap  # noqa: F401  (re-exported)
from .penalties import get_penalty
from .status import regrade
from .problem import LimitProblem
from .solution import LimitSolution

__all__ = ["refine_any_d", "newton_solution", "limit_status", "warn_limit_gap"]

#: Fraction of λ above which priced directions enter the atom set.
EXCHANGE_MARGIN = 1e-2

#: Distinct priced directions a round keeps (pricing's ``top_k``) and lets enter
#: (``max_new=None``), at least ``EXCHANGE_SEPARATION`` apart (max-norm). In d = 10 ‖c‖
#: has hundreds of local maxima above λ per round (digits: 830–950); 16 a round (at 1e-7
#: apart) left digits 3e-3–5e-3 above the best known objective after the 45 s default
#: (load 4–5), 128 at 1e-2 apart 1e-4–6e-4. The restricted solve drops useless ones.
EXCHANGE_TOP_K = 128
EXCHANGE_SEPARATION = 1e-2

#: Joint Newton iterations per refinement round (a round's exchange step then adds what
#: Newton cannot: new directions).
NEWTON_ITER = 12

#: Largest n·T·N² (N = k(d + T) + pT chart variables for k atoms and p free columns:
#: the cost of one Newton iteration's Gauss–Newton Hessian) for which the joint Newton
#: step runs; an iteration is not interrupted, and beyond this one can take minutes
#: (digits, n = 1797, T = 10, 198 atoms in d = 10: 2.8e11, about a minute on one core).
NEWTON_MAX_WORK = 2e10


def newton_work(problem: LimitProblem, k: int) -> float:
    """n·T·N², the cost of one joint Newton iteration on ``k`` atoms (see
    :func:`~limitsolver.newton_nd.newton_model`)."""
    N = k * (problem.d + problem.T) + problem.F.shape[1] * problem.T
    return float(problem.n) * problem.T * float(N) ** 2


#: Share of the time left before the deadline that one round's joint Newton step may
#: take (it stops after the iteration in which that time is up; None: no share). In d = 10
#: the exchange's new directions lower J more per second than further Newton iterations
#: on the same atoms (load ≈ 15, 30–35 s from the 4096-grid start, without the share →
#: with it: digits 0.15190 → 0.15080, d = 10 5.37226 → 5.37205, diabetes 0.21025 → 0.21006).
NEWTON_SHARE = 0.02


def _newton_deadline(deadline):
    """The deadline of one round's joint Newton step (``NEWTON_SHARE``)."""
    if deadline is None or NEWTON_SHARE is None:
        return deadline
    now = time.monotonic()
    return min(deadline, now + NEWTON_SHARE * (deadline - now))


def newton_solution(problem: LimitProblem, sol: LimitSolution, *, max_iter: int = NEWTON_ITER,
                    deadline: "float | None" = None) -> LimitSolution:
    """``sol`` moved by :func:`~limitsolver.newton_nd.joint_newton_nd` and certified on its
    new atoms, or ``sol`` itself when the moved point is not better, or when one iteration
    would cost more than ``NEWTON_MAX_WORK`` (:func:`newton_work`; the exchange steps then
    refine alone, and ``info["newton_skipped"]`` counts the skips)."""
    from .certificate import certify
    from .newton_nd import joint_newton_nd
    from .solution import LimitSolution
    if sol.atom_directions.shape[0] == 0:
        return sol
    if newton_work(problem, sol.atom_directions.shape[0]) > NEWTON_MAX_WORK:
        sol.info["newton_skipped"] = sol.info.get("newton_skipped", 0) + 1
        return sol
    D, V, C, info = joint_newton_nd(problem, sol.atom_directions, sol.atom_weights,
                                    sol.free_coef, max_iter=max_iter, deadline=deadline)
    if not info["objective"] <= sol.objective:
        return sol
    cert = certify(problem, D, V, C)
    if cert.primal > sol.objective:
        return sol
    new = LimitSolution(problem, D, V, C, cert, status=sol.status, solver=sol.solver, grid=D,
                        info=dict(sol.info, joint_newton=info["iterations"]))
    new.grid_weights = V
    regrade(new, sol)
    return new


def _residual(problem, sol):
    from .certificate import primal_value
    from .losses import get_loss
    _, pred = primal_value(problem, sol.atom_directions, sol.atom_weights, sol.free_coef)
    return get_loss(problem.loss).residual(pred, problem.Y)


def _correlations(problem, directions, Z):
    """‖c(θ)‖ (the penalty's dual norm) at ``directions`` for the dual candidate Z."""
    from .features import features_rmatvec
    if directions.shape[0] == 0:
        return np.zeros(0)
    c = features_rmatvec(problem.Xt, directions, Z) / problem.n
    return get_penalty(problem.penalty).dual_norms(c)


#: Pricing effort per call: at most about this many ``n·(d+1+T)`` units of one sweep over
#: the starts (one evaluation of ‖c‖ at every start costs n·(d+1+T) per start), which caps
#: the atoms that get split starts (:func:`split_starts`, 6 per atom and unit of effort;
#: a random subset of the atoms when there are more) ...
PRICE_WORK = 2e7

#: ... and at most this fraction of the time left before the deadline (but at least
#: ``PRICE_MIN_TIME`` seconds of CPU time, see :func:`price_plan`): pricing then stops, so
#: that several exchange rounds fit in any budget whatever n·T and the load.
PRICE_SHARE = 0.03
PRICE_MIN_TIME = 0.25

#: Quasi-random and data-defined candidate starts scored, and pool starts ascended, per
#: unit of pricing effort (:func:`~limitsolver.ascent.price`).
PRICE_SAMPLES, PRICE_DATA, PRICE_STARTS = 2048, 512, 64

#: ... ascended points polished on the faces of the arrangement, and split starts per atom
#: and radius (:func:`~limitsolver.ascent.split_starts`), per unit of effort.
PRICE_FACE, PRICE_SPLIT = 128, 2


def price_plan(problem: LimitProblem, k: int, effort: int = 1,
               deadline: "float | None" = None, cpu: float = 1.0) -> tuple:
    """(number of atoms given split starts, pricing deadline) for ``k`` atoms: at most
    ``PRICE_WORK / (n (d+1+T)) / (6·effort)`` atoms (at least 8), and the time
    ``now + max(PRICE_MIN_TIME / cpu, PRICE_SHARE·(deadline − now))`` (None without a
    deadline), ``cpu`` the share of a core the process gets
    (:func:`~limitsolver.budget.cpu_share`): the floor is ``PRICE_MIN_TIME`` seconds of
    CPU time, whatever the load."""
    unit = float(problem.n) * (problem.d + 1 + problem.T)
    n_split = int(min(k, max(8, PRICE_WORK / unit / (6 * effort))))
    if deadline is None:
        return n_split, None
    now = time.monotonic()
    cpu = min(1.0, max(MIN_CPU_SHARE, float(cpu)))
    return n_split, now + max(PRICE_MIN_TIME / cpu, PRICE_SHARE * (deadline - now))


def _price_estimate(problem, sol, *, effort=1, random_state=0, deadline=None, cpu=1.0):
    """Lower the sampled estimate of ``sol`` with the sup found by pricing; returns the
    PriceResult on the residual (for the exchange step). Its effort follows
    :func:`price_plan` (``deadline``: the refinement's; ``cpu``: the share of a core)."""
    from .certificate import certify
    from .ascent import price
    results = {}

    from .grids import check_random_state
    from .ascent import split_starts
    rng = check_random_state(random_state)
    atoms = sol.atom_directions
    n_split, price_deadline = price_plan(problem, atoms.shape[0], effort, deadline, cpu)
    if n_split < atoms.shape[0]:
        atoms = atoms[np.sort(rng.choice(atoms.shape[0], n_split, replace=False))]
    starts = np.vstack([sol.atom_directions, split_starts(problem, atoms, rng,
                                                        per=PRICE_SPLIT * effort)])

    def sup_norm(Zc):
        r = price(problem, Zc, starts=starts, n_samples=PRICE_SAMPLES * effort,
                  n_data=PRICE_DATA * effort, n_starts=PRICE_STARTS * effort,
                  n_face=PRICE_FACE * effort,
                  top_k=EXCHANGE_TOP_K, atol=EXCHANGE_SEPARATION,
                  random_state=random_state, deadline=price_deadline)
        results.setdefault("first", r)
        return max(r.value, sol.info.get("limit_sup", 0.0))
    Zr = _residual(problem, sol)
    cert = certify(problem, sol.atom_directions, sol.atom_weights, sol.free_coef, Z=[Zr],
                   sup_norm=sup_norm)
    _lower_to(sol, cert)
    return results["first"], Zr, cert


def _lower_to(sol, cert):
    """An estimated (not certified) lower bound of ``sol`` lowered to ``cert.dual``."""
    if sol.lower_bound is not None and not sol.limit_certified and \
            cert.dual < sol.lower_bound:
        sol.lower_bound = float(cert.dual)
        sol.limit_gap = float(sol.objective - cert.dual)
        sol.info["limit_rel_gap"] = float(cert.rel_gap)


#: A round certifies its point (the branch and bound of
#: :func:`~limitsolver.limitattach.attach_limit_certificate`) when it is the first, when
#: the pricing estimate of its relative limit gap is at most ``CERTIFY_FACTOR``·``tol``,
#: or when the rounds' certificates so far took at most ``CERTIFY_SHARE`` of the
#: refinement's time. A cost rule, not a claim: the estimate scales the residual by a sup
#: value found, at most the certified upper end the certificate scales by, so where the
#: estimate is far above ``tol`` the certificate is not expected to meet it; certifying
#: every round costs about a quarter of a round in d = 10. The returned point is certified
#: in any case (:func:`_finish`), and every certified round's bound is kept. In d = 10 the
#: certified gap stays near 0.9 (a loose sup bound): a share of 0.1 cost digits 6 s of 45.
CERTIFY_FACTOR = 10.0
CERTIFY_SHARE = 0.02


def _round_bound(problem, sol, tol, it, random_state, deadline, clock):
    """Pricing, the estimate and (see ``CERTIFY_FACTOR``) the certificate of one round:
    (PriceResult, residual, oracle SupResult or None, certified, relative limit gap).
    ``clock`` = [refinement start, seconds spent certifying, process time at the start]
    (the second updated)."""
    from .limitattach import attach_limit_certificate
    cpu = cpu_share(clock[0], clock[2])
    pr, Zr, est = _price_estimate(problem, sol, random_state=random_state + it,
                                  deadline=deadline, cpu=cpu)
    t = time.monotonic()
    if it > 0 and est.rel_gap > CERTIFY_FACTOR * tol and \
            clock[1] > CERTIFY_SHARE * (t - clock[0]):
        return pr, Zr, None, False, float(est.rel_gap)
    sup = attach_limit_certificate(sol, target_rel_gap=tol)
    clock[1] += time.monotonic() - t
    _lower_to(sol, est)
    certified, rel_it = limit_status(sol, tol)
    if not certified and rel_it <= tol:
        # an estimate that says "done" is checked with four times the pricing effort
        pr, Zr, _ = _price_estimate(problem, sol, effort=4, random_state=random_state + it,
                                    deadline=deadline, cpu=cpu)
        certified, rel_it = limit_status(sol, tol)
    return pr, Zr, sup, certified, rel_it


def limit_status(sol: LimitSolution, tol: float) -> tuple:
    """(certified, relative limit gap) of a solution carrying a limit certificate."""
    from .status import relative_limit_gap
    return bool(sol.limit_certified), float(relative_limit_gap(sol))


def refine_any_d(problem: LimitProblem, sol: LimitSolution, *, tol: float,
                 deadline: "float | None",
                 inner_solve: Callable[[np.ndarray, LimitSolution], LimitSolution],
                 verbose: bool = False, max_iter: int = 60, max_new: "int | None" = None,
                 exchange_margin: float = EXCHANGE_MARGIN,
                 random_state: int = 0) -> LimitSolution:
    """Exchange + joint Newton refinement of ``sol`` (any d; see the module docstring).

    Parameters
    ----------
    problem : LimitProblem
        A smooth loss (squared, logistic, multinomial); group or l1 penalty.
    sol : LimitSolution
        Start (its active atoms form the first atom set).
    tol : float
        Target relative limit gap.
    deadline : float or None
        Absolute ``time.monotonic()`` time after which no new round starts. None: no time
        budget, and a run is reproducible — ``max_iter`` rounds (or fewer: ``tol`` met, two
        stalled rounds), each pricing to its full effort, and only pricing's directions
        enter (the oracle's time-limited branch and bound changes bounds, not the path).
    inner_solve : callable (directions, warm_start) -> LimitSolution
        The restricted solve on an atom set.
    verbose : bool
        One line per round (objective, relative limit gap, atoms, time).
    max_iter : int
        Rounds at most.
    max_new : int or None
        At most this many priced directions enter per round (None: ``EXCHANGE_TOP_K``).

    Returns
    -------
    LimitSolution
        The best by objective, with ``lower_bound``, ``limit_gap``, ``lower_bound_exact``
        and ``info["refine"]`` (history), ``info["refine_converged"]``, and ``info["timed_out"]
        = True`` when the deadline ended the rounds (passed, or the next round did not fit).
    """
    from .limitattach import tighten_limit_certificate
    from .moves import merge_directions
    from .suptools import distinct_top
    t0, cpu0 = time.monotonic(), time.process_time()
    lam = problem.lam
    max_new = EXCHANGE_TOP_K if max_new is None else int(max_new)
    start = sol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = newton_solution(problem, sol, deadline=deadline)
    best, best_lb, best_exact, history, converged = sol, -np.inf, False, [], False
    best_how = {}
    stalls, out_of_time = 0, False
    round_start = time.monotonic()
    clock = [t0, 0.0, cpu0]
    for it in range(max_iter):
        pr, Zr, sup, certified, rel_it = _round_bound(problem, sol, tol, it, random_state,
                                                      deadline, clock)
        if certified and sol.lower_bound > best_lb:
            best_lb, best_exact = sol.lower_bound, bool(sol.lower_bound_exact)
            best_how = {k: sol.info[k] for k in _HOW if k in sol.info}
        if sol.objective < best.objective:
            best = sol
        rel = rel_it if not certified else (best.objective - best_lb) / max(
            abs(best.objective), 1e-300)
        history.append(dict(iteration=it, atoms=int(sol.atom_directions.shape[0]),
                            objective=float(sol.objective),
                            lower_bound=float(sol.objective * (1 - rel) if sup is None
                                              else sol.lower_bound),
                            rel_limit_gap=float(rel), certified=bool(certified),
                            bound="estimate" if sup is None else "certificate",
                            time=time.monotonic() - t0))
        if verbose:
            kind = "certified" if certified else "estimated"
            print(f"refine {it:3d}: objective {sol.objective:.12g}  {kind} rel. limit gap "
                  f"{rel:.2e}  atoms {sol.atom_directions.shape[0]}  "
                  f"t {history[-1]['time']:.1f}s", flush=True)
        if rel <= tol:
            converged = True
            break
        # a round is not interrupted: none starts unless the last one's length still fits
        now = time.monotonic()
        if deadline is not None and now + (now - round_start) >= deadline:
            out_of_time = True
            break
        round_start = now
        # the oracle's directions too (its dual point may differ from the residual); not
        # without a deadline: its branch and bound is time-limited (reproducible runs)
        sd = np.zeros((0, problem.dim)) if sup is None or deadline is None else \
            sup.directions
        cand = np.vstack([pr.directions, sd])
        vals = np.concatenate([pr.values, _correlations(problem, sd, Zr)])
        ok = vals >= (1 - exchange_margin) * lam
        new = distinct_top(cand[ok], vals[ok], max_new, EXCHANGE_SEPARATION)[0]
        D = merge_directions(problem, np.vstack([sol.atom_directions, new]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            cand = newton_solution(problem, inner_solve(D, sol),
                                   deadline=_newton_deadline(deadline))
        progress = cand.objective < best.objective - 1e-15 * abs(best.objective)
        stalls = 0 if progress else stalls + 1
        if stalls >= 2:
            break
        sol = cand
    if start.objective < best.objective:
        best = start
    late = deadline is not None and time.monotonic() >= deadline
    out_of_time = (out_of_time or late) and not converged
    best = _finish(problem, best, best_lb, best_exact, best_how, history, converged, tol, t0,
                   effort=1 if late else 4, full=not late)
    best = tighten_limit_certificate(best, tol, deadline)
    if out_of_time:
        best.info["timed_out"] = True
    return best


#: The info keys that say how a lower bound was certified (kept with the bound).
_HOW = ("lower_bound_method", "sup_interval", "sup_rtol")


def _finish(problem, best, best_lb, best_exact, best_how, history, converged, tol, t0,
            effort=4, full=True):
    """The returned solution's limit certificate: the best certified bound of all rounds
    and of a final certificate at ``best`` (with the oracle's full time budget when
    ``full``, else its short first pass), or (estimate) the estimate recomputed at
    ``best`` with ``effort`` times the pricing effort (4, or 1 once the deadline has
    passed)."""
    from .limitattach import attach_limit_certificate
    # the oracle's full time budget (``oracle.BOUND_MAX_TIME``) unless the deadline passed
    attach_limit_certificate(best, target_rel_gap=None if full else tol)
    if not best.limit_certified:
        _price_estimate(problem, best, effort=effort, random_state=12345)
    elif best_lb > best.lower_bound:
        best.lower_bound = float(best_lb)
        best.limit_gap = float(best.objective - best_lb)
        best.lower_bound_exact = bool(best_exact)
        best.info.update(best_how)
    certified, rel = limit_status(best, tol)
    best.info["limit_rel_gap"] = rel
    best.info["limit_gap_certified"] = certified
    best.info["refine"] = history
    best.info["refine_converged"] = bool(converged and rel <= tol)
    best.info["time_refine"] = time.monotonic() - t0
    return best
