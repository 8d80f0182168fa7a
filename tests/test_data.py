"""Data sets: where MNIST-format files are found, download on first use, splits, synthetic sets, mnist-mini."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import SHARED_MNIST
from dlbasics.data import datasets, download
from dlbasics.data.datasets import DataError, find_idx_dataset, load_dataset, make_splits
from dlbasics.data.idx import write_idx
from dlbasics.data.splits import allocate, train_val_split

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def fake_mnist(folder, n_train=30, n_test=10, value=7, gz=True):
    """Four small IDX files in MNIST's format; every pixel of the images equals ``value``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = [np.full((n_train, 28, 28), value, np.uint8), np.arange(n_train, dtype=np.uint8) % 10,
              np.full((n_test, 28, 28), value, np.uint8), np.arange(n_test, dtype=np.uint8) % 10]
    for name, arr in zip(NAMES, arrays):
        write_idx(folder / f"{name}{suffix}", arr)
    return folder


@pytest.fixture
def no_system_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIR", tmp_path / "usr-share-datasets")
    return tmp_path / "usr-share-datasets"


def test_resolution_order_root_env_cache_system(tmp_path, monkeypatch, no_system_dir):
    system = fake_mnist(no_system_dir / "mnist", value=4)
    cache = fake_mnist(tmp_path / "cache" / "dlbasics" / "mnist", value=3)
    env = fake_mnist(tmp_path / "env" / "mnist", value=2, gz=False)
    root = fake_mnist(tmp_path / "root", value=1)
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    assert find_idx_dataset("mnist", str(root)) == root
    assert find_idx_dataset("mnist") == env
    monkeypatch.delenv("DLB_DATA_DIR")
    assert find_idx_dataset("mnist") == cache
    for f in cache.iterdir():
        f.unlink()
    assert find_idx_dataset("mnist") == system
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (30, 1, 28, 28) and int(ds.x_train.max()) == 4 and ds.source == str(system)


def test_an_incomplete_folder_is_skipped(tmp_path, monkeypatch, no_system_dir):
    env = fake_mnist(tmp_path / "env" / "mnist")
    (env / f"{NAMES[0]}.gz").unlink()
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    assert find_idx_dataset("mnist") is None


def test_missing_data_is_downloaded_into_the_cache_from_a_mirror(tmp_path, monkeypatch, no_system_dir, site):
    served = fake_mnist(site.root / "mirror", value=9)
    md5s = {f"{n}.gz": download.md5sum(served / f"{n}.gz") for n in NAMES}
    monkeypatch.setitem(download.SOURCES, "mnist", {"mirrors": ["http://unused.invalid/"], "files": md5s})
    monkeypatch.setenv("DLB_MIRRORS_MNIST", site.url + "mirror/")
    ds = load_dataset("mnist", progress=False)
    assert ds.source == str(tmp_path / "cache" / "dlbasics" / "mnist")
    assert int(ds.x_test.max()) == 9 and len(site.requests) == 4
    load_dataset("mnist", progress=False)  # now found in the cache: no new request
    assert len(site.requests) == 4


def test_offline_without_data_is_a_clear_error(tmp_path, monkeypatch, no_system_dir):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setenv("DLB_MIRRORS_MNIST", "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(DataError) as info:
        load_dataset("mnist", progress=False)
    message = str(info.value)
    assert "could not download" in message and "\n" not in message
    assert "searched, in order:" in message and "DLB_DATA_DIR" in message and "data.root" in message


def test_a_corrupted_local_file_is_a_data_error_naming_it(tmp_path, monkeypatch, no_system_dir):
    env = fake_mnist(tmp_path / "env" / "mnist")
    (env / f"{NAMES[1]}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x1e" + b"\x01" * 5))
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match=NAMES[1]):
        load_dataset("mnist")


def test_mnist_mini_is_a_stratified_real_subset():
    ds = load_dataset("mnist-mini")
    assert ds.x_train.shape == (10000, 1, 28, 28) and ds.x_test.shape == (2000, 1, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.n_classes == 10
    counts = np.bincount(ds.y_train, minlength=10)
    mnist_share = np.array([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]) / 60000
    np.testing.assert_allclose(counts / 10000, mnist_share, atol=1e-4)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="real MNIST not available here")
def test_mnist_mini_images_are_the_real_mnist_images():
    from dlbasics.data.idx import read_idx

    with np.load(datasets.resources.files("dlbasics.data") / "mnist_mini.npz") as z:
        index, x = z["train_index"], z["x_train"]
    full = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(full[index], x)


