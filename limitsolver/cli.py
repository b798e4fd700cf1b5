"""The ``limitsolver`` command line (also ``python -m limitsolver``)."""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from .solvers.base import SolverFailed

__all__ = ["main"]


def _cmd_demo(args) -> int:
    import numpy as np

    from .api import solve
    from .datasets import make_demo

    _check_out_dir(args.out)
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
           f"{'limit gap':>10s} {'to the limit':>12s} {'neurons':>8s} {'shared':>7s} " \
           f"{'solver':>9s}"
    print(head)
    print("-" * len(head))
    for pen, s in sols.items():
        lb = "n/a" if s.lower_bound is None else f"{s.lower_bound:.8g}"
        lg = "n/a" if s.limit_gap is None else f"{s.limit_gap:.2e}"
        kind = {True: "certified", False: "estimated", None: "n/a"}[s.limit_certified]
        print(f"{pen:8s} {s.objective:14.8g} {s.gap:10.2e} {lb:>14s} {lg:>10s} {kind:>12s} "
              f"{s.n_neurons:8d} {s.shared_fraction:7.0%} {s.solver:>9s}")
    g, l1 = sols["group"], sols["l1"]
    print(f"group penalty of the multi-task fit: {g.penalty_value():.6g}; "
          f"single-task (l1) fit pays {l1.penalty_value():.6g}")
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


# ---- solve / path on data files (CSV or NPZ) -------------------------------------------

_DATA_HELP = """\
DATA is a .csv file (comma-separated, a header row of column names, then one sample per row,
numbers only) or a .npz file with arrays X (n, d) and Y (n, T). For CSV, --targets names the
target columns (one task each) and --features the input columns (default: all the others);
for NPZ they optionally pick columns by 0-based index. A bad file (missing column, empty
cell, text, NaN/inf, empty file) gives a one-line error and exit code 2.
With --loss multinomial, --targets names ONE label column (CSV: class names or integers;
NPZ: one column of Y with integer labels); the classes, sorted, are the K outputs."""


def _add_data_options(p, *, with_lam: bool, with_penalty: bool = True) -> None:
    p.add_argument("data", metavar="DATA", help="input file: .csv (header row) or .npz (X, Y)")
    p.add_argument("--targets", action="append", metavar="COLS",
                   help="target columns, comma-separated (CSV: names, required; NPZ: indices)")
    p.add_argument("--features", action="append", metavar="COLS",
                   help="input columns, comma-separated (default: all non-target columns)")
    if with_lam:
        p.add_argument("--lam", type=float, default=None,
                       help="λ > 0, the weight decay (required unless --loss interpolate)")
    if with_penalty:
        p.add_argument("--penalty", default="group",
                       help="group (multi-task, default) or l1 (separate single-task networks)")
    p.add_argument("--bias", default="regularized", choices=["regularized", "free"],
                   help="whether hidden biases are penalized (default regularized)")
    p.add_argument("--free", default="none", choices=["none", "intercept", "affine"],
                   help="unpenalized part (default none)")
    p.add_argument("--loss", default="squared",
                   choices=["squared", "logistic", "multinomial", "interpolate"] if with_lam
                   else ["squared", "logistic"],
                   help="data-fit term (default squared; logistic needs ±1 labels; "
                        "multinomial: softmax over the classes of one label column)")
    p.add_argument("--solver", default="auto", help="backend (default auto)")
    p.add_argument("--n-directions", type=int, default=None, metavar="M",
                   help="size of the default direction grid")
    p.add_argument("--tol", type=float, default=1e-8,
                   help="target relative certified gap (default 1e-8)")


