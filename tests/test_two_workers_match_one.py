"""train.threads > 1 (nn/parallel.py): the Winograd, fused batch norm + ReLU + pool, first conv and dense
kernels split over the pool give bit for bit what one worker gives (every split is over independent outputs:
rows, samples, tile rows, whole products, or per-sample sums added up whole afterwards; BLAS runs one thread in
both)."""

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
    (lambda: [Dense(5), ReLU()], (9,)),
    (lambda: [Conv2D(4, 3, padding=1, algorithm="im2col")], (1, 9, 9)),  # a first layer: products by samples
])
def test_fused_and_dense_steps_do_not_depend_on_the_workers(layers, shape):
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


def test_dlb_train_threads_2_trains_the_same_run_as_threads_1(write_config, tmp_path):
    import json

    path, finals = write_config(TINY), []
    for threads in ("1", "2"):
        result = dlb("train", path, "--threads", threads, "--runs-dir", tmp_path / threads, "--json")
        assert result.returncode == 0, result.stderr
        finals.append(json.loads(result.stdout)["final"])
    assert finals[0] == finals[1]  # losses and accuracies bit for bit
    assert parallel.count() == 1  # restored after the run
