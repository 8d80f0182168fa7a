"""Conv and pooling layers: fast (im2col / strided windows) == naive loops, finite differences, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config.fields import ConfigError, section_from_signature
from dlbasics.nn.conv import Conv1D, Conv2D
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.layers import Flatten
from dlbasics.nn.model import LayerShapeError, Sequential
from dlbasics.nn.naive import (
    avgpool2d_naive,
    avgpool2d_naive_backward,
    conv1d_naive,
    conv1d_naive_backward,
    conv2d_naive,
    conv2d_naive_backward,
    maxpool2d_naive,
    maxpool2d_naive_backward,
)
from dlbasics.nn.pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D

SMOOTH = 1e-7
KINKED = 1e-5
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _built(layer, shape, dtype=np.float64, seed=0):
    layer.build(shape, np.random.default_rng(seed), dtype)
    return layer


def assert_close(actual, expected, tol):
    """Max abs difference within tol relative to the largest expected magnitude (at least 1)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert float(np.max(np.abs(actual - expected), initial=0.0)) <= tol * scale


def naive_pad(padding, kernel):
    """The layers' padding argument -> per-side padding for the naive functions (torch's 'same' rule)."""
    if padding == "same":
        return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    padding = (padding,) * len(kernel) if isinstance(padding, int) else padding
    return tuple((p, p) for p in padding)