def test_stratified_validation_split_keeps_class_proportions():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    tr, va = train_val_split(len(y), 0.2, np.random.default_rng(0), labels=y)
    assert len(va) == 20 and len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
    assert np.bincount(y[va]).tolist() == [10, 6, 3, 1]


def test_time_ordered_split_takes_the_last_block():
    tr, va = train_val_split(10, 0.3, np.random.default_rng(0), ordered=True)
    assert tr.tolist() == list(range(7)) and va.tolist() == [7, 8, 9]


def test_allocate_is_exact_and_proportional():
    assert allocate(np.array([5, 3, 2]), 5).tolist() == [3, 1, 1]
    assert allocate(np.array([1, 1, 1]), 2).sum() == 2


def test_images_are_scaled_to_unit_interval_and_standardize_uses_training_split_only():
    ds = load_dataset("mnist-mini")
    s = make_splits(ds, 0.1, np.random.default_rng(0), np.float32)
    assert s.x_train.dtype == np.float32 and s.x_train.min() == 0.0 and s.x_train.max() == 1.0
    z = make_splits(ds, 0.1, np.random.default_rng(0), np.float32, normalize="standardize")
    assert abs(float(z.x_train.mean())) < 1e-4 and float(z.x_train.std()) == pytest.approx(1.0, abs=1e-3)
    assert z.preprocessing.mean[0] == pytest.approx(float(s.x_train.mean(dtype=np.float64)), rel=1e-6)


def test_sequences_of_several_channels_are_standardized_per_position_and_channel():
    """(N, C, L) inputs (conv1d data of C > 1 channels): one mean and std per (channel, position), as for vectors;
    the statistics once broadcast as (1, C*L) against (N, C, L) and failed."""
    from dlbasics.data.preprocess import Preprocessing

    x = np.random.default_rng(0).normal(3.0, 2.0, (40, 2, 5))
    pre, z = Preprocessing.fit(x, np.float64, "standardize")
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(Preprocessing.from_dict(pre.to_dict()).apply(x[:3]), z[:3], atol=1e-12)


@pytest.mark.parametrize("name,task,x_shape", [("linear", "regression", (1,)), ("spirals", "classification", (2,)),
                                               ("moons", "classification", (2,)), ("sine", "regression", (20,))])
def test_synthetic_sets_are_seeded(name, task, x_shape):
    a = load_dataset(name, np.random.default_rng(5), n_train=50, n_test=20)
    b = load_dataset(name, np.random.default_rng(5), n_train=50, n_test=20)
    c = load_dataset(name, np.random.default_rng(6), n_train=50, n_test=20)
    assert a.task == task and a.input_shape == x_shape and len(a.x_test) == 20
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_linear_data_follows_y_equals_4x_minus_2():
    ds = load_dataset("linear", np.random.default_rng(0), n_train=5000, n_test=10, noise=0.5)
    w, b = np.polyfit(ds.x_train[:, 0], ds.y_train[:, 0], 1)
    assert w == pytest.approx(4.0, abs=0.05) and b == pytest.approx(-2.0, abs=0.06)


def test_sine_series_is_time_ordered_windows():
    ds = load_dataset("sine", np.random.default_rng(0), n_train=30, n_test=10, window=5, noise=0.0)
    assert ds.ordered
    np.testing.assert_allclose(ds.x_train[1, :4], ds.x_train[0, 1:])
    np.testing.assert_allclose(ds.x_train[1, -1], ds.y_train[0, 0])
    np.testing.assert_allclose(ds.x_test[0, -1], ds.y_train[-1, 0])


def test_labels_out_of_range_are_a_data_error(tmp_path, monkeypatch, no_system_dir):
    env = fake_mnist(tmp_path / "env" / "mnist")
    write_idx(env / f"{NAMES[3]}.gz", np.array([12] * 10, np.uint8))
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match="labels up to 12"):
        load_dataset("mnist")


def _mnist_sources(monkeypatch, folder):
    """Point the MNIST source's MD5s at the fake files in ``folder`` (so that they are the good copy)."""
    files = {f"{n}.gz": download.md5sum(folder / f"{n}.gz") for n in NAMES}
    monkeypatch.setitem(download.SOURCES, "mnist", {**download.SOURCES["mnist"], "files": files})
    return files


