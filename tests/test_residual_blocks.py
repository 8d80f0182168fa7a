"""Residual blocks: y = F(x) + x or F(x) + W_s x (1x1 projection), gradients, shapes, names, training and resume."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from conftest import dlb
from dlbasics import load_config, train
from dlbasics.config import ConfigError
from dlbasics.config.schema import LAYER
from dlbasics.nn import footprint
from dlbasics.nn.gradcheck import check_layer
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.registry import layer_from_config
from dlbasics.nn.residual import Residual, projection_stride
from dlbasics.optim.groups import build_param_groups
from dlbasics.runner import Run, build_model, resume
from dlbasics.train.regularization import penalised_weights

SMOOTH = 1e-7
CONV = {"type": "conv2d", "kernel_size": 3, "padding": "same"}


def block(*layers: dict) -> Residual:
    """A Residual from config-style layer specs, validated (defaults filled) as a config's would be."""
    return layer_from_config(LAYER.validate({"type": "residual", "layers": list(layers)}, "x"))


def built(layer, shape, seed=0):
    Sequential([layer]).build(shape, np.random.default_rng(seed), np.float64, noise_rng=np.random.default_rng(9))
    layer.needs_input_grad = True  # (a first layer's dx is skipped in a model; the check wants it)
    return layer


@pytest.mark.parametrize("layers, shape, shortcut", [
    ([{**CONV, "out_channels": 3}, {"type": "batchnorm2d"}, {"type": "tanh"}, {**CONV, "out_channels": 3}],
     (3, 5, 5), None),
    ([{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, {"type": "batchnorm2d"},
      {"type": "tanh"}], (2, 7, 7), (4, 2, 1, 1)),
    ([{"type": "conv1d", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}], (2, 9), (4, 2, 1)),
    ([{"type": "dense", "units": 5}, {"type": "tanh"}, {"type": "dropout", "p": 0.3}], (5,), None),
], ids=["identity-conv2d-bn", "projection-conv2d-stride2", "projection-conv1d", "identity-dense-dropout"])
def test_gradients_of_both_shortcuts_match_finite_differences(layers, shape, shortcut):
    rng = np.random.default_rng(1)
    layer = built(block(*layers), shape)
    assert (None if layer.shortcut is None else layer.shortcut.W.shape) == shortcut
    errors = check_layer(layer, rng.standard_normal((4, *shape)), rng)
    names = {"x", *(name for name, _ in layer.named_parameters())}
    assert set(errors) == names and max(errors.values()) < SMOOTH, errors


def test_forward_is_the_body_plus_the_shortcut():
    rng = np.random.default_rng(2)
    layer = built(block({**CONV, "out_channels": 3}), (3, 4, 4))
    x = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(layer.forward(x), layer.body[0].forward(x) + x, rtol=0, atol=1e-12)
    proj = built(block({"type": "conv2d", "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1}), (3, 6, 6))
    w = proj.shortcut.W.data[:, :, 0, 0]  # (5, 3): the 1x1 projection, reading every other pixel (stride 2)
    x6 = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_allclose(proj.forward(x6), proj.body[0].forward(x6) + np.einsum(
        "oc,nchw->nohw", w, x6[:, :, ::2, ::2]), rtol=0, atol=1e-12)
    assert [projection_stride(28, 14), projection_stride(7, 4), projection_stride(9, 4)] == [2, 2, None]


@pytest.mark.parametrize("layers, message", [
    ([{"type": "flatten"}, {"type": "dense", "units": 4}], "the block's layers turn (2, 7, 7) into (4,)"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 3}], "no stride of a 1x1 convolution projection maps "
                                                                  "(7, 7) onto (5, 5)"),
    ([{"type": "relu"}, {"type": "dense", "units": 4}], "layers.1 (dense): dense expects (N, features) input"),
])
def test_a_block_whose_shapes_cannot_add_up_is_a_config_error_naming_it(write_config, layers, message):
    text = ("name: bad\ndata: {name: mnist-mini}\nmodel:\n  layers:\n"
            "    - {type: conv2d, out_channels: 2, kernel_size: 3, padding: same}\n    - {type: maxpool2d, "
            "kernel_size: 4}\n    - {type: residual, layers: " + json.dumps(layers) + "}\n"
            "    - {type: flatten}\n    - {type: dense, units: 10}\n")
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        build_model(load_config(path), (1, 28, 28), 10)
    assert info.value.path == "model.layers.2" and message in info.value.message
    if "(4,)" not in message:
        return  # the command line once: it loads the data set's shapes
    result = dlb("model", path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {path}: model.layers.2: ") and "Traceback" not in result.stderr


def test_an_inner_layer_typo_names_its_nested_key():
    with pytest.raises(ConfigError, match=r"^x\.layers\.1\.unit: unknown key; did you mean 'units'\?"):
        LAYER.validate({"type": "residual", "layers": [{"type": "relu"}, {"type": "dense", "unit": 3}]}, "x")


RESNET = """
name: resnet
seed: 4
data: {name: mnist-mini, train_size: 150, val_split: 0.2}
model:
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - type: residual
      layers:
        - {type: conv2d, out_channels: 6, kernel_size: 3, stride: 2, padding: 1}
        - {type: batchnorm2d}
        - {type: relu}
        - {type: dropout, p: 0.2}
    - {type: relu}
    - {type: globalavgpool}
    - {type: dense, units: 10}
optimizer: {name: adam, lr: 0.01, weight_decay: 1.0e-3}
regularization: {l2: 1.0e-3}
train: {epochs: 3, batch_size: 50}
"""


def test_block_parameters_have_stable_names_and_norms_are_not_decayed(write_config):
    model = build_model(load_config(write_config(RESNET)), (1, 28, 28), 10)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.layers.0.weight", "3.layers.0.bias", "3.layers.1.weight",
                     "3.layers.1.bias", "3.shortcut.weight", "6.weight", "6.bias"]
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert set(model.state_dict()) == {*names, "3.layers.1.running_mean", "3.layers.1.running_var"}
    by_name = dict(model.named_parameters())
    decayed = {id(p) for g in build_param_groups(model) if g.get("weight_decay") != 0.0 for p in g["params"]}
    assert {n for n, p in by_name.items() if id(p) in decayed} == {"0.weight", "3.layers.0.weight",
                                                                   "3.shortcut.weight", "6.weight"}
    assert [id(p) for p in penalised_weights(model)] == [id(by_name[n]) for n in (
        "0.weight", "3.layers.0.weight", "3.shortcut.weight", "6.weight")]
    rows = model.summary()
    assert [r["index"] for r in rows] == [0, 1, 2, 3, "3.0", "3.1", "3.2", "3.3", "3.s", 4, 5, 6]
    assert rows[8]["layer"].startswith("  shortcut: Conv2D(6, kernel_size=1, stride=2") and rows[8]["params"] == 24


def test_a_block_inside_a_block_lists_its_own_inner_layers():
    inner = {"type": "residual", "layers": [{**CONV, "out_channels": 3}, {"type": "relu"}]}
    model = Sequential([block({**CONV, "out_channels": 3}, inner)])
    model.build((3, 4, 4), np.random.default_rng(0), np.float64)
    assert [(r["index"], r["params"]) for r in model.summary()] == [
        (0, 168), ("0.0", 84), ("0.1", 84), ("0.1.0", 84), ("0.1.1", 0), ("0.1.s", 0), ("0.s", 0)]


SEQUENCE_RESNET = """
name: seqres
seed: 5
data: {name: sine, layout: sequence, n_train: 120, n_test: 40, window: 12, val_split: 0.25}
model:
  layers:
    - {type: conv1d, out_channels: 3, kernel_size: 3, padding: same}
    - type: residual
      layers:
        - {type: conv1d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
        - {type: batchnorm1d}
        - {type: tanh}
        - {type: dropout, p: 0.2}
    - {type: flatten}
    - {type: dense, units: 1}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 3, batch_size: 30}
"""


def test_a_resnet_trains_and_resumes_bit_for_bit(write_config, tmp_path):
    from test_resume_is_bit_exact import StopAt, same

    cfg = load_config(write_config(SEQUENCE_RESNET))
    whole = train(cfg, runs_dir=tmp_path / "whole", progress=False, plots=False)
    assert whole.summary["status"] == "completed" and whole.summary["final"]["test_loss"] < 1.0
    with pytest.raises(KeyboardInterrupt):
        train(cfg, runs_dir=tmp_path / "part", progress=False, callbacks=[StopAt(2)], plots=False)
    (folder,) = (tmp_path / "part").iterdir()
    same(resume(folder, progress=False, plots=False), whole)  # weights, Adam's moments, BN statistics, dropout
    with np.load(whole.path / "model.npz") as z:
        assert {"1.layers.0.weight", "1.shortcut.weight", "1.layers.1.running_var"} <= set(z.files)
    loaded = Run(whole.path).load_model()
    assert loaded.layers[1].shortcut.W.shape == (4, 3, 1)
    with np.load(whole.path / "model.npz") as z:
        assert np.array_equal(loaded.layers[1].shortcut.W.data, z["1.shortcut.weight"])


def test_memory_estimate_of_a_block_is_within_2x_of_the_traced_peak(write_config):
    cfg = load_config(write_config(RESNET), ["train.batch_size=64", "train.eval_batch_size=64"])
    model = build_model(cfg, (1, 28, 28), 10)
    fp = footprint.from_config(cfg, model, (1, 28, 28))
    loss, rng = CrossEntropyLoss(), np.random.default_rng(0)
    x, y = rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    tracemalloc.start()  # as tests/test_memory_estimate.py: the first step, work buffers included
    try:
        xb = x[np.arange(64)]
        loss.forward(model.forward(xb, training=True), y)
        model.backward(loss.backward())
        measured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 1.0 <= fp.training / measured <= 2.0, (fp.summary(), measured)


def test_a_model_without_blocks_keeps_the_names_older_checkpoints_were_saved_under():
    """Run folders saved before containers existed load by these names (mnist_cnn's, as saved then)."""
    from conftest import REPO

    model = build_model(load_config(REPO / "configs/mnist_cnn.yaml"), (1, 28, 28), 10)
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight", "5.bias", "9.weight", "9.bias",
        "12.weight", "12.bias", "1.running_mean", "1.running_var", "5.running_mean", "5.running_var"]