# (C_in, C_out, kernel, stride, padding, (H, W), N): both im2col paths (shifted runs for stride 1 'same',
# strided slices otherwise) and both dW products (per sample for few taps, one big one otherwise)
CONV2D_CASES = [
    (1, 2, 3, 1, "same", (7, 9), 2),
    (3, 4, 3, 1, 1, (7, 9), 3),
    (3, 2, 5, 2, 2, (9, 7), 2),
    (1, 4, 2, 1, "same", (6, 7), 3),
    (3, 4, 1, 3, 0, (7, 9), 2),
    (1, 2, 2, 3, "valid", (8, 7), 3),
    (3, 2, [3, 5], [2, 1], [1, 2], (7, 9), 2),
    (3, 4, 5, 1, "same", (5, 6), 2),
    (1, 2, 3, 1, 0, (12, 12), 2),
    (2, 3, 3, 1, "same", (1, 1), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cin", "cout", "k", "stride", "padding", "hw", "n"), CONV2D_CASES)
def test_conv2d_matches_naive_forward_and_backward(cin, cout, k, stride, padding, hw, n, dtype):
    rng = np.random.default_rng(0)
    layer = _built(Conv2D(cout, k, stride, padding), (cin, *hw), dtype)
    layer.b.data[...] = rng.standard_normal(cout)
    x = rng.standard_normal((n, cin, *hw)).astype(dtype)
    w, b, xs = (a.astype(np.float64) for a in (layer.W.data, layer.b.data, x))
    pad = naive_pad(padding, layer.kernel_size)
    out = layer.forward(x, training=True)
    assert_close(out, conv2d_naive(xs, w, b, layer.stride, pad), TOL[dtype])
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    ndx, ndw, ndb = conv2d_naive_backward(dout.astype(np.float64), xs, w, layer.stride, pad)
    assert_close(dx, ndx, TOL[dtype])
    assert_close(layer.W.grad, ndw, TOL[dtype])
    assert_close(layer.b.grad, ndb, TOL[dtype])


CONV1D_CASES = [(1, 2, 3, 1, "same", 9, 2), (3, 4, 2, 1, "same", 8, 3), (3, 2, 5, 2, 2, 11, 2),
                (1, 4, 1, 3, 0, 7, 3), (3, 2, 3, 1, "valid", 9, 2), (2, 3, 4, 1, 0, 40, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cin", "cout", "k", "stride", "padding", "length", "n"), CONV1D_CASES)
def test_conv1d_matches_naive_forward_and_backward(cin, cout, k, stride, padding, length, n, dtype):
    rng = np.random.default_rng(1)
    layer = _built(Conv1D(cout, k, stride, padding), (cin, length), dtype)
    layer.b.data[...] = rng.standard_normal(cout)
    x = rng.standard_normal((n, cin, length)).astype(dtype)
    w, b, xs = (a.astype(np.float64) for a in (layer.W.data, layer.b.data, x))
    pad = naive_pad(padding, (k,))[0]
    out = layer.forward(x, training=True)
    assert_close(out, conv1d_naive(xs, w, b, stride, pad), TOL[dtype])
    dout = rng.standard_normal(out.shape).astype(dtype)
    ndx, ndw, ndb = conv1d_naive_backward(dout.astype(np.float64), xs, w, stride, pad)
    assert_close(layer.backward(dout), ndx, TOL[dtype])
    assert_close(layer.W.grad, ndw, TOL[dtype])
    assert_close(layer.b.grad, ndb, TOL[dtype])


def test_conv_buffers_reused_across_batches_stay_correct():
    """The column buffer is kept between calls: new data and a new batch size must not see stale entries."""
    rng = np.random.default_rng(2)
    for padding, stride in (("same", 1), (2, 2)):
        layer = _built(Conv2D(3, 3, stride, padding), (2, 6, 5))
        pad = naive_pad(padding, (3, 3))
        for n in (3, 3, 2, 3):
            x = rng.standard_normal((n, 2, 6, 5))
            out = layer.forward(x, training=True)
            np.testing.assert_allclose(out, conv2d_naive(x, layer.W.data, layer.b.data, stride, pad), atol=1e-12)
            dout = rng.standard_normal(out.shape)
            ndx, ndw, _ = conv2d_naive_backward(dout, x, layer.W.data, stride, pad)
            np.testing.assert_allclose(layer.backward(dout), ndx, atol=1e-12)
            np.testing.assert_allclose(layer.W.grad, ndw, atol=1e-12)
    layer = _built(Conv2D(2, 3, padding=2), (1, 4, 6))  # rebuilt for the transposed image: same buffer shapes
    layer.forward(rng.standard_normal((2, 1, 4, 6)))
    layer.build((1, 6, 4), rng, np.float64)
    x = rng.standard_normal((2, 1, 6, 4))
    np.testing.assert_allclose(layer.forward(x), conv2d_naive(x, layer.W.data, layer.b.data, 1, 2), atol=1e-12)


# (kernel, stride, padding, (H, W)): tiling windows (reshape path), a remainder, overlapping windows, padding
POOL_CASES = [(2, None, 0, (8, 6)), (3, None, 0, (9, 6)), (2, None, 0, (7, 9)), (3, 1, 1, (7, 9)), (3, 2, 1, (7, 8)),
              (2, 1, 0, (5, 5)), ([2, 3], [1, 2], [1, 1], (7, 9)), (3, 2, 0, (3, 3))]


def _pool_input(rng, shape, ties):
    x = rng.standard_normal(shape)
    return np.round(x) * (x > 0) if ties else x  # ties: small integers, half of them 0 (as after a ReLU)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("k", "stride", "padding", "hw"), POOL_CASES)
def test_pool2d_matches_naive_forward_and_backward(k, stride, padding, hw, ties, dtype):
    rng = np.random.default_rng(3)
    x = _pool_input(rng, (2, 3, *hw), ties).astype(dtype)
    for cls, naive, naive_backward in ((MaxPool2D, maxpool2d_naive, maxpool2d_naive_backward),
                                       (AvgPool2D, avgpool2d_naive, avgpool2d_naive_backward)):
        layer = _built(cls(k, stride, padding), (3, *hw), dtype)
        args = (layer.kernel_size, layer.stride, naive_pad(list(layer.padding), layer.kernel_size))
        out = layer.forward(x, training=True)
        assert_close(out, naive(x.astype(np.float64), *args), TOL[dtype])
        dout = rng.standard_normal(out.shape).astype(dtype)
        assert_close(layer.backward(dout), naive_backward(dout.astype(np.float64), x.astype(np.float64), *args),
                     TOL[dtype])


@pytest.mark.parametrize(("k", "stride", "padding", "length"), [(2, None, 0, 8), (3, None, 0, 10), (3, 1, 1, 9),
                                                                (4, 2, 2, 11)])
def test_pool1d_matches_naive_forward_and_backward(k, stride, padding, length):
    rng = np.random.default_rng(4)
    x = _pool_input(rng, (3, 2, length), ties=True)
    for cls, naive, naive_backward in ((MaxPool1D, maxpool2d_naive, maxpool2d_naive_backward),
                                       (AvgPool1D, avgpool2d_naive, avgpool2d_naive_backward)):
        layer = _built(cls(k, stride, padding), (2, length))
        args = ((1, k), (1, stride or k), ((0, 0), (padding, padding)))
        out = layer.forward(x, training=True)
        np.testing.assert_allclose(out, naive(x[:, :, None], *args)[:, :, 0], atol=1e-12)
        dout = rng.standard_normal(out.shape)
        expected = naive_backward(dout[:, :, None], x[:, :, None], *args)[:, :, 0]
        np.testing.assert_allclose(layer.backward(dout), expected, atol=1e-12)


def test_max_pool_routes_ties_to_the_first_maximum_and_sums_overlaps():
    layer = _built(MaxPool2D(2, stride=1), (1, 2, 3))
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0]]]])
    np.testing.assert_array_equal(layer.forward(x, training=True), [[[[1.0, 2.0]]]])
    # window 1 ties on four 1s -> the top-left one; window 2's max 2 is bottom-right
    np.testing.assert_array_equal(layer.backward(np.array([[[[10.0, 5.0]]]])), [[[[10.0, 0, 0], [0, 0, 5.0]]]])
    layer = _built(MaxPool2D(2, stride=1), (1, 2, 3))
    x = np.array([[[[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]])  # the 3 is the max of both windows
    layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.backward(np.array([[[[1.0, 2.0]]]])), [[[[0, 3.0, 0], [0, 0, 0]]]])


def test_global_avg_pool_matches_mean_and_its_gradient():
    rng = np.random.default_rng(5)
    layer = _built(GlobalAvgPool(), (3, 4, 5))
    x = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones((2, 3))), np.full(x.shape, 1 / 20))


