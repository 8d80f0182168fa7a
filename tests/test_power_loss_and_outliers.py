"""loss.name power (mean |d|^p) against its definition and finite differences; data linear's outliers."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import ConfigError, load_config
from dlbasics.data.datasets import load_dataset
from dlbasics.nn.gradcheck import check_loss
from dlbasics.nn.losses import L1Loss, MSELoss, PowerLoss


@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
def test_power_loss_gradient_matches_finite_differences(p):
    rng = np.random.default_rng(int(10 * p))
    out, target = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    diff = out - target
    out[np.abs(diff) < 1e-2] += 0.1  # no |d| ~ 0: for p <= 1 the kink (p < 1: an unbounded slope) sits there
    loss = PowerLoss(p)
    assert loss.smooth == (p > 1)
    assert check_loss(loss, out, target) < (1e-7 if p > 1 else 1e-6)
    assert loss.forward(out, target) == pytest.approx(float(np.mean(np.abs(out - target) ** p)), rel=1e-12)


def test_power_loss_is_mse_at_2_mae_at_1_and_flat_at_its_kink():
    rng = np.random.default_rng(1)
    out, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for p, ref in ((2.0, MSELoss()), (1.0, L1Loss())):
        loss = PowerLoss(p)
        assert loss.forward(out, target) == pytest.approx(ref.forward(out, target), rel=1e-12)
        np.testing.assert_allclose(loss.backward(), ref.backward(), rtol=1e-12, atol=1e-15)
    for p in (0.5, 1.0, 3.0):  # d = 0 exactly: gradient 0 (MAE's convention), never inf or nan
        loss = PowerLoss(p)
        loss.forward(np.array([[0.0, 2.0]]), np.array([[0.0, 0.0]]))
        np.testing.assert_allclose(loss.backward(), [[0.0, p * 2.0 ** (p - 1) / 2]])


def test_outliers_corrupt_a_seeded_fraction_of_training_targets_only():
    kw = {"n_train": 200, "n_test": 100, "noise": 1.0}
    clean = load_dataset("linear", np.random.default_rng(3), **kw)
    dirty = load_dataset("linear", np.random.default_rng(3), outliers={"fraction": 0.1, "magnitude": 20.0,
                                                                         "test": False}, **kw)
    again = load_dataset("linear", np.random.default_rng(3), outliers={"fraction": 0.1, "magnitude": 20.0,
                                                                         "test": False}, **kw)
    shift = dirty.y_train - clean.y_train
    assert np.count_nonzero(shift) == 20 and np.allclose(shift[shift != 0], 20.0)
    np.testing.assert_array_equal(dirty.x_train, clean.x_train)
    np.testing.assert_array_equal(dirty.y_test, clean.y_test)  # the test set stays clean
    np.testing.assert_array_equal(dirty.y_train, again.y_train)
    both = load_dataset("linear", np.random.default_rng(3), outliers={"fraction": 0.2, "magnitude": -5.0,
                                                                        "test": True}, **kw)
    assert np.count_nonzero(both.y_test - clean.y_test) == 20


@pytest.mark.parametrize("text,fragment", [
    ("data: {name: linear, outliers: {fraction: 2}}\n", "data.outliers.fraction: expected a number >= 0 and <= 1"),
    ("data: {name: linear, outliers: {fractoin: 0.1}}\n", "data.outliers.fractoin: unknown key; did you mean"),
    ("data: {name: linear}\nloss: {name: power, p: 0}\n", "loss.p: expected a number > 0"),
])
def test_bad_outlier_and_power_values_name_their_key(write_config, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(text))
    assert fragment in str(err.value)
