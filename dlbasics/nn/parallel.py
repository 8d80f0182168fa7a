"""A persistent thread pool for the element-wise NumPy passes of the kernels (``train.threads`` > 1).

OpenBLAS threads only the matrix products; the Winograd transforms and the fused batch norm + ReLU + pool
passes are NumPy ufuncs, which run on the calling thread. NumPy releases the GIL inside ufuncs, copies and
matmul, so :func:`split` runs ``fn(lo, hi)`` on disjoint chunks of ``range(n)`` at once: one chunk on the
calling thread, the others on the pool, and returns when all are done. Each chunk writes only its own
elements, so the results do not depend on the number of workers, except where a kernel adds up per-chunk
partial sums (it says so). Split along the outermost axis of what a pass writes (the samples of NCHW arrays,
the tile rows of Winograd's pixels-first layout), so that each worker streams through one contiguous block:
split by channels of (N, C, H, W), each worker goes through 100 strided pieces, and the fused batch norm's
passes ran 0.6-0.85x as fast on two workers as on one (by samples: 1.55-1.7x).

While a split runs, BLAS is held at one thread (the chunks call matmul themselves: two chunks each asking
OpenBLAS for two threads would oversubscribe the cores); the training loop keeps BLAS at one thread
throughout (:func:`training_threads`). With one worker (the default) :func:`split` is a plain call
``fn(0, n)``.

    with parallel.workers(2):    # the training loop does this for train.threads: 2
        parallel.split(lambda lo, hi: np.add(a[lo:hi], b[lo:hi], out=c[lo:hi]), len(a))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

_workers = 1  # process-wide: set by the training loop (runner.train) from train.threads
_pool: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's BLAS controllers, looked up once
_blas_held = 0  # > 0 inside training_threads, which holds BLAS at one thread already (split need not)


def count() -> int:
    """The number of workers :func:`split` uses (1: no pool)."""
    return _workers


@contextmanager
def workers(n: int) -> Iterator[None]:
    """Run the block with ``n`` workers (``n - 1`` pool threads besides the caller), then restore the count."""
    global _workers, _pool
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    before = _workers
    if n > 1 and (_pool is None or _pool._max_workers < n - 1):
        _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="dlbasics")
    _workers = n
    try:
        yield
    finally:
        _workers = before


@contextmanager
def training_threads(n: int) -> Iterator[None]:
    """``train.threads: n``: ``n`` workers for the kernels' splits, BLAS at one thread throughout (the dense
    layers split their products over the pool too). Measured on mnist_cnn (wall clock, 2 cores): leaving
    OpenBLAS two threads between the splits made the 2-worker epoch slower than one worker (0.91-0.97x), as its
    threads spin-wait after each product and take the core the pool's thread needs."""
    from threadpoolctl import threadpool_limits

    global _blas_held
    with threadpool_limits(limits=1, user_api="blas"), workers(n):
        _blas_held += 1
        try:
            yield
        finally:
            _blas_held -= 1


def _single_blas():
    """BLAS at one thread for a split (threadpoolctl: ~10 us a call; nothing inside training_threads)."""
    global _blas
    if _blas_held:
        return nullcontext()
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas.limit(limits=1)


def bounds(n: int, parts: int) -> list[int]:
    """The ``parts + 1`` boundaries of ``parts`` near-equal chunks of range(n)."""
    return [n * i // parts for i in range(parts + 1)]


def split(fn: Callable[[int, int], object], n: int, parts: int | None = None) -> None:
    """Call ``fn(lo, hi)`` on ``min(parts or count(), n)`` disjoint chunks covering range(n), concurrently,
    and wait for all of them (an exception of any chunk is raised after all have finished)."""
    parts = min(parts or _workers, n)
    if parts <= 1 or _pool is None:
        fn(0, n)
        return
    cut = bounds(n, parts)
    with _single_blas():
        futures = [_pool.submit(fn, cut[i], cut[i + 1]) for i in range(1, parts)]
        try:
            fn(cut[0], cut[1])
        finally:
            for f in futures:
                f.exception()  # wait for every chunk before raising
        for f in futures:
            f.result()