# --- finite differences (float64) ---

@pytest.mark.parametrize(("layer", "shape"), [
    (Conv2D(3, 3, padding="same"), (2, 5, 6)),
    (Conv2D(2, [2, 3], stride=2, padding=1, bias=False), (3, 6, 7)),
    (Conv2D(4, 2, padding="same", init="xavier_normal"), (1, 5, 5)),
    (Conv1D(3, 3, stride=2, padding=1), (2, 9)),
    (Conv1D(2, 4, padding="same"), (3, 8)),
], ids=["conv2d-same", "conv2d-stride2-nobias", "conv2d-even-same", "conv1d-stride2", "conv1d-even-same"])
def test_conv_gradients_match_finite_differences(layer, shape):
    rng = np.random.default_rng(6)
    _built(layer, shape)
    errors = check_layer(layer, rng.standard_normal((2, *shape)), rng)
    assert set(errors) == {"x", "weight"} | ({"bias"} if layer.bias else set())
    assert max(errors.values()) < SMOOTH, errors


@pytest.mark.parametrize(("layer", "shape"), [
    (AvgPool2D(2), (2, 6, 4)), (AvgPool2D(3, stride=2, padding=1), (2, 7, 6)), (AvgPool1D(3, 1, 1), (2, 7)),
    (GlobalAvgPool(), (3, 4, 5)),
])
def test_avg_pool_gradients_match_finite_differences(layer, shape):
    rng = np.random.default_rng(7)
    assert check_layer(_built(layer, shape), rng.standard_normal((2, *shape)), rng)["x"] < SMOOTH


@pytest.mark.parametrize(("layer", "shape"), [
    (MaxPool2D(2), (2, 6, 4)), (MaxPool2D(3, stride=2, padding=1), (2, 7, 6)), (MaxPool1D(3, 1, 1), (2, 7)),
])
def test_max_pool_gradients_match_finite_differences_without_ties(layer, shape):
    rng = np.random.default_rng(8)
    n = 2 * int(np.prod(shape))
    x = rng.permutation(n).reshape(2, *shape) * 0.01  # distinct values 0.01 apart: the +-h steps cross no kink
    assert check_layer(_built(layer, shape), x, rng)["x"] < KINKED
    assert not layer.smooth


