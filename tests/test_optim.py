"""SGD and Adam against hand-computed steps of PyTorch's documented rules (and torch itself when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbasics.nn.parameter import Parameter
from dlbasics.optim.optimizers import SGD, Adam
from dlbasics.optim.schedules import CosineAnnealing, StepLR


def _param(values, grad):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad[...] = grad
    return p


def test_sgd_plain_step_is_p_minus_lr_g():
    p = _param([1.0, -2.0], [0.5, 0.25])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025], rtol=1e-15)


def test_sgd_momentum_dampening_weight_decay_by_hand():
    # torch.optim.SGD: g += wd p; b = g (t=1) else mu b + (1 - tau) g; p -= lr b
    p = _param([1.0], [0.5])
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
    opt.step()  # g = 0.5 + 0.01 = 0.51, b = 0.51, p = 1 - 0.051 = 0.949
    assert p.data[0] == pytest.approx(0.949, rel=1e-14)
    p.grad[...] = 0.2
    opt.step()  # g = 0.2 + 0.00949 = 0.20949, b = 0.9*0.51 + 0.9*0.20949 = 0.647541, p = 0.949 - 0.0647541
    assert p.data[0] == pytest.approx(0.949 - 0.0647541, rel=1e-14)


def test_sgd_nesterov_uses_gradient_plus_momentum_times_buffer():
    p = _param([0.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.step()  # b = 1, g = 1 + 0.9 = 1.9, p = -0.19
    assert p.data[0] == pytest.approx(-0.19, rel=1e-14)
    p.grad[...] = 1.0
    opt.step()  # b = 0.9 + 1 = 1.9, g = 1 + 1.71 = 2.71, p = -0.19 - 0.271
    assert p.data[0] == pytest.approx(-0.461, rel=1e-14)


def test_sgd_maximize_ascends():
    p = _param([0.0], [1.0])
    SGD([p], lr=0.5, maximize=True).step()
    assert p.data[0] == pytest.approx(0.5)


def test_sgd_rejects_nesterov_without_momentum():
    with pytest.raises(ValueError, match="nesterov"):
        SGD([_param([0.0], [0.0])], nesterov=True)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p = _param([1.0], [0.5])
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    opt.step()
    m, v = 0.05, 0.00025
    expected = 1.0 - (lr / (1 - b1)) * m / (math.sqrt(v) / math.sqrt(1 - b2) + eps)
    assert p.data[0] == pytest.approx(expected, rel=1e-14)
    p.grad[...] = -0.3
    opt.step()
    m, v = b1 * m + (1 - b1) * -0.3, b2 * v + (1 - b2) * 0.09
    expected -= (lr / (1 - b1**2)) * m / (math.sqrt(v) / math.sqrt(1 - b2**2) + eps)
    assert p.data[0] == pytest.approx(expected, rel=1e-14)


def test_adam_first_step_moves_every_weight_by_about_lr():
    p = _param([1.0, 2.0, 3.0], [1e-3, -5.0, 40.0])
    Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.9, 2.1, 2.9], rtol=1e-5)


def test_adam_amsgrad_keeps_the_largest_second_moment():
    p = _param([0.0], [1.0])
    opt = Adam([p], lr=0.1, amsgrad=True)
    opt.step()
    p.grad[...] = 0.0
    opt.step()
    state = opt.state[p]
    assert state["max_exp_avg_sq"][0] == pytest.approx(0.001)
    assert state["exp_avg_sq"][0] == pytest.approx(0.000999)


def test_adam_coupled_weight_decay_adds_to_the_gradient():
    a, b = _param([2.0], [0.0]), _param([2.0], [0.02])
    Adam([a], lr=0.1, weight_decay=0.01).step()
    Adam([b], lr=0.1).step()
    assert a.data[0] == pytest.approx(b.data[0], rel=1e-14)


def test_param_groups_override_defaults_and_keep_initial_lr():
    p1, p2 = _param([1.0], [1.0]), _param([1.0], [1.0])
    opt = SGD([{"params": [p1]}, {"params": [p2], "lr": 0.5}], lr=0.1)
    opt.step()
    assert (p1.data[0], p2.data[0]) == (pytest.approx(0.9), pytest.approx(0.5))
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]


def test_float32_parameters_stay_float32():
    p = Parameter(np.ones(4, np.float32))
    p.grad[...] = 0.5
    opt = Adam([p], lr=1e-3)
    opt.step()
    assert p.data.dtype == np.float32 and all(v.dtype == np.float32 for v in opt.state[p].values()
                                              if isinstance(v, np.ndarray))


def test_cosine_and_step_schedules_follow_their_closed_forms():
    p = _param([0.0], [0.0])
    opt = SGD([p], lr=0.1)
    sched = CosineAnnealing(opt, T_max=4, eta_min=0.01)
    lrs = [opt.lr]
    for _ in range(4):
        sched.step()
        lrs.append(opt.lr)
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    opt2 = SGD([p], lr=1.0)
    step = StepLR(opt2, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(opt2.lr)
        step.step()
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
