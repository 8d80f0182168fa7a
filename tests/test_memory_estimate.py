"""Shape planning without allocation, the memory estimate (nn/footprint.py) and the check before building a model."""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np
import pytest
import yaml

from conftest import REPO, dlb
from dlbasics.config import ConfigError, load_config
from dlbasics.config.fields import size_bytes
from dlbasics.nn import footprint
from dlbasics.nn.layers import Dense, Flatten
from dlbasics.nn.losses import LOSSES
from dlbasics.nn.model import LayerShapeError, Sequential
from dlbasics.nn.registry import LAYERS, layer_from_config, model_from_config
from dlbasics.runner import build_model, build_optimizer, model_inputs

CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))
MNIST = ["data.name=mnist-mini"]  # every shipped config, on the bundled data (same shapes as MNIST)
HUGE_MLP = ("configs/quickstart.yaml", ["model.hidden=[100000000]"], "model.hidden",
            "layer 1, dense 784->100000000: 78,500,000,000 parameters")
HUGE_CONV = ("configs/mnist_cnn.yaml", [*MNIST, "model.layers.0.out_channels=100000", "train.eval_batch_size=500"],
             "model.layers.0",
             "layer 0, conv2d 1x28x28->100000x28x28")
# every registered layer type, in two models: images (C, H, W) and sequences (C, L)
IMAGE_LAYERS = [
    {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"},
    {"type": "batchnorm2d"}, {"type": "groupnorm", "num_groups": 2}, {"type": "instancenorm", "affine": True},
    {"type": "leaky_relu"}, {"type": "maxpool2d", "kernel_size": 2},
    {"type": "conv2d", "out_channels": 6, "kernel_size": [3, 2], "stride": 2, "padding": 1, "bias": False},
    {"type": "avgpool2d", "kernel_size": 2, "stride": 1, "padding": 1}, {"type": "layernorm"}, {"type": "elu"},
    {"type": "gelu"}, {"type": "flatten"}, {"type": "dense", "units": 12}, {"type": "batchnorm1d"},
    {"type": "sigmoid"}, {"type": "dropout", "p": 0.2}, {"type": "dense", "units": 8, "bias": False},
    {"type": "tanh"}, {"type": "softplus"}, {"type": "relu"}, {"type": "dense", "units": 5}, {"type": "softmax"},
    {"type": "reshape", "shape": [5, 1, 1]},
    {"type": "residual", "layers": [{"type": "conv2d", "out_channels": 3, "kernel_size": 1}, {"type": "relu"}]},
]
SEQUENCE_LAYERS = [
    {"type": "conv1d", "out_channels": 4, "kernel_size": 3}, {"type": "batchnorm1d"}, {"type": "relu"},
    {"type": "maxpool1d", "kernel_size": 2}, {"type": "conv1d", "out_channels": 5, "kernel_size": 2, "padding": "same"},
    {"type": "avgpool1d", "kernel_size": 2, "stride": 1}, {"type": "instancenorm"}, {"type": "globalavgpool"},
    {"type": "dense", "units": 3},
]


def _built_shapes(model: Sequential) -> list[dict[str, tuple[int, ...]]]:
    return [{name: p.shape for name, p in layer.named_parameters()} for layer in model.layers]


def _check_plan_against_build(model: Sequential, input_shape: tuple[int, ...]) -> None:
    plans = model.plan(input_shape)
    assert all(not layer.parameters() or None in layer.parameters() for layer in model.layers)  # nothing built
    model.build(input_shape, np.random.default_rng(0), np.float32)
    assert [p.output_shape for p in plans] == model.shapes
    assert [p.params for p in plans] == _built_shapes(model)
    assert sum(lf.params for lf in footprint.estimate(model, input_shape, 2).layers) == model.num_parameters()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_plan_gives_the_shapes_and_parameters_of_build_for_every_shipped_config(path):
    data = yaml.safe_load(path.read_text()).get("data") or {}  # MNIST configs on the bundled data; others as they are
    cfg = load_config(path, MNIST if data.get("name") in ("mnist", "fashion-mnist") else [])
    input_shape, n_outputs = model_inputs(cfg, progress=False)
    _check_plan_against_build(model_from_config(cfg["model"], input_shape, n_outputs), input_shape)


def test_plan_gives_the_shapes_and_parameters_of_build_for_every_layer_type():
    assert {s["type"] for s in IMAGE_LAYERS + SEQUENCE_LAYERS} == set(LAYERS)
    for specs, input_shape in ((IMAGE_LAYERS, (2, 9, 9)), (SEQUENCE_LAYERS, (3, 20))):
        _check_plan_against_build(Sequential([layer_from_config(s) for s in specs]), input_shape)


@pytest.mark.parametrize("specs, input_shape", [
    ([{"type": "dense", "units": 10}], (1, 28, 28)),
    ([{"type": "flatten"}, {"type": "conv2d", "out_channels": 4, "kernel_size": 3}], (1, 28, 28)),
    ([{"type": "maxpool2d", "kernel_size": 40}], (1, 28, 28)),
    ([{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"}], (1, 28, 28)),
    ([{"type": "maxpool1d", "kernel_size": 4, "padding": 3}], (2, 10)),
    ([{"type": "groupnorm", "num_groups": 3}], (4, 5, 5)),
    ([{"type": "instancenorm"}], (4, 1)),
    ([{"type": "batchnorm2d"}], (4,)),
    ([{"type": "globalavgpool"}], (4,)),
])
def test_plan_raises_the_shape_error_that_build_raises(specs, input_shape):
    with pytest.raises(LayerShapeError) as planned:
        Sequential([layer_from_config(s) for s in specs]).plan(input_shape)
    with pytest.raises(LayerShapeError) as built:
        Sequential([layer_from_config(s) for s in specs]).build(input_shape, np.random.default_rng(0))
    assert str(planned.value) == str(built.value) and planned.value.index == built.value.index


def test_planning_a_huge_model_allocates_nothing():
    model = Sequential([Flatten(), Dense(100_000_000), Dense(10)])
    tracemalloc.start()
    try:
        fp = footprint.estimate(model, (1, 28, 28), batch_size=64, state_arrays=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert fp.parameters == 784 * 10**8 + 10**8 + 10**9 + 10 and model.layers[1].W is None


def _model_and_step(path: str, overrides: list[str], evaluate: bool = True):
    """Build the config's model and optimizer, trace one training step and (optionally) one evaluation chunk.

    Returns the estimate, the model, the optimizer and the traced peaks (bytes) of the two, which include the
    optimizer state the first step allocates but not the weights and gradients allocated before.
    """
    cfg = load_config(REPO / path, overrides)
    shape = (1, 28, 28)
    fp = footprint.from_config(cfg, model_from_config(cfg["model"], shape, 10), shape)
    model = build_model(cfg, shape, 10)
    optimizer, loss = build_optimizer(cfg, model), LOSSES["cross_entropy"]()
    rng = np.random.default_rng(0)
    x, y = rng.random((fp.batch_size, *shape), dtype=np.float32), rng.integers(0, 10, fp.batch_size)
    x_eval, y_eval = rng.random((fp.eval_batch_size, *shape), dtype=np.float32), y[:1].repeat(fp.eval_batch_size)
    tracemalloc.start()
    try:
        xb = x[np.arange(len(x))]  # the training loop's batch is a copy
        loss.forward(model.forward(xb, training=True), y)
        model.backward(loss.backward())
        optimizer.step()
        del xb
        training = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        if evaluate:
            loss.forward(model.forward(x_eval), y_eval)
        evaluation = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return fp, model, optimizer, training, evaluation


@pytest.mark.parametrize("path, overrides", [
    ("configs/quickstart.yaml", []), ("configs/mnist_cnn.yaml", MNIST), ("configs/seed_model1.yaml", MNIST),
    ("configs/quickstart.yaml", ["optimizer=rmsprop"]),
    ("configs/quickstart.yaml", ["optimizer={name: sgd, param_groups: [{layers: [3], momentum: 0.9}]}"]),
])
def test_weights_gradients_and_optimizer_state_are_counted_to_the_byte(path, overrides):
    fp, model, optimizer, _, _ = _model_and_step(path, [*overrides, "train.batch_size=4"], evaluate=False)
    assert fp.weights == sum(p.data.nbytes for p in model.parameters())
    assert fp.weights == sum(p.grad.nbytes for p in model.parameters())
    state = [a for s in optimizer.state.values() for a in s.values() if isinstance(a, np.ndarray)]
    assert fp.optimizer_state == sum(a.nbytes for a in state)


@pytest.mark.parametrize("path, overrides", [
    ("configs/quickstart.yaml", []),  # evaluation chunks of 500 dominate
    ("configs/quickstart.yaml", ["train.batch_size=1000"]),  # the training step dominates
    ("configs/mnist_cnn.yaml", [*MNIST, "train.eval_batch_size=200"]),  # (500: 3 s of first page faults)
    ("configs/mnist_cnn.yaml", [*MNIST, "train.eval_batch_size=50"]),
])
def test_activation_estimate_is_within_2x_of_the_measured_peak(path, overrides):
    """The traced peak of a training step and of an evaluation chunk, beyond the optimizer state, against the
    estimated activations; and everything the estimate counts against everything measured."""
    fp, _, _, training, evaluation = _model_and_step(path, overrides)
    measured = max(training, evaluation) - fp.optimizer_state
    assert 1.0 <= fp.activations / measured <= 2.0, (fp.summary(), measured)
    assert 1.0 <= fp.total / (2 * fp.weights + fp.optimizer_state + measured) <= 2.0


def test_optimizer_state_arrays_follow_the_optimizers():
    expect = {("sgd", ()): 0, ("momentum", ()): 1, ("adagrad", ()): 2, ("adadelta", ()): 3, ("rmsprop", ()): 2,
              ("rmsprop", (("centered", True), ("momentum", 0.9))): 4, ("adam", ()): 3,
              ("adam", (("amsgrad", True),)): 4, ("adamw", ()): 3, ("nadam", ()): 3, ("radam", ()): 3,
              ("adamp", ()): 3}
    assert {key: footprint.optimizer_state_arrays(key[0], dict(key[1])) for key in expect} == expect


def _refusal(case):
    """build_model on a config too big to fit: (the ConfigError, seconds taken, growth of the peak RSS in MB)."""
    path, overrides, _, _ = case
    cfg = load_config(REPO / path, overrides)
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(ConfigError) as info:
        build_model(cfg, (1, 28, 28), 10)
    seconds = time.perf_counter() - t0
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # ru_maxrss: kB on Linux
    return info.value, seconds, grew_mb


def test_a_hundred_million_unit_layer_is_refused_before_allocation():
    err, seconds, grew_mb = _refusal(HUGE_MLP)
    assert seconds < 0.5 and grew_mb < 100
    assert err.path == "model.hidden" and HUGE_MLP[3] in err.message
    assert "but the limit is" in err.message and "raise train.max_memory" in err.message


def test_a_hundred_thousand_channel_conv_is_refused_before_allocation():
    err, seconds, grew_mb = _refusal(HUGE_CONV)
    assert seconds < 0.5 and grew_mb < 100
    assert err.path == "model.layers.0" and HUGE_CONV[3] in err.message and "of activations" in err.message


@pytest.mark.parametrize("case", [HUGE_MLP, HUGE_CONV], ids=["mlp", "conv"])
def test_the_cli_refuses_a_huge_model_in_one_line_with_exit_code_2(case, tmp_path):
    path, overrides, key, culprit = case
    args = [a for o in overrides for a in ("--set", o)]
    result = dlb("train", REPO / path, *args, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {REPO / path}: {key}: the model needs about ")
    assert culprit in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_max_memory_set_low_refuses_a_normal_model():
    cfg = load_config(REPO / "configs/quickstart.yaml", ["train.max_memory=1MB"])
    with pytest.raises(ConfigError, match=r"needs about 3\.\d+ MB \(layer 1, dense 784->128: 100,480 parameters\) "
                                          r"but the limit is 1 MB \(train\.max_memory\)"):
        build_model(cfg, (1, 28, 28), 10)


def test_max_memory_set_high_lets_through_what_the_default_limit_refuses(monkeypatch):
    monkeypatch.setattr(footprint, "available_memory", lambda: 100_000_000)  # a machine with 100 MB free
    cfg = load_config(REPO / "configs/mnist_cnn.yaml", MNIST)  # about 507 MB
    with pytest.raises(ConfigError, match=r"but the limit is 80 MB \(80 % of available memory\)") as info:
        build_model(cfg, (1, 28, 28), 10)
    assert info.value.path == "model.layers.4"  # the 32 -> 64 channel conv holds the most activations
    cfg = load_config(REPO / "configs/mnist_cnn.yaml", [*MNIST, "train.max_memory=1GB"])
    assert build_model(cfg, (1, 28, 28), 10).num_parameters() == 421_834


@pytest.mark.parametrize("text, expected", [(1024, 1024), ("8GB", 8 * 10**9), ("512MB", 512 * 10**6),
                                            ("512 mb", 512 * 10**6), ("1.5GiB", 3 * 2**29), ("100", 100),
                                            ("2KiB", 2048)])
def test_sizes_are_bytes_or_numbers_with_a_unit(text, expected):
    assert size_bytes(text) == expected
    cfg = load_config(REPO / "configs/quickstart.yaml", [f"train.max_memory={text}"])
    assert size_bytes(cfg["train"]["max_memory"]) == expected  # kept as written: "8GB" stays "8GB"


@pytest.mark.parametrize("text", ["lots", "8 GBs", "-1GB", "0", "true", "[1]", "GB", "nanGB"])
def test_a_bad_size_is_a_config_error_naming_the_key(text):
    with pytest.raises(ConfigError, match=r"^--set train\.max_memory=.*: train\.max_memory: expected a size"):
        load_config(REPO / "configs/quickstart.yaml", [f"train.max_memory={text}"])


def test_a_bad_size_is_one_line_on_stderr_with_exit_code_2():
    result = dlb("config", REPO / "configs/quickstart.yaml", "--set", "train.max_memory=lots")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --set train.max_memory=lots: train.max_memory: expected a size: bytes, or a number with kB, MB, GB, "
        "TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024), e.g. '8GB' or '512MB', got 'lots'"]


def test_the_default_limit_is_80_percent_of_available_memory(monkeypatch):
    available = footprint.available_memory()
    assert available and footprint.default_limit() == pytest.approx(0.8 * available, rel=0.05)

    def no_meminfo(*args, **kwargs):
        raise OSError("no /proc")

    monkeypatch.setattr(footprint, "open", no_meminfo, raising=False)  # not Linux: all physical memory
    assert footprint.available_memory() > 0


def test_full_batch_training_counts_the_whole_training_set():
    cfg = load_config(REPO / "configs/quickstart.yaml", ["train.batch_size=full"])
    model = model_from_config(cfg["model"], (1, 28, 28), 10)
    assert footprint.from_config(cfg, model, (1, 28, 28), n_train=9000).batch_size == 9000
    assert footprint.from_config(load_config(REPO / "configs/quickstart.yaml"), model, (1, 28, 28),
                                 n_train=50).batch_size == 50  # fit never makes a batch larger than the data


def test_sizes_print_with_three_significant_digits():
    assert [footprint.format_bytes(n) for n in (512, 18_600_000_000, 311e9, 2.62e12, 999_999)] == [
        "512 B", "18.6 GB", "311 GB", "2.62 TB", "1 MB"]
