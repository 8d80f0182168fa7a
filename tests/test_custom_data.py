"""Your own data: a CSV file, an .npz of arrays, a folder of PNG images per class (dlbasics/data/custom.py)."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from conftest import dlb
from dlbasics import load_config, train
from dlbasics.config import ConfigError
from dlbasics.config.schema import fill_dependent_defaults
from dlbasics.data import custom
from dlbasics.data.datasets import DataError, load_dataset, make_splits
from dlbasics.data.synthetic import linear


def _schema_asks_the_data_set_for_its_task() -> bool:
    """Whether the config schema takes the loss default from ``DatasetEntry.task_for`` (csv and npz need it)."""
    raw = {"data": {"name": "npz", "path": "unused.npz", "task": "classification"}}
    return fill_dependent_defaults(raw)["loss"]["name"] == "cross_entropy"


needs_task_for = pytest.mark.skipif(not _schema_asks_the_data_set_for_its_task(),
                                    reason="config/schema.py and experiments/cv.py must ask DatasetEntry.task_for")

# ---------------------------------------------------------------- files the tests write


def linear_csv(path, n=400, noise=0.1):
    """y = 4x - 2 + noise as a CSV file with columns x, y (dlbasics.data.synthetic.linear)."""
    x, y = linear(np.random.default_rng(1), n, noise=noise)
    np.savetxt(path, np.c_[x, y], delimiter=",", header="x,y", comments="")
    return path


def species_csv(path, n=60):
    """Two numeric features and a text label that the first feature decides."""
    rng = np.random.default_rng(2)
    names = np.array(["setosa", "versicolor", "virginica"])
    label = np.arange(n) % 3
    a, b = label * 2.0 + rng.normal(0, 0.3, n), rng.normal(0, 1, n)
    lines = ["a,b,species", *(f"{u:.4f},{v:.4f},{names[k]}" for u, v, k in zip(a, b, label))]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_text(path, text):
    path.write_text(text)
    return path


def image_folder(root, n=12, sizes=((8, 8),), rgb=False):
    """``root/dark/*.png`` and ``root/light/*.png``: noisy images, dark ones around 0.2 and light around 0.8."""
    rng = np.random.default_rng(3)
    for cls, level in (("light", 0.8), ("dark", 0.2)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            shape = sizes[i % len(sizes)] + ((3,) if rgb else ())
            pixels = np.clip(level + rng.normal(0, 0.05, shape), 0, 1)
            matplotlib.image.imsave(root / cls / f"{i:02d}.png", pixels, cmap="gray", vmin=0, vmax=1)
    return root


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


TRAIN = "model: {type: mlp, hidden: [16]}\noptimizer: {name: adam, lr: 0.01}\ntrain: {epochs: 2, batch_size: 16}\n"

# ---------------------------------------------------------------- CSV


@needs_task_for
def test_a_csv_regression_written_from_the_linear_data_trains_to_a_low_test_mse(tmp_path, write_config):
    path = linear_csv(tmp_path / "linear.csv")
    cfg = load_config(write_config(f"data: {{name: csv, path: {path}, target: y}}\nmodel: {{type: mlp, hidden: []}}\n"
                                   "optimizer: {name: adam, lr: 0.1}\ntrain: {epochs: 40, batch_size: 32}\n"))
    assert cfg["loss"]["name"] == "mse"
    run = train(cfg, runs_dir=tmp_path / "runs", progress=False, plots=False)
    assert run.summary["status"] == "completed"
    assert run.summary["final"]["test_loss"] < 0.05  # the noise variance is 0.01


def test_relative_paths_are_from_the_current_directory_and_saved_absolute(tmp_path, monkeypatch, write_config):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = load_config(write_config("data: {name: images, path: pictures}\n"))
    assert cfg["data"]["path"] == str(tmp_path / "pictures")
    cfg = load_config(write_config("data: {name: images, path: ~/pictures}\n"))
    assert cfg["data"]["path"] == str(tmp_path / "home" / "pictures")


def test_a_text_labelled_csv_is_classification_with_sorted_class_names(tmp_path):
    ds = load_dataset("csv", path=str(species_csv(tmp_path / "iris.csv")), target="species")
    assert ds.task == "classification" and ds.classes == ["setosa", "versicolor", "virginica"]
    assert ds.n_classes == 3 and ds.input_shape == (2,) and ds.x_train.dtype == np.float64
    assert len(ds.x_test) == 12 and np.bincount(ds.y_test).tolist() == [4, 4, 4]  # 0.2 of 60, stratified
    assert np.all(np.abs(ds.x_train[:, 0] - 2.0 * ds.y_train) < 1.5)  # each row keeps its own label


@needs_task_for
def test_a_text_labelled_csv_trains_with_cross_entropy_by_default(tmp_path, write_config):
    path = species_csv(tmp_path / "iris.csv", n=300)
    cfg = load_config(write_config(f"data: {{name: csv, path: {path}, target: species, features: [a]}}\n"
                                   + TRAIN.replace("epochs: 2", "epochs: 15")))
    assert cfg["loss"]["name"] == "cross_entropy"
    run = train(cfg, runs_dir=tmp_path / "runs", progress=False, plots=False)
    assert run.summary["final"]["test_acc"] > 0.9


def test_the_csv_test_split_is_fixed_whatever_the_seed(tmp_path):
    path = str(species_csv(tmp_path / "iris.csv"))
    a = load_dataset("csv", np.random.default_rng(1), path=path, target="species", test_fraction=0.5)
    b = load_dataset("csv", np.random.default_rng(2), path=path, target="species", test_fraction=0.5)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert np.bincount(a.y_test).tolist() == [10, 10, 10]


def test_whole_number_targets_are_classes_in_numeric_order_unless_the_task_says_regression(tmp_path):
    path = write_text(tmp_path / "d.csv", "x,y\n" + "".join(f"{i},{[9, 10, 2][i % 3]}\n" for i in range(30)))
    ds = load_dataset("csv", path=str(path), target="y")
    assert ds.classes == ["2", "9", "10"] and ds.task == "classification"
    assert custom.csv_task({"path": str(path), "target": "y"}) == "classification"
    ds = load_dataset("csv", path=str(path), target="y", task="regression")
    assert ds.task == "regression" and ds.y_train.shape == (24, 1) and set(ds.y_train.ravel()) == {2.0, 9.0, 10.0}
    floats = write_text(tmp_path / "f.csv", "x,y\n" + "".join(f"{i},{i / 4}\n" for i in range(10)))
    assert custom.csv_task({"path": str(floats), "target": "y"}) == "regression"
    many = write_text(tmp_path / "m.csv", "x,y\n" + "".join(f"{i},{i}\n" for i in range(200)))
    with pytest.raises(ConfigError) as err:
        custom.csv_task({"path": str(many), "target": "y"})
    assert err.value.path == "data.task" and "200 distinct whole numbers" in one_line(err)


def test_features_default_to_every_other_column_and_can_be_chosen(tmp_path):
    path = write_text(tmp_path / "d.csv", "a;label;b\n" + "".join(f"{i};{i % 2};{-i}\n" for i in range(20)))
    ds = load_dataset("csv", path=str(path), target="label", delimiter=";")
    assert ds.input_shape == (2,) and np.all(ds.x_train[:, 0] == -ds.x_train[:, 1])
    ds = load_dataset("csv", path=str(path), target="label", delimiter=";", features=["b"])
    assert ds.input_shape == (1,) and np.all(ds.x_train[:, 0] <= 0)


def test_csv_splits_standardize_and_train_size_go_through_make_splits(tmp_path):
    ds = load_dataset("csv", path=str(species_csv(tmp_path / "iris.csv", n=150)), target="species")
    s = make_splits(ds, 0.2, np.random.default_rng(0), np.float32, normalize="standardize", train_size=48)
    assert (len(s.x_train), len(s.x_val)) == (48, 12) and np.bincount(s.y_val).tolist() == [4, 4, 4]
    assert np.allclose(s.x_train.mean(axis=0), 0, atol=1e-5) and s.y_train.dtype == np.int64


# ---------------------------------------------------------------- npz


def test_an_npz_with_test_arrays_keeps_them_and_uint8_images_scale_like_mnist(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=np.arange(30) % 3 + 5, x_test=x[30:],
             y_test=np.arange(10) % 3 + 5)
    ds = load_dataset("npz", path=str(tmp_path / "d.npz"))
    assert ds.task == "classification" and ds.classes == ["5", "6", "7"] and ds.x_train.dtype == np.uint8
    assert ds.input_shape == (1, 6, 6) and len(ds.x_test) == 10 and ds.y_test.tolist()[:4] == [0, 1, 2, 0]
    assert custom.npz_task({"path": str(tmp_path / "d.npz")}) == "classification"
    s = make_splits(ds, 0.2, np.random.default_rng(0), np.float32)
    assert s.x_test.max() <= 1.0 and s.x_test[0, 0, 0, 0] == pytest.approx(x[30, 0, 0] / 255)


def test_an_npz_without_test_arrays_gets_the_fixed_split_and_float_targets_are_regression(tmp_path):
    x, y = linear(np.random.default_rng(1), 50)
    np.savez_compressed(tmp_path / "d.npz", x_train=x, y_train=y.ravel())
    ds = load_dataset("npz", path=str(tmp_path / "d.npz"), test_fraction=0.2)
    assert ds.task == "regression" and ds.y_train.shape == (40, 1) and len(ds.x_test) == 10
    assert custom.npz_task({"path": str(tmp_path / "d.npz")}) == "regression"
    np.testing.assert_allclose(ds.y_test, 4 * ds.x_test - 2, atol=5)


def test_npz_text_labels_are_classes_in_sorted_order(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.arange(20.0).reshape(10, 2), y_train=np.array(["dog", "cat"] * 5))
    ds = load_dataset("npz", path=str(tmp_path / "d.npz"), test_fraction=0.2)
    assert ds.classes == ["cat", "dog"] and np.bincount(ds.y_test).tolist() == [1, 1]
    assert np.all(ds.y_train == (ds.x_train[:, 0] % 4 == 0))  # dog (1) at the even rows


@needs_task_for
def test_an_npz_of_images_trains_a_small_cnn(tmp_path, write_config):
    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    x = (rng.integers(0, 60, (60, 8, 8)) + 180 * y[:, None, None] * (np.arange(8) < 4)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    model = ("model: {type: sequential, layers: [{type: conv2d, out_channels: 4, kernel_size: 3}, {type: relu}, "
             "{type: flatten}, {type: dense, units: 2}]}\n")
    cfg = load_config(write_config(f"data: {{name: npz, path: {tmp_path / 'd.npz'}}}\n{model}"
                                   + TRAIN.split("\n", 1)[1]))
    run = train(cfg, runs_dir=tmp_path / "runs", progress=False, plots=False)
    assert run.summary["status"] == "completed" and cfg["loss"]["name"] == "cross_entropy"


# ---------------------------------------------------------------- a folder of PNG images


def test_an_image_folder_is_uint8_nchw_with_classes_from_the_folder_names(tmp_path):
    root = image_folder(tmp_path / "pics", sizes=((8, 8), (12, 10)))
    ds = load_dataset("images", path=str(root), size=[6, 6])
    assert ds.classes == ["dark", "light"] and ds.x_train.dtype == np.uint8 and ds.input_shape == (1, 6, 6)
    assert len(ds.x_train) + len(ds.x_test) == 24 and np.bincount(ds.y_test).tolist() == [3, 2]
    assert ds.x_train[ds.y_train == 0].mean() < 80 < 180 < ds.x_train[ds.y_train == 1].mean()
    rgb = load_dataset("images", path=str(image_folder(tmp_path / "rgb", rgb=True)), size=None, grayscale=False)
    assert rgb.input_shape == (3, 8, 8)


def test_an_image_folder_trains_a_small_mlp(tmp_path, write_config):
    root = image_folder(tmp_path / "pics")
    cfg = load_config(write_config(f"data: {{name: images, path: {root}, size: [8, 8], normalize: standardize}}\n"
                                   + TRAIN))
    run = train(cfg, runs_dir=tmp_path / "runs", progress=False, plots=False)
    assert run.summary["status"] == "completed" and run.summary["final"]["test_acc"] is not None


def test_area_resampling_matches_a_naive_loop_over_pixel_overlaps():
    image = np.random.default_rng(0).random((2, 7, 5))

    def naive(img, h, w):
        out = np.zeros((img.shape[0], h, w))
        sh, sw = img.shape[1] / h, img.shape[2] / w
        for i in range(h):
            for j in range(w):
                for a in range(img.shape[1]):
                    for b in range(img.shape[2]):
                        dy = max(0.0, min((i + 1) * sh, a + 1) - max(i * sh, a))
                        dx = max(0.0, min((j + 1) * sw, b + 1) - max(j * sw, b))
                        out[:, i, j] += img[:, a, b] * dy * dx / (sh * sw)
        return out

    for size in ((3, 2), (7, 5), (10, 11)):
        np.testing.assert_allclose(custom.resize(image, size), naive(image, *size), atol=1e-12)
    blocks = np.arange(16.0).reshape(1, 4, 4)
    np.testing.assert_allclose(custom.resize(blocks, (2, 2))[0], [[2.5, 4.5], [10.5, 12.5]])


# ---------------------------------------------------------------- cross-validation through the CLI


@needs_task_for
def test_dlb_cv_runs_on_a_csv_regression(tmp_path, write_config):
    path = linear_csv(tmp_path / "linear.csv", n=200)
    config = write_config(f"data: {{name: csv, path: {path}, target: y}}\n" + TRAIN)
    result = dlb("cv", config, "--kfold", "3", "--jobs", "1", "--no-report", "--runs-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "held-out loss:" in result.stdout and "3 folds" in result.stdout
    (folder,) = (tmp_path / "r").iterdir()
    assert json.loads((folder / "summary.json").read_text())["strategy"] == "kfold"


def test_dlb_cv_runs_on_an_image_folder_with_stratified_folds(tmp_path, write_config):
    root = image_folder(tmp_path / "pics")
    result = dlb("cv", write_config(f"data: {{name: images, path: {root}, size: [8, 8]}}\n" + TRAIN),
                 "--kfold", "3", "--jobs", "1", "--no-report", "--runs-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "held-out acc:" in result.stdout and "3 folds" in result.stdout
    (folder,) = (tmp_path / "r").iterdir()
    assert json.loads((folder / "summary.json").read_text())["strategy"] == "stratified"


def test_dlb_data_list_shows_the_three_file_sets():
    result = dlb("data", "list")
    assert result.returncode == 0 and all(f"│ {name} " in result.stdout for name in ("csv", "npz", "images"))


# ---------------------------------------------------------------- bad files: one line each


def test_an_unreadable_png_is_exit_3_and_one_line_naming_it(tmp_path, write_config):
    root = image_folder(tmp_path / "pics", n=3)
    (root / "dark" / "99.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = dlb("train", write_config(f"data: {{name: images, path: {root}}}\n"), "--runs-dir", tmp_path / "r")
    assert result.returncode == 3 and result.stderr.count("\n") == 1
    assert f"{root / 'dark' / '99.png'}: is not a readable PNG image" in result.stderr


def test_a_bad_key_value_is_a_config_error_before_any_file_is_read(tmp_path, write_config):
    for text, key in (("data: {name: images, path: nowhere, size: [0, 8]}", "data.size.0"),
                      ("data: {name: csv, path: nowhere.csv, target: y, delimiter: ';;'}", "data.delimiter"),
                      ("data: {name: npz, path: nowhere.npz, test_fraction: 1.0}", "data.test_fraction")):
        with pytest.raises(ConfigError) as err:
            load_config(write_config(text + "\n"))
        assert err.value.path == key and "\n" not in str(err.value)


@needs_task_for
def test_a_csv_config_with_task_auto_needs_its_file_to_pick_the_loss(tmp_path, write_config):
    with pytest.raises(DataError) as err:
        load_config(write_config(f"data: {{name: csv, path: {tmp_path / 'no.csv'}, target: y}}\n"))
    assert one_line(err) == f"{tmp_path / 'no.csv'}: no such file"
    cfg = load_config(write_config(f"data: {{name: csv, path: {tmp_path / 'no.csv'}, target: y, task: regression}}"))
    assert cfg["loss"]["name"] == "mse"  # an explicit task reads nothing


def test_a_missing_target_or_feature_column_is_a_config_error_with_a_did_you_mean(tmp_path):
    path = str(linear_csv(tmp_path / "d.csv", n=20))
    with pytest.raises(ConfigError) as err:
        load_dataset("csv", path=path, target="Y")
    assert err.value.path == "data.target" and f"{path} has no column 'Y'; did you mean 'y'?" in one_line(err)
    with pytest.raises(ConfigError) as err:
        load_dataset("csv", path=path, target="y", features=["x", "xx"])
    assert err.value.path == "data.features.1" and "did you mean 'x'?" in one_line(err)
    with pytest.raises(ConfigError) as err:
        load_dataset("csv", path=path, target="y", features=["y"])
    assert err.value.path == "data.features.0" and "is the target" in one_line(err)


def test_a_ragged_csv_row_is_one_line_naming_its_line(tmp_path):
    path = write_text(tmp_path / "d.csv", "x1,x2,y\n1,2,a\n\n3,4,b\n5,6\n7,8,a\n")
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(path), target="y")
    assert one_line(err) == f"{path}: line 5 has 2 fields, the header has 3"


@pytest.mark.parametrize("value,problem", [("abc", "'abc' is not a number"), ("", "'' is not a number"),
                                           ("nan", "'nan' is not a finite number"),
                                           ("-inf", "'-inf' is not a finite number")])
def test_a_bad_feature_value_names_its_column_and_line(tmp_path, value, problem):
    path = write_text(tmp_path / "d.csv", "x1,x2,y\n1,2,a\n3,4,b\n5,6,a\n" + f"7,{value},b\n")
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(path), target="y")
    assert one_line(err).startswith(f"{path}: line 5, column 'x2': {problem}")


def test_a_classification_target_with_one_class_is_a_data_error(tmp_path):
    path = write_text(tmp_path / "d.csv", "x,y\n" + "".join(f"{i},cat\n" for i in range(10)))
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(path), target="y")
    assert one_line(err) == f"{path}: the target 'y' has one class only ('cat'); classification needs two or more"


def test_a_non_numeric_regression_target_and_an_empty_file_are_data_errors(tmp_path):
    path = write_text(tmp_path / "d.csv", "x,y\n1,2.5\n2,oops\n3,1.5\n")
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(path), target="y", task="regression")
    assert "line 3, column 'y': 'oops' is not a number (task: regression)" in one_line(err)
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(write_text(tmp_path / "e.csv", "")), target="y")
    assert "is empty; expected a header row" in one_line(err)
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(tmp_path / "missing.csv"), target="y")
    assert one_line(err) == f"{tmp_path / 'missing.csv'}: no such file"


def test_a_csv_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = linear_csv(tmp_path / "d.csv", n=20)
    monkeypatch.setattr(custom, "MAX_CSV_BYTES", 100)
    with pytest.raises(DataError) as err:
        load_dataset("csv", path=str(path), target="y")
    assert one_line(err).startswith(f"{path}: is 0.0 GB; CSV files of up to 1e-07 GB are read")


def test_npz_mismatched_lengths_and_missing_arrays_are_one_line_each(tmp_path):
    cases = {"len": dict(x_train=np.zeros((5, 2)), y_train=np.zeros(4)),
             "name": dict(X_train=np.zeros((5, 2)), y_train=np.zeros(5)),
             "half": dict(x_train=np.zeros((5, 2)), y_train=np.arange(5) % 2, x_test=np.zeros((2, 2))),
             "objects": dict(x_train=np.zeros((5, 2)), y_train=np.array([1, "a", 2, 3, 4], dtype=object)),
             "shape": dict(x_train=np.zeros((5, 2)), y_train=np.arange(5) % 2, x_test=np.zeros((2, 3)),
                           y_test=np.arange(2)),
             "dtypes": dict(x_train=np.zeros((5, 2), np.uint8), y_train=np.arange(5) % 2, x_test=np.zeros((2, 2)),
                            y_test=np.arange(2))}
    expected = {"len": "x_train has 5 samples but y_train has 4",
                "name": "has no array 'x_train'; did you mean 'X_train'?",
                "half": "has x_test but no y_test; save both or neither",
                "objects": "y_train holds Python objects", "shape": "x_test samples are (3,), x_train samples (2,)",
                "dtypes": "x_train is uint8 but x_test float64; uint8 images are scaled to [0, 1]"}
    for case, arrays in cases.items():
        np.savez(tmp_path / f"{case}.npz", **arrays)
        with pytest.raises(DataError) as err:
            load_dataset("npz", path=str(tmp_path / f"{case}.npz"))
        assert one_line(err).startswith(f"{tmp_path / case}.npz: {expected[case]}"), case
    write_text(tmp_path / "text.npz", "not a zip")
    with pytest.raises(DataError) as err:
        load_dataset("npz", path=str(tmp_path / "text.npz"))
    assert "is not an .npz file" in one_line(err)


def test_npz_nan_features_and_an_npz_bigger_than_memory_are_refused(tmp_path, monkeypatch):
    x = np.zeros((6, 2))
    x[4, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=x, y_train=np.arange(6) % 2)
    with pytest.raises(DataError) as err:
        load_dataset("npz", path=str(tmp_path / "nan.npz"))
    assert one_line(err) == (f"{tmp_path / 'nan.npz'}: x_train has NaN, infinite or beyond-float32 values "
                             "(|x| > 3.4e38; sample 4)")
    np.savez(tmp_path / "big.npz", x_train=np.zeros((100, 10)), y_train=np.arange(100) % 2)
    monkeypatch.setattr("dlbasics.nn.footprint.available_memory", lambda: 1000)
    with pytest.raises(DataError) as err:
        load_dataset("npz", path=str(tmp_path / "big.npz"))
    assert one_line(err) == f"{tmp_path / 'big.npz'}: needs 8.8 kB of memory, 1 kB is available"


def test_image_folders_missing_without_classes_or_pngs_or_of_mixed_sizes_are_one_line_each(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("images", path=str(tmp_path / "nowhere"))
    assert one_line(err) == f"{tmp_path / 'nowhere'}: no such folder"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        load_dataset("images", path=str(tmp_path / "empty"))
    assert one_line(err).startswith(f"{tmp_path / 'empty'}: has no class folders")
    (tmp_path / "nopng" / "cat").mkdir(parents=True)
    (tmp_path / "nopng" / "cat" / "a.jpg").write_bytes(b"")
    with pytest.raises(DataError) as err:
        load_dataset("images", path=str(tmp_path / "nopng"))
    assert one_line(err).startswith(f"{tmp_path / 'nopng' / 'cat'}: has no .png images")
    root = image_folder(tmp_path / "mixed", n=2, sizes=((8, 8), (9, 8)))
    with pytest.raises(DataError) as err:
        load_dataset("images", path=str(root), size=None)
    assert one_line(err) == (f"{root / 'dark' / '01.png'}: is 9x8, the first image ({root / 'dark' / '00.png'}) "
                             "is 8x8; set data.size to resample them all")
    one = image_folder(tmp_path / "one", n=2)
    for png in (one / "light").iterdir():
        png.unlink()
    (one / "light").rmdir()
    with pytest.raises(DataError) as err:
        load_dataset("images", path=str(one))
    assert "has one class folder only ('dark')" in one_line(err)


def test_a_value_beyond_float32_is_refused_naming_its_line_and_column(tmp_path):
    (tmp_path / "big.csv").write_text("x,y\n1.0,0\n1e39,1\n2.0,0\n3.0,1\n")
    with pytest.raises(DataError, match=r"line 3, column 'x': '1e39' is not a finite number within float32"):
        load_dataset("csv", path=str(tmp_path / "big.csv"), target="y")
