"""`dlb features`: a trained CNN's kernels and feature maps (residual blocks included), classic filters on a digit,
and one-line errors for runs without conv layers, bad indices and unknown kernels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import correlate2d

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.experiments.features import CLASSIC_KERNELS, apply_filters, conv_layers, feature_maps
from dlbasics.runner import Run
from dlbasics.runs.folder import RunFolder

CNN = """
name: cnn
seed: 2
data: {name: npz, path: PATH, val_split: 0.25}
model:
  layers:
    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: same}
    - {type: relu}
    - {type: maxpool2d, kernel_size: 2}
    - type: residual
      layers:
        - {type: conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
        - {type: relu}
    - {type: flatten}
    - {type: dense, units: 3}
train: {epochs: 1, batch_size: 20}
"""


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """A CNN with a residual block trained for one epoch on 60 + 12 random 10x10 grey images of 3 classes."""
    root = tmp_path_factory.mktemp("features")
    rng = np.random.default_rng(0)
    np.savez(root / "images.npz", x_train=rng.integers(0, 256, (60, 10, 10), dtype=np.uint8),
             y_train=np.arange(60) % 3, x_test=rng.integers(0, 256, (12, 10, 10), dtype=np.uint8),
             y_test=np.arange(12) % 3)
    path = root / "cnn.yaml"
    path.write_text(CNN.replace("PATH", str(root / "images.npz")))
    return train(load_config(path), runs_dir=root / "runs", progress=False, plots=False).path


def test_classic_filters_are_valid_cross_correlations():
    image = np.random.default_rng(0).random((9, 7))
    out = apply_filters(image, ["blur", "sobel_x", "sharpen"])
    for name, result in out.items():
        assert result.shape == (7, 5)  # H - h + 1, W - w + 1
        np.testing.assert_allclose(result, correlate2d(image, CLASSIC_KERNELS[name], mode="valid"), atol=1e-12)


def test_feature_maps_are_every_conv_output_and_leave_the_model_as_it_was(cnn_run):
    model = Run(cnn_run).load_model()
    assert [name for name, _ in conv_layers(model)] == ["0", "3.layers.0", "3.shortcut"]
    x = np.random.default_rng(1).random((2, 1, 10, 10), dtype=np.float32)
    maps = feature_maps(model, x)
    assert [(name, out.shape) for name, _, out in maps] == [("0", (2, 3, 10, 10)), ("3.layers.0", (2, 4, 3, 3)),
                                                           ("3.shortcut", (2, 4, 3, 3))]
    np.testing.assert_array_equal(maps[0][2], model.layers[0].forward(x))
    assert all("forward" not in vars(layer) for _, layer in conv_layers(model))


def test_features_draws_kernels_maps_and_filters_into_the_run_folder(cnn_run):
    result = dlb("features", cnn_run, "--index", "5", "--kernels", "blur,sobel_x", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["index"] == 5 and doc["kernels"] == ["blur", "sobel_x"] and doc["label"] == "2"
    assert doc["files"] == ["features/features.json", "features/kernels.png", "features/maps_0.png",
                            "features/maps_3_0.png", "features/maps_3_shortcut.png", "features/filters.png"]
    for name in doc["files"][1:]:
        assert (cnn_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((cnn_run / "summary.json").read_text())["features"] == doc["files"]


def test_features_quiet_prints_nothing_and_plain_names_the_files(cnn_run, monkeypatch):
    monkeypatch.setattr(RunFolder, "save_figure", lambda self, fig, name: (self.path / name).write_bytes(b""))
    quiet = dlb("features", cnn_run, "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    plain = dlb("features", cnn_run, "--index", "1")
    assert plain.returncode == 0 and plain.stdout.splitlines()[0].endswith(
        "test sample 1 (label 1, predicted " + plain.stdout.split("predicted ")[1].split(")")[0] + "); conv layers: "
        "0, 3.layers.0, 3.shortcut")
    assert f"wrote {cnn_run / 'features' / 'maps_3_shortcut.png'}" in plain.stdout


@pytest.mark.parametrize("args, message", [
    (["--index", "12"], "error: --index 12: the test split has 12 samples (0 to 11)"),
    (["--kernels", "blur,sobelx"], "error: --kernels: unknown kernel 'sobelx'; did you mean 'sobel_x'? (allowed: "
                                  "identity, blur, gaussian, sobel_x, sobel_y, laplacian, sharpen)"),
])
def test_a_bad_index_or_kernel_is_one_line(cnn_run, args, message):
    result = dlb("features", cnn_run, *args)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [message]


def test_a_run_without_conv_layers_is_one_line(write_config, tmp_path):
    run = train(load_config(write_config(TINY), ["train.epochs=1"]), runs_dir=tmp_path, progress=False,
                plots=False)
    result = dlb("features", run.path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "the model has no conv layers (dense, relu)" in result.stderr and "Traceback" not in result.stderr
    result = dlb("features", run.path, "--kernels", "blur")
    assert result.returncode == 2
    assert "classic filters are 2-D image filters, but 'spirals' has samples of shape (2,)" in result.stderr


def test_filters_are_applied_to_the_test_sample_of_a_cv_fold_in_pixel_units(cnn_run, monkeypatch):
    """Under cv the test split is a held-out fold of the training set (30 of 60 here, the official test set has
    12): --index counts the fold's samples, and filters.png shows that sample, its standardisation undone."""
    import dlbasics.plots.features as plots
    from dlbasics.experiments.features import features_run
    from dlbasics.runner import build

    cfg = load_config(cnn_run / "config.yaml", ["data.normalize=standardize", "name=fold",
                                                "data.fold=[{strategy: kfold, k: 2, index: 0}]"])
    run = train(cfg, runs_dir=cnn_run.parent, progress=False, plots=False).path
    drawn = {}
    monkeypatch.setattr(plots, "plot_filtered", lambda image, kernels, filtered, title: drawn.update(image=image))
    monkeypatch.setattr(RunFolder, "save_figure", lambda self, fig, name: (self.path / name).write_bytes(b""))
    result = features_run(run, index=20, kernels=["blur"])
    splits = build(load_config(run / "config.yaml", ["data.normalize=none"]), progress=False).splits
    assert result["label"] == str(splits.y_test[20]) and len(splits.x_test) == 30
    np.testing.assert_allclose(drawn["image"], splits.x_test[20, 0], atol=1e-5)  # [0, 1] pixels of that sample


def test_a_flat_input_reshaped_inside_the_model_is_drawn_beside_its_maps():
    """A reshape layer first: the (L,) window is drawn as the sequence, a (H*W,) image as the image."""
    from dlbasics.plots.features import plot_feature_maps

    sequence = plot_feature_maps(np.arange(8.0), np.ones((2, 8)))
    assert list(sequence.axes[0].lines[0].get_ydata()) == list(np.arange(8.0))
    image = plot_feature_maps(np.arange(16.0), np.ones((2, 4, 4)))
    assert image.axes[0].images[0].get_array().shape == (4, 4)


def test_a_long_title_is_wrapped_to_a_narrow_figure():
    from dlbasics.plots.features import plot_feature_maps

    title = "a-long-run-name-fold-0: conv layer 0 2x14x14, test sample 5 (label 7, predicted 7)"
    fig = plot_feature_maps(np.zeros((1, 6, 6)), np.zeros((2, 3, 3)), title=title)
    lines = fig._suptitle.get_text().splitlines()
    assert len(lines) > 1 and " ".join(lines) == title and max(map(len, lines)) <= fig.get_figwidth() * 12
