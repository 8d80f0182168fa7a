"""The reshape layer (one -1 inferred, errors naming `shape`) and the sine series as (N, 1, L) sequences for conv1d."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO
from dlbasics import load_config
from dlbasics.config import ConfigError
from dlbasics.data.datasets import load_dataset
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.model import LayerShapeError, Sequential
from dlbasics.nn.reshape import Reshape
from dlbasics.runner import build_model


@pytest.mark.parametrize("target, input_shape, output_shape", [
    ([1, 20], (20,), (1, 20)), ([1, -1], (20,), (1, 20)), ([-1], (2, 3, 4), (24,)), ([4, -1, 2], (2, 3, 4), (4, 3, 2)),
])
def test_reshape_infers_minus_one_and_passes_gradients_back(target, input_shape, output_shape):
    rng = np.random.default_rng(0)
    layer = Reshape(target)
    Sequential([layer]).build(input_shape, rng, np.float64)
    x = rng.standard_normal((3, *input_shape))
    y = layer.forward(x)
    assert y.shape == (3, *output_shape) and np.array_equal(y.reshape(-1), x.reshape(-1))  # C order kept
    layer.needs_input_grad = True
    assert check_layer(layer, x, rng)["x"] < 1e-7


@pytest.mark.parametrize("target, message", [
    ([1, 21], "shape [1, 21] holds 21 values per sample, but the input (20,) has 20"),
    ([3, -1], "shape [3, -1]: cannot infer -1: the input (20,) has 20 values per sample, not a multiple of 3"),
])
def test_a_reshape_whose_sizes_do_not_match_names_shape(target, message):
    with pytest.raises(LayerShapeError, match=r"layer 0 \(reshape\): " + message.replace("[", r"\[").replace(
            "]", r"\]").replace("(", r"\(").replace(")", r"\)")):
        Sequential([Reshape(target)]).plan((20,))


@pytest.mark.parametrize("value, message", [
    ("[-1, -1]", "at most one -1"), ("[0, 20]", "expected sizes >= 1 or -1"), ("[]", "expected a non-empty list"),
    ("[1.5]", "expected sizes >= 1 or -1"),
])
def test_a_bad_target_shape_is_a_config_error_at_its_key(value, message):
    with pytest.raises(ConfigError, match=r"model\.layers\.0\.shape: " + message):
        load_config(REPO / "configs/sine_conv1d.yaml", [f"model.layers.0={{type: reshape, shape: {value}}}"])


def test_sine_sequences_are_the_flat_windows_with_a_channel_axis():
    flat = load_dataset("sine", np.random.default_rng(3), n_train=50, n_test=10, window=8)
    seq = load_dataset("sine", np.random.default_rng(3), n_train=50, n_test=10, window=8, layout="sequence")
    assert seq.input_shape == (1, 8) and flat.input_shape == (8,) and seq.ordered
    assert np.array_equal(seq.x_train[:, 0], flat.x_train) and np.array_equal(seq.y_test, flat.y_test)


def test_a_reshape_first_gives_the_sequence_model_from_flat_windows():
    seq = load_config(REPO / "configs/sine_conv1d.yaml")
    layers = [{"type": "reshape", "shape": [1, -1]}, *seq["model"]["layers"]]
    flat = load_config(REPO / "configs/sine_conv1d.yaml", ["data.layout=flat", f"model.layers={json.dumps(layers)}"])
    a, b = build_model(seq, (1, 20), 1), build_model(flat, (20,), 1)  # reshape has no weights: the same draws
    x = np.random.default_rng(4).standard_normal((5, 20)).astype(np.float32)
    assert np.array_equal(a.forward(x[:, None]), b.forward(x))