def _check_out_dir(folder: str, option: str = "--out") -> str:
    """Make sure ``folder`` exists (created if needed) and accepts files, before any solve;
    a ValueError with a plain message otherwise."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{option} {folder}: exists and is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        import tempfile
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {folder}: cannot write there "
                         f"({exc.strerror or type(exc).__name__})") from None
    return folder


def _read_cli_data(args, path=None):
    """X, Y, feature names, target names; for ``--loss multinomial`` Y is the (n,) labels."""
    from .datafiles import parse_names, read_data
    read = read_data
    if getattr(args, "loss", None) == "multinomial":
        from .cli_labels import read_labelled as read
    return read(args.data if path is None else path, features=parse_names(args.features),
                targets=parse_names(args.targets))


def _print_caught(caught) -> None:
    for w in caught:
        print(f"warning: {w.category.__name__}: {str(w.message).splitlines()[0]}",
              file=sys.stderr)


def _cmd_solve(args) -> int:
    from .api import solve

    X, Y, fnames, tnames = _read_cli_data(args)
    if args.lam is None and args.loss != "interpolate":
        raise ValueError("--lam is required (or use --loss interpolate)")
    _check_out_dir(args.out)
    print(f"limitsolver solve: {args.data}: n={X.shape[0]}, features [{', '.join(fnames)}], "
          f"targets [{', '.join(tnames)}]")
    if args.loss == "multinomial":
        from .cli_labels import class_indices, class_table
        classes, Y = class_indices(Y)
        tnames = [str(c) for c in classes]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve(X, Y, lam=args.lam, loss=args.loss, penalty=args.penalty, bias=args.bias,
                    free=args.free, n_directions=args.n_directions, solver=args.solver,
                    tol=args.tol)
    _print_caught(caught)
    print(sol.summary())
    print(f"  dual value     {sol.dual_value:.10g} (grid certificate: objective - gap)")
    if args.loss == "multinomial":
        print(class_table(classes, Y, sol.predict(X)))
    stem = args.name or os.path.splitext(os.path.basename(args.data))[0]
    out = sol.save(os.path.join(args.out, f"{stem}_solution.npz"))
    print(f"wrote {out}")
    if not args.no_plot:
        png = os.path.join(args.out, f"{stem}_fit.png")
        from .cli_output import plot_solution
        plot_solution(sol, png, tnames)
        print(f"wrote {png}")
    return 0


def _cmd_path(args) -> int:
    from .path import limit_path

    X, Y, fnames, tnames = _read_cli_data(args)
    lams = None
    if args.lams is not None:
        try:
            lams = [float(s) for s in args.lams.split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"--lams must be comma-separated numbers, got {args.lams!r}") \
                from None
    if args.out:
        _check_out_dir(args.out)
    print(f"limitsolver path: {args.data}: n={X.shape[0]}, features [{', '.join(fnames)}], "
          f"targets [{', '.join(tnames)}]")
    from .path import LimitPath

    def show(k, lam, sol, seconds):
        if k == 0:
            print(LimitPath.table_header())
        print(LimitPath.table_row(lam, sol, seconds), flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = limit_path(X, Y, lams=lams, n_lams=args.n_lams, eps=args.eps, loss=args.loss,
                          penalty=args.penalty, bias=args.bias, free=args.free,
                          n_directions=args.n_directions, solver=args.solver, tol=args.tol,
                          progress=True if args.progress else False, callback=show)
    _print_caught([w for w in caught if "interrupted" not in str(w.message)])
    print(f"lam_max = {path.lam_max:.6g} (on the grid of {path.grid.shape[0]} directions)")
    if args.out and len(path):
        stem = os.path.splitext(os.path.basename(args.data))[0]
        from .cli_output import write_path_csv
        out = write_path_csv(path, os.path.join(args.out, f"{stem}_path.csv"))
        print(f"wrote {out}")
    if path.interrupted:
        print(f"limitsolver: interrupted after {len(path)} of {len(path.requested)} λ values"
              + (" (the solved rows were written)" if args.out and len(path) else ""),
              file=sys.stderr)
        return 130
    return 0


def _add_solve_parser(sub) -> None:
    p = sub.add_parser(
        "solve", help="solve the limit problem on a CSV or NPZ file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Solve the infinite-width limit problem on your data, print the\n"
                    "certificates, and write the solution (.npz, readable with\n"
                    "LimitSolution.load) and a plot (DATA_fit.png).\n\n" + _DATA_HELP,
        epilog="examples:\n"
               "  limitsolver solve data.csv --targets y1,y2 --lam 1e-3\n"
               "  limitsolver solve data.csv --features x --targets y --lam 1e-2 "
               "--bias free --free affine --out results/\n"
               "  limitsolver solve data.npz --lam 1e-3 --penalty l1 --solver clarabel\n"
               "  python -c \"import limitsolver as ls; "
               "print(ls.LimitSolution.load('data_solution.npz').summary())\"")
    _add_data_options(p, with_lam=True)
    p.add_argument("--out", default=".", help="folder for the outputs (default .)")
    p.add_argument("--name", default=None,
                   help="file name stem of the outputs (default: the data file's)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.set_defaults(func=_cmd_solve)


def _add_path_parser(sub) -> None:
    p = sub.add_parser(
        "path", help="regularization path: solve for decreasing λ with warm starts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Solve for a decreasing sequence of λ, from λ_max (computed on the\n"
                    "grid: the smallest λ with an empty network) down to eps·λ_max, with\n"
                    "warm starts, and print one table line per λ.\n\n" + _DATA_HELP,
        epilog="examples:\n"
               "  limitsolver path data.csv --targets y1,y2\n"
               "  limitsolver path data.csv --targets y --n-lams 10 --eps 1e-2 --free intercept\n"
               "  limitsolver path data.npz --lams 0.1,0.01,0.001 --out results/")
    _add_data_options(p, with_lam=False)
    p.add_argument("--n-lams", type=int, default=30, help="number of λ values (default 30)")
    p.add_argument("--eps", type=float, default=1e-3,
                   help="smallest λ as a fraction of λ_max (default 1e-3)")
    p.add_argument("--lams", default=None, help="explicit comma-separated λ values")
    p.add_argument("--progress", action="store_true", help="show a progress bar (tqdm)")
    p.add_argument("--out", default=None, help="also write the table as CSV into this folder")
    p.set_defaults(func=_cmd_path)


class _UsageError(Exception):
    """A command-line usage error (reported on one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error`` raises instead of printing the usage."""

    def error(self, message):
        raise _UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _cmd_compare(args) -> int:
    from .compare import compare
    from .datafiles import parse_names

    X, Y, fnames, tnames = _read_cli_data(args)
    if args.lam is None and args.loss != "interpolate":
        raise ValueError("--lam is required (or use --loss interpolate)")
    penalties = parse_names(args.penalties)
    if args.csv and os.path.dirname(args.csv):
        _check_out_dir(os.path.dirname(args.csv), "--csv")
    if args.csv and os.path.isdir(args.csv):
        raise ValueError(f"--csv {args.csv}: is a folder, expected a file name")
    Xte = Yte = None
    if args.test is not None:
        Xte, Yte, _, _ = _read_cli_data(args, args.test)
    if args.loss == "multinomial":
        from .cli_labels import class_outputs
        Y, Yte = class_outputs(Y, Yte)
    print(f"limitsolver compare: {args.data}: n={X.shape[0]}, features [{', '.join(fnames)}], "
          f"targets [{', '.join(tnames)}]"
          + ("" if Xte is None else f"; test data {args.test}: n={Xte.shape[0]}"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compare(X, Y, lam=args.lam, penalties=penalties, X_test=Xte, Y_test=Yte,
                        loss=args.loss, bias=args.bias, free=args.free, kernel=args.kernel,
                        n_directions=args.n_directions, solver=args.solver, tol=args.tol)
    _print_caught(caught)
    print(table)
    if args.csv:
        table.to_csv(args.csv)
        print(f"wrote {args.csv}")
    return 0


def _add_compare_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="multi-task (group) vs single-task (l1) vs kernel on a CSV/NPZ file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Solve the same data with several penalties (default group, l1 and\n"
                    "kernel) and print one table row each: objective, penalty, group norm,\n"
                    "neurons, shared fraction, train and test error.\n\n" + _DATA_HELP
                    + "\n\n--test names a second file with the same columns (held-out data).",
        epilog="examples:\n"
               "  limitsolver compare train.csv --targets y1,y2,y3 --lam 1e-3\n"
               "  limitsolver compare train.csv --targets y1,y2 --lam 1e-3 --test test.csv "
               "--csv results/table.csv\n"
               "  limitsolver compare data.npz --lam 1e-2 --penalties group,kernel "
               "--kernel ntk --free intercept")
    _add_data_options(p, with_lam=True, with_penalty=False)
    p.add_argument("--penalties", default="group,l1,kernel",
                   help="comma-separated rows to compute (default group,l1,kernel)")
    p.add_argument("--kernel", default="arccos", choices=["arccos", "ntk"],
                   help="kernel of the kernel row (default arccos)")
    p.add_argument("--test", default=None, metavar="FILE",
                   help="held-out data file (same format and columns) for the test error")
    p.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    p.set_defaults(func=_cmd_compare)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="limitsolver",
        description="The exact infinite-width limit of weight-decay-trained shallow ReLU "
                    "networks with several outputs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  limitsolver demo\n"
               "  limitsolver solve data.csv --targets y1,y2 --lam 1e-3\n"
               "  limitsolver path data.csv --targets y1,y2 --n-lams 20\n"
               "  limitsolver compare data.csv --targets y1,y2 --lam 1e-3 --test test.csv\n"
               "run 'limitsolver COMMAND --help' for a command's options")
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
    _add_solve_parser(sub)
    _add_path_parser(sub)
    _add_compare_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"limitsolver: error: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("limitsolver: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"limitsolver: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"limitsolver: error: {exc}", file=sys.stderr)
        return 2
    except SolverFailed as exc:
        print(f"limitsolver: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
