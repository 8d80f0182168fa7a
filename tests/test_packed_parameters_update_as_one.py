"""Sequential.build packs the weights into one buffer and the gradients into another; an element-wise optimizer
then updates a whole group as one flat array. Same arithmetic on the same elements: the results, the state and
its checkpoints must equal the one-parameter-at-a-time loop exactly."""

import numpy as np
import pytest

from dlbasics.nn.model import Sequential
from dlbasics.nn.parameter import Parameter, flat_run, pack
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import OPTIMIZERS

SETTINGS = {"sgd": {"weight_decay": 0.1, "maximize": True}, "momentum": {"dampening": 0.3},
            "nesterov": {"momentum_form": "classic"}, "adagrad": {"lr_decay": 0.01, "eps_mode": "inside"},
            "adadelta": {"eps_mode": "outside"}, "rmsprop": {"centered": True, "momentum": 0.5},
            "adam": {"amsgrad": True, "weight_decay": 0.01}, "adamw": {}, "nadam": {"decoupled_weight_decay": True,
                                                                               "weight_decay": 0.1},
            "radam": {}, "adamp": {"weight_decay": 0.1}}


def _model(dtype):
    return Sequential(mlp_layers([7, 5], 3)).build((11,), np.random.default_rng(0), dtype)


def _steps(pairs, optimizers, rng, n):
    for _ in range(n):
        for p, q in pairs:
            p.grad[...] = q.grad[...] = rng.standard_normal(p.shape)
        for opt in optimizers:
            opt.step()


def test_pack_keeps_values_and_makes_consecutive_views():
    params = [Parameter(np.arange(6.0).reshape(2, 3)), Parameter(np.ones(4)), Parameter(np.full((1, 2), 7.0))]
    params[1].grad[...] = 5
    pack(params)
    assert [p.shape for p in params] == [(2, 3), (4,), (1, 2)]
    np.testing.assert_array_equal(flat_run([p.data for p in params]), [0, 1, 2, 3, 4, 5, 1, 1, 1, 1, 7, 7])
    np.testing.assert_array_equal(flat_run([p.grad for p in params]), [0] * 6 + [5] * 4 + [0, 0])
    assert flat_run([params[0].data, params[2].data]) is None  # a gap
    assert flat_run([params[1].data, params[0].data]) is None  # out of order
    assert flat_run([np.zeros(3), np.zeros(3)]) is None  # separate arrays
    raw = np.zeros(24, np.uint8)
    assert flat_run([raw[0:8].view(np.float32), raw[8:16].view(np.float32)]) is None  # not the buffer's dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_packed_group_steps_exactly_as_one_parameter_at_a_time(name, dtype):
    packed = _model(dtype).parameters()
    loose = [Parameter(p.data.copy(), p.name, p.out_axis) for p in packed]
    cls = OPTIMIZERS[name]
    flat, each = cls(packed, **SETTINGS[name]), cls(loose, **SETTINGS[name])
    _steps(list(zip(packed, loose)), [flat, each], np.random.default_rng(1), 4)
    assert (flat._flat.get(0) is not None) == cls.elementwise  # AdamP looks at whole weights: never flat
    for p, q in zip(packed, loose):
        np.testing.assert_array_equal(p.data, q.data)
    a, b = flat.state_dict(), each.state_dict()
    for i in b["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for key, value in b["state"][i].items():
            np.testing.assert_array_equal(a["state"][i][key], value)


@pytest.mark.parametrize("name", ["adam", "momentum", "rmsprop"])
def test_a_checkpoint_of_a_flat_group_resumes_exactly(name):
    cls, settings = OPTIMIZERS[name], SETTINGS[name]
    through, resumed = _model(np.float32).parameters(), _model(np.float32).parameters()
    opt = cls(through, **settings)
    _steps([(p, p) for p in through], [opt], np.random.default_rng(2), 3)
    for p, q in zip(resumed, through):
        p.data[...] = q.data
    again = cls(resumed, **settings)
    again.load_state_dict(opt.state_dict())
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    _steps([(p, p) for p in through], [opt], rng_a, 3)
    _steps([(p, p) for p in resumed], [again], rng_b, 3)
    assert again._flat[0] is not None
    for p, q in zip(resumed, through):
        np.testing.assert_array_equal(p.data, q.data)
    assert again.state[resumed[0]]["step"] == 6
    # the per-parameter state is a view of the flat state: what the flat step writes is what state_dict saves
    key = next(k for k, v in again.state[resumed[0]].items() if isinstance(v, np.ndarray))
    assert np.shares_memory(again.state[resumed[0]][key], again._flat[0].state[key])


def test_groups_that_are_not_consecutive_run_one_parameter_at_a_time():
    packed = _model(np.float64).parameters()
    loose = [Parameter(p.data.copy(), p.name) for p in packed]
    weights, biases = packed[0::2], packed[1::2]
    cls = OPTIMIZERS["adam"]
    split = cls([{"params": weights, "weight_decay": 0.1}, {"params": biases}])
    each = cls([{"params": loose[0::2], "weight_decay": 0.1}, {"params": loose[1::2]}])
    _steps(list(zip(packed, loose)), [split, each], np.random.default_rng(4), 3)
    assert split._flat == {0: None, 1: None}
    for p, q in zip(packed, loose):
        np.testing.assert_array_equal(p.data, q.data)


def test_a_config_run_steps_its_weight_and_bias_groups_flat():
    """The runner puts weights and biases/norms in separate groups (no weight decay on the latter); the groups
    are packed in that order, so each is one run and steps flat, and the model computes what it did before."""
    from dlbasics import runner
    from dlbasics.config import load_config

    cfg = load_config("configs/fashion_resnet.yaml")  # convolutions, batch norms, residual blocks
    model = runner.build_model(cfg, (1, 28, 28), 10)
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    before = model.forward(x)
    opt = runner.build_optimizer(cfg, model)
    np.testing.assert_array_equal(model.forward(x), before)
    for p in model.parameters():
        p.grad[...] = 0.01
    opt.step()
    assert len(opt.param_groups) == 2 and all(opt._flat[i] is not None for i in range(2))
