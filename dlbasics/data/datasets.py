"""Data sets by config name, where MNIST files are found, and the train / validation / test arrays a run uses.

Image sets are NCHW: ``(N, 1, 28, 28)``, pixels scaled to [0, 1]. Labels are integer classes. Regression
targets are ``(N, 1)`` floats. The test set is kept apart: a run evaluates it once, at the end.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..config.fields import Bool, Choice, Num, Optional, Section, Spec, Str, section_from_signature
from . import synthetic
from .preprocess import Preprocessing
from .splits import train_val_split, validation_size

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


class DataError(RuntimeError):
    """A data set cannot be found, read or downloaded: one line saying where it looked and what to do."""


@dataclass
class Dataset:
    """Raw arrays of one data set, before splitting and scaling."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" or "regression"
    n_classes: int | None = None
    ordered: bool = False  # a time series: splits keep time order
    source: str = ""  # where it came from (a folder, "package", "generated")
    classes: list[str] | None = None
    features: list[str] | None = None  # column names of tabular data (a CSV): what predict must read

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of the arrays (16 hex digits): a run records it, and a resume or an evaluation that would see
        other data (a CSV edited since, a different MNIST copy) refuses instead of mixing them."""
        digest = hashlib.blake2b(digest_size=8)
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.data)
        return digest.hexdigest()

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "classification" else int(self.y_train.shape[1])


@dataclass
class Splits:
    """Float arrays a run trains, validates and tests on (x in the run's dtype, y int64 or the run's dtype)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    dataset: Dataset
    preprocessing: Preprocessing | None = None  # what turned the raw arrays into these (saved with the run)


# ---------------------------------------------------------------- where IDX data sets live


def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/dlbasics`` or ``~/.cache/dlbasics``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlbasics"


def candidate_dirs(name: str, root: str | None = None) -> list[Path]:
    """Folders searched in order: ``data.root``, ``$DLB_DATA_DIR/<name>``, the cache, ``/usr/share/datasets``."""
    dirs = [Path(root).expanduser()] if root else []
    if os.environ.get("DLB_DATA_DIR"):
        dirs.append(Path(os.environ["DLB_DATA_DIR"]).expanduser() / name)
    dirs += [cache_dir() / name, SYSTEM_DATA_DIR / name]
    return dirs


def find_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def find_idx_dataset(name: str, root: str | None = None) -> Path | None:
    """The first candidate folder holding all four IDX files (gzip or raw), or None."""
    for folder in candidate_dirs(name, root):
        if all(find_file(folder, stem) for pair in IDX_FILES.values() for stem in pair):
            return folder
    return None


def load_idx_dataset(name: str, root: str | None = None, download: bool = True, progress: bool = True,
                     image_shape: tuple[int, int] = (28, 28)) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Path]:
    """Find (or download into ``root`` or the cache) and read an MNIST-format data set.

    Each split is images ``(N, *image_shape)`` and labels ``(N,)``; files whose headers say otherwise are
    rejected (DataError) before their data is read.
    """
    from .download import SOURCES, DownloadError, download_files, mirrors_for
    from .idx import IDXError, load_idx_pair

    folder = find_idx_dataset(name, root)
    if folder is None:
        searched = ", ".join(map(str, candidate_dirs(name, root)))
        where = (f"put the four IDX files (.gz or raw) in one of these, set DLB_DATA_DIR to a folder holding "
                 f"{name}/, or data.root to the folder itself")
        if not download:
            raise DataError(f"{name} not found (searched, in order: {searched}); {where}")
        folder = Path(root).expanduser() if root else cache_dir() / name
        try:
            download_files(SOURCES[name]["files"], mirrors_for(name), folder, progress=progress)
        except DownloadError as err:
            raise DataError(f"{name} not found (searched, in order: {searched}) and the download failed "
                            f"({' '.join(str(err).split())[:300]}); {where}") from None
    arrays = {}
    for split, (images, labels) in IDX_FILES.items():
        try:
            arrays[split] = load_idx_pair(find_file(folder, images), find_file(folder, labels), image_shape)
        except IDXError as err:
            raise DataError(f"{err} (delete it to download again, or point DLB_DATA_DIR elsewhere)") from None
    return arrays, folder


