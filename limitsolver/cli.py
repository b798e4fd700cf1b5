"""The ``limitsolver`` command line (also ``python -m limitsolver``)."""
from __future__ import annotations

import argparse
import os
import sys
import warnings

__all__ = ["main"]


def _cmd_demo(args) -> int:
    import numpy as np

    from .api import solve
    from .datasets import make_demo

    X, Y = make_demo()
    print(f"limitsolver demo: built-in 1-D data, n={X.shape[0]} points, T={Y.shape[1]} tasks, "
          f"lam={args.lam:g}, bias={args.bias}, free={args.free}")
    sols = {}
    for pen in ("group", "l1"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sols[pen] = solve(X, Y, lam=args.lam, penalty=pen, bias=args.bias, free=args.free,
                              solver=args.solver)
        for w in caught:
            print(f"warning: {w.message}")
    head = f"{'penalty':8s} {'objective':>14s} {'grid gap':>10s} {'lower bound':>14s} " \
           f"{'limit gap':>10s} {'neurons':>8s} {'shared':>7s} {'solver':>9s}"
    print(head)
    print("-" * len(head))
    for pen, s in sols.items():
        lb = "n/a" if s.lower_bound is None else f"{s.lower_bound:.8g}"
        lg = "n/a" if s.limit_gap is None else f"{s.limit_gap:.2e}"
        print(f"{pen:8s} {s.objective:14.8g} {s.gap:10.2e} {lb:>14s} {lg:>10s} "
              f"{s.n_neurons:8d} {s.shared_fraction:7.0%} {s.solver:>9s}")
    g, l1 = sols["group"], sols["l1"]
    print(f"group penalty of the multi-task fit: {g.penalty_value():.6g}; "
          f"single-task (l1) fit pays {l1.penalty_value():.6g}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "limitsolver_demo.png")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_fit_1d
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (pen, s) in zip(axes, sols.items()):
        plot_fit_1d(s, ax=ax)
        ax.set_title(f"{pen}: {s.n_neurons} neurons, objective {s.objective:.4g}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return 0 if np.isfinite(g.objective) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="limitsolver",
        description="The exact infinite-width limit of weight-decay-trained shallow ReLU "
                    "networks with several outputs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="solve the built-in 1-D multi-task data set (group vs l1)",
        description="Solve the built-in 1-D multi-task data set with the group and l1 "
                    "penalties, print the certificates and write a PNG of the fits.",
        epilog="example: limitsolver demo --out results/")
    demo.add_argument("--lam", type=float, default=1e-3, help="λ (default 1e-3)")
    demo.add_argument("--bias", default="regularized", choices=["regularized", "free"])
    demo.add_argument("--free", default="none", choices=["none", "intercept", "affine"])
    demo.add_argument("--solver", default="auto", help="backend (default auto)")
    demo.add_argument("--out", default=".", help="folder for the PNG (default .)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (ValueError, OSError) as exc:
        print(f"limitsolver: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
