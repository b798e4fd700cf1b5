"""blas_threads: nested blocks with the same limit, with another limit, and an exception,
read back through threadpoolctl (an independent view of the BLAS libraries' state)."""
import pytest
from threadpoolctl import threadpool_info

from limitsolver.budget import blas_threads


def _now():
    return sorted((lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
                  if lib["user_api"] == "blas")


def test_nested_limits_apply_and_restore():
    before = _now()
    if not before:
        pytest.skip("no BLAS library is visible to threadpoolctl")
    with blas_threads(1):
        assert all(t == 1 for _, t in _now())
        with blas_threads(1):                       # the same limit: nothing changes
            assert all(t == 1 for _, t in _now())
        with blas_threads(2):                       # another limit applies ...
            if all(b >= 2 for _, b in before):
                assert all(t == 2 for _, t in _now())
        assert all(t == 1 for _, t in _now())       # ... and the outer one is back
        with pytest.raises(RuntimeError):
            with blas_threads(2):
                raise RuntimeError("inside")
        assert all(t == 1 for _, t in _now())
        with blas_threads(1):
            assert all(t == 1 for _, t in _now())
    assert _now() == before
