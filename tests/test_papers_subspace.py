"""The principal angles between a solution's neuron subspace and a reference subspace
(examples/subspace_angles.py), against scipy's independent routine and exact cases."""
import numpy as np
import pytest
from scipy.linalg import subspace_angles

from .conftest import load_example


def _load():
    return load_example("subspace_angles", "paper_subspace")


def test_angles_match_scipy_on_the_top_eigenvectors():
    """Random neurons: the angles equal scipy.linalg.subspace_angles between U and the top-r
    eigenvectors of Σ_j ‖V_j‖ w_j w_jᵀ, computed here by a dense eigendecomposition of the
    matrix built neuron by neuron; the energy is tr(UᵀMU)/tr(M) from the same matrix."""
    sa = _load()
    rng = np.random.default_rng(3)
    d, k, T, r = 7, 25, 4, 2
    theta = rng.standard_normal((k, d + 1))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    V = rng.standard_normal((k, T))
    U = np.linalg.qr(rng.standard_normal((d, r)))[0]
    M = sum(np.linalg.norm(V[j]) * np.outer(theta[j, :d], theta[j, :d]) for j in range(k))
    vals, vecs = np.linalg.eigh(M)
    Q = vecs[:, np.argsort(vals)[::-1][:r]]
    ang, energy = sa.principal_angles(theta, V, U)
    np.testing.assert_allclose(ang, np.sort(np.degrees(subspace_angles(Q, U))), atol=1e-6)
    np.testing.assert_allclose(energy, np.trace(U.T @ M @ U) / np.trace(M), rtol=1e-12)


def test_neurons_inside_the_subspace_give_zero_angles_and_full_energy():
    """Neurons whose input weights lie in span U (any biases): angles 0, energy 1; adding one
    heavy neuron orthogonal to U moves the subspace (a 90° angle) and lowers the energy to
    the share of the mass inside."""
    sa = _load()
    rng = np.random.default_rng(0)
    d, r = 6, 2
    U = np.linalg.qr(rng.standard_normal((d, r)))[0]
    W = rng.standard_normal((10, r)) @ U.T
    theta = np.hstack([W, rng.standard_normal((10, 1))])
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    V = rng.uniform(0.5, 1.5, (10, 3))
    ang, energy = sa.principal_angles(theta, V, U)
    assert np.all(ang < 1e-5) and abs(energy - 1) < 1e-12
    w_out = np.linalg.qr(np.hstack([U, rng.standard_normal((d, 1))]))[0][:, -1]
    heavy = np.append(w_out, 0.0)
    mass_in = float(np.linalg.norm(V, axis=1) @ np.sum(theta[:, :d] ** 2, axis=1))
    V2 = np.vstack([V, [[100.0, 0.0, 0.0]]])
    ang2, energy2 = sa.principal_angles(np.vstack([theta, heavy]), V2, U)
    assert abs(ang2[-1] - 90) < 1e-6
    np.testing.assert_allclose(energy2, mass_in / (mass_in + 100.0), rtol=1e-12)


def test_bad_reference_subspace_raises():
    sa = _load()
    theta = np.eye(4)[:3]
    with pytest.raises(ValueError, match="input dimension"):
        sa.principal_angles(theta, np.ones((3, 1)), np.eye(4)[:, :2])
    with pytest.raises(ValueError, match="orthonormal"):
        sa.principal_angles(theta, np.ones((3, 1)), 2 * np.eye(3)[:, :2])


def test_subspace_recovery_quick_prints_its_row(capsys):
    mod = load_example("subspace_recovery", "paper_subspace")
    assert mod.main(["--quick"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[-1].split()[:3] == ["5", "40", "16"]
    energy = float(rows[-1].split()[7])
    assert 0.0 <= energy <= 1.0
