"""The fused batchnorm + relu (+ 2x2 max pool) step (nn/fused.py) computes what the separate layers compute."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import load_config
from dlbasics.nn.activations import ReLU
from dlbasics.nn.fused import BatchNormReLU
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.model import Sequential
from dlbasics.nn.naive import maxpool2d_naive, maxpool2d_naive_backward
from dlbasics.nn.norm import BatchNorm1d, BatchNorm2d
from dlbasics.nn.pooling import AvgPool2D, MaxPool2D
from dlbasics.nn.registry import model_from_config

TOL = {np.float32: 1e-5, np.float64: 1e-12}
# gamma per channel: positive, negative (the pool takes the minimum of x), zero (constant windows), positive
GAMMA = np.array([1.5, -0.7, 0.0, 2.0])


def _models(layers, shape, dtype, affine=True):
    """The same three layers (same weights) in a fused and an unfused Sequential."""
    pair = []
    for fuse in (True, False):
        model = Sequential(layers(), fuse=fuse).build(shape, np.random.default_rng(0), dtype)
        for layer in model.layers:  # as after a conv: dx is wanted
            layer.needs_input_grad = True
        if affine:
            model.layers[0].weight.data[...] = GAMMA[:shape[0]]
            model.layers[0].bias.data[...] = np.linspace(-0.5, 0.5, shape[0])
        pair.append(model)
    return pair


def _close(a, b, tol):
    scale = max(1.0, float(np.max(np.abs(b))))
    assert a.shape == b.shape and float(np.max(np.abs(a - b))) <= tol * scale


def _x(rng, shape, dtype, ties):
    x = rng.standard_normal(shape)
    if ties:  # small integers: tied maxima in many windows
        x = np.round(2 * x)
    return x.astype(dtype)


CASES = [  # (layers, per-sample shape, affine, steps the fused model runs)
    (lambda: [BatchNorm2d(), ReLU(), MaxPool2D(2)], (4, 6, 8), True, 1),
    (lambda: [BatchNorm2d(affine=False), ReLU(), MaxPool2D(2)], (3, 4, 2), False, 1),
    (lambda: [BatchNorm2d(momentum=0.3), ReLU(), MaxPool2D(2)], (4, 5, 3), True, 2),  # odd sizes: pool apart
    (lambda: [BatchNorm2d(), ReLU(), MaxPool2D(3)], (4, 6, 6), True, 2),  # a 3x3 pool is not fused
    (lambda: [BatchNorm1d(), ReLU()], (4,), True, 1),
    (lambda: [BatchNorm1d(), ReLU()], (3, 7), True, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("layers", "shape", "affine", "steps"), CASES)
def test_fused_step_equals_the_layers_forward_backward_and_running_statistics(layers, shape, affine, steps, ties,
                                                                               dtype):
    rng = np.random.default_rng(1)
    fused, plain = _models(layers, shape, dtype, affine)
    assert type(fused.steps[0]) is BatchNormReLU and len(fused.steps) == steps and plain.steps == plain.layers
    for training in (True, True, False):  # two steps (running statistics move), then evaluation
        x = _x(rng, (5, *shape), dtype, ties)
        out = fused.forward(x, training)
        _close(out, plain.forward(x, training), TOL[dtype])
        dout = rng.standard_normal(out.shape).astype(dtype)
        _close(fused.backward(dout), plain.backward(dout), TOL[dtype])
        for p, q in zip(fused.parameters(), plain.parameters()):
            _close(p.grad, q.grad, TOL[dtype])
        for (_, r), (_, s) in zip(fused.named_buffers(), plain.named_buffers()):
            _close(r, s, TOL[dtype])


def test_fused_pool_matches_the_naive_pool_of_the_normalised_input_with_ties():
    """Against nn/naive.py directly: first maximum in row-major order gets the window's gradient."""
    rng = np.random.default_rng(2)
    bn = BatchNorm2d(affine=False)
    step = Sequential([bn, ReLU(), MaxPool2D(2)]).build((2, 4, 6), rng, np.float64).steps[0]
    bn.needs_input_grad = True  # (no parameters before it: as after a conv)
    x = np.round(rng.standard_normal((3, 2, 4, 6)) * 2)  # ties everywhere
    out = step.forward(x, training=True)
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    xhat = (x - mean) / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(out, maxpool2d_naive(np.maximum(xhat, 0), 2), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dy = maxpool2d_naive_backward(dout, np.maximum(xhat, 0), 2) * (xhat > 0)
    dx = (dy - dy.mean(axis=(0, 2, 3), keepdims=True)
          - xhat * (dy * xhat).mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(step.backward(dout), dx, atol=1e-12)


@pytest.mark.parametrize(("layers", "shape"), [
    (lambda: [BatchNorm2d(), ReLU(), MaxPool2D(2)], (3, 4, 6)),
    (lambda: [BatchNorm1d(), ReLU()], (3, 5)),
])
@pytest.mark.parametrize("training", [True, False])
def test_fused_step_gradients_pass_finite_differences(layers, shape, training):
    rng = np.random.default_rng(3)
    model = Sequential(layers()).build(shape, rng, np.float64)
    bn = model.layers[0]
    bn.needs_input_grad = True
    bn.weight.data[...] = [1.3, -0.8, 0.6]
    bn.bias.data[...] = [0.2, 0.1, -0.3]
    bn.running_mean[...], bn.running_var[...] = [0.1, -0.2, 0.3], [0.5, 1.5, 2.0]
    step = model.steps[0]
    assert isinstance(step, BatchNormReLU)
    errors = check_layer(step, rng.standard_normal((4, *shape)), rng, training=training, max_coords=40)
    assert max(errors.values()) < 1e-6, errors


def test_fusion_is_switched_off_by_model_fuse_false_and_dlb_model_still_lists_every_layer():
    cfg = load_config("configs/mnist_cnn.yaml", ["data.name=mnist-mini"])
    fused = model_from_config(cfg["model"], (1, 28, 28), 10).build((1, 28, 28), np.random.default_rng(0))
    assert [type(s).__name__ for s in fused.steps[:4]] == ["Conv2D", "BatchNormReLU", "Conv2D", "BatchNormReLU"]
    assert len(fused.summary()) == len(cfg["model"]["layers"])  # the table shows the layers, not the steps
    cfg = load_config("configs/mnist_cnn.yaml", ["data.name=mnist-mini", "model.fuse=false"])
    plain = model_from_config(cfg["model"], (1, 28, 28), 10).build((1, 28, 28), np.random.default_rng(0))
    assert plain.steps == plain.layers and not plain.fuse


def _cnn(fuse):
    from dlbasics.nn.conv import Conv2D
    from dlbasics.nn.layers import Dense, Flatten

    layers = [Conv2D(4, 3, padding="same"), BatchNorm2d(), ReLU(), MaxPool2D(2), Flatten(), Dense(3)]
    return Sequential(layers, fuse=fuse).build((2, 6, 6), np.random.default_rng(0), np.float64)


def test_diagnostics_running_the_layers_one_by_one_get_their_gradients_not_the_fused_steps_stale_ones():
    """probe_statistics forwards model.layers one by one, then calls model.backward: the fused step must not
    backpropagate the state of its own last (training) forward, nor fail before the first one (epoch 0)."""
    from dlbasics.nn.losses import CrossEntropyLoss
    from dlbasics.train.diagnostics import probe_statistics

    rng = np.random.default_rng(5)
    probe, y = rng.standard_normal((3, 2, 6, 6)), rng.integers(0, 3, 3)
    norms = []
    for fuse in (True, False):
        model, loss = _cnn(fuse), CrossEntropyLoss()
        first = probe_statistics(model, loss, probe, y)  # a fresh model: epoch 0
        x = np.random.default_rng(6).standard_normal((5, 2, 6, 6))  # a training step on a batch of another size
        loss.forward(model.forward(x, True), np.arange(5) % 3)
        model.backward(loss.backward())
        norms.append([stats[i]["grad_norm"] for stats in (first, probe_statistics(model, loss, probe, y))
                      for i in (0, 1, 5)])  # conv, batchnorm2d, dense
    assert norms[0] == pytest.approx(norms[1], rel=1e-12)


def test_switching_fuse_off_or_replacing_a_layer_after_build_runs_the_layers_as_they_are():
    model = _cnn(True)
    assert type(model.steps[1]) is BatchNormReLU
    x = np.random.default_rng(7).standard_normal((4, 2, 6, 6))
    fused_out = model.forward(x, True)
    model.fuse = False
    assert model.steps == model.layers
    np.testing.assert_allclose(model.forward(x, True), _cnn(False).forward(x, True), atol=1e-12)
    model.fuse = True
    assert type(model.steps[1]) is BatchNormReLU
    model.layers[3] = AvgPool2D(2)  # a user's replacement: the old fused max pool must not run
    model.layers[3].build((4, 6, 6), None, np.float64)
    assert model.steps == model.layers
    relu = np.maximum(model.layers[1].forward(model.layers[0].forward(x, False), False), 0)
    expected = model.layers[5].forward(relu.reshape(4, 4, 3, 2, 3, 2).mean(axis=(3, 5)).reshape(4, -1), False)
    np.testing.assert_allclose(model.forward(x, False), expected, atol=1e-12)
    assert not np.allclose(fused_out, expected)


def test_a_batch_norms_own_backward_after_a_fused_forward_is_an_error_not_stale_gradients():
    model = _cnn(True)
    x = np.random.default_rng(8).standard_normal((4, 2, 6, 6))
    out = model.forward(x, True)
    with pytest.raises(RuntimeError, match="fused step"):
        model.layers[1].backward(np.ones((4, 4, 6, 6)))
    model.layers[1].weight.grad[...] = 0
    model.backward(np.ones_like(out))  # the model's own backward is fine
    assert np.any(model.layers[1].weight.grad != 0)


@pytest.mark.parametrize("training", [True, False])
def test_model_backward_after_the_layers_ran_one_by_one_uses_their_state_not_the_fused_steps(training):
    """A Python user's loop over model.layers (forward), then model.backward: before, the fused step
    backpropagated its own last forward (another batch) or failed before its first."""
    rng = np.random.default_rng(9)
    grads = []
    for fuse in (True, False):
        model = _cnn(fuse)
        model.forward(np.random.default_rng(5).standard_normal((5, 2, 6, 6)), True)  # the fused step's last batch
        x = np.random.default_rng(3).standard_normal((3, 2, 6, 6))
        for layer in model.layers:
            x = layer.forward(x, training)
        model.backward(np.ones_like(x))
        grads.append([p.grad.copy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-12)
    fresh = _cnn(True)  # and before any fused forward at all
    x = rng.standard_normal((3, 2, 6, 6))
    for layer in fresh.layers:
        x = layer.forward(x, training)
    fresh.backward(np.ones_like(x))
