"""Shared bits of the example scripts: argument parsing and figure saving."""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse(doc, argv, extra=None):
    """The examples' common options; ``extra``: {flag: help} of further on/off flags."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    for flag, text in (extra or {}).items():
        ap.add_argument(flag, action="store_true", help=text)
    ap.add_argument("--quick", action="store_true", help="small run (for the tests)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="folder for the PNG (default: next to this script)")
    ap.add_argument("--solver", default="auto", help="grid backend (default auto)")
    return ap.parse_args(argv)


def save(fig, args, name):
    import matplotlib.pyplot as plt
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path