# --- shapes and errors ---

@pytest.mark.parametrize(("layer", "shape", "expected"), [
    (Conv2D(4, 3), (3, 7, 9), (4, 5, 7)),
    (Conv2D(4, 3, padding="same"), (3, 7, 9), (4, 7, 9)),
    (Conv2D(4, 4, padding="same"), (3, 7, 9), (4, 7, 9)),
    (Conv2D(4, 3, stride=2, padding=1), (3, 7, 9), (4, 4, 5)),
    (Conv2D(2, [1, 3], stride=[1, 2], padding=[0, 1]), (1, 4, 8), (2, 4, 4)),
    (Conv1D(2, 5, stride=2), (3, 11), (2, 4)),
    (Conv1D(2, 5, padding="same"), (3, 11), (2, 11)),
    (MaxPool2D(2), (8, 7, 9), (8, 3, 4)),
    (AvgPool2D(3, stride=1, padding=1), (8, 7, 9), (8, 7, 9)),
    (MaxPool1D(3, stride=2), (4, 10), (4, 4)),
    (GlobalAvgPool(), (8, 7, 9), (8,)),
])
def test_output_shapes_follow_the_floor_formula(layer, shape, expected):
    assert layer.build(shape, np.random.default_rng(0), np.float64) == expected
    x = np.zeros((2, *shape))
    assert layer.forward(x, training=True).shape == (2, *expected)
    assert layer.backward(np.zeros((2, *expected))).shape == x.shape


@pytest.mark.parametrize(("layer", "shape", "message"), [
    (Conv2D(8, 3), (784,), "conv2d expects (C, H, W) input, got (784,); remove the flatten before it"),
    (Conv2D(8, 3), (28, 28), "conv2d expects (C, H, W) input, got (28, 28); add a channel axis: (1, 28, 28)"),
    (Conv1D(8, 3), (1, 28, 28), "conv1d expects (C, L) input, got (1, 28, 28); use conv2d for (C, H, W) input"),
    (Conv2D(8, 5), (1, 3, 3), "kernel 5x5 is larger than the padded input 3x3"),
    (Conv2D(8, 5, padding=1), (1, 2, 9), "kernel 5x5 is larger than the padded input 4x11"),
    (Conv1D(8, 7), (2, 5), "kernel 7 is larger than the padded input 5"),
    (Conv2D(8, 3, stride=2, padding="same"), (1, 8, 8), "padding='same' needs stride 1, got stride 2x2"),
    (MaxPool2D(2, padding=2), (1, 8, 8), "padding 2x2 is more than half the pool 2x2"),
    (AvgPool1D(3, padding=2), (1, 8), "padding 2 is more than half the pool 3"),
    (MaxPool2D(4), (1, 3, 3), "pool 4x4 is larger than the padded input 3x3"),
    (MaxPool2D(2), (10,), "maxpool2d expects (C, H, W) input, got (10,); remove the flatten before it"),
    (GlobalAvgPool(), (10,), "globalavgpool expects (C, *spatial) input, got (10,); remove the flatten before it"),
])
def test_impossible_shapes_raise_one_line_value_errors(layer, shape, message):
    with pytest.raises(ValueError) as err:
        _built(layer, shape)
    assert str(err.value) == message


def test_model_build_names_the_conv_after_a_flatten():
    with pytest.raises(LayerShapeError, match=r"layer 1 \(conv2d\): conv2d expects .*remove the flatten"):
        Sequential([Flatten(), Conv2D(4, 3)]).build((1, 28, 28), np.random.default_rng(0))


def test_weight_shapes_and_init_follow_pytorch():
    conv = _built(Conv2D(16, [3, 5]), (4, 9, 9), np.float32)
    assert conv.W.data.shape == (16, 4, 3, 5) and conv.b.data.shape == (16,) and not conv.b.data.any()
    assert [p.name for p in conv.parameters()] == ["weight", "bias"]
    # he_normal: std = sqrt(2 / fan_in), fan_in = C_in * kh * kw = 60
    big = _built(Conv2D(512, 3), (8, 5, 5), np.float64)
    assert big.W.data.std() == pytest.approx(np.sqrt(2 / 72), rel=0.03)
    assert _built(Conv1D(4, 3, bias=False), (2, 9)).parameters()[0].shape == (4, 2, 3)


