"""Activations, losses and initialisers: definitions, gradients (float64 finite differences), edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbasics.nn import init as inits
from dlbasics.nn.activations import ELU, GELU, LeakyReLU, Softmax, Softplus
from dlbasics.nn.gradcheck import check_layer, check_loss
from dlbasics.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss
from dlbasics.nn.special import erf

SMOOTH, KINKED = 1e-7, 1e-5


def away_from_zero(shape, rng, margin=1e-3):
    x = rng.standard_normal(shape) * 2
    x[np.abs(x) < margin] = 0.5
    return x


@pytest.mark.parametrize("layer,kinked", [
    (LeakyReLU(0.1), True), (ELU(1.0), False), (ELU(0.5), True), (GELU("none"), False), (GELU("tanh"), False),
    (Softplus(), False), (Softplus(beta=2.0, threshold=3.0), True), (Softmax(), False),
], ids=["leaky_relu", "elu", "elu-alpha0.5", "gelu", "gelu-tanh", "softplus", "softplus-threshold", "softmax"])
def test_activation_gradients_match_finite_differences(layer, kinked):
    rng = np.random.default_rng(0)
    layer.build((6,), rng, np.float64)
    errors = check_layer(layer, away_from_zero((5, 6), rng), rng)
    assert errors["x"] < (KINKED if kinked else SMOOTH), errors


def test_activation_definitions():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [[-0.2, -0.05, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(ELU(2.0).forward(x), [[2 * math.expm1(-2), 2 * math.expm1(-0.5), 0, 0.5, 3]])
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x[0]])
    np.testing.assert_allclose(GELU().forward(x)[0], x[0] * phi, rtol=1e-15)
    np.testing.assert_allclose(Softplus().forward(x)[0], np.log1p(np.exp(x[0])), rtol=1e-14)
    s = Softmax().forward(x)
    assert s.sum() == pytest.approx(1.0) and np.all(np.diff(s[0]) > 0)


def test_activations_keep_float32():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for layer in (LeakyReLU(), ELU(), GELU(), GELU("tanh"), Softplus(), Softmax()):
        assert layer.forward(x, True).dtype == np.float32, layer
        assert layer.backward(np.ones_like(x)).dtype == np.float32, layer


def test_erf_is_double_precision():
    xs = np.linspace(-7, 7, 20001)
    expected = np.array([math.erf(v) for v in xs])
    assert np.max(np.abs(erf(xs) - expected)) < 4e-16
    assert erf(np.array([np.inf, -np.inf, 30.0])).tolist() == [1.0, -1.0, 1.0]


@pytest.mark.parametrize("loss,make_target,kinked", [
    (CrossEntropyLoss(), lambda rng, out: rng.integers(0, out.shape[1], len(out)), False),
    (CrossEntropyLoss(0.2), lambda rng, out: rng.integers(0, out.shape[1], len(out)), False),
    (CrossEntropyLoss(), lambda rng, out: rng.dirichlet(np.ones(out.shape[1]), len(out)), False),
    (CrossEntropyLoss(0.1), lambda rng, out: rng.dirichlet(np.ones(out.shape[1]), len(out)), False),
    (BCEWithLogitsLoss(), lambda rng, out: rng.uniform(0, 1, out.shape), False),
    (MSELoss(), lambda rng, out: rng.standard_normal(out.shape), False),
    (L1Loss(), lambda rng, out: out + away_from_zero(out.shape, rng), True),
    (HuberLoss(0.7), lambda rng, out: rng.standard_normal(out.shape) * 2, True),
], ids=["ce", "ce-smooth", "ce-soft", "ce-soft-smooth", "bce", "mse", "mae", "huber"])
def test_loss_gradients_match_finite_differences(loss, make_target, kinked):
    rng = np.random.default_rng(1)
    out = rng.standard_normal((6, 4)) * 2
    target = make_target(rng, out)
    if isinstance(loss, HuberLoss):  # keep |out - target| away from delta
        d = out - target
        target[np.abs(np.abs(d) - 0.7) < 1e-3] += 0.1
    assert check_loss(loss, out, target) < (KINKED if kinked else SMOOTH)


def test_soft_one_hot_targets_equal_integer_targets():
    rng = np.random.default_rng(2)
    out, y = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    for eps in (0.0, 0.3):
        a, b = CrossEntropyLoss(eps), CrossEntropyLoss(eps)
        assert a.forward(out, y) == pytest.approx(b.forward(out, np.eye(3)[y]), rel=1e-14)
        np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-14)


def test_regression_loss_definitions():
    out, y = np.array([[0.0], [1.0], [5.0]]), np.array([[0.5], [1.0], [0.0]])
    assert L1Loss().forward(out, y) == pytest.approx((0.5 + 0 + 5) / 3)
    assert HuberLoss(1.0).forward(out, y) == pytest.approx((0.5 * 0.25 + 0 + (5 - 0.5)) / 3)
    assert MSELoss().forward(out, y) == pytest.approx((0.25 + 25) / 3)
    mae = L1Loss()
    mae.forward(out, y)
    np.testing.assert_array_equal(mae.backward() * 3, [[-1], [0], [1]])


def test_mae_is_robust_to_an_outlier_and_mse_is_not():
    y = np.zeros((100, 1))
    y[0] = 1000.0  # one outlier
    best = {}
    for name, loss in (("mse", MSELoss()), ("mae", L1Loss())):
        c = np.linspace(-1, 20, 2101)
        best[name] = c[np.argmin([loss.forward(np.full_like(y, v), y) for v in c])]
    assert best["mae"] == pytest.approx(0.0, abs=0.01) and best["mse"] == pytest.approx(10.0, abs=0.01)


def test_bce_with_logits_is_stable_and_takes_integer_labels():
    out = np.array([[1000.0], [-1000.0], [0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = BCEWithLogitsLoss().forward(out, np.array([1, 0, 1]))
    assert loss == pytest.approx(math.log(2) / 3)
    assert BCEWithLogitsLoss().n_correct(out, np.array([1, 0, 1])) == 2  # z = 0 predicts class 0
    assert BCEWithLogitsLoss().n_outputs(2) == 1
    with pytest.raises(ValueError, match="two classes"):
        BCEWithLogitsLoss().n_outputs(10)


def test_initialiser_variances_follow_their_formulas():
    rng = np.random.default_rng(0)
    shape = (400, 300)  # Dense: fan_in 400, fan_out 300
    cases = {"he_normal": 2 / 400, "he_uniform": 2 / 400, "xavier_normal": 2 / 700, "xavier_uniform": 2 / 700,
             "lecun_normal": 1 / 400, "small_normal": 1e-4, "normal": 1.0}
    for name, var in cases.items():
        w = inits.initialize(name, shape, rng, np.float64)
        assert w.var() == pytest.approx(var, rel=0.03), name
        assert abs(w.mean()) < 4 * math.sqrt(var / w.size) + 1e-12, name
    w = inits.initialize({"name": "xavier_uniform", "gain": "tanh"}, shape, rng)
    assert w.var() == pytest.approx((5 / 3) ** 2 * 2 / 700, rel=0.03) and w.dtype == np.float32
    assert np.all(inits.initialize({"name": "constant", "value": 0.3}, (2, 2), rng) == np.float32(0.3))
    u = inits.initialize({"name": "uniform", "a": -2.0, "b": -1.0}, shape, rng)
    assert u.min() >= -2 and u.max() < -1


def test_fans_of_dense_and_conv_kernels():
    assert inits.fans((784, 100)) == (784, 100)
    assert inits.fans((16, 3, 5, 5)) == (75, 400)
    assert inits.fans((8, 4, 3)) == (12, 24)


def test_gains_are_pytorchs():
    assert inits.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert inits.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert inits.calculate_gain("sigmoid") == 1.0 and inits.calculate_gain(0.5) == 0.5
    with pytest.raises(ValueError, match="no gain known"):
        inits.calculate_gain("swish")
