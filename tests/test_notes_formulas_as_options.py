"""The course notes' own formulas as options, each against values worked by hand from the notes (float64, 1e-12).

Numbers are chosen so that every square root is exact; the comments carry the hand computation. PyTorch's forms
stay the defaults and are checked against torch elsewhere (tests/test_optim_golden.py, test_optim_torch.py).
"""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest

from conftest import REPO
from dlbasics import load_config
from dlbasics.config import ConfigError, resolve_config
from dlbasics.nn.parameter import Parameter
from dlbasics.optim.optimizers import SGD, Adadelta, Adagrad, Adam, Nesterov, RMSprop

TOL = 1e-12


def walk(opt_class, grads, w0=1.0, lrs=None, **hyper):
    """w after each step of ``opt_class`` on one float64 weight fed the gradients ``grads`` (numbers, or
    functions of the current w); ``lrs`` sets the lr before each step (a schedule). Returns (ws, optimizer)."""
    p = Parameter(np.array([w0], dtype=np.float64))
    opt = opt_class([p], **hyper)
    ws = []
    for i, g in enumerate(grads):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[i]
        p.grad[...] = g(p.data[0]) if callable(g) else g
        opt.step()
        ws.append(float(p.data[0]))
    return ws, opt


def close(actual, expected):
    return np.allclose(actual, [float(e) for e in expected], rtol=0, atol=TOL)


def test_adagrad_eps_inside_the_root_as_the_notes():
    # notes 001: W <- W - eta / sqrt(G + eps) g, G the sum of squared gradients. eta 0.5, eps 0.64, w0 1:
    # g 0.6:  G 0.36,   sqrt(1.0)    = 1,    w = 1   - 0.5 * 0.6  / 1    = 0.7
    # g 0.75: G 0.9225, sqrt(1.5625) = 1.25, w = 0.7 - 0.5 * 0.75 / 1.25 = 0.4
    # g 3:    G 9.9225, sqrt(10.5625) = 3.25, w = 0.4 - 0.5 * 3 / 3.25  = 0.4 - 6/13 = -4/65
    ws, _ = walk(Adagrad, [0.6, 0.75, 3.0], lr=0.5, eps=0.64, eps_mode="inside")
    assert close(ws, [Fr(7, 10), Fr(2, 5), Fr(-4, 65)])
    # PyTorch's (the default): sqrt(G) + eps, 0.6 + 0.64 = 1.24 in the first step
    ws, _ = walk(Adagrad, [0.6], lr=0.5, eps=0.64)
    assert close(ws, [1 - Fr(3, 10) / Fr(124, 100)])


def test_rmsprop_eps_inside_the_root_as_the_notes():
    # notes 001/002: G <- gamma G + (1 - gamma) g^2; W <- W - eta g / sqrt(G + eps). gamma 0.75, eps 0.44, eta 0.6:
    # g 2:  G = 0.25 * 4              = 1, sqrt(1.44) = 1.2, w = 1    - 0.6 * 2 / 1.2 = 0
    # g 1:  G = 0.75 * 1 + 0.25 * 1   = 1, sqrt(1.44) = 1.2, w = 0    - 0.6 * 1 / 1.2 = -0.5
    # g -1: G = 1 again,                                     w = -0.5 + 0.5           = 0
    ws, _ = walk(RMSprop, [2.0, 1.0, -1.0], lr=0.6, alpha=0.75, eps=0.44, eps_mode="inside")
    assert close(ws, [0, Fr(-1, 2), 0])
    ws, _ = walk(RMSprop, [2.0], lr=0.6, alpha=0.75, eps=0.44)  # PyTorch: sqrt(1) + 0.44
    assert close(ws, [1 - Fr(12, 10) / Fr(144, 100)])


