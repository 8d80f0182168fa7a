"""Normalisation layers and dropout: finite differences, running statistics by hand, dtypes, shape errors."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config.fields import ConfigError, section_from_signature
from dlbasics.nn.dropout import Dropout
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.model import LayerShapeError, Sequential
from dlbasics.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm

SMOOTH = 1e-7

# (layer factory, per-sample shape) for every layer and every input rank it takes
CASES = [
    (BatchNorm1d, (3,)), (BatchNorm1d, (3, 5)), (BatchNorm2d, (4, 3, 3)),
    (LayerNorm, (6,)), (LayerNorm, (3, 5)), (LayerNorm, (2, 3, 3)),
    (lambda: LayerNorm(elementwise_affine=False), (3, 4)),
    (lambda: GroupNorm(2), (4,)), (lambda: GroupNorm(2), (4, 5)), (lambda: GroupNorm(3), (6, 2, 3)),
    (lambda: GroupNorm(1, affine=False), (4, 3)),
    (InstanceNorm, (3, 5)), (InstanceNorm, (2, 3, 3)), (lambda: InstanceNorm(affine=True), (3, 2, 4)),
]
IDS = [f"{type(make()).__name__}{'' if make().affine else '-plain'}-{'x'.join(map(str, shape))}"
       for make, shape in CASES]


def _built(layer, shape, dtype=np.float64, seed=0):
    """Build and give the affine parameters random values, so their gradients are not special."""
    rng = np.random.default_rng(seed)
    layer.build(shape, rng, dtype)
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape) + (1.0 if p.name == "weight" else 0.0)
    return layer


def _warm(layer, x, steps=3):
    """A few training steps so BatchNorm's running statistics are not the initial (0, 1)."""
    for k in range(steps):
        layer.forward(x * (1 + 0.5 * k) + k, training=True)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("make", "shape"), CASES, ids=IDS)
def test_gradients_match_finite_differences(make, shape, training):
    rng = np.random.default_rng(1)
    layer = _built(make(), shape)
    x = rng.standard_normal((4, *shape)) * 2 + 1
    _warm(layer, x)
    errors = check_layer(layer, x, rng, training=training)
    assert set(errors) == {"x", *(p.name for p in layer.parameters())}
    assert max(errors.values()) < SMOOTH, errors


@pytest.mark.parametrize("shape", [(3,), (3, 5), (3, 2, 2)])
def test_batchnorm_running_statistics_follow_the_formula_over_3_steps(shape):
    rng = np.random.default_rng(2)
    layer = _built((BatchNorm2d if len(shape) == 3 else BatchNorm1d)(momentum=0.3), shape)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((5, *shape)) * 3 - 2
        out = layer.forward(x, training=True)
        axes = (0, *range(2, x.ndim))
        m = x.size // 3
        mu, v = x.mean(axis=axes), x.var(axis=axes)
        mean = 0.7 * mean + 0.3 * mu
        var = 0.7 * var + 0.3 * v * m / (m - 1)
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
        b = (3,) + (1,) * (x.ndim - 2)
        expected = ((x - mu.reshape(b)) / np.sqrt(v.reshape(b) + 1e-5) * layer.weight.data.reshape(b)
                    + layer.bias.data.reshape(b))
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_batchnorm_eval_uses_the_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(3)
    layer = _built(BatchNorm2d(eps=1e-3), (3, 2, 2))
    _warm(layer, rng.standard_normal((4, 3, 2, 2)))
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    x = rng.standard_normal((2, 3, 2, 2))
    b = (3, 1, 1)
    expected = ((x - mean.reshape(b)) / np.sqrt(var.reshape(b) + 1e-3) * layer.weight.data.reshape(b)
                + layer.bias.data.reshape(b))
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)
    # eval output of one sample does not depend on the rest of the batch
    np.testing.assert_allclose(layer.forward(x[:1]), expected[:1], rtol=1e-12)


def test_batchnorm_fresh_eval_is_the_affine_map_of_x():
    layer = _built(BatchNorm1d(), (3,))
    x = np.random.default_rng(4).standard_normal((2, 3))
    np.testing.assert_allclose(layer.forward(x), x / np.sqrt(1 + 1e-5) * layer.weight.data + layer.bias.data)


def test_batchnorm_buffers_are_the_live_running_statistics_and_not_parameters():
    layer = _built(BatchNorm1d(), (3,))
    bufs = layer.buffers()
    assert set(bufs) == {"running_mean", "running_var"}
    assert all(b.shape == (3,) for b in bufs.values())
    assert {p.name for p in layer.parameters()} == {"weight", "bias"}
    bufs["running_mean"][...] = [1.0, 2.0, 3.0]  # loading writes into them
    bufs["running_var"][...] = 4.0
    out = layer.forward(np.zeros((1, 3)))
    np.testing.assert_allclose(out, -np.array([[1.0, 2.0, 3.0]]) / np.sqrt(4 + 1e-5) * layer.weight.data
                               + layer.bias.data)
    layer.forward(np.random.default_rng(0).standard_normal((4, 3)), training=True)
    assert layer.buffers()["running_mean"] is bufs["running_mean"]
    for make, shape in CASES:
        if not isinstance(make(), (BatchNorm1d, BatchNorm2d)):
            assert _built(make(), shape).buffers() == {}