def local_idx_facts(name: str, root: str | None = None,
                    image_shape: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, int] | None:
    """(training labels, test samples) of an MNIST-format data set found on disk (the first folder of
    :func:`candidate_dirs` holding it), reading only the headers and the training labels (60 KB for MNIST), not
    the images; None when no copy is found. A local copy may have any number of samples, so shapes-only commands
    (`dlb model`, `train --dry-run`, `schedule`) count them rather than trust the published sizes. DataError
    names a file whose header is bad."""
    from .idx import IDXError, read_idx, read_idx_header

    folder = find_idx_dataset(name, root)
    if folder is None:
        return None
    counts = []
    try:
        for split, (images, labels) in IDX_FILES.items():
            image_path, label_path = find_file(folder, images), find_file(folder, labels)
            dims, _ = read_idx_header(image_path)
            if len(dims) != 3 or dims[1:] != tuple(image_shape):
                raise IDXError(f"{image_path}: expected images of shape (N, {image_shape[0]}, {image_shape[1]}), "
                               f"header claims {dims}")
            label_dims, _ = read_idx_header(label_path)
            if label_dims != (dims[0],):
                raise IDXError(f"{label_path}: {label_dims} labels for the {dims[0]} images of {image_path}")
            counts.append(dims[0])
            if split == "train":
                train_labels = read_idx(label_path, shape=(dims[0],))
    except IDXError as err:
        raise DataError(f"{err} (delete it to download again, or point DLB_DATA_DIR elsewhere)") from None
    return train_labels.astype(np.int64), counts[1]


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set: ``load(rng, progress, **params) -> Dataset``, its task and its config keys.

    The config keys of a data set are the keyword parameters of ``load`` (and of ``generator`` for the
    synthetic sets), with their defaults; ``constraints`` gives each one's allowed range. ``task`` is
    ``"auto"`` for a set whose task the config and its file decide (``csv``, ``npz``): ``task_from(data keys)``
    tells which, and :meth:`task_for` asks it.
    """

    load: Callable[..., Dataset]
    task: str
    constraints: dict[str, Spec] = field(default_factory=dict)
    doc: str = ""
    generator: Callable[..., Any] | None = None
    ordered: bool = False  # a time series: splits and folds must keep time order
    #: what shape-only commands need without the files: input_shape, n_classes, train_counts (per class), n_test
    meta: dict[str, Any] | None = None
    task_from: Callable[[Mapping[str, Any]], str] | None = None

    def task_for(self, params: Mapping[str, Any]) -> str:
        """The task of this set under a config's ``data`` keys: ``task``, or what ``task_from`` reads."""
        return self.task if self.task_from is None else self.task_from(params)

    def section(self) -> Section:
        fields: dict[str, Spec] = {}
        for func in (self.load, self.generator):
            if func is not None:
                names = inspect.signature(func).parameters
                own = {k: v for k, v in self.constraints.items() if k in names}
                fields.update(section_from_signature(func, own, skip=("rng", "progress", "n", "params")).fields)
        return Section(fields, doc=self.doc)


def _images(name: str, classes: list[str] | None = None) -> Callable[..., Dataset]:
    def load(rng: np.random.Generator, progress: bool = True, root: str | None = None) -> Dataset:
        arrays, folder = load_idx_dataset(name, root, progress=progress)
        (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
        for split, (_, labels) in arrays.items():  # load_idx_dataset checked the shapes: (N, 28, 28), (N,)
            if labels.size and int(labels.max()) > 9:
                raise DataError(f"{folder}: the {split} files are not {name} (labels up to {int(labels.max())}; "
                                f"expected 0-9)")
        return Dataset(name, xtr[:, None], ytr, xte[:, None], yte, "classification", 10, source=str(folder),
                       classes=classes)
    return load


def _mnist_mini(rng: np.random.Generator, progress: bool = True) -> Dataset:
    with resources.files("dlbasics.data").joinpath("mnist_mini.npz").open("rb") as fh, np.load(fh) as z:
        arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    return Dataset("mnist-mini", arrays["x_train"][:, None], arrays["y_train"], arrays["x_test"][:, None],
                   arrays["y_test"], "classification", 10, source="package (dlbasics/data/mnist_mini.npz)")


def _synthetic(name: str, generate: Callable, task: str, ordered: bool = False) -> Callable[..., Dataset]:
    def load(rng: np.random.Generator, progress: bool = True, n_train: int = 1000, n_test: int = 1000,
             **params: Any) -> Dataset:
        x, y = generate(rng, n_train + n_test, **params)
        if not ordered:  # generators emit classes in a fixed cycle; shuffle so train/test mix them
            order = rng.permutation(len(x))
            x, y = x[order], y[order]
        n_classes = int(y.max()) + 1 if task == "classification" else None
        return Dataset(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], task, n_classes, ordered=ordered,
                       source="generated from the seed")
    return load