def test_constraints_cover_every_argument():
    for cls in (Conv1D, Conv2D, MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D):
        section = section_from_signature(cls.__init__, cls.constraints)
        assert section.validate({"kernel_size": 3, **({"out_channels": 4} if "Conv" in cls.__name__ else {})}, "")
    section = section_from_signature(Conv2D.__init__, Conv2D.constraints)
    ok = section.validate({"out_channels": 8, "kernel_size": [3, 5], "stride": [1, 2], "padding": "same"}, "layer")
    assert (ok["kernel_size"], ok["padding"], ok["bias"], ok["init"]["name"]) == ([3, 5], "same", True, "he_normal")
    assert Conv2D(**ok).kernel_size == (3, 5)
    for bad in ({"padding": "full"}, {"kernel_size": 0}, {"stride": [1, 2, 3]}):
        with pytest.raises(ConfigError):
            section.validate({"out_channels": 8, "kernel_size": 3, **bad}, "layer")
    pool = section_from_signature(MaxPool2D.__init__, MaxPool2D.constraints)
    assert pool.validate({"kernel_size": 2}, "")["stride"] is None


# --- dtypes, input gradients, purity ---

ALL_LAYERS = [(Conv2D(4, 3, padding="same"), (2, 6, 6)), (Conv2D(4, 3, stride=2), (1, 7, 7)),
              (Conv1D(3, 3, padding=1), (2, 9)), (MaxPool2D(2), (2, 6, 6)), (MaxPool2D(3, 1, 1), (2, 5, 5)),
              (AvgPool2D(2), (2, 6, 6)), (AvgPool1D(3, 2, 1), (2, 9)), (MaxPool1D(2), (2, 8)),
              (GlobalAvgPool(), (2, 4, 4))]


@pytest.mark.parametrize(("layer", "shape"), ALL_LAYERS, ids=lambda v: repr(v) if not isinstance(v, tuple) else "")
def test_float32_stays_float32_and_inputs_are_not_written(layer, shape):
    rng = np.random.default_rng(9)
    _built(layer, shape, np.float32)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    x_before = x.copy()
    out = layer.forward(x, training=True)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    assert out.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize(("cin", "hw"), [(1, (28, 28)), (3, (7, 9))])  # per-sample dW / one big dW product
@pytest.mark.parametrize("padding", ["same", 0])
def test_no_input_gradient_still_fills_the_weight_gradients(cin, hw, padding):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, cin, *hw))
    layer = _built(Conv2D(4, 3, padding=padding), (cin, *hw))
    dout = rng.standard_normal((2, *layer.output_shape))
    layer.forward(x, training=True)
    layer.backward(dout)
    dw, db = layer.W.grad.copy(), layer.b.grad.copy()
    layer.W.grad[...], layer.b.grad[...] = 0, 0
    layer.needs_input_grad = False
    layer.forward(x, training=True)
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.W.grad, dw, atol=1e-12)
    np.testing.assert_allclose(layer.b.grad, db, atol=1e-12)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_without_input_gradient_returns_none(cls):
    layer = _built(cls(2), (1, 4, 4))
    layer.needs_input_grad = False
    layer.forward(np.ones((1, 1, 4, 4)), training=True)
    assert layer.backward(np.ones((1, 1, 2, 2))) is None


def test_reprs_are_short():
    assert repr(Conv2D(8, 3, padding="same")) == "Conv2D(8, kernel_size=3, stride=1, padding='same', init=he_normal)"
    assert repr(Conv1D(4, 5, 2, bias=False, init="xavier_normal")) == \
        "Conv1D(4, kernel_size=5, stride=2, padding=0, init=xavier_normal, bias=False)"
    assert repr(MaxPool2D(2)) == "MaxPool2D(2, stride=2, padding=0)"
    assert repr(AvgPool2D([2, 3], 1)) == "AvgPool2D((2, 3), stride=1, padding=0)"
