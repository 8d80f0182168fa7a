"""Conv and pooling layers against torch.nn.functional, forward and backward (autograd), in float64.

Skipped when PyTorch is not installed; the torch-free checks are in test_conv_pool.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.nn.conv import Conv1D, Conv2D
from dlbasics.nn.pooling import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D

torch = pytest.importorskip("torch", reason="PyTorch not installed: the reference comparison is optional")
F = torch.nn.functional
#: torch warns that 'same' with an even kernel pads a copy of the input; that is the case being checked
SAME_EVEN = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _compare(layer, torch_fn, x, rng, params=()):
    """Forward and backward of a built float64 layer == torch_fn(x, *params) and its autograd gradients."""
    out = layer.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tparams = [torch.tensor(p.data, requires_grad=True) for p in params]
    tout = torch_fn(tx, *tparams)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=p.name)


@pytest.mark.parametrize(("cin", "cout", "k", "stride", "padding", "hw", "algorithm"), [
    (3, 4, 3, 1, "same", (7, 9), "auto"), (1, 2, 4, 1, "same", (6, 7), "auto"), (3, 2, 5, 2, 2, (9, 7), "auto"),
    (2, 4, 1, 3, 0, (7, 9), "auto"), (3, 2, [3, 2], [2, 1], [1, 0], (8, 9), "auto"),
    (1, 4, 3, 1, "valid", (28, 28), "auto"),  # (auto: im2col below 32 input channels)
    (3, 4, 3, 1, "same", (7, 9), "winograd"), (32, 4, 3, 1, "same", (5, 7), "auto"),  # 32 channels: Winograd
    (32, 3, 3, 1, [2, 0], (6, 5), "auto"),
])
@SAME_EVEN
def test_conv2d_matches_torch(cin, cout, k, stride, padding, hw, algorithm):
    rng = np.random.default_rng(0)
    layer = Conv2D(cout, k, stride, padding, algorithm=algorithm)
    layer.build((cin, *hw), rng, np.float64)
    layer.b.data[...] = rng.standard_normal(cout)
    x = rng.standard_normal((3, cin, *hw))
    pad = padding if isinstance(padding, str) else tuple(layer.padding)
    _compare(layer, lambda t, w, b: F.conv2d(t, w, b, stride=layer.stride, padding=pad), x, rng, [layer.W, layer.b])


@pytest.mark.parametrize(("cin", "cout", "k", "stride", "padding", "length"), [
    (3, 4, 3, 1, "same", 9), (2, 2, 4, 1, "same", 8), (3, 2, 5, 2, 2, 11), (1, 3, 3, 3, 1, 10),
])
@SAME_EVEN
def test_conv1d_matches_torch(cin, cout, k, stride, padding, length):
    rng = np.random.default_rng(1)
    layer = Conv1D(cout, k, stride, padding, bias=False)
    layer.build((cin, length), rng, np.float64)
    x = rng.standard_normal((3, cin, length))
    _compare(layer, lambda t, w: F.conv1d(t, w, stride=stride, padding=padding), x, rng, [layer.W])


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("k", "stride", "padding", "hw"), [
    (2, None, 0, (8, 6)), (2, None, 0, (7, 9)), (3, 1, 1, (7, 9)), (3, 2, 1, (7, 8)), ([2, 3], [1, 2], [1, 1], (7, 9)),
])
def test_pool2d_matches_torch(k, stride, padding, hw, ties):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, *hw))
    if ties:
        x = np.round(x) * (x > 0)
    for cls, fn in ((MaxPool2D, F.max_pool2d), (AvgPool2D, F.avg_pool2d)):
        layer = cls(k, stride, padding)
        layer.build((3, *hw), rng, np.float64)
        _compare(layer, lambda t, fn=fn, layer=layer: fn(t, layer.kernel_size, layer.stride, layer.padding), x, rng)


@pytest.mark.parametrize(("k", "stride", "padding", "length"), [(2, None, 0, 8), (3, None, 0, 10), (3, 1, 1, 9),
                                                                (4, 2, 2, 11)])
def test_pool1d_matches_torch(k, stride, padding, length):
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal((2, 3, length)))  # with ties
    for cls, fn in ((MaxPool1D, F.max_pool1d), (AvgPool1D, F.avg_pool1d)):
        layer = cls(k, stride, padding)
        layer.build((3, length), rng, np.float64)
        _compare(layer, lambda t, fn=fn: fn(t, k, stride, padding), x, rng)
