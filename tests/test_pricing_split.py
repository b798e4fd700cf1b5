"""Row blocks of a pricing product on several threads: every row computed once, the same
numbers as the serial pass, within the float32 bound of a dense float64 product written
out here, and errors of a worker raised to the caller."""
import numpy as np
import pytest

import limitsolver.pricing_split as split
from limitsolver.grids import sphere_grid
from limitsolver.penalties import get_penalty
from limitsolver.pricing32 import Pool32, bounded_dual_norms, relu_products32, rmatvec32


def _data(rng, n=300, d=4, M=3001, T=5):
    Xt = np.hstack([rng.uniform(-1, 1, (n, d)), np.ones((n, 1))])
    dirs = sphere_grid(d + 1, M, kind="random", random_state=5)
    return Xt, dirs, rng.standard_normal((n, T))


@pytest.fixture
def always_split(monkeypatch):
    monkeypatch.setattr(split, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(split, "cores", lambda: 3)       # more runs than this machine's cores


@pytest.mark.parametrize("rows,block", [(1000, 7), (5, 16), (64, 16), (1, 1)])
def test_run_blocks_covers_every_row_once(always_split, rows, block):
    seen = np.zeros(rows, dtype=int)
    starts = []

    def work(a, b):
        starts.append(a)
        seen[a:b] += 1
    split.run_blocks(work, rows, block, 10**9)
    assert np.all(seen == 1)
    assert all(a % block == 0 for a in starts)          # cuts on block boundaries


def test_run_blocks_raises_a_worker_error(always_split):
    def work(a, b):
        if a > 0:
            raise RuntimeError("worker failed")
    with pytest.raises(RuntimeError, match="worker failed"):
        split.run_blocks(work, 100, 10, 10**9)


def test_run_blocks_does_not_wait_for_a_busy_worker(always_split):
    """Workers that cannot start (all busy) leave every run to the calling thread."""
    import threading
    release = threading.Event()
    pool = split._executor(split.cores() - 1)
    busy = [pool.submit(release.wait, 30) for _ in range(8)]
    try:
        seen = np.zeros(500, dtype=int)
        callers = set()

        def work(a, b):
            callers.add(threading.get_ident())
            seen[a:b] += 1
        split.run_blocks(work, 500, 10, 10**9)
        assert np.all(seen == 1) and callers == {threading.get_ident()}
    finally:
        release.set()
        for f in busy:
            f.result(timeout=30)


@pytest.mark.parametrize("tile", [None, 64])
def test_split_pass_same_numbers_as_serial(rng, monkeypatch, tile):
    import limitsolver.pricing32 as p32
    if tile is not None:
        monkeypatch.setattr(p32, "TILE_SAMPLES", tile)        # sample tiles as well
    Xt, dirs, Z = _data(rng)
    XT32 = np.ascontiguousarray(Xt.T, dtype=np.float32)
    Z32 = Z.astype(np.float32)
    monkeypatch.setattr(split, "SPLIT_ABOVE", 1 << 62)
    sq1 = np.empty(dirs.shape[0], dtype=np.float32)
    serial = relu_products32(XT32, dirs, Z32, 37, sq1)
    C1, _, N1 = rmatvec32(Xt, dirs, Z, 2**14, norms=True)
    monkeypatch.setattr(split, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(split, "cores", lambda: 3)
    sq2 = np.empty(dirs.shape[0], dtype=np.float32)
    par = relu_products32(XT32, dirs, Z32, 37, sq2)
    C2, bound, N2 = rmatvec32(Xt, dirs, Z, 2**14, norms=True)
    assert np.array_equal(serial, par) and np.array_equal(sq1, sq2)
    assert np.array_equal(C1, C2) and np.array_equal(N1, N2)
    exact = np.maximum(Xt @ dirs.T, 0.0).T @ Z                # dense float64 route
    assert np.all(np.abs(C2 - exact) <= bound.entries())
    assert np.all(N2 >= np.linalg.norm(np.maximum(Xt @ dirs.T, 0.0), axis=0))


@pytest.mark.parametrize("name", ["group", "l1"])
def test_split_bounded_pass_and_pool_match_float64(rng, always_split, name):
    Xt, dirs, Z = _data(rng)
    n = Xt.shape[0]
    pen = get_penalty(name)
    exact = pen.dual_norms(np.maximum(Xt @ dirs.T, 0.0).T @ Z) / n
    S, sup, _, _ = bounded_dual_norms(Xt, dirs, Z, pen, 2**14)
    assert sup == pytest.approx(float(exact.max()), rel=1e-14, abs=0)
    assert np.all(S >= exact * (1 - 1e-13))
    pool = Pool32(Xt, dirs)
    P = np.maximum(Xt @ dirs.T, 0.0).T                     # float64 Φᵀ
    assert np.all(np.abs(pool.P - P) <= 1e-5 * (1 + np.abs(P)))
    srt = np.sort(exact)
    thr = float(0.5 * (srt[1500] + srt[1501]))                # between two values
    Sp = pool.dual_norms(Z, pen, thr, lambda rows: P[rows].T)
    assert np.array_equal(Sp > thr, exact > thr)


def test_forked_child_gets_its_own_workers(rng, always_split):
    """A child made by fork after the workers exist still completes a split product."""
    import multiprocessing as mp
    Xt, dirs, Z = _data(rng, M=400)
    XT32 = np.ascontiguousarray(Xt.T, dtype=np.float32)
    Z32 = Z.astype(np.float32)
    ref = relu_products32(XT32, dirs, Z32, 16)            # workers started in this process
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=lambda: q.put(relu_products32(XT32, dirs, Z32, 16)))
    p.start()
    out = q.get(timeout=60)
    p.join(timeout=60)
    assert np.array_equal(out, ref)
