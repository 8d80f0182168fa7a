"""Predicting with a trained run: the run's own preprocessing, raw inputs from the files users have."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import dlb
from dlbasics import load_config, train
from dlbasics.data.datasets import load_dataset
from dlbasics.data.idx import write_idx
from dlbasics.inference import InputError, Predictor


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A quickstart run (pixels scaled) and one with standardised inputs, trained briefly."""
    root = tmp_path_factory.mktemp("runs")
    plain = train(load_config("configs/quickstart.yaml", ["train.epochs=1"]), runs_dir=root, progress=False)
    std = train(load_config("configs/quickstart.yaml", ["train.epochs=1", "data.normalize=standardize"]),
                runs_dir=root, progress=False)
    return plain, std


def test_predictions_on_the_runs_own_test_set_give_its_test_accuracy_exactly(runs):
    ds = load_dataset("mnist-mini")
    for run in runs:
        pred = run.predict(ds.x_test)  # raw uint8 pixels: the run scales (and standardises) them itself
        assert float(np.mean(pred.labels == ds.y_test)) == run.summary["final"]["test_acc"]
        np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0)
    with np.load(runs[1].path / "test_predictions.npz") as z:
        np.testing.assert_array_equal(runs[1].predict(ds.x_test[:, 0]).outputs, z["outputs"])


def test_inputs_that_do_not_fit_are_one_line_errors(runs):
    predictor = Predictor.from_run(runs[0].path)
    for bad, fragment in ((np.zeros((3, 28)), "the model takes (N, 1, 28, 28)"),
                          (np.full((2, 28, 28), 300.0), "pixel values from 300 to 300"),
                          (np.full((2, 28, 28), "a"), "expected numbers")):
        with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            predictor.predict(bad)
    one = predictor.predict(load_dataset("mnist-mini").x_test[0, 0])  # one sample, no batch axis
    assert one.labels.shape == (1,)


def test_dlb_predict_reads_idx_npz_and_png_and_scores_against_labels(runs, tmp_path):
    from matplotlib.image import imsave

    ds = load_dataset("mnist-mini")
    x, y = ds.x_test[:20, 0], ds.y_test[:20]
    write_idx(tmp_path / "x-idx3-ubyte.gz", x)
    write_idx(tmp_path / "y-idx1-ubyte", y.astype(np.uint8))
    result = dlb("predict", runs[0].path, tmp_path / "x-idx3-ubyte.gz", "--labels", tmp_path / "y-idx1-ubyte",
                 "-o", tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    expected = runs[0].predict(x)
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table.columns) == ["id", "predicted", *[f"p_{k}" for k in range(10)]]
    assert list(table.predicted) == list(expected.labels)
    assert f"accuracy {np.mean(expected.labels == y):.4f}" in result.stderr
    (tmp_path / "png").mkdir()
    for i, image in enumerate(x[:5]):
        imsave(tmp_path / "png" / f"{i:02d}.png", image, cmap="gray", vmin=0, vmax=255)
    result = dlb("predict", runs[0].path, tmp_path / "png")
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(__import__("io").StringIO(result.stdout)).predicted) == list(expected.labels[:5])
    np.savez(tmp_path / "x.npz", x=x, y=y)
    result = dlb("predict", runs[1].path, tmp_path / "x.npz", "--labels", tmp_path / "x.npz")
    assert result.returncode == 0 and "accuracy" in result.stderr


@pytest.mark.parametrize("make,fragment", [
    (lambda d: np.save(d / "a.npy", np.zeros((4, 10))), "the model takes (N, 1, 28, 28)"),
    (lambda d: (d / "a.txt").write_text("hello"), "unknown format"),
    (lambda d: None, "no such file"),
])
def test_bad_inputs_exit_2_with_one_line(runs, tmp_path, make, fragment):
    make(tmp_path)
    name = next((p.name for p in tmp_path.iterdir()), "missing.npy")
    result = dlb("predict", runs[0].path, tmp_path / name)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr


def test_a_csv_run_predicts_from_a_csv_by_its_feature_columns(tmp_path, write_config):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, 300)
    frame = pd.DataFrame({"note": 1.0, "x": x, "y": 4 * x - 2 + rng.normal(0, 0.1, 300)})
    frame[["x", "y"]].to_csv(tmp_path / "train.csv", index=False)
    run = train(load_config(write_config(f"data: {{name: csv, path: {tmp_path / 'train.csv'}, target: y}}\n"
                                         "model: {hidden: [16]}\noptimizer: {name: adam, lr: 0.01}\n"
                                         "train: {epochs: 30, batch_size: 32}\n")), runs_dir=tmp_path / "r",
                progress=False)
    frame[["y", "note", "x"]].to_csv(tmp_path / "new.csv", index=False)  # other columns, another order
    result = dlb("predict", run.path, tmp_path / "new.csv", "--labels", tmp_path / "new.csv")
    assert result.returncode == 0, result.stderr
    outputs = pd.read_csv(__import__("io").StringIO(result.stdout)).output_0
    np.testing.assert_allclose(outputs, run.predict(x[:, None]).outputs[:, 0], rtol=1e-6)  # column x, found by name
    assert "MSE" in result.stderr


def test_a_run_predicts_from_its_own_training_files(tmp_path, write_config):
    """A CSV with spaces around its header names and ';' between fields, labels that are names, and an image
    folder resampled to 12x12: each run reads them back as it did in training."""
    from matplotlib.image import imsave

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    names = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    lines = ["a ; b ; label"] + [f"{u:.6f};{v:.6f};{n}" for (u, v), n in zip(x, names)]
    (tmp_path / "cls.csv").write_text("\n".join(lines) + "\n")
    run = train(load_config(write_config(
        f"data: {{name: csv, path: {tmp_path / 'cls.csv'}, target: label, delimiter: ';'}}\n"
        "model: {hidden: [8]}\ntrain: {epochs: 3, batch_size: 32}\n")), runs_dir=tmp_path / "r", progress=False)
    result = dlb("predict", run.path, tmp_path / "cls.csv", "--labels", tmp_path / "cls.csv")
    assert result.returncode == 0, result.stderr
    assert set(pd.read_csv(__import__("io").StringIO(result.stdout)).predicted) <= {"up", "down"}
    assert "accuracy" in result.stderr
    for label, shade in (("dark", 40), ("light", 220)):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(6):
            imsave(tmp_path / "img" / label / f"{i}.png", np.full((20, 20), shade + 3 * i, np.uint8), cmap="gray",
                   vmin=0, vmax=255)
    images = train(load_config(write_config(
        f"data: {{name: images, path: {tmp_path / 'img'}, size: [12, 12], test_fraction: 0.25}}\n"
        "model: {hidden: [8]}\ntrain: {epochs: 2, batch_size: 4}\n")), runs_dir=tmp_path / "i", progress=False)
    result = dlb("predict", images.path, tmp_path / "img" / "dark", tmp_path / "img" / "light", "-o",
                 tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    from dlbasics.data.datasets import load_dataset as load

    ds = load("images", path=str(tmp_path / "img"), size=[12, 12], test_fraction=0.25)
    assert len(pd.read_csv(tmp_path / "p.csv")) == 12 and ds.x_train.shape[1:] == (1, 12, 12)
