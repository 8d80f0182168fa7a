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

Inside :func:`workers` (``train.threads``; the training loop enters it for every run, 1 worker included)
BLAS is held at one thread: the chunks call matmul themselves (two chunks each asking OpenBLAS for two threads
would oversubscribe the cores), and a BLAS thread count that differed between worker counts could change a
sum's order (OpenBLAS splits long dot products over its threads). The dense layers' products are not split:
OpenBLAS picks its kernel by shape (gemv for one row, small-matrix kernels), so a chunk of a product is not
rounded as the whole one, and a run on two workers would not be the run on one.

The worker count belongs to the calling context (a ``ContextVar``: two trainings in two threads of one
process, as threaded Dask workers run them, each have their own); the pool is shared, made when first
needed and forgotten in a forked child (its threads do not survive a fork). A split inside a chunk runs
inline. With one worker :func:`split` is a plain call ``fn(0, n)``.

    with parallel.workers(2):    # the training loop does this for train.threads: 2
        parallel.split(lambda lo, hi: np.add(a[lo:hi], b[lo:hi], out=c[lo:hi]), len(a))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

_workers: ContextVar[int] = ContextVar("dlbasics_workers", default=1)  # set by workers() for its block
_inside: ContextVar[bool] = ContextVar("dlbasics_inside_split", default=False)  # running a chunk
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()  # guards the pool and the BLAS pin below
_pinned = 0  # workers() blocks open in this process: BLAS is held at one thread while > 0
_blas_limit = None  # threadpoolctl's limiter of that pin, restored when the last block ends


def count() -> int:
    """The number of workers :func:`split` uses here (1: no pool)."""
    return _workers.get()


@contextmanager
def workers(n: int) -> Iterator[None]:
    """Run the block with ``n`` workers (``n - 1`` pool threads besides the caller) and BLAS at one thread,
    then restore both. ``n = 1``: no pool, the same numbers as any other ``n``."""
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    _pin_blas()
    token = _workers.set(n)
    try:
        yield
    finally:
        _workers.reset(token)
        _unpin_blas()


#: ``train.threads: n``: what the training loop runs in. Measured on mnist_cnn (wall clock, 2 cores): leaving
#: OpenBLAS two threads between the splits made the 2-worker epoch slower than one worker (0.91-0.97x), as its
#: threads spin-wait after each product and take the core the pool's thread needs.
training_threads = workers


def _pin_blas() -> None:
    """Hold BLAS at one thread while any workers() block is open (counted: blocks in several threads nest
    and end in any order; the limit in force before the first is restored after the last). threadpoolctl lets
    one thread at a time set OpenBLAS's (pthreads) limits, the first that does while it lives: trainings in
    other threads of the process (threaded Dask workers) run with that thread's setting."""
    global _pinned, _blas_limit
    with _lock:
        if _pinned == 0:
            from threadpoolctl import threadpool_limits

            _blas_limit = threadpool_limits(limits=1, user_api="blas")
        _pinned += 1


def _unpin_blas() -> None:
    global _pinned, _blas_limit
    with _lock:
        _pinned -= 1
        if _pinned == 0 and _blas_limit is not None:
            _blas_limit.restore_original_limits()
            _blas_limit = None


def _pool_of(size: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < size:
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dlbasics")
        return _pool


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads are not there (waiting on them would hang), nor is the
    lock's holder; start afresh."""
    global _pool, _lock, _pinned, _blas_limit
    _pool, _lock, _pinned, _blas_limit = None, threading.Lock(), 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def bounds(n: int, parts: int) -> list[int]:
    """The ``parts + 1`` boundaries of ``parts`` near-equal chunks of range(n)."""
    return [n * i // parts for i in range(parts + 1)]


def _chunk(fn: Callable[[int, int], object], lo: int, hi: int) -> None:
    token = _inside.set(True)  # a split inside runs inline (the pool's threads may all be busy waiting)
    try:
        fn(lo, hi)
    finally:
        _inside.reset(token)


def split(fn: Callable[[int, int], object], n: int) -> None:
    """Call ``fn(lo, hi)`` on ``min(count(), n)`` disjoint chunks covering range(n), concurrently, and wait for
    all of them (an exception of any chunk is raised after all have finished)."""
    parts = min(_workers.get(), n)
    if parts <= 1 or _inside.get():
        fn(0, n)
        return
    cut = bounds(n, parts)
    pool = _pool_of(parts - 1)
    futures = [pool.submit(_chunk, fn, cut[i], cut[i + 1]) for i in range(1, parts)]
    try:
        _chunk(fn, cut[0], cut[1])
    finally:
        for f in futures:
            f.exception()  # wait for every chunk before raising
    for f in futures:
        f.result()