def test_running_statistics_round_trip_through_the_model_state_dict():
    rng = np.random.default_rng(8)
    model = Sequential([BatchNorm2d(), GroupNorm(2)]).build((4, 2, 2), rng, np.float64)
    model.forward(rng.standard_normal((3, 4, 2, 2)) + 2, training=True)
    state = model.state_dict()
    assert {"0.running_mean", "0.running_var"} <= set(state)
    fresh = Sequential([BatchNorm2d(), GroupNorm(2)]).build((4, 2, 2), rng, np.float64)
    fresh.load_state_dict(state)
    x = rng.standard_normal((2, 4, 2, 2))
    np.testing.assert_array_equal(fresh.forward(x), model.forward(x))


@pytest.mark.parametrize(("layer", "shape"), [(BatchNorm1d(), (3,)), (BatchNorm1d(), (3, 1)),
                                              (BatchNorm2d(), (3, 1, 1))])
def test_batchnorm_needs_more_than_one_value_per_channel_in_training(layer, shape):
    _built(layer, shape)
    with pytest.raises(ValueError, match=r"^Expected more than 1 value per channel when training") as err:
        layer.forward(np.ones((1, *shape)), training=True)
    assert "\n" not in str(err.value)
    assert layer.forward(np.ones((1, *shape))).shape == (1, *shape)  # eval is fine
    assert _built(BatchNorm1d(), (3, 2)).forward(np.ones((1, 3, 2)), training=True).shape == (1, 3, 2)


def test_layer_group_and_instance_norm_match_their_definitions():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 2, 2)) * 2 + 1

    def norm(v, axes):
        return (v - v.mean(axis=axes, keepdims=True)) / np.sqrt(v.var(axis=axes, keepdims=True) + 1e-5)

    ln = _built(LayerNorm(), (6, 2, 2))
    np.testing.assert_allclose(ln.forward(x), norm(x, (1, 2, 3)) * ln.weight.data + ln.bias.data, atol=1e-12)
    gn = _built(GroupNorm(3), (6, 2, 2))
    g = norm(x.reshape(3, 3, 2, 2, 2), (2, 3, 4)).reshape(x.shape)
    c = (6, 1, 1)
    np.testing.assert_allclose(gn.forward(x), g * gn.weight.data.reshape(c) + gn.bias.data.reshape(c), atol=1e-12)
    inorm = _built(InstanceNorm(), (6, 2, 2))
    assert inorm.parameters() == []
    np.testing.assert_allclose(inorm.forward(x), norm(x, (2, 3)), atol=1e-12)
    for layer in (ln, gn, inorm):  # no running statistics: eval equals training
        np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x))


def test_norm_backward_skips_dx_but_fills_gradients_when_not_needed():
    rng = np.random.default_rng(6)
    layer = _built(GroupNorm(2), (4, 3))
    layer.needs_input_grad = False
    x = rng.standard_normal((2, 4, 3))
    layer.forward(x, training=True)
    assert layer.backward(np.ones_like(x)) is None
    np.testing.assert_allclose(layer.bias.grad, np.full(4, 6.0))


@pytest.mark.parametrize(("make", "shape"), CASES, ids=IDS)
def test_float32_stays_float32_and_inputs_are_not_modified(make, shape):
    rng = np.random.default_rng(7)
    layer = _built(make(), shape, dtype=np.float32)
    x = rng.standard_normal((4, *shape)).astype(np.float32)
    dout = rng.standard_normal((4, *shape)).astype(np.float32)
    x0, d0 = x.copy(), dout.copy()
    for training in (True, False):
        out = layer.forward(x, training)
        assert out.dtype == np.float32
        assert layer.backward(dout).dtype == np.float32
    assert all(p.grad.dtype == np.float32 and p.data.dtype == np.float32 for p in layer.parameters())
    assert all(b.dtype == np.float32 for b in layer.buffers().values())
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


@pytest.mark.parametrize(("layer", "shape", "message"), [
    (BatchNorm1d(), (3, 4, 4), "batchnorm1d expects (N, C) or (N, C, L) input, got (N, 3, 4, 4)"),
    (BatchNorm2d(), (3,), "batchnorm2d expects (N, C, H, W) input, got (N, 3)"),
    (BatchNorm2d(), (3, 4), "batchnorm2d expects (N, C, H, W) input, got (N, 3, 4)"),
    (GroupNorm(4), (6, 3), "groupnorm: 6 channels cannot be split into 4 equal groups"),
    (InstanceNorm(), (3,), "instancenorm expects (N, C, L) or (N, C, H, W) input, got (N, 3)"),
    (InstanceNorm(), (3, 1, 1), "instancenorm needs more than 1 spatial element per channel"),
    (LayerNorm(), (), "layernorm needs at least a feature axis"),
])
def test_impossible_shapes_raise_one_line_value_errors(layer, shape, message):
    with pytest.raises(ValueError) as err:
        layer.build(shape, np.random.default_rng(0), np.float64)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    with pytest.raises(LayerShapeError, match=r"^layer 0 \("):
        Sequential([layer]).build(shape, np.random.default_rng(0))