def _linear(rng: np.random.Generator, progress: bool = True, n_train: int = 1000, n_test: int = 1000,
            outliers: dict[str, Any] | None = None, **params: Any) -> Dataset:
    """The linear set, with ``outliers`` (fraction, magnitude, test) corrupting targets after the draw: those of
    the training set (training and validation splits), and of the test set too only with ``test: true``, so a
    clean test error measures the distance to the true line y = 4x - 2."""
    ds = _synthetic("linear", synthetic.linear, "regression")(rng, progress, n_train, n_test, **params)
    if outliers and outliers["fraction"] > 0:
        ds.y_train, _ = synthetic.corrupt_targets(ds.y_train, rng, outliers["fraction"], outliers["magnitude"])
        if outliers["test"]:
            ds.y_test, _ = synthetic.corrupt_targets(ds.y_test, rng, outliers["fraction"], outliers["magnitude"])
    return ds


_OUTLIERS = Optional(Section({
    "fraction": Num(0.1, ge=0.0, le=1.0, doc="fraction of the targets corrupted"),
    "magnitude": Num(20.0, doc="added to each corrupted target (one-sided gross errors)"),
    "test": Bool(False, doc="corrupt the test set too (default: training set only, so test error is clean)"),
}), doc="gross errors in the targets, drawn from the seed (null: none)")

#: the synthetic sets are toys: a million samples is already more than any of them needs (and stays in memory)
MAX_SYNTHETIC = 1_000_000
_SIZE = {"n_train": Num(integer=True, ge=2, le=MAX_SYNTHETIC, doc="training samples"),
         "n_test": Num(integer=True, ge=1, le=MAX_SYNTHETIC, doc="test samples")}


def _your_own() -> dict[str, DatasetEntry]:
    """csv, npz and images: the readers live in custom.py (which imports Dataset and DataError from here)."""
    from . import custom

    return {
        "csv": DatasetEntry(custom.load_csv, "auto", custom.CSV_KEYS, "your own CSV file with a header row: "
                            "data.target from the numeric data.features (classification or regression)",
                            task_from=custom.csv_task),
        "npz": DatasetEntry(custom.load_npz, "auto", custom.NPZ_KEYS, "your own .npz of x_train, y_train (and "
                            "x_test, y_test): vectors or images (classification or regression)",
                            task_from=custom.npz_task),
        "images": DatasetEntry(custom.load_images, "classification", custom.IMAGES_KEYS,
                               "your own folder of PNG images, one sub-folder per class (classification)"),
    }


