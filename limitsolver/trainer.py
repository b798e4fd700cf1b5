"""Training finite networks (:class:`~limitsolver.network.Network`) with weight decay.

Full batch, on the objective of :mod:`limitsolver.network` with the loss objects of
:mod:`limitsolver.losses` (value and gradient ∇_F L come from the loss; the chain rule
through the network is :meth:`Network.objective_and_gradient`)::

    L(f(X)) + (λ/2) (‖V‖² + ‖W‖² [+ ‖b‖² if bias="regularized"])

``loss="multinomial"``: L(F) = (1/n) Σ_i [logsumexp(F_i) − F_{i,y_i}] on the K outputs
(labels as in :class:`~limitsolver.problem.LimitProblem`: integer classes or one-hot rows).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from .budget import blas_threads
from .network import Network, training_loss
from .problem import LimitProblem, check_option

__all__ = ["train", "METHODS", "BFGS_MAX_PARAMS"]

METHODS = ("auto", "bfgs", "lbfgs", "adam", "gd")

#: ``method="auto"`` uses full BFGS up to this many parameters, scipy's L-BFGS beyond.
BFGS_MAX_PARAMS = 4000
def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _init_network(problem: LimitProblem, width: int, init_scale: float, rng, tasks):
    """Random start: (w_k, b_k) with i.i.d. N(0, 1) entries, rescaled to norm
    ``init_scale``; for free bias the kinks −b_k/‖w_k‖ uniform in [−R, R]; v_k i.i.d.
    N(0, init_scale²/m)."""
    m = width if tasks is None else len(tasks)
    d, T = problem.d, problem.T
    W = rng.standard_normal((m, d))
    b = -rng.uniform(-1.0, 1.0, m) * max(problem.radius, 1e-12) * np.linalg.norm(W, axis=1)
    if problem.bias == "regularized":
        nrm = np.sqrt(np.sum(W ** 2, axis=1) + b ** 2)
    else:
        nrm = np.linalg.norm(W, axis=1)
    nrm = np.maximum(nrm, 1e-12)
    W = init_scale * W / nrm[:, None]
    b = init_scale * b / nrm
    V = init_scale * rng.standard_normal((m, T)) / np.sqrt(m)
    if tasks is not None:
        off = np.ones((m, T), dtype=bool)
        off[np.arange(m), tasks] = False
        V[off] = 0.0
    return Network(W, b, V, bias=problem.bias, free=problem.free, tasks=tasks)


def _weak_wolfe(fg, x, f, g, p, c1=1e-4, c2=0.9, max_iter=60):
    """Bisection line search for the weak Wolfe conditions (Lewis & Overton): works on
    the piecewise-smooth training objective, where exact line searches stall at kinks."""
    gp = float(g @ p)
    t, lo, hi = 1.0, 0.0, np.inf
    xn, fn, gn = x, f, g
    for _ in range(max_iter):
        xn = x + t * p
        fn, gn = fg(xn)
        if not np.isfinite(fn) or fn > f + c1 * t * gp:
            hi = t
        elif float(gn @ p) < c2 * gp:
            lo = t
        else:
            return xn, fn, gn, True
        t = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * lo
    return xn, fn, gn, False


def _bfgs(fg, x, steps, report):
    """Full-memory BFGS with a weak Wolfe line search (Lewis & Overton, "Nonsmooth
    optimization via quasi-Newton methods", Math. Program. 2013). On the ReLU training
    objective, whose minimizers sit on kinks (neurons with a kink at a data point), it
    reaches 1e-6-relative accuracy where scipy's L-BFGS stops at ~1e-3. The inverse
    Hessian is kept as the upper triangle of a Fortran array and updated in place by BLAS
    (dsymv, dsyr2, dsyr): O(p²) per step, no temporaries.

    Returns (x, iterations, message)."""
    from scipy.linalg.blas import dsymv, dsyr, dsyr2
    f, g = fg(x)
    H = None
    for k in range(1, steps + 1):
        p = -dsymv(1.0, H, g) if H is not None else -g
        if float(g @ p) >= 0:  # not a descent direction: restart from steepest descent
            H, p = None, -g
        if not np.any(p):
            return x, k - 1, "zero gradient"
        xn, fn, gn, ok = _weak_wolfe(fg, x, f, g, p)
        if not ok:  # Lewis–Overton's stopping rule: no weak Wolfe point at machine precision
            if fn < f and report(k, fn):
                return xn, k, "stopped by callback"
            if fn < f:
                return xn, k, "line search failed (converged to machine precision)"
            return x, k - 1, "line search failed (converged to machine precision)"
        s, y = xn - x, gn - g
        x, f, g = xn, fn, gn
        if report(k, f):
            return x, k, "stopped by callback"
        sy = float(s @ y)
        if sy > 0:
            if H is None:
                H = np.asfortranarray((sy / float(y @ y)) * np.eye(len(x)))
            rho = 1.0 / sy
            Hy = dsymv(1.0, H, y)
            # H ← H − ρ(s Hyᵀ + Hy sᵀ) + (ρ² yᵀHy + ρ) s sᵀ
            H = dsyr2(-rho, s, Hy, a=H, overwrite_a=1)
            H = dsyr(rho * rho * float(y @ Hy) + rho, s, a=H, overwrite_a=1)
    return x, steps, "reached steps"




def _check_scalars(steps, init_scale, lr, callback) -> int:
    steps = _check_int("steps", steps, 0)
    if not (np.isscalar(init_scale) and np.isfinite(init_scale) and init_scale > 0):
        raise ValueError(f"init_scale must be a positive number, got {init_scale!r}")
    if lr is not None and not (np.isscalar(lr) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable")
    return steps


def _start(problem: LimitProblem, init, width, init_scale, random_state) -> Network:
    """A copy of ``init`` (checked against the problem) or a random network."""
    if init is None:
        if width is None:
            raise ValueError("width is required when no init network is given")
        width = _check_int("width", width, 1)
        rng = np.random.default_rng(random_state)
        tasks = np.repeat(np.arange(problem.T), width) if problem.penalty == "l1" else None
        return _init_network(problem, width, float(init_scale), rng, tasks)
    if not isinstance(init, Network):
        raise ValueError(f"init must be a Network, got {type(init).__name__}")
    if (init.d, init.T) != (problem.d, problem.T):
        raise ValueError(f"init has d={init.d}, T={init.T}; the data have "
                         f"d={problem.d}, T={problem.T}")
    if (init.bias, init.free, init.penalty_kind) != (problem.bias, problem.free,
                                                     problem.penalty):
        raise ValueError(
            f"init has bias={init.bias!r}, free={init.free!r}, penalty="
            f"{init.penalty_kind!r}; train was called with bias={problem.bias!r}, "
            f"free={problem.free!r}, penalty={problem.penalty!r}")
    return init.copy()


def _lbfgs(fg, theta, steps, tol, f0, report, net):
    """scipy's L-BFGS-B with the exact gradient. Returns (theta, info)."""
    from scipy.optimize import minimize
    if steps == 0:
        return theta, dict(iterations=0, message="steps=0", success=True)
    counter = [0]
    # ftol is relative to max(|f|, 1): rescale so tol is relative for small f too
    scale = 1.0 / max(abs(f0), 1e-300)

    def cb(intermediate_result):
        counter[0] += 1
        net.set_params(intermediate_result.x)
        if report(counter[0], intermediate_result.fun / scale):
            raise StopIteration

    def fg_scaled(th):
        value, grad = fg(th)
        return value * scale, grad * scale

    res = minimize(fg_scaled, theta, jac=True, method="L-BFGS-B", callback=cb,
                   options=dict(maxiter=steps, maxfun=4 * steps + 20, ftol=tol, gtol=tol,
                                maxcor=30))
    return res.x, dict(iterations=int(res.nit), message=str(res.message),
                       success=bool(res.success))


def _first_order(fg, theta, steps, method, lr, report):
    """Adam (β = 0.9, 0.999) or plain gradient descent with a fixed step. Returns
    (theta, info)."""
    lr = (1e-2 if method == "adam" else 1e-1) if lr is None else float(lr)
    m1 = np.zeros_like(theta)
    m2 = np.zeros_like(theta)
    b1, b2, eps = 0.9, 0.999, 1e-8
    k, stopped = 0, False
    _, g = fg(theta)
    for k in range(1, steps + 1):
        if method == "adam":
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g * g
            step = lr * (m1 / (1 - b1 ** k)) / (np.sqrt(m2 / (1 - b2 ** k)) + eps)
        else:
            step = lr * g
        theta = theta - step
        value, g = fg(theta)
        if not np.isfinite(value):
            raise FloatingPointError(
                f"{method} diverged at step {k} (objective {value}); lower lr={lr:g}")
        if report(k, value):
            stopped = True
            break
    return theta, dict(iterations=k, message="stopped by callback" if stopped else
                       "reached steps", success=True, lr=lr)


def train(X: ArrayLike, Y: ArrayLike, *, lam: float, width: int | None = None, loss: str = "squared",
          penalty: str = "group", bias: str = "regularized", free: str = "none",
          method: str = "auto", steps: int = 3000, init_scale: float = 1.0,
          random_state: Any = 0,
          callback: Callable[[int, Network, float], bool | None] | None = None,
          init: Network | None = None,
          lr: float | None = None, tol: float = 1e-12) -> Network:
    """Train a width-m shallow ReLU network with weight decay, full batch.

    Minimizes L(f(X)) + (λ/2)(‖V‖² + ‖W‖² [+ ‖b‖² if bias="regularized"]) over all
    parameters (the free part c, A unpenalized), with L from :mod:`limitsolver.losses`.

    Parameters
    ----------
    X : array_like (n, d) or (n,);  Y : array_like (n, T) or (n,)
        Validated by :class:`~limitsolver.problem.LimitProblem` (same checks as ``solve``);
        for ``loss="multinomial"`` integer class labels (n,) (K classes, in sorted order,
        give the K outputs) or one-hot rows (n, K).
    lam : float
        λ > 0.
    width : int
        Hidden neurons m (per task for ``penalty="l1"``, m · T in all). Optional when
        ``init`` is given.
    loss : {"squared", "logistic", "multinomial"}
        ``"interpolate"`` is not a training loss (ValueError).
    penalty : {"group", "l1"}
        ``group``: one T-output network (its limit is the multi-task problem). ``l1``: T
        independent single-output networks of ``width`` neurons each, stored as one block
        network (see :class:`Network`); its limit is the single-task problem.
    bias, free : str
        As in :class:`~limitsolver.problem.LimitProblem`.
    method : {"auto", "bfgs", "lbfgs", "adam", "gd"}
        ``bfgs``: full BFGS with a weak Wolfe line search (Lewis–Overton), the method that
        reaches the limit to ~1e-6 relative: the minimizers have kinks at data points,
        where the objective is not differentiable, and scipy's L-BFGS stalls near 1e-3;
        ``lbfgs``: scipy.optimize.minimize(method="L-BFGS-B") with the exact gradient
        (memory O(#params), for wide networks); ``auto``: bfgs up to
        ``BFGS_MAX_PARAMS`` = 4000 parameters, lbfgs beyond;
        ``adam``: Adam (β = 0.9, 0.999) with step ``lr`` (default 1e-2);
        ``gd``: gradient descent with step ``lr`` (default 1e-1).
    steps : int
        Iterations (L-BFGS: ``maxiter``; BFGS stops earlier when no decrease is found).
    init_scale : float
        Norm of each neuron's (w_k, b_k) at the start (output weights N(0, init_scale²/m)).
    random_state : None, int or Generator
        Seed of the initialization; equal seeds give bit-identical runs.
    callback : callable, optional
        ``callback(step, network, objective)`` after each iteration; returning True stops.
    init : Network, optional
        Start from a copy of this network (e.g. ``LimitSolution.to_network()``).
    lr : float, optional
        Step size for adam and gd.
    tol : float
        L-BFGS ``ftol`` and ``gtol``.

    Returns
    -------
    Network
        The trained network, with ``history`` (objective at the start and after each
        iteration) and ``info`` (method, iterations, message, objective).
    """
    problem = LimitProblem(X, Y, lam=lam, loss=loss, penalty=penalty, bias=bias, free=free)
    L = training_loss(problem.loss)
    if problem.penalty == "kernel":
        raise ValueError("penalty='kernel' is the lazy regime (frozen first layer); train "
                         "takes penalty='group' or 'l1'")
    method = check_option("method", method, METHODS)
    steps = _check_scalars(steps, init_scale, lr, callback)
    Xa, Ya, lam = problem.X, problem.Y, problem.lam
    net = _start(problem, init, width, init_scale, random_state)

    def fg(theta):
        net.set_params(theta)
        value, grads = net.value_and_grads(Xa, Ya, lam, L)
        return value, net.flat_gradient(grads)

    theta = net.get_params()
    if method == "auto":
        method = "bfgs" if theta.size <= BFGS_MAX_PARAMS else "lbfgs"
    history = [fg(theta)[0]]
    stop = [False]

    def report(k, value):
        history.append(float(value))
        if callback is not None and callback(k, net, float(value)):
            stop[0] = True
        return stop[0]

    if method == "bfgs":
        # one BLAS thread: BFGS's O(p²) level-2 updates are memory-bound; with several
        # threads on a busy machine they ran 10× slower
        with blas_threads(1):
            theta, it, msg = _bfgs(fg, theta, steps, report)
        info = dict(iterations=it, message=msg, success=True)
    elif method == "lbfgs":
        theta, info = _lbfgs(fg, theta, steps, tol, history[0], report, net)
    else:
        theta, info = _first_order(fg, theta, steps, method, lr, report)
    net.set_params(theta)
    net.history = np.array(history)
    net.info = dict(method=method, steps=steps, **info)
    net.info["objective"] = float(fg(theta)[0])
    return net
