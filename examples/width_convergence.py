"""Finite networks trained with weight decay converge to the infinite-width limit.

On the built-in 1-D two-task data (30 points), train shallow ReLU networks of growing
width with the NumPy trainer (full-batch BFGS, three seeds each) and compare them with the
limit solved by ``limitsolver.solve``:

- left: relative excess of the training objective over the limit objective and the sup
  distance between the trained function and the limit function, best seed per width;
  below the width the limit needs, the objective stays well above it;
- right: the same run with the single-task penalty (T separate networks) approaches the
  single-task limit and stays away from the multi-task one.

Run:  python examples/width_convergence.py [--out DIR] [--widths 2 8 512]
(writes DIR/width_convergence.png; DIR defaults to the folder of this script)
(about a minute on an idle 2-core machine with the default widths 2..64)
"""
import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import limitsolver as ls  # noqa: E402
from limitsolver import validate  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                        help="folder for the PNG (default: next to this script)")
    parser.add_argument("--lam", type=float, default=1e-3)
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    X, Y = ls.make_demo()
    t0 = time.perf_counter()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, penalty in zip(axes, ("group", "l1")):
        print(f"\n=== penalty={penalty} ===")
        res = validate(X, Y, lam=args.lam, penalty=penalty, widths=args.widths,
                       seeds=(0, 1, 2), steps=args.steps, verbose=False)
        print(res.table())
        res.plot(ax=ax)
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "width_convergence.png")
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