DATASETS: dict[str, DatasetEntry] = {
    "mnist": DatasetEntry(_images("mnist"), "classification",
                          {"root": Optional(Str(), doc="folder holding the four IDX files")},
                          "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey (CC BY-SA 3.0)",
                          meta={"input_shape": (1, 28, 28), "n_classes": 10, "n_test": 10000,
                                "train_counts": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]}),
    "fashion-mnist": DatasetEntry(_images("fashion-mnist", FASHION_CLASSES), "classification",
                                  {"root": Optional(Str(), doc="folder holding the four IDX files")},
                                  "Zalando's Fashion-MNIST, 60,000 train / 10,000 test, 28x28 grey (MIT)",
                                  meta={"input_shape": (1, 28, 28), "n_classes": 10, "n_test": 10000,
                                        "train_counts": [6000] * 10}),
    "mnist-mini": DatasetEntry(_mnist_mini, "classification", {},
                               "a stratified real subset of MNIST shipped with dlbasics: 10,000 train / 2,000 test"),
    "linear": DatasetEntry(_linear, "regression",
                           {**_SIZE, "outliers": _OUTLIERS, "noise": Num(ge=0.0, doc="std of the Gaussian noise on y"),
                            "x_min": Num(doc="x ~ U(x_min, x_max)"), "x_max": Num(doc="x ~ U(x_min, x_max)")},
                           "y = 4x - 2 + noise: the optimizer assignment (regression)", synthetic.linear),
    "spirals": DatasetEntry(_synthetic("spirals", synthetic.spirals, "classification"), "classification",
                            {**_SIZE, "n_classes": Num(integer=True, ge=2, le=1000, doc="number of arms (classes)"),
                             "noise": Num(ge=0.0, doc="std of the angular noise"),
                             "turns": Num(gt=0.0, doc="turns of each arm from centre to rim")},
                            "interleaved 2-D spirals (classification)", synthetic.spirals),
    "moons": DatasetEntry(_synthetic("moons", synthetic.moons, "classification"), "classification",
                          {**_SIZE, "noise": Num(ge=0.0, doc="std of the Gaussian noise on x")},
                          "two interleaving half circles (classification)",
                          synthetic.moons),
    "sine": DatasetEntry(_synthetic("sine", synthetic.sine, "regression", ordered=True), "regression",
                         {**_SIZE, "window": Num(integer=True, ge=1, le=10_000, doc="past values per sample"),
                          "period": Num(gt=0.0, doc="period of the main sine, in steps"),
                          "noise": Num(ge=0.0, doc="std of the Gaussian noise"),
                          "layout": Choice(["flat", "sequence"], doc="flat: windows as vectors (N, window); "
                                                                     "sequence: as one-channel sequences (N, 1, "
                                                                     "window) for conv1d")},
                         "a noisy sine time series, windows -> next value (regression, time-ordered)", synthetic.sine,
                         ordered=True),
    **_your_own(),
}


def load_dataset(name: str, rng: np.random.Generator | None = None, progress: bool = True,
                 **params: Any) -> Dataset:
    """Load a registered data set by name (``mnist``, ``mnist-mini``, ``linear``, ...)."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    rng = np.random.default_rng(0) if rng is None else rng
    return DATASETS[name].load(rng, progress=progress, **params)


# ---------------------------------------------------------------- from raw arrays to a run's splits


def subset(n: int, size: int, rng: np.random.Generator, labels: np.ndarray | None = None,
           ordered: bool = False) -> np.ndarray:
    """Sorted indices of ``size`` of ``n`` samples: stratified by ``labels`` (exact class proportions, largest
    remainder), the last ``size`` for a time series (the most recent, next to the block that is predicted, as
    scikit-learn's ``TimeSeriesSplit(max_train_size)``), else uniform. ValueError if size > n."""
    if size > n:
        raise ValueError(f"{size} is more than the {n} training samples of the data set")
    if ordered:
        return np.arange(n - size, n)
    keep, _ = train_val_split(n, 1 - size / n, rng, labels=labels, n_val=n - size) if size < n else (np.arange(n),
                                                                                                      None)
    return keep


def sized_split(n: int, train_size: int, val_split: float, rng: np.random.Generator,
                labels: np.ndarray | None = None, ordered: bool = False,
                where: str = "the data set") -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) indices into ``range(n)`` with exactly ``train_size`` training samples.

    Validation is ``val_split`` of training + validation together (:func:`validation_size`: 1,111 for 10,000
    at 0.1), taken from the samples the training subset leaves when there is room; when fewer remain, it is all
    that remain (``n - train_size``). A stratified subset of ``train_size + n_val`` samples is drawn, then its
    validation split; a time series keeps its most recent ``train_size + n_val`` samples, training block then
    validation block, so every cross-validation fold trains just before its held-out block. ValueError (naming
    "training samples of") when ``train_size > n``, or when validation is asked for and ``train_size = n`` leaves
    none.
    """
    n_val = validation_size(train_size, val_split)
    if train_size > n:
        raise ValueError(f"{train_size} is more than the {n} training samples of {where}")
    if n_val > 0 and train_size >= n:
        raise ValueError(f"{train_size} training samples leave none of the {n} training samples of {where} for "
                         f"validation (val_split {val_split}): at most {n - 1}, or val_split 0")
    n_val = min(n_val, n - train_size)
    keep = subset(n, train_size + n_val, rng, labels, ordered)
    tr, va = train_val_split(len(keep), val_split, rng, labels=None if labels is None else labels[keep],
                             ordered=ordered, n_val=n_val)
    return keep[tr], keep[va]


def split_indices(n: int, labels: np.ndarray | None, ordered: bool, val_split: float, rng: np.random.Generator,
                  train_size: int | None = None, folds: list[dict] | None = None,
                  fold_rngs: list[np.random.Generator] | None = None, bootstrap: float | None = None,
                  bootstrap_rng: np.random.Generator | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The indices into the training set of :func:`make_splits`' training and validation splits, and of its
    held-out fold (None: the official test set). Indices only: with the class counts alone (labels sorted by
    class) the sizes are exactly those of the real data, which is how shape-only commands size a run offline."""
    from .folds import make_folds

    pool = np.arange(n)
    test_idx = None
    for level, spec in enumerate(folds or []):
        level_labels = None if labels is None else labels[pool]
        splits = make_folds(spec["strategy"], len(pool), spec["k"], fold_rngs[level], level_labels, spec["gap"],
                            spec["window"], spec["fraction"])
        if spec["index"] >= len(splits):
            raise ValueError(f"fold index {spec['index']} does not exist: {spec['strategy']} has {len(splits)} folds")
        train_part, held_out = splits[spec["index"]]
        pool, test_idx = pool[train_part], pool[held_out]
    pool_labels = None if labels is None else labels[pool]
    if train_size is None:
        tr, va = train_val_split(len(pool), val_split, rng, labels=pool_labels, ordered=ordered)
    else:
        where = f"fold {folds[-1]['index']}'s training part" if folds else "the data set"
        tr, va = sized_split(len(pool), train_size, val_split, rng, pool_labels, ordered, where)
    tr, va = pool[tr], pool[va]
    if bootstrap is not None:
        tr = np.sort(bootstrap_rng.choice(tr, size=max(1, round(bootstrap * len(tr))), replace=True))
    return tr, va, test_idx


