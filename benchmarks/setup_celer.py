"""Create the separate environment in which the benchmarks run celer's ``MultiTaskLasso``.

celer 0.7.4 needs scikit-learn < 1.6, older than the one limitsolver's environment may
have, so the harness runs it from its own virtual environment in a subprocess::

    python benchmarks/setup_celer.py            # creates benchmarks/.venv-celer
    python benchmarks/setup_celer.py --force    # recreate it

The folder is not committed (see .gitignore). The harness finds it through
:data:`CELER_PYTHON` (or the ``LIMITSOLVER_CELER_PYTHON`` environment variable).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv-celer")
CELER_PYTHON = os.path.join(VENV, "bin", "python")
REQUIREMENTS = ("celer==0.7.4", "scikit-learn<1.6", "numpy", "scipy")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="recreate the environment")
    a = p.parse_args(argv)
    if a.force and os.path.isdir(VENV):
        shutil.rmtree(VENV)
    if not os.path.exists(CELER_PYTHON):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([CELER_PYTHON, "-m", "pip", "install", "--quiet", *REQUIREMENTS],
                   check=True)
    out = subprocess.run([CELER_PYTHON, "-c",
                          "import celer, sklearn; print(celer.__version__, sklearn.__version__)"],
                         check=True, capture_output=True, text=True).stdout.split()
    print(f"celer {out[0]} with scikit-learn {out[1]} in {VENV}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
