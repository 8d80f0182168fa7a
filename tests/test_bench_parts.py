"""The pieces of `make bench` that decide what is measured (never a timing: nothing here asserts a speed)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from dlbasics.bench_common import Setup
from dlbasics.bench_curves import BATCHES, WIDTHS, plot_cost_curves
from dlbasics.bench_mlp import matmul_floor_fn, numpy_epoch_fn


def test_train_threads_sets_the_workers_and_one_blas_thread_the_training_loop_runs_with():
    from dlbasics.bench_cnn import threads_in_training

    if not any(i.get("user_api") == "blas" for i in threadpool_info()):
        pytest.skip("threadpoolctl finds no BLAS to limit")
    # (the default, 1, is what every other test trains with)
    assert threads_in_training(2) == (1, 2)  # the kernels split over 2 workers, BLAS at one thread


def test_matmul_floor_multiplies_exactly_the_products_of_an_mlp_epoch(monkeypatch):
    rng = np.random.default_rng(0)
    x, xv = rng.random((250, 20), np.float32), rng.random((30, 20), np.float32)
    shapes = []
    real = np.matmul

    def counting(a, b, out=None):
        shapes.append((a.shape, b.shape))
        return real(a, b, out=out)

    monkeypatch.setattr(np, "matmul", counting)
    matmul_floor_fn(x, xv, Setup(hidden=(8, 6), batch=100))()
    forward = [((100, 20), (20, 8)), ((100, 8), (8, 6)), ((100, 6), (6, 10))]
    weight_grads = [((6, 100), (100, 10)), ((8, 100), (100, 6)), ((20, 100), (100, 8))]
    input_grads = [((100, 10), (10, 6)), ((100, 6), (6, 8))]  # none for the first layer
    per_batch = [*forward, weight_grads[0], input_grads[0], weight_grads[1], input_grads[1], weight_grads[2]]
    assert shapes[:8] == per_batch
    assert len(shapes) == 3 * 8 + 3  # batches of 100, 100 and 50, then one validation chunk (forward only)
    assert shapes[16][0] == (50, 20) and shapes[-3] == ((30, 20), (20, 8))


def test_numpy_reference_trains():
    rng = np.random.default_rng(1)
    x = rng.random((200, 16), np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    epoch = numpy_epoch_fn(x, y, x[:20], y[:20], Setup(hidden=(8,), batch=50, lr=1e-2))
    for _ in range(2):
        epoch()  # runs without diverging (it raises FloatingPointError on a non-finite loss)


def test_cost_curve_figure_has_both_axes_and_every_contender():
    curves = {"batch": {"dlbasics": [1.0] * len(BATCHES), "pytorch": [2.0] * len(BATCHES)},
              "width": {"dlbasics": [1.0] * len(WIDTHS), "pytorch": [2.0] * len(WIDTHS)}}
    fig = plot_cost_curves(curves, "title")
    axes = fig.get_axes()
    assert len(axes) == 2
    assert [len(ax.get_lines()) for ax in axes] == [2, 2]
    assert "batch size" in axes[0].get_xlabel() and "width" in axes[1].get_xlabel()


def test_the_per_layer_timer_times_fused_steps_too():
    """bench_threads' per-layer table: with model.fuse the batch norm, ReLU and pool run as one step, which must
    be timed under their names (wrapping model.layers left them at 0 s, out of the table)."""
    import numpy as np

    from dlbasics.bench_cnn import LayerTimer, build_cnn, cnn_layers

    model = build_cnn(cnn_layers())
    timer = LayerTimer(model)
    out = model.forward(np.zeros((2, 1, 28, 28), np.float32), True)
    model.backward(np.ones_like(out))
    assert timer.seconds["1 batchnorm2d + 2 relu + 3 maxpool2d"] > 0 and timer.seconds["0 conv2d"] > 0
