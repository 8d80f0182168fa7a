"""Conv2D's Winograd F(2x2, 3x3) path (nn/kernels/winograd.py) == the naive loops and finite differences.

The comparison with torch is in test_conv_pool_torch.py (both algorithms).
"""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import ConfigError, load_config
from dlbasics.nn import footprint
from dlbasics.nn.conv import Conv2D
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.kernels.winograd import Winograd3x3
from dlbasics.nn.model import Sequential
from dlbasics.nn.naive import conv2d_naive, conv2d_naive_backward
from dlbasics.nn.registry import model_from_config
from dlbasics.runner import build_model

# float64 agrees with the loops to round-off; float32 is checked relative to the output's scale: Winograd's
# transforms add up to nine numbers per value (measured error / max |output| ~1e-6 on mnist_cnn's 32 -> 64 layer)
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _pads(padding):
    if padding == "same":
        return ((1, 1), (1, 1))
    p = (0, 0) if padding == "valid" else (padding, padding) if isinstance(padding, int) else tuple(padding)
    return ((p[0], p[0]), (p[1], p[1]))


def _close(actual, expected, tol):
    assert actual.shape == expected.shape
    assert float(np.max(np.abs(actual - expected))) <= tol * float(np.max(np.abs(expected)))


# (C_in, C_out, padding, (H, W), N, bias): even and odd output sizes (a last half tile), no padding, more
# padding than 'same', different padding per axis, a 1x1 image
CASES = [(3, 4, "same", (7, 9), 2, True), (2, 3, "valid", (6, 5), 3, True), (2, 2, 2, (5, 6), 1, False),
         (3, 2, [0, 1], (8, 7), 2, True), (2, 3, "same", (1, 1), 2, True), (1, 2, 1, (4, 4), 2, True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cin", "cout", "padding", "hw", "n", "bias"), CASES)
def test_winograd_matches_the_naive_loops(cin, cout, padding, hw, n, bias, dtype):
    rng = np.random.default_rng(0)
    layer = Conv2D(cout, 3, padding=padding, bias=bias, algorithm="winograd")
    layer.build((cin, *hw), rng, dtype)
    layer.needs_input_grad = True
    assert isinstance(layer.winograd, Winograd3x3)
    if bias:
        layer.b.data[...] = rng.standard_normal(cout)
    b = layer.b.data.astype(np.float64) if bias else None
    for _ in range(2):  # the kept buffers must not leak one batch into the next
        x = rng.standard_normal((n, cin, *hw)).astype(dtype)
        w, xs = layer.W.data.astype(np.float64), x.astype(np.float64)
        out = layer.forward(x, training=True)
        _close(out, conv2d_naive(xs, w, b, 1, _pads(padding)), TOL[dtype])
        dout = rng.standard_normal(out.shape).astype(dtype)
        dx = layer.backward(dout)
        ndx, ndw, ndb = conv2d_naive_backward(dout.astype(np.float64), xs, w, 1, _pads(padding))
        _close(dx, ndx, TOL[dtype])
        _close(layer.W.grad, ndw, TOL[dtype])
        if bias:
            _close(layer.b.grad, ndb, TOL[dtype])


def test_an_evaluation_batch_larger_than_the_buffers_runs_in_blocks_and_backward_still_works():
    rng = np.random.default_rng(1)
    layer = Conv2D(3, 3, padding="same", algorithm="winograd")
    layer.build((2, 5, 6), rng, np.float64)
    layer.needs_input_grad = True
    layer.forward(rng.standard_normal((2, 2, 5, 6)), training=True)  # buffers for 2 samples
    x = rng.standard_normal((5, 2, 5, 6))
    out = layer.forward(x)  # blocks of 2, 2 and 1
    np.testing.assert_allclose(out, conv2d_naive(x, layer.W.data, layer.b.data, 1, 1), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    ndx, ndw, _ = conv2d_naive_backward(dout, x, layer.W.data, 1, 1)
    np.testing.assert_allclose(layer.backward(dout), ndx, atol=1e-12)
    np.testing.assert_allclose(layer.W.grad, ndw, atol=1e-12)


@pytest.mark.parametrize(("padding", "shape", "bias"), [("same", (2, 5, 6), True), (0, (3, 6, 5), False)])
def test_winograd_gradients_pass_finite_differences(padding, shape, bias):
    rng = np.random.default_rng(2)
    layer = Conv2D(3, 3, padding=padding, bias=bias, algorithm="winograd")
    layer.build(shape, rng, np.float64)
    layer.needs_input_grad = True
    errors = check_layer(layer, rng.standard_normal((2, *shape)), rng, max_coords=40)
    assert max(errors.values()) < 1e-7, errors


def test_auto_picks_winograd_only_where_it_fits_and_pays():
    rng = np.random.default_rng(4)
    for kwargs, shape, expected in [({}, (32, 6, 6), True), ({}, (8, 6, 6), False),  # few channels: im2col
                                    ({"stride": 2, "padding": 1}, (32, 7, 7), False),
                                    ({"kernel_size": 5, "padding": "same"}, (32, 6, 6), False),
                                    ({"algorithm": "im2col"}, (32, 6, 6), False)]:
        layer = Conv2D(4, **{"kernel_size": 3, "padding": "same", **kwargs})
        layer.build(shape, rng, np.float64)
        assert (layer.winograd is not None) == expected, (kwargs, shape)
    layer = Conv2D(4, 3, stride=2, padding=1)  # stride 2 stays on im2col and matches the loops
    layer.build((32, 7, 7), rng, np.float64)
    x = rng.standard_normal((2, 32, 7, 7))
    np.testing.assert_allclose(layer.forward(x), conv2d_naive(x, layer.W.data, layer.b.data, 2, 1), atol=1e-12)


def test_winograd_where_it_does_not_fit_is_a_config_error_naming_the_layer():
    cfg = load_config("configs/mnist_cnn.yaml", ["data.name=mnist-mini", "model.layers.4.algorithm=winograd",
                                                 "model.layers.4.stride=2", "model.layers.4.padding=1"])
    with pytest.raises(ConfigError, match="algorithm 'winograd' needs a 3x3 kernel and stride 1") as info:
        build_model(cfg, (1, 28, 28), 10)
    assert info.value.path == "model.layers.4"
    with pytest.raises(ConfigError, match=r"model\.layers\.4\.algorithm"):
        load_config("configs/mnist_cnn.yaml", ["data.name=mnist-mini", "model.layers.4.algorithm=fft"])


def test_the_memory_estimate_follows_the_algorithm():
    cfg = load_config("configs/mnist_cnn.yaml", ["data.name=mnist-mini"])
    estimates = []
    for algorithm in ("winograd", "im2col"):
        layers = [dict(spec, algorithm=algorithm) if spec["type"] == "conv2d" and i else spec
                  for i, spec in enumerate(cfg["model"]["layers"])]
        model = model_from_config({**cfg["model"], "layers": layers}, (1, 28, 28), 10)
        estimates.append(footprint.estimate(model, (1, 28, 28), 100).layers[4].memory)
    assert estimates[0] != estimates[1]
    assert isinstance(Sequential([Conv2D(4, 3)]).layers[0].winograd, type(None))


def test_switching_the_algorithm_after_build_takes_effect_at_the_next_forward():
    rng = np.random.default_rng(5)
    layer = Conv2D(3, 3, padding="same", algorithm="im2col")
    layer.build((2, 5, 6), rng, np.float64)
    x = rng.standard_normal((2, 2, 5, 6))
    expected = conv2d_naive(x, layer.W.data, layer.b.data, 1, 1)
    for algorithm, kernel in [("winograd", True), ("im2col", False), ("auto", False), ("winograd", True)]:
        layer.algorithm = algorithm
        np.testing.assert_allclose(layer.forward(x, training=True), expected, atol=1e-12)
        assert (layer.winograd is not None) == kernel, algorithm
    layer = Conv2D(3, 3, stride=2, algorithm="im2col")
    layer.build((2, 5, 6), rng, np.float64)
    layer.algorithm = "winograd"
    with pytest.raises(ValueError, match="algorithm 'winograd' needs a 3x3 kernel and stride 1"):
        layer.forward(x)


def test_evaluation_blocks_stay_near_the_training_batch_after_an_epochs_smaller_last_batch():
    """Blocks of the buffers' current size collapsed: after a last batch of 16, a chunk of 100 ran as 16 x 6 + 4,
    and every later chunk in blocks of 4."""
    rng = np.random.default_rng(6)
    layer = Conv2D(3, 3, padding="same", algorithm="winograd")
    layer.build((2, 4, 4), rng, np.float64)
    for n in (64, 16):  # an epoch's batches, the last one smaller
        layer.forward(rng.standard_normal((n, 2, 4, 4)), training=True)
    for _ in range(3):
        x = rng.standard_normal((100, 2, 4, 4))
        np.testing.assert_allclose(layer.forward(x), conv2d_naive(x, layer.W.data, layer.b.data, 1, 1), atol=1e-12)
        assert layer.winograd.batch == 50  # two equal blocks of 50