def test_adadelta_as_the_notes_has_eps_outside_the_denominators_root_and_no_learning_rate():
    # notes 001: G_t = gamma G + (1 - gamma) g^2;  dW = sqrt(H_{t-1} + eps) / (sqrt(G_t) + eps) g;  W <- W - dW;
    # H_t = gamma H + (1 - gamma) dW^2. gamma 0.75, eps 0.25, w0 1, no learning rate (lr 1):
    # g 1.5:  G = 0.25 * 2.25 = 0.5625, sqrt 0.75; dW = sqrt(0.25) / (0.75 + 0.25) * 1.5 = 0.75;  w = 0.25
    #         H = 0.25 * 0.75^2 = 9/64
    # g 0.75: G = 0.75 * 0.5625 + 0.25 * 0.5625 = 0.5625; dW = sqrt(9/64 + 16/64) / 1 * 0.75 = 5/8 * 3/4 = 15/32
    #         w = 0.25 - 15/32 = -7/32
    ws, opt = walk(Adadelta, [1.5, 0.75], rho=0.75, eps=0.25, eps_mode="outside")
    assert close(ws, [Fr(1, 4), Fr(-7, 32)])
    assert opt.param_groups[0]["lr"] == 1.0  # lr 1 (PyTorch's default) is the notes' rule
    # PyTorch's lr scales each step and not the remembered updates: lr 0.5 gives 1 - 0.375, then - 15/64
    ws, _ = walk(Adadelta, [1.5, 0.75], lr=0.5, rho=0.75, eps=0.25, eps_mode="outside")
    assert close(ws, [Fr(5, 8), Fr(5, 8) - Fr(15, 64)])
    # the default is PyTorch's (and Zeiler's) sqrt(G + eps): sqrt(0.8125) in the first step
    ws, _ = walk(Adadelta, [1.5], rho=0.75, eps=0.25)
    assert close(ws, [1 - 0.5 / np.sqrt(0.8125) * 1.5])


# Adam, beta1 0.5, beta2 0.96, eps 0.72, lr 0.1, w0 1, g 0.7 then 1.4:
#   m1 = 0.35, v1 = 0.04 * 0.49 = 0.0196;  m2 = 0.175 + 0.7 = 0.875, v2 = 0.96 * 0.0196 + 0.04 * 1.96 = 0.097216
ADAM = dict(lr=0.1, betas=(0.5, 0.96), eps=0.72)


def test_adam_as_notes_002_corrects_m_and_v_and_puts_eps_inside_the_root():
    # m^ = m / (1 - beta1^t), v^ = v / (1 - beta2^t), W <- W - eta m^ / sqrt(v^ + eps)
    # t 1: m^ = 0.7,       v^ = 0.49, sqrt(1.21) = 1.1, step 0.1 * 0.7 / 1.1 = 7/110
    # t 2: m^ = 0.875/0.75 = 7/6, v^ = 0.097216 / 0.0784 = 1.24, sqrt(1.96) = 1.4, step 0.1 * 7/6 / 1.4 = 1/12
    ws, _ = walk(Adam, [0.7, 1.4], eps_mode="inside", **ADAM)
    assert close(ws, [1 - Fr(7, 110), 1 - Fr(7, 110) - Fr(1, 12)])


def test_adam_as_notes_001_folds_both_corrections_into_the_step_with_eps_inside_the_root_of_v():
    # W <- W - eta / sqrt(v + eps) * sqrt(1 - beta2^t) / (1 - beta1^t) * m
    # t 1: sqrt(0.7396) = 0.86, sqrt(0.04) / 0.5 = 0.4;     step 0.1 * 0.4 * 0.35 / 0.86 = 7/430
    # t 2: sqrt(0.817216) = 0.904, sqrt(0.0784) / 0.75 = 0.28/0.75; step 0.1 * 0.28 * 0.875 / (0.75 * 0.904) = 49/1356
    ws, _ = walk(Adam, [0.7, 1.4], eps_mode="hat_inside", **ADAM)
    assert close(ws, [1 - Fr(7, 430), 1 - Fr(7, 430) - Fr(49, 1356)])
    # PyTorch's default differs: t 1, 0.1 * 0.7 / (0.7 + 0.72) = 7/142
    ws, _ = walk(Adam, [0.7], **ADAM)
    assert close(ws, [1 - Fr(7, 142)])


