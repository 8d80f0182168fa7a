"""Parameter groups, no weight decay on biases/norms, gradient clipping, Adam's eps forms, schedules in training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import TINY
from dlbasics import load_config, train
from dlbasics.config import ConfigError, resolve_config
from dlbasics.nn.parameter import Parameter
from dlbasics.optim.clip import clip_grad_norm, clip_grad_value
from dlbasics.optim.optimizers import Adam
from dlbasics.runner import build


def tiny_cfg(**sections):
    base = {"data": {"name": "spirals", "n_train": 60, "n_test": 20}, "model": {"hidden": [8, 8]}}
    return resolve_config({**base, **sections}, "x")


def test_param_groups_set_per_layer_hyper_parameters_and_exempt_biases_from_decay():
    exp = build(tiny_cfg(optimizer={"name": "sgd", "lr": 0.1, "weight_decay": 0.01,
                                    "param_groups": [{"layers": [2], "lr": 0.01}]}))
    groups = exp.optimizer.param_groups
    by_param = {id(p): g for g in groups for p in g["params"]}
    first, second, last = exp.model.layers[0], exp.model.layers[2], exp.model.layers[4]
    assert by_param[id(first.W)]["lr"] == 0.1 and by_param[id(first.W)]["weight_decay"] == 0.01
    assert by_param[id(first.b)]["weight_decay"] == 0.0
    assert by_param[id(second.W)]["lr"] == 0.01 and by_param[id(second.W)]["weight_decay"] == 0.01
    assert by_param[id(last.b)]["lr"] == 0.1 and by_param[id(last.b)]["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(exp.model.parameters())


def test_no_weight_decay_can_be_switched_off_and_covers_norm_layers():
    exp = build(tiny_cfg(model={"hidden": [8], "batchnorm": True},
                         optimizer={"name": "adamw", "no_weight_decay": ["norm"]}))
    decay = {p.name + str(i): g["weight_decay"] for g in exp.optimizer.param_groups for i, p in enumerate(g["params"])}
    assert 0.0 in decay.values() and 0.01 in decay.values()
    bn = exp.model.layers[1]
    wd_of = {id(p): g["weight_decay"] for g in exp.optimizer.param_groups for p in g["params"]}
    assert wd_of[id(bn.weight)] == 0.0 and wd_of[id(exp.model.layers[-1].b)] == 0.01  # bias decayed: not exempt
    everything = build(tiny_cfg(optimizer={"name": "adamw", "no_weight_decay": []}))
    assert {g["weight_decay"] for g in everything.optimizer.param_groups} == {0.01}


def test_bad_param_groups_are_config_errors():
    with pytest.raises(ConfigError, match="layer 9 does not exist"):
        build(tiny_cfg(optimizer={"name": "sgd", "param_groups": [{"layers": [9], "lr": 0.1}]}))
    with pytest.raises(ConfigError, match=r"layer 1 \(ReLU\) has no parameters"):
        build(tiny_cfg(optimizer={"name": "sgd", "param_groups": [{"layers": [1], "lr": 0.1}]}))
    with pytest.raises(ConfigError, match=r"optimizer\.param_groups\.0\.betas: unknown key"):
        tiny_cfg(optimizer={"name": "sgd", "param_groups": [{"layers": [0], "betas": [0.9, 0.9]}]})


def test_clip_grad_norm_rescales_the_whole_gradient_as_torch():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    a.grad[...], b.grad[...] = [3.0, 0.0], [4.0]
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [3 * coef, 0, 4 * coef])
    a.grad[...] = [0.1, 0.1]
    clip_grad_norm([a], 1.0)
    np.testing.assert_array_equal(a.grad, [0.1, 0.1])  # below the bound: untouched


def test_clip_grad_value_clamps_each_element():
    a = Parameter(np.zeros(3))
    a.grad[...] = [-5.0, 0.2, 3.0]
    clip_grad_value([a], 0.5)
    np.testing.assert_array_equal(a.grad, [-0.5, 0.2, 0.5])


def test_adam_eps_forms_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-3
    g = 1e-3
    m_hat, v_hat = g, g * g  # first step: the bias corrections undo the (1 - beta) factors
    expected = {"outside": lr * m_hat / (math.sqrt(v_hat) + eps),
                "inside": lr * m_hat / math.sqrt(v_hat + eps),
                "hat": lr * m_hat / (math.sqrt(v_hat) + eps / math.sqrt(1 - b2))}
    for mode, step in expected.items():
        p = Parameter(np.zeros(1))
        p.grad[...] = g
        Adam([p], lr=lr, betas=(b1, b2), eps=eps, eps_mode=mode).step()
        assert -p.data[0] == pytest.approx(step, rel=1e-12), mode
    assert expected["hat"] < expected["inside"] < expected["outside"]  # "epsilon matters in practice"


def test_onecycle_steps_per_batch_and_plateau_per_epoch_in_training(write_config, tmp_path):
    path = write_config(TINY)
    run = train(load_config(path, ["schedule.name=onecycle", "train.epochs=4"]), runs_dir=tmp_path)
    lrs = list(run.metrics.lr)  # the lr at each epoch's first step
    assert lrs[0] == pytest.approx(0.01 / 25) and max(lrs) > lrs[0] and lrs[-1] < max(lrs)
    run = train(load_config(path, ["schedule.name=plateau", "schedule.patience=0", "schedule.threshold=0.5",
                                   "train.epochs=4"]), runs_dir=tmp_path)
    assert list(run.metrics.lr) == pytest.approx([0.01, 0.01, 0.001, 0.0001])


def test_gradient_clipping_from_the_config_keeps_a_huge_lr_finite(write_config, tmp_path):
    path = write_config(TINY)
    cfg = load_config(path, ["optimizer.name=sgd", "optimizer.lr=3.0", "regularization.grad_clip.max_norm=0.01"])
    assert train(cfg, runs_dir=tmp_path).summary["status"] == "completed"


@pytest.mark.parametrize("override,fragment", [
    ("optimizer.name=adamm", "optimizer.name: unknown value 'adamm'; did you mean 'adam'?"),
    ("optimizer.betas=[0.9, 1.0]", "optimizer.betas.1: expected a number >= 0 and < 1, got 1.0"),
    ("optimizer.eps=-1e-8", "optimizer.eps: expected a number >= 0, got -1e-08"),
    ("schedule.name=cosine_restart", "did you mean 'cosine_restarts'?"),
    ("schedule.warmup=-1", "schedule.warmup: expected an integer >= 0"),
])
def test_bad_optimizer_and_schedule_values_are_one_line_errors(override, fragment):
    with pytest.raises(ConfigError) as info:
        resolve_config({}, "x.yaml", [override])
    assert fragment in str(info.value)
