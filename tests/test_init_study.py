"""The initialisation study reproduces the course's facts: saturation, collapse, and He keeping ReLU's spread."""

from __future__ import annotations

import pytest

from dlbasics.experiments.init_study import STUDY_INITS, run_study


@pytest.fixture(scope="module")
def rows():
    found, _ = run_study(STUDY_INITS, ("sigmoid", "tanh", "relu"), n_layers=5, width=100, n_samples=1000, seed=0)
    return found


def pick(rows, init, activation, layer):
    return next(r for r in rows if r["init"] == init and r["activation"] == activation and r["layer"] == layer)


def test_sigmoid_with_std_1_weights_saturates_the_last_layer(rows):
    assert pick(rows, "normal(std 1)", "sigmoid", 5)["frac_saturated"] > 0.5


def test_small_normal_activations_collapse_toward_zero_for_tanh_and_relu(rows):
    for act in ("tanh", "relu"):
        first, last = pick(rows, "small normal(std 0.01)", act, 1), pick(rows, "small normal(std 0.01)", act, 5)
        assert last["act_std"] < 1e-4 and last["act_std"] < first["act_std"] / 1000, act


def test_he_keeps_the_relu_spread_within_a_factor_of_two(rows):
    stds = [pick(rows, "he", "relu", layer)["act_std"] for layer in range(1, 6)]
    assert max(stds) / min(stds) < 2


def test_zeros_never_break_symmetry(rows):
    for act in ("sigmoid", "tanh", "relu"):
        assert all(pick(rows, "zeros", act, layer)["act_std"] == 0 for layer in range(1, 6))
    assert pick(rows, "zeros", "relu", 3)["grad_std"] == 0


def test_std_1_relu_explodes_and_xavier_tanh_does_not_saturate(rows):
    assert pick(rows, "normal(std 1)", "relu", 5)["act_std"] > 100 * pick(rows, "normal(std 1)", "relu", 1)["act_std"]
    assert pick(rows, "xavier 1/sqrt(n)", "tanh", 5)["frac_saturated"] < 0.05