def test_classic_momentum_is_the_notes_velocity_form_and_differs_from_pytorchs_once_the_lr_changes():
    # notes 002: v <- alpha v - eta g; W <- W + v. alpha 0.5, w0 1, g 1, 2, -1, eta 0.1 then 0.2 (a schedule):
    # v = -0.1,                    w = 0.9
    # v = 0.5 * -0.1 - 0.2 * 2     = -0.45,  w = 0.45
    # v = 0.5 * -0.45 - 0.2 * -1   = -0.025, w = 0.425
    lrs = [0.1, 0.2, 0.2]
    ws, _ = walk(SGD, [1.0, 2.0, -1.0], lrs=lrs, lr=0.1, momentum=0.5, momentum_form="classic")
    assert close(ws, [Fr(9, 10), Fr(45, 100), Fr(425, 1000)])
    # PyTorch's b <- 0.5 b + g; W <- W - eta b: b = 1, 2.5, 0.25 -> w = 0.9, 0.9 - 0.5 = 0.4, 0.4 - 0.05 = 0.35
    ws, _ = walk(SGD, [1.0, 2.0, -1.0], lrs=lrs, lr=0.1, momentum=0.5)
    assert close(ws, [Fr(9, 10), Fr(4, 10), Fr(35, 100)])
    # with a constant lr the two forms walk the same points (v = -lr b)
    same = [walk(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.5, momentum_form=f)[0] for f in ("classic", "pytorch")]
    assert np.allclose(*same, rtol=0, atol=TOL)


def test_classic_nesterov_takes_the_gradient_at_the_notes_look_ahead_point_and_the_notes_w_is_p_minus_alpha_v():
    # v <- alpha v - eta dL(W + alpha v); W <- W + v, on L = w^2 (dL = 2w), alpha 0.5, W0 1, eta 0.1, 0.2, 0.2:
    # look-ahead 1,                        v = -0.1 * 2            = -0.2,   W = 0.8
    # look-ahead 0.8 - 0.1   = 0.7,        v = -0.1 - 0.2 * 1.4    = -0.38,  W = 0.42
    # look-ahead 0.42 - 0.19 = 0.23,       v = -0.19 - 0.2 * 0.46  = -0.282, W = 0.138
    # p holds the next look-ahead point W + alpha v (where the loop takes the gradient): 0.7, 0.23, -0.003
    lrs = [0.1, 0.2, 0.2]
    grad = [lambda w: 2 * w] * 3
    ws, opt = walk(Nesterov, grad, lrs=lrs, lr=0.1, momentum=0.5, momentum_form="classic")
    assert close(ws, [Fr(7, 10), Fr(23, 100), Fr(-3, 1000)])
    (state,) = opt.state.values()
    assert close([ws[-1] - 0.5 * state["velocity"][0]], [Fr(138, 1000)])  # the notes' W = p - alpha v
    # PyTorch's nesterov (b <- 0.5 b + g; p <- p - eta (g + 0.5 b)) agrees while eta is constant and not after:
    # p = 1 - 0.1 * (2 + 1) = 0.7; then g 1.4, b 2.4, p = 0.7 - 0.2 * (1.4 + 1.2) = 0.18 (not 0.23)
    ws, _ = walk(Nesterov, grad[:2], lrs=lrs, lr=0.1, momentum=0.5)
    assert close(ws, [Fr(7, 10), Fr(18, 100)])
    # notes 001 (a <- beta a + dL(W - eta beta a), W <- W - eta a) at a constant eta 0.1: a 2, W 0.8, look-ahead
    # 0.7; a = 1 + 1.4 = 2.4, W = 0.56, look-ahead 0.56 - 0.12 = 0.44 = PyTorch's stored point
    ws, _ = walk(Nesterov, grad[:2], lr=0.1, momentum=0.5)
    assert close(ws, [Fr(7, 10), Fr(44, 100)])


def test_the_options_come_from_the_config_and_a_bad_value_names_its_key():
    cfg = resolve_config({"optimizer": {"name": "momentum", "momentum_form": "classic"}}, "x")
    assert cfg["optimizer"]["momentum_form"] == "classic"
    for name, default in (("adagrad", "outside"), ("rmsprop", "outside"), ("adadelta", "inside")):
        assert resolve_config({"optimizer": {"name": name}}, "x")["optimizer"]["eps_mode"] == default
    with pytest.raises(ConfigError, match=r"optimizer\.eps_mode: .*hat_inside"):
        resolve_config({"optimizer": {"name": "rmsprop", "eps_mode": "hat_inside"}}, "x")
    with pytest.raises(ConfigError, match=r"optimizer\.momentum_form"):
        resolve_config({"optimizer": {"name": "sgd", "momentum_form": "keras"}}, "x")


