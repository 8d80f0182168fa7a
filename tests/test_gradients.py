"""Every layer and loss against central finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.nn.activations import ReLU, Sigmoid, Tanh
from dlbasics.nn.gradcheck import check_layer, check_loss, numerical_gradient, rel_error
from dlbasics.nn.layers import Dense, Flatten
from dlbasics.nn.losses import CrossEntropyLoss, MSELoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.registry import mlp_layers

SMOOTH = 1e-7
KINKED = 1e-5


def _built(layer, shape, seed=0):
    layer.build(shape, np.random.default_rng(seed), np.float64)
    return layer


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients_match_finite_differences(bias):
    rng = np.random.default_rng(0)
    layer = _built(Dense(7, init="xavier_normal", bias=bias), (5,))
    errors = check_layer(layer, rng.standard_normal((4, 5)), rng)
    assert set(errors) == ({"x", "weight", "bias"} if bias else {"x", "weight"})
    assert max(errors.values()) < SMOOTH, errors


@pytest.mark.parametrize("cls", [Sigmoid, Tanh])
def test_smooth_activation_gradients_match_finite_differences(cls):
    rng = np.random.default_rng(1)
    errors = check_layer(_built(cls(), (6,)), rng.standard_normal((5, 6)) * 3, rng)
    assert errors["x"] < SMOOTH, errors


def test_relu_gradient_matches_finite_differences_away_from_the_kink():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 8))
    x[np.abs(x) < 1e-3] = 0.5  # keep the +-h step from crossing 0
    assert check_layer(_built(ReLU(), (8,)), x, rng)["x"] < KINKED


def test_relu_gradient_at_zero_is_zero_as_pytorch():
    layer = _built(ReLU(), (3,))
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_flatten_round_trips_shapes_and_gradients():
    rng = np.random.default_rng(3)
    layer = _built(Flatten(), (2, 3, 4))
    x = rng.standard_normal((5, 2, 3, 4))
    assert layer.forward(x).shape == (5, 24)
    assert check_layer(layer, x, rng)["x"] < SMOOTH


def test_sigmoid_does_not_overflow_for_large_inputs():
    layer = _built(Sigmoid(), (3,))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_cross_entropy_gradient_matches_finite_differences(smoothing):
    rng = np.random.default_rng(4)
    out, target = rng.standard_normal((6, 5)) * 2, rng.integers(0, 5, 6)
    assert check_loss(CrossEntropyLoss(label_smoothing=smoothing), out, target) < SMOOTH


def test_cross_entropy_matches_the_definition_and_is_stable():
    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    eps = 0.2
    q = (1 - eps) * np.eye(3)[y] + eps / 3
    assert CrossEntropyLoss(eps).forward(z, y) == pytest.approx(float(np.mean(-(q * np.log(p)).sum(1))), rel=1e-12)
    big = np.array([[1000.0, 0.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert CrossEntropyLoss().forward(big, np.array([0])) == pytest.approx(0.0, abs=1e-12)
        assert CrossEntropyLoss().forward(big, np.array([2])) == pytest.approx(2000.0, rel=1e-12)


def test_mse_gradient_matches_finite_differences_and_definition():
    rng = np.random.default_rng(6)
    out, target = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    assert check_loss(MSELoss(), out, target) < SMOOTH
    assert MSELoss().forward(out, target) == pytest.approx(float(np.mean((out - target) ** 2)), rel=1e-12)


def test_whole_mlp_backward_matches_finite_differences():
    rng = np.random.default_rng(7)
    model = Sequential(mlp_layers([6, 5], 3, activation="tanh", init="xavier_normal", flatten=True))
    model.build((2, 2), rng, np.float64)
    for layer in model.layers:
        layer.needs_input_grad = True
    x, y = rng.standard_normal((4, 2, 2)), rng.integers(0, 3, 4)
    loss = CrossEntropyLoss()

    def f():
        return loss.forward(model.forward(x), y)

    f()
    model.backward(loss.backward())
    for name, p in model.named_parameters():
        analytic = p.grad.copy()
        numeric = numerical_gradient(f, p.data, np.arange(p.size))
        assert rel_error(analytic.reshape(-1), numeric) < SMOOTH, name


@pytest.mark.parametrize("flatten", [False, True])
def test_first_layer_with_parameters_skips_the_unused_input_gradient(flatten):
    model = Sequential(mlp_layers([4], 2, flatten=flatten))
    model.build((1, 3) if flatten else (3,), np.random.default_rng(0))
    dense = model.layers[1 if flatten else 0]
    assert not dense.needs_input_grad and model.layers[-1].needs_input_grad
    model.forward(np.ones((2, 1, 3) if flatten else (2, 3), np.float32), training=True)
    assert model.backward(np.ones((2, 2), np.float32)) is None
    assert np.any(dense.W.grad != 0)
