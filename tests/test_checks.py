"""`dlb gradcheck`, `dlb init-study`, `dlb train --dry-run`: the library's checks as a user runs them."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, dlb
from dlbasics.config import resolve_config
from dlbasics.experiments.checks import FAST_PATH_CASES, LAYER_CASES, LOSS_CASES, check_config, check_registered
from dlbasics.nn.gradcheck import numerical_gradient
from dlbasics.nn.losses import LOSSES
from dlbasics.nn.registry import LAYERS


def test_every_registered_layer_and_loss_has_a_gradcheck_case():
    assert set(LAYERS) <= set(LAYER_CASES), set(LAYERS) - set(LAYER_CASES)
    assert set(LOSSES) == set(LOSS_CASES)


def test_every_registered_gradient_passes():
    rows = check_registered()
    failed = [r for r in rows if not r["passed"]]
    assert not failed, failed
    assert {r["name"] for r in rows if r["kind"] == "layer"} == set(LAYERS)


def test_a_config_model_with_batchnorm_and_dropout_passes():
    cfg = resolve_config({"data": {"name": "spirals", "n_train": 40, "n_test": 10},
                          "model": {"hidden": [8, 6], "batchnorm": True, "dropout": 0.3, "activation": "tanh"}}, "x")
    rows = check_config(cfg, batch=6)
    assert len(rows) == 8 and all(r["passed"] for r in rows)
    assert max(r["error"] for r in rows) < 1e-7  # tanh everywhere: the smooth tolerance applies


def test_a_wrong_backward_is_caught(monkeypatch):
    from dlbasics.nn.activations import Tanh

    monkeypatch.setattr(Tanh, "backward", lambda self, dout: dout * (1 - self.out))  # not the derivative
    cfg = resolve_config({"data": {"name": "spirals", "n_train": 40, "n_test": 10},
                          "model": {"hidden": [8], "activation": "tanh"}}, "x")
    assert not all(r["passed"] for r in check_config(cfg, batch=6))


@pytest.mark.parametrize("model", [{"hidden": [8], "activation": "relu"},
                                   {"type": "sequential", "layers": [
                                       {"type": "conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
                                       {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
                                       {"type": "flatten"}, {"type": "dense", "units": 10}]}],
                         ids=["relu", "conv-relu-maxpool"])
def test_a_weight_gradient_wrong_by_1e_5_is_caught_where_kinks_are(monkeypatch, model):
    from dlbasics.nn.layers import Dense

    data = {"name": "mnist"} if model.get("type") == "sequential" else {"name": "spirals", "n_train": 40,
                                                                        "n_test": 10}
    cfg = resolve_config({"data": data, "model": model}, "x")
    assert all(r["passed"] for r in check_config(cfg, batch=4, max_coords=12, progress=False))
    backward = Dense.backward

    def off_by_1e_5(self, dout):
        dx = backward(self, dout)
        self.W.grad *= 1 + 1e-5
        return dx

    monkeypatch.setattr(Dense, "backward", off_by_1e_5)
    rows = check_config(cfg, batch=4, max_coords=12, progress=False)
    dense_weights = [r for r in rows if r["tensor"].startswith("weight") and "dense" in r["name"]]
    assert dense_weights and not any(r["passed"] for r in dense_weights)


def test_a_step_that_straddles_a_kink_is_halved_until_two_estimates_agree():
    x = np.array([2e-6])  # |x| has its kink at 0, inside [x - 1e-5, x + 1e-5]

    def f():
        return float(np.abs(x).sum())

    plain = numerical_gradient(f, x, np.array([0]), h=1e-5)
    assert plain[0] == pytest.approx(0.2)  # the average of the slopes -1 and 1 over the straddling step
    assert numerical_gradient(f, x, np.array([0]), h=1e-5, kinks=True)[0] == pytest.approx(1.0, abs=1e-9)


def test_gradcheck_cli_prints_a_table_and_exits_0(write_config):
    result = dlb("gradcheck", write_config(TINY))
    assert result.returncode == 0, result.stderr
    assert "weight" in result.stdout and "pass" in result.stdout and "gradients within tolerance" in result.stdout


def test_gradcheck_cli_needs_a_config_or_all():
    result = dlb("gradcheck")
    assert result.returncode == 2 and result.stderr.startswith("error: give a CONFIG or --all")


def test_init_study_cli_writes_csv_and_pngs(tmp_path):
    result = dlb("init-study", "--runs-dir", tmp_path / "r", "--samples", "200", "--width", "20", "--layers", "3")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "r").iterdir()
    df = pd.read_csv(folder / "init_study.csv")
    assert len(df) == 6 * 3 * 3 and {"act_std", "frac_zero", "frac_saturated", "grad_std"} <= set(df.columns)
    for name in ("activations_sigmoid.png", "gradients_relu.png", "activation_std_by_layer.png"):
        assert (folder / name).stat().st_size > 1000


def test_dry_run_prints_the_model_and_writes_nothing(write_config, tmp_path):
    result = dlb("train", write_config(TINY), "--dry-run", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0 and "total" in result.stdout and not (tmp_path / "runs").exists()


def test_shape_commands_work_offline_without_mnist_from_its_metadata(monkeypatch, tmp_path):
    # no data anywhere (an empty cache, no DLB_DATA_DIR) and no network: a download attempt would fail (exit 3)
    monkeypatch.setenv("DLB_MIRRORS_MNIST", "http://127.0.0.1:9/")
    repo = os.path.dirname(os.path.dirname(__file__))
    grad = dlb("gradcheck", "configs/mnist_cnn.yaml", "--batch", "3", "--coords", "6", cwd=repo)
    assert grad.returncode == 0 and "FAIL" not in grad.stdout, grad.stdout[-2000:] + grad.stderr
    model = dlb("model", "configs/mnist_cnn.yaml", cwd=repo)
    assert model.returncode == 0 and "421,834" in model.stdout, model.stderr
    dry = dlb("train", "configs/mnist_cnn.yaml", "--dry-run", "--runs-dir", tmp_path / "runs", cwd=repo)
    assert dry.returncode == 0, dry.stderr
    # 60,000 MNIST images, 10 % stratified validation, batches of 100: the split sizes are exact without the data
    assert "54,000 training / 6,000 validation / 10,000 test samples, 540 steps per epoch" in dry.stdout
    sched = dlb("schedule", "configs/mnist_adam.yaml", "--runs-dir", tmp_path / "runs", cwd=repo)
    assert sched.returncode == 0 and "over 20 epochs" in sched.stdout, sched.stderr
    assert not (tmp_path / "cache" / "dlbasics" / "mnist").exists()


def test_the_fast_paths_and_fused_steps_are_gradchecked_too():
    """Winograd, the 2x2 pool and the fused steps never run in the registered layers' cases."""
    rows = [r for r in check_registered() if r["kind"] == "fast path"]
    assert {r["name"] for r in rows} == {label for label, _, _ in FAST_PATH_CASES}
    assert all(r["passed"] for r in rows), rows
    assert {r["tensor"] for r in rows if "winograd" in r["name"]} == {"x", "weight", "bias"}
    assert {r["tensor"] for r in rows if "fused" in r["name"]} == {"x", "weight", "bias"}