def test_l1_and_l2_under_one_convention_each_lambda_is_its_penalty_gradients_coefficient():
    from dlbasics.nn.layers import Dense
    from dlbasics.nn.model import Sequential
    from dlbasics.train.regularization import Regularizer

    model = Sequential([Dense(2)]).build((1,), np.random.default_rng(0), np.float64)
    (w,) = [p for p in model.parameters() if p.name == "weight"]
    w.data[...] = [[0.5, -2.0]]
    w.grad[...] = 0
    reg = Regularizer(model, {"l1": 0.3, "l2": 0.4}, None, "classification", 2, {})
    # cost = l1 sum|w| + l2/2 sum w^2 = 0.3 * 2.5 + 0.2 * 4.25 = 1.6; gradient l1 sign(w) + l2 w = [0.5, -1.1]
    assert abs(reg.penalty() - 1.6) < TOL
    reg.after_backward()
    assert close(w.grad[0], [Fr(1, 2), Fr(-11, 10)])


def test_l2_is_pytorchs_weight_decay_lambda():
    # the same lambda and the same parameters exempt (biases, norms): one SGD step gives the same weights
    from dlbasics.runner import build
    from dlbasics.train.regularization import Regularizer

    base = {"data": {"name": "spirals", "n_train": 60, "n_test": 20}, "model": {"hidden": [8], "batchnorm": True}}
    a = build(resolve_config({**base, "optimizer": {"name": "sgd", "lr": 0.5}}, "x"))
    b = build(resolve_config({**base, "optimizer": {"name": "sgd", "lr": 0.5, "weight_decay": 0.05}}, "x"))
    rng = np.random.default_rng(0)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        pa.grad[...] = pb.grad[...] = rng.standard_normal(pa.shape)
    Regularizer(a.model, {"l2": 0.05}, None, "classification", 2, {}).after_backward()
    a.optimizer.step()
    b.optimizer.step()
    assert all(np.allclose(pa.data, pb.data, rtol=0, atol=TOL) for pa, pb in zip(a.model.parameters(),
                                                                                b.model.parameters()))
    assert not np.allclose(a.model.parameters()[0].data, build(resolve_config(base, "x")).model.parameters()[0].data)


def test_dropout_p_is_the_drop_probability():
    from dlbasics.nn.registry import mlp_layers

    layers = mlp_layers([50], 10, "relu", "he_normal", flatten=False, dropout=0.2)
    (drop,) = [layer for layer in layers if type(layer).__name__ == "Dropout"]
    drop.rng = np.random.default_rng(0)
    out = drop.forward(np.ones((100, 1000)), training=True)
    assert drop.p == 0.2 and abs(np.mean(out == 0) - 0.2) < 0.005  # 20 % dropped, 80 % kept (scaled by 1/0.8)


def test_the_notes_xavier_is_lecun_normal_and_glorots_only_matches_it_for_square_layers():
    from dlbasics.experiments.init_study import STUDY_INITS
    from dlbasics.nn.init import lecun_normal, xavier_normal

    assert STUDY_INITS["xavier 1/sqrt(n)"] == "lecun_normal"
    square = [f((100, 100), 100, 100, np.random.default_rng(0), np.float64) for f in (lecun_normal, xavier_normal)]
    assert np.allclose(*square, rtol=1e-14, atol=0)  # std 1/sqrt(100) = sqrt(2/200)
    wide = [f((100, 400), 100, 400, np.random.default_rng(0), np.float64) for f in (lecun_normal, xavier_normal)]
    assert abs(wide[0].std() / wide[1].std() - np.sqrt(2.5)) < 1e-12  # 1/sqrt(100) vs sqrt(2/500)


def test_playground_lr_leaves_adadelta_at_lr_1():
    from dlbasics.experiments.playground import run_all

    _, rows = run_all(["regression"], ["sgd", "adadelta"], steps=3, lr=0.05)
    assert {r["optimizer"]: r["lr"] for r in rows} == {"sgd": 0.05, "adadelta": 1.0}


def test_the_seed_models_train_on_the_notes_sample_counts_offline():
    from dlbasics.runner import data_shapes

    counts = {}
    for i in (1, 2, 3):
        shapes = data_shapes(load_config(REPO / "configs" / f"seed_model{i}.yaml"), progress=False)
        counts[i] = (shapes.n_train, shapes.n_val)
    assert counts == {1: (10_000, 1_111), 2: (10_000, 1_111), 3: (20_000, 2_222)}