def test_dlb_data_download_of_a_data_set_already_present_says_where_and_fetches_nothing(tmp_path, monkeypatch):
    from conftest import dlb

    env = fake_mnist(tmp_path / "env" / "mnist")
    _mnist_sources(monkeypatch, env)
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("DLB_MIRRORS_MNIST", "http://127.0.0.1:9/")  # nothing listens: a download would fail
    out = dlb("data", "download", "mnist")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (f"mnist: already present at {env} (4 of 4 files checked against their MD5s; "
                                  "pass --root to download a copy elsewhere)")


def test_dlb_data_download_names_a_damaged_copy_and_downloads_a_damaged_cache_again(tmp_path, monkeypatch, site):
    from conftest import dlb

    good = fake_mnist(tmp_path / "good")
    files = _mnist_sources(monkeypatch, good)
    bad = fake_mnist(tmp_path / "env" / "mnist", value=9)  # the same names, other bytes
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("DLB_MIRRORS_MNIST", site.mirror("m", {f: (good / f).read_bytes() for f in files}))
    out = dlb("data", "download", "mnist")
    assert out.returncode == 3 and out.stderr.count("\n") == 1, out.stderr
    assert f"{bad / NAMES[0]}.gz: fails its MD5 check" in out.stderr and site.requests == []
    monkeypatch.delenv("DLB_DATA_DIR")
    cache = fake_mnist(tmp_path / "cache" / "dlbasics" / "mnist", value=9)  # conftest's XDG_CACHE_HOME
    out = dlb("data", "download", "mnist")
    assert out.returncode == 0, out.stderr
    assert all(download.md5sum(cache / f) == md5 for f, md5 in files.items())  # repaired in place
    assert len(site.requests) == 2  # the two image files (value 9); the labels were right and stay


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="real MNIST not available here")
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_metadata_split_sizes_equal_the_splits_training_makes(name, monkeypatch, write_config):
    from dlbasics import load_config
    from dlbasics.experiments.cv import with_fold
    from dlbasics.runner import _split_args, data_shapes

    folder = SHARED_MNIST if name == "mnist" else datasets.SYSTEM_DATA_DIR / name
    if not folder.is_dir():
        pytest.skip(f"{name} not available here")
    monkeypatch.setenv("DLB_DATA_DIR", str(folder.parent))
    ds = load_dataset(name, progress=False)
    meta = datasets.DATASETS[name].meta
    assert list(np.bincount(ds.y_train)) == meta["train_counts"] and len(ds.y_test) == meta["n_test"]
    assert ds.input_shape == tuple(meta["input_shape"])
    base = load_config(write_config(f"data: {{name: {name}}}\n"))
    cases = [[], ["data.train_size=20000"], ["data.train_size=1234", "data.val_split=0.25"], ["data.val_split=0"]]
    configs = [load_config(write_config(f"data: {{name: {name}}}\n"), c) for c in cases]
    configs += [with_fold(base, 5, 2), with_fold(load_config(write_config(f"data: {{name: {name}}}\n"),
                                                            ["data.train_size=999"]), 3, 0)]
    for cfg in configs:
        splits = make_splits(ds, normalize=cfg["data"]["normalize"], **_split_args(cfg))
        sizes = (len(splits.x_train), len(splits.x_val), len(splits.x_test))
        shapes = data_shapes(cfg, progress=False)  # counted from the local copy's labels
        assert (shapes.n_train, shapes.n_val, shapes.n_test) == sizes, cfg["data"]
        with monkeypatch.context() as offline:  # no copy anywhere: the published counts stand in
            offline.setattr(datasets, "find_idx_dataset", lambda *args, **kwargs: None)
            shapes = data_shapes(cfg, progress=False)
        assert (shapes.n_train, shapes.n_val, shapes.n_test) == sizes, cfg["data"]


def test_shapes_of_a_local_copy_of_another_size_are_counted_not_taken_from_the_published_sizes(
        tmp_path, monkeypatch, no_system_dir, write_config):
    from dlbasics import load_config
    from dlbasics.runner import _split_args, data_shapes

    fake_mnist(tmp_path / "env" / "mnist", n_train=600, n_test=70)
    monkeypatch.setenv("DLB_DATA_DIR", str(tmp_path / "env"))
    cfg = load_config(write_config("data: {name: mnist, val_split: 0.1}\n"))
    splits = make_splits(load_dataset("mnist", progress=False), **_split_args(cfg))
    shapes = data_shapes(cfg, progress=False)
    assert (shapes.n_train, shapes.n_val, shapes.n_test) == (540, 60, 70)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (540, 60, 70)
    (tmp_path / "env" / "mnist" / f"{NAMES[2]}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 4))
    with pytest.raises(DataError, match=NAMES[2]):
        data_shapes(cfg, progress=False)