def make_splits(ds: Dataset, val_split: float, rng: np.random.Generator, dtype: Any = np.float32,
                normalize: str = "none", train_size: int | None = None, folds: list[dict] | None = None,
                fold_rngs: list[np.random.Generator] | None = None, bootstrap: float | None = None,
                bootstrap_rng: np.random.Generator | None = None) -> Splits:
    """Split off validation (stratified for classes, the last block for series), scale to ``dtype``.

    ``train_size`` is the number of training samples after the validation split (:func:`sized_split`): the
    validation split (``val_split`` of training + validation) comes from the samples left over, all of them
    when fewer remain. Under cross-validation it applies within the fold's training part, as scikit-learn's
    ``learning_curve`` takes its training sizes from each training fold: every fold trains on ``train_size``
    samples and tests on its whole held-out fold. ``normalize: standardize`` subtracts the training split's mean
    and divides by its std, per channel for images and per feature for vectors; the statistics come from the
    training split only (no leakage).

    ``folds`` (cross-validation, one entry per nesting level) replaces the official test set by a held-out fold
    of the training set: each level splits what the previous one left for training, with its own generator
    from ``fold_rngs``; the run trains on the innermost training part (minus its validation split) and tests
    on the innermost held-out fold. The official test set is then not used at all.

    ``bootstrap`` (bagging): the training split is replaced by a resample of it, drawn with replacement, of
    ``bootstrap`` times its size, from ``bootstrap_rng``; validation and test are unchanged.
    """
    labels = ds.y_train if ds.task == "classification" else None
    tr, va, test_idx = split_indices(len(ds.x_train), labels, ds.ordered, val_split, rng, train_size, folds,
                                     fold_rngs, bootstrap, bootstrap_rng)
    test_x, test_y = (ds.x_test, ds.y_test) if test_idx is None else (ds.x_train[test_idx], ds.y_train[test_idx])
    pre, x_train = Preprocessing.fit(ds.x_train[tr], dtype, normalize)
    x_val, x_test = pre.apply(ds.x_train[va]), pre.apply(test_x)
    if ds.task == "classification":
        ys = [y.astype(np.int64) for y in (ds.y_train[tr], ds.y_train[va], test_y)]
    else:
        ys = [y.astype(dtype) for y in (ds.y_train[tr], ds.y_train[va], test_y)]
    return Splits(x_train, ys[0], x_val, ys[1], x_test, ys[2], ds, pre)
