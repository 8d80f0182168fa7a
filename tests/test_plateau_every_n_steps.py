"""Reduce-on-plateau checked every N optimizer steps: PyTorch's rule (patience, threshold, cooldown) on that cadence."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import ConfigError, load_config
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.parameter import Parameter
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import SGD
from dlbasics.optim.schedules import ReduceLROnPlateau
from dlbasics.train.loop import fit
from dlbasics.train.step_plateau import PlateauOnSteps


def test_train_loss_checks_every_two_steps_follow_pytorchs_rule_by_hand():
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = ReduceLROnPlateau(opt, monitor="train_loss", interval="step", every=2, factor=0.5, patience=1,
                              threshold=0.1, cooldown=1)
    hook = PlateauOnSteps(sched, None, None, None, None)
    # check means: 4 (best), 3 (< 4 * 0.9: best), 2.9 (bad 1), 2.8 (bad 2 > patience: lr 0.5, cooldown 1),
    # 2.8 (bad, but cooling down: reset), 1 (best), 1 (bad 1), 1 (bad 2: lr 0.25)
    losses = [5, 3, 3, 3, 2.9, 2.9, 2.7, 2.9, 2.8, 2.8, 1, 1, 1, 1, 0.5, 1.5]
    lrs = []
    for step, loss in enumerate(losses, 1):
        hook.on_batch_end(step, float(loss))
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0] * 7 + [0.5] * 8 + [0.25]
    assert sched.t == 8 and sched.best == 1.0 and (sched.window_sum, sched.window_n) == (0.0, 0)
    hook.on_batch_end(17, 9.0)  # half a window: kept on the schedule, so a checkpoint saves it
    saved = sched.state_dict()
    assert (saved["window_sum"], saved["window_n"]) == (9.0, 1)


def test_fit_measures_the_validation_loss_every_n_steps():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)
    model = Sequential(mlp_layers([8], 3, flatten=False)).build((4,), np.random.default_rng(1))
    opt = SGD(model.parameters(), lr=0.5)
    sched = ReduceLROnPlateau(opt, monitor="val_loss", interval="step", every=3, patience=0, factor=0.5,
                              threshold=10.0)  # rel threshold 10: nothing counts as better (PyTorch's rule, inf
    # best included: inf * (1 - 10) = -inf), so with patience 0 every check halves the lr
    hist = fit(model, CrossEntropyLoss(), opt, x[:90], y[:90], x_val=x[90:], y_val=y[90:], rng=rng, epochs=2,
               batch_size=10, schedule=sched)
    assert hist.steps == 18 and sched.t == 6  # checks after steps 3, 6, ..., 18
    assert [r["lr"] for r in hist.rows] == [0.5, 0.5 * 0.5**3]  # epoch 1 had checks after steps 3, 6, 9
    assert opt.param_groups[0]["lr"] == 0.5 * 0.5**6


@pytest.mark.parametrize("text,fragment", [
    ("schedule: {name: plateau, every: 5}\n", "schedule.every: 5 checks every N optimizer steps and needs "
                                              "schedule.interval: step"),
    ("schedule: {name: plateau, interval: step, monitor: train_acc}\n", "schedule.monitor: 'train_acc' is not "
                                                                        "measured every N steps"),
    ("schedule: {name: plateau, interval: step, every: 0}\n", "schedule.every: expected an integer >= 1"),
])
def test_bad_step_plateau_settings_name_the_key(write_config, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(write_config("data: {name: moons, n_train: 50, n_test: 10}\n" + text))
    assert fragment in str(err.value)
    opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(ValueError):  # the library refuses the same, for Python users
        ReduceLROnPlateau(opt, every=5)
