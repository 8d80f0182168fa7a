"""train.threads > 1 (nn/parallel.py): the Winograd, fused batch norm + ReLU + pool and first conv kernels
split over the pool give bit for bit what one worker gives (every split is over independent outputs: samples,
tile rows, whole products, or per-sample sums added up whole afterwards; BLAS runs one thread in both); dense
products stay whole (a chunk of one is not rounded as the whole). The worker count belongs to its thread, the
pool survives a fork, a split inside a chunk runs inline."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conftest import TINY, dlb
from dlbasics.nn import parallel
from dlbasics.nn.activations import ReLU
from dlbasics.nn.conv import Conv2D
from dlbasics.nn.kernels.winograd import Winograd3x3
from dlbasics.nn.layers import Dense
from dlbasics.nn.model import Sequential
from dlbasics.nn.norm import BatchNorm1d, BatchNorm2d
from dlbasics.nn.pooling import MaxPool2D


def _each_worker_count(run):
    """run() under 1, 2 and 3 workers with BLAS at one thread -> the three results."""
    out = []
    for n in (1, 2, 3):
        with threadpool_limits(limits=1, user_api="blas"), parallel.workers(n):
            out.append(run())
    return out


def _same(results):
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_split_covers_the_range_once_in_disjoint_chunks_and_raises_a_chunks_error():
    seen = []
    with parallel.workers(3):
        parallel.split(lambda lo, hi: seen.append((lo, hi)), 7)
        assert sorted(seen) == [(0, 2), (2, 4), (4, 7)]
        with pytest.raises(ZeroDivisionError):
            parallel.split(lambda lo, hi: 1 / (lo - 2), 7)
    assert parallel.count() == 1


@pytest.mark.parametrize("N, C, H, W, F, pads", [
    (3, 5, 7, 9, 4, ((1, 1), (1, 1))),  # odd sizes: a half tile at the bottom and the right
    (2, 3, 6, 5, 6, ((0, 1), (2, 0))),  # uneven padding
])
def test_winograd_forward_and_backward_do_not_depend_on_the_workers(N, C, H, W, F, pads):
    rng = np.random.default_rng(0)
    Ho, Wo = H + sum(pads[0]) - 2, W + sum(pads[1]) - 2
    x, w = rng.standard_normal((N, C, H, W)).astype(np.float32), rng.standard_normal((F, C, 3, 3)).astype(np.float32)
    b, dout = rng.standard_normal(F).astype(np.float32), rng.standard_normal((N, F, Ho, Wo)).astype(np.float32)

    def run():
        conv = Winograd3x3((C, H, W), (F, Ho, Wo), pads)
        return (conv.forward(x, w, b), *conv.backward(dout, need_dx=True))
    _same(_each_worker_count(run))


@pytest.mark.parametrize("layers, shape", [
    (lambda: [BatchNorm2d(), ReLU(), MaxPool2D(2)], (5, 6, 4)),
    (lambda: [BatchNorm1d(), ReLU()], (3, 7)),
    (lambda: [Conv2D(4, 3, padding=1, algorithm="im2col")], (1, 9, 9)),  # a first layer: products by samples
])
def test_fused_steps_and_first_conv_do_not_depend_on_the_workers(layers, shape):
    rng = np.random.default_rng(1)
    x = np.round(2 * rng.standard_normal((6, *shape))).astype(np.float32)  # ties in the pool windows
    dout = None

    def run():
        nonlocal dout
        model = Sequential(layers()).build(shape, np.random.default_rng(0), np.float32)
        for layer in model.layers:
            layer.needs_input_grad = True
        if isinstance(model.layers[0], (BatchNorm1d, BatchNorm2d)):  # gamma of each sign, and zero
            model.layers[0].weight.data[...] = np.resize([1.5, -0.7, 0.0, 2.0], shape[0])
        y = model.forward(x, training=True)
        dout = rng.standard_normal(y.shape).astype(np.float32) if dout is None else dout
        dx = model.backward(dout)
        return (y, dx, *(p.grad for p in model.parameters()))
    _same(_each_worker_count(run))


@pytest.mark.parametrize("features, units, batch, dtype", [
    (256, 3, 64, np.float32),  # a chunk of 1 column would go through gemv
    (128, 10, 100, np.float64),  # chunks of 50 rows: another small-matrix kernel
    (784, 128, 3, np.float32),
])
def test_dense_products_give_the_same_bits_at_any_worker_count(features, units, batch, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, features)).astype(dtype)
    dout = rng.standard_normal((batch, units)).astype(dtype)

    def run():
        model = Sequential([Dense(units)]).build((features,), np.random.default_rng(0), dtype)
        model.layers[0].needs_input_grad = True
        y = model.forward(x, training=True)
        return (y, model.backward(dout), model.layers[0].W.grad)
    _same(_each_worker_count(run))


def test_the_worker_count_belongs_to_its_thread_and_nested_splits_run_inline():
    import threading

    seen, inner = {}, []
    with parallel.workers(2):
        thread = threading.Thread(target=lambda: seen.setdefault("other", parallel.count()))
        thread.start()
        thread.join()
        seen["here"] = parallel.count()
        parallel.split(lambda lo, hi: parallel.split(lambda a, b: inner.append((a, b)), 4), 2)
    assert seen == {"other": 1, "here": 2}
    assert sorted(inner) == [(0, 4), (0, 4)]  # each chunk's split ran whole, inline (no deadlock)


def test_a_forked_child_splits_without_the_parents_pool():
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    with parallel.workers(2):
        parallel.split(lambda lo, hi: None, 4)  # the pool exists now
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the parent's pool threads are not here
            seen = []
            parallel.split(lambda lo, hi: seen.append((lo, hi)), 4)
            os.write(w, b"ok" if sorted(seen) == [(0, 2), (2, 4)] else b"no")
            os._exit(0)
        os.close(w)
        import select

        ready, _, _ = select.select([r], [], [], 10)
        answer = os.read(r, 2) if ready else b"hung"
        os.waitpid(pid, 0) if ready else os.kill(pid, 9)
    assert answer == b"ok"


def test_blas_stays_pinned_until_the_last_block_ends_then_returns_to_its_limit():
    import threading

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with parallel.workers(2):
            with parallel.workers(1):  # a nested block ends first: the outer one keeps its pin
                pass
            other_done = threading.Event()

            def other():
                with parallel.workers(2):
                    pass
                other_done.set()
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            assert other_done.is_set() and blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_dlb_train_threads_2_trains_the_same_run_as_threads_1(write_config, tmp_path):
    import json

    path, finals = write_config(TINY), []
    for threads in ("1", "2"):
        result = dlb("train", path, "--threads", threads, "--runs-dir", tmp_path / threads, "--json")
        assert result.returncode == 0, result.stderr
        finals.append(json.loads(result.stdout)["final"])
    assert finals[0] == finals[1]  # losses and accuracies bit for bit
    assert parallel.count() == 1  # restored after the run