def test_groupnorm_rejects_a_non_positive_group_count():
    with pytest.raises(ValueError, match="num_groups must be a positive integer, got 0"):
        GroupNorm(0)


@pytest.mark.parametrize("cls", [BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm, Dropout])
def test_constructor_arguments_have_config_specs(cls):
    section = section_from_signature(cls.__init__, cls.constraints)
    kwargs = {"num_groups": 2} if cls is GroupNorm else {}
    assert section.validate(kwargs, "layer") == {**{k: s.default for k, s in section.fields.items()}, **kwargs}


@pytest.mark.parametrize(("cls", "bad"), [(BatchNorm1d, {"momentum": 1.5}), (BatchNorm2d, {"eps": 0}),
                                          (GroupNorm, {"num_groups": 0}), (GroupNorm, {}),
                                          (Dropout, {"p": 1.0}), (Dropout, {"p": -0.1})])
def test_config_specs_reject_bad_values(cls, bad):
    with pytest.raises(ConfigError):
        section_from_signature(cls.__init__, cls.constraints).validate(bad, "layer")


# --- dropout -----------------------------------------------------------------------------------------------

def _dropout(p, seed=0):
    layer = Dropout(p)
    layer.rng = np.random.default_rng(seed)
    return layer


def test_dropout_is_the_identity_in_eval():
    x = np.random.default_rng(0).standard_normal((3, 4))
    layer = _dropout(0.5)
    assert layer.forward(x) is x
    assert layer.backward(x) is x
    zero = _dropout(0.0)
    np.testing.assert_array_equal(zero.forward(x, training=True), x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_survivors_by_exactly_one_over_keep(p):
    x = np.random.default_rng(1).uniform(0.5, 1.5, (200, 250))  # no zeros of its own
    out = _dropout(p).forward(x, training=True)
    dropped = out == 0
    n = x.size
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma of a Binomial(n, p) fraction
    np.testing.assert_array_equal(out[~dropped], x[~dropped] * (1 / (1 - p)))


def test_dropout_preserves_the_expectation():
    x = np.full((4000, 50), 2.0)
    out = _dropout(0.3, seed=2).forward(x, training=True)
    # mean of 200000 values each 0 or 2/0.7 with P(keep) = 0.7: sd = 2 sqrt(0.3/0.7) / sqrt(200000)
    assert abs(out.mean() - 2.0) < 5 * 2 * np.sqrt(0.3 / 0.7) / np.sqrt(x.size)


def test_dropout_same_seed_same_mask_and_the_gradient_is_mask_over_keep():
    x = np.random.default_rng(3).uniform(0.5, 1.5, (6, 7))
    a, b, c = _dropout(0.4, seed=5), _dropout(0.4, seed=5), _dropout(0.4, seed=6)
    out = a.forward(x, training=True)
    np.testing.assert_array_equal(out, b.forward(x, training=True))
    assert not np.array_equal(out, c.forward(x, training=True))
    dout = np.random.default_rng(4).standard_normal(x.shape)
    np.testing.assert_array_equal(a.backward(dout), dout * (out != 0) / 0.6)


def test_dropout_gradient_matches_finite_differences_with_a_fixed_mask():
    x = np.random.default_rng(5).standard_normal((5, 6))
    assert check_layer(_dropout(0.5), x, np.random.default_rng(0))["x"] < SMOOTH  # check_layer freezes the rng


def test_dropout_float32_and_skipped_input_gradient():
    x = np.random.default_rng(6).standard_normal((3, 5)).astype(np.float32)
    layer = _dropout(0.5)
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32 and layer.mask.dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32
    layer.needs_input_grad = False
    assert layer.backward(np.ones_like(x)) is None


def test_dropout_rejects_p_outside_0_1_and_gets_its_rng_from_sequential():
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"^dropout probability p must be in \[0, 1\)"):
            Dropout(p)
    with pytest.raises(RuntimeError, match="no random generator"):
        Dropout(0.5).forward(np.ones((2, 2)), training=True)
    model = Sequential([Dropout(0.5)]).build((4,), np.random.default_rng(0), noise_rng=np.random.default_rng(1))
    again = Sequential([Dropout(0.5)]).build((4,), np.random.default_rng(0), noise_rng=np.random.default_rng(1))
    x = np.ones((8, 4), np.float32)
    np.testing.assert_array_equal(model.forward(x, training=True), again.forward(x, training=True))
