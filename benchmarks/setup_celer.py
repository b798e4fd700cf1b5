"""Create the separate environment in which the benchmarks run celer's ``MultiTaskLasso``.

celer 0.7.4 needs scikit-learn < 1.6, older than the one limitsolver's environment may
have, so the harness runs it from its own virtual environment in a subprocess::

    python benchmarks/setup_celer.py            # creates benchmarks/.venv-celer
    python benchmarks/setup_celer.py --force    # recreate it

The folder is not committed (see .gitignore). The harness finds it through
:func:`celer_python` (:data:`CELER_PYTHON`, or the ``LIMITSOLVER_CELER_PYTHON``
environment variable) and runs :data:`CELER_RUNNER` there.
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

#: Run by celer's interpreter as ``python -c CELER_RUNNER FOLDER LAM TOL``: reads x̃
#: (n × (d+1)), the directions (M × (d+1)) and Y (n × T) from FOLDER/*.npy, builds
#: Φ = relu(x̃ θᵀ), fits MultiTaskLasso(alpha=LAM, fit_intercept=False), i.e.
#: min_W (1/(2n))‖Y − ΦW‖²_F + LAM Σ_j ‖W_j‖₂, and writes W (M × T) and the seconds of
#: the build and of the fit (measured here, inside the subprocess).
CELER_RUNNER = r"""
import json, sys, time
t_start = time.perf_counter()
import numpy as np
from celer import MultiTaskLasso
folder, lam, tol = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
Xt = np.load(folder + "/Xt.npy"); D = np.load(folder + "/dirs.npy")
Y = np.load(folder + "/Y.npy")
t0 = time.perf_counter()
Phi = np.asfortranarray(np.maximum(Xt @ D.T, 0.0))
t1 = time.perf_counter()
est = MultiTaskLasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=10000,
                     max_epochs=100000)
est.fit(Phi, Y)
t2 = time.perf_counter()
np.save(folder + "/W.npy", np.ascontiguousarray(est.coef_.T))
with open(folder + "/times.json", "w") as f:
    json.dump(dict(build=t1 - t0, fit=t2 - t1, inside=time.perf_counter() - t_start), f)
"""


def celer_python() -> str | None:
    """The interpreter of celer's environment, or None when it is not set up."""
    exe = os.environ.get("LIMITSOLVER_CELER_PYTHON", CELER_PYTHON)
    return exe if os.path.exists(exe) else None


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
