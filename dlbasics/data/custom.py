"""Your own data: a CSV file (``csv``), an ``.npz`` of arrays (``npz``), a folder of PNG images per class (``images``).

Paths are taken from the current directory (``~`` expanded) and kept absolute in the resolved config, so a saved
config finds the same file from anywhere. A file that cannot be used is one :class:`DataError` line naming it and
the problem; a config value that does not fit the file (a column that is not there) is a :class:`ConfigError` on
its key. What can be checked before reading is checked first: the file's size, the arrays' shapes and dtypes
from the ``.npz`` headers.

Classification targets become classes ``0 .. K-1`` in sorted order (whole numbers by value, anything else as
text), with their names kept in ``Dataset.classes``; regression targets become ``(N, 1)`` floats.

A file without its own test set gets one, drawn once from the file alone: ``round(test_fraction * N)`` samples,
stratified by class for classification (exact proportions, largest remainder), chosen by
``numpy.random.default_rng(TEST_SPLIT_SEED)``: the same samples for every seed and every run, as an official test
set would be. Validation splits, folds and ``train_size`` are then drawn from the rest by the run, as for MNIST.
"""

from __future__ import annotations

import array
import csv
import functools
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config.fields import Bool, Choice, ConfigError, Num, Optional, Seq, Str, did_you_mean, show
from ..errors import describe_os_error
from .datasets import DataError, Dataset
from .splits import train_val_split

TASKS = ("auto", "classification", "regression")
#: CSV files are parsed in memory: larger ones are refused before reading
MAX_CSV_BYTES = 10**9
#: with ``task: auto``, whole-number targets with more distinct values than this are an error, not classes
AUTO_MAX_CLASSES = 100
TEST_SPLIT_SEED = 0
CHUNK_ROWS = 65_536  # CSV rows converted to floats at a time
MAX_SIDE = 4096  # largest image side data.size may ask for
GREY = np.array([0.299, 0.587, 0.114])
#: values beyond this become inf when a run trains in float32 (the default)
FLOAT32_MAX = float(np.finfo(np.float32).max)  # ITU-R BT.601 luma, as Pillow's "L" mode
_WHOLE = re.compile(r"[+-]?\d+")


class LocalPath(Str):
    """A file or folder on this machine: ``~`` expanded, relative to the current directory, kept absolute."""

    def describe(self) -> str:
        return "a path (relative to the current directory; ~ expanded)"

    def validate(self, value: Any, path: str) -> Any:
        return str(resolve_path(super().validate(value, path)))


class Char(Str):
    """A single character (a CSV delimiter)."""

    def describe(self) -> str:
        return "one character"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
            raise ConfigError(f"expected one character other than a quote or a line break, got {show(value)}", path)
        return value


def resolve_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` expanded, made absolute from the current directory."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


_TASK = Choice(list(TASKS), doc=f"auto: classification for text or up to {AUTO_MAX_CLASSES} distinct whole numbers, "
                                "regression for other numbers")
_TEST_FRACTION = Num(gt=0.0, lt=1.0, doc="fraction held out as the test set when the file has none (stratified, "
                                         "the same for every seed)")

CSV_KEYS = {
    "path": LocalPath(doc="the CSV file, with a header row of column names"),
    "target": Str(doc="the column to predict"),
    "features": Optional(Seq(Str(), min_len=1), doc="the input columns, all numeric; null: every other column"),
    "task": _TASK,
    "test_fraction": _TEST_FRACTION,
    "delimiter": Char(doc="the field separator"),
}
NPZ_KEYS = {
    "path": LocalPath(doc="the .npz file: x_train, y_train and optionally x_test, y_test"),
    "task": Choice(list(TASKS), doc="auto: classification for integer or text y_train, regression for floats"),
    "test_fraction": _TEST_FRACTION,
}
IMAGES_KEYS = {
    "path": LocalPath(doc="the folder: one sub-folder of .png images per class"),
    "size": Optional(Seq(Num(integer=True, ge=1, le=MAX_SIDE), length=2),
                     doc="[height, width] every image is resampled to (area averaging); null: all the same size"),
    "grayscale": Bool(doc="true: one grey channel (BT.601 luma); false: three RGB channels (alpha is dropped)"),
    "test_fraction": _TEST_FRACTION,
}


# ---------------------------------------------------------------- shared pieces


def _file(path: str | os.PathLike, what: str = "file") -> Path:
    """The resolved path of an existing file (``what="folder"``: folder), else DataError."""
    p = resolve_path(path)
    if not p.exists():
        raise DataError(f"{p}: no such {what}")
    if what == "file" and not p.is_file():
        raise DataError(f"{p}: is a folder, not a file")
    if what == "folder" and not p.is_dir():
        raise DataError(f"{p}: is a file, not a folder of class folders")
    return p


def _test_split(n: int, test_fraction: float, labels: np.ndarray | None, source: Path
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices: the fixed, stratified test split of a file without its own test set."""
    n_test = round(test_fraction * n)
    if n_test < 1 or n - n_test < 2:
        raise DataError(f"{source}: {n} samples are too few for a test split of {test_fraction:g} (it needs at "
                        "least one test and two training samples)")
    return train_val_split(n, test_fraction, np.random.default_rng(TEST_SPLIT_SEED), labels=labels)


def _encode_classes(values: np.ndarray, train: np.ndarray, source: Path, what: str) -> tuple[np.ndarray, list[str]]:
    """Labels -> classes ``0 .. K-1`` in sorted order, and the class names; one class in ``train`` is an error."""
    classes, codes = np.unique(values, return_inverse=True)
    names = [v.decode() if isinstance(v, bytes) else str(v) for v in classes.tolist()]
    present = np.unique(codes[train])
    if len(present) < 2:
        raise DataError(f"{source}: {what} has one class only ({names[int(present[0])]!r}); classification needs "
                        "two or more")
    return codes.astype(np.int64), names


def _too_big(source: Path, need: int) -> None:
    """DataError when ``need`` bytes exceed the memory available now."""
    from ..nn.footprint import available_memory, format_bytes

    free = available_memory()
    if free is not None and need > free:
        raise DataError(f"{source}: needs {format_bytes(need)} of memory, {format_bytes(free)} is available")


def _split_dataset(name: str, x: np.ndarray, y: np.ndarray, classes: list[str] | None, source: Path,
                   test_fraction: float) -> Dataset:
    """A Dataset of all samples of a file: the fixed test split apart (stratified when ``classes`` are given)."""
    tr, te = _test_split(len(x), test_fraction, y if classes is not None else None, source)
    task, n_classes = ("regression", None) if classes is None else ("classification", len(classes))
    return Dataset(name, x[tr], y[tr], x[te], y[te], task, n_classes, source=str(source), classes=classes)


# ---------------------------------------------------------------- CSV


def _csv_rows(file: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank row, the header first; a row of another width is a DataError."""
    size = file.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DataError(f"{file}: is {size / 1e9:.1f} GB; CSV files of up to {MAX_CSV_BYTES / 1e9:g} GB are read "
                        "(use a sample, or an .npz of arrays)")
    reader = None
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            width = None
            for row in reader:
                if not row:
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise DataError(f"{file}: line {reader.line_num} has {len(row)} fields, the header has {width}")
                yield reader.line_num, row
    except UnicodeDecodeError:
        raise DataError(f"{file}: is not UTF-8 text; save it as a UTF-8 CSV file") from None
    except csv.Error as err:
        raise DataError(f"{file}: line {reader.line_num if reader else 1}: {err}") from None
    except OSError as err:
        raise DataError(describe_os_error(err)) from None


def _header(rows: Iterator[tuple[int, list[str]]], file: Path) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise DataError(f"{file}: is empty; expected a header row of column names")
    names = [h.strip() for h in first[1]]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            raise DataError(f"{file}: column {i + 1} has no name in the header")
        if name in seen:
            raise DataError(f"{file}: column {name!r} appears twice in the header")
        seen.add(name)
    return names


def _suggest(name: str, names: list[str]) -> str:
    """"; did you mean 'x'?" for a name that differs in case only, else for the closest name (or "")."""
    same = [n for n in names if n.lower() == name.lower()]
    return f"; did you mean {same[0]!r}?" if same else did_you_mean(name, names)


def _columns_text(names: list[str]) -> str:
    shown = ", ".join(names[:8]) + (f", ... ({len(names)} columns)" if len(names) > 8 else "")
    hint = "; is data.delimiter right?" if len(names) == 1 and any(d in names[0] for d in ",;\t|") else ""
    return f"(columns: {shown}){hint}"


def _column(names: list[str], name: str, file: Path, key: str) -> int:
    if name not in names:
        raise ConfigError(f"{file} has no column {name!r}{_suggest(name, names)} {_columns_text(names)}", key)
    return names.index(name)


def _floats(rows: list[list[str]], lines: Any, names: list[str], file: Path, why: str = "") -> np.ndarray:
    """Text fields -> a float64 block; a field that is not a finite number is a DataError naming line and column."""
    try:
        block = np.array(rows, dtype=np.float64)
    except ValueError:
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                try:
                    float(value)
                except ValueError:
                    raise DataError(f"{file}: line {lines[r]}, column {names[c]!r}: {value.strip()!r} is not a "
                                    f"number{why}") from None
        raise DataError(f"{file}: lines {lines[0]}-{lines[-1]} hold a value that is not a number{why}") from None
    bad = ~np.isfinite(block) | (np.abs(block) > FLOAT32_MAX)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{file}: line {lines[r]}, column {names[c]!r}: {rows[r][c].strip()!r} is not a finite "
                        f"number within float32's range (|x| <= 3.4e38){why}")
    return block


def _kind(values: list[str], file: Path, target: str) -> str:
    """``task: auto``: classification for text or a few whole numbers, regression for other numbers."""
    if all(map(_WHOLE.fullmatch, values)):
        distinct = len(set(map(int, values)))
        if distinct > AUTO_MAX_CLASSES:
            raise ConfigError(f"the target {target!r} of {file} holds {distinct} distinct whole numbers: set "
                              "data.task to classification or regression", "data.task")
        return "classification"
    try:
        np.array(values, dtype=np.float64)
    except ValueError:
        return "classification"
    return "regression"


@functools.lru_cache(maxsize=32)
def _csv_kind(file: Path, stamp: tuple[int, int], target: str, delimiter: str) -> str:
    """``task: auto`` of a CSV file, from its target column; ``stamp`` (size, mtime) keys the cache."""
    rows = _csv_rows(file, delimiter)
    t = _column(_header(rows, file), target, file, "data.target")
    values = [row[t].strip() for _, row in rows]
    return _kind(values, file, target) if values else "classification"


def csv_task(params: Mapping[str, Any]) -> str:
    """The task of a ``csv`` config: ``data.task``, or for ``auto`` what the target column holds (the file is read;
    the answer is kept while the file is unchanged). ``auto`` when the keys are not yet valid."""
    task, path = params.get("task", "auto"), params.get("path")
    if task in ("classification", "regression"):
        return task
    if task != "auto" or not isinstance(path, str) or not path or not isinstance(params.get("target"), str):
        return "auto"  # validation reports the key
    delimiter = params.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        return "auto"
    file = _file(path)
    st = file.stat()
    return _csv_kind(file, (st.st_size, st.st_mtime_ns), params["target"], delimiter)


def load_csv(rng: np.random.Generator, progress: bool = True, *, path: str, target: str,
             features: list[str] | None = None, task: str = "auto", test_fraction: float = 0.2,
             delimiter: str = ",") -> Dataset:
    """A CSV file with a header row: x ``(N, F)`` float64 from the feature columns, y from the target column.

    The test set is the fixed split described in the module docstring; ``rng`` is not used.
    """
    file = _file(path)
    rows = _csv_rows(file, delimiter)
    names = _header(rows, file)
    t = _column(names, target, file, "data.target")
    if features is None:
        f = [i for i in range(len(names)) if i != t]
        if not f:
            raise DataError(f"{file}: has no columns besides the target {target!r}")
    else:
        f = [_column(names, name, file, f"data.features.{i}") for i, name in enumerate(features)]
        if t in f:
            raise ConfigError(f"{target!r} is the target; it cannot also be a feature", f"data.features.{f.index(t)}")
        for i, name in enumerate(features):
            if name in features[:i]:
                raise ConfigError(f"{name!r} is listed twice", f"data.features.{i}")
    feature_names = [names[i] for i in f]
    blocks, chunk, chunk_lines, ys, lines = [], [], [], [], array.array("q")
    for line, row in rows:
        ys.append(row[t].strip())
        lines.append(line)
        chunk.append([row[i] for i in f])
        chunk_lines.append(line)
        if len(chunk) == CHUNK_ROWS:
            blocks.append(_floats(chunk, chunk_lines, feature_names, file, " (features must be numeric)"))
            chunk, chunk_lines = [], []
    if chunk:
        blocks.append(_floats(chunk, chunk_lines, feature_names, file, " (features must be numeric)"))
    if not ys:
        raise DataError(f"{file}: has a header but no rows")
    x = np.concatenate(blocks)
    lines_of = np.frombuffer(lines, dtype=np.int64)
    kind = _kind(ys, file, target) if task == "auto" else task
    if kind == "regression":
        y = _floats([[v] for v in ys], lines_of, [target], file, " (task: regression)")
        return replace(_split_dataset("csv", x, y, None, file, test_fraction), features=feature_names)
    if "" in ys:
        raise DataError(f"{file}: line {lines_of[ys.index('')]}: the target {target!r} is empty")
    values = np.array([int(v) for v in ys]) if all(map(_WHOLE.fullmatch, ys)) else np.array(ys)
    codes, classes = _encode_classes(values, np.arange(len(ys)), file, f"the target {target!r}")
    return replace(_split_dataset("csv", x, codes, classes, file, test_fraction), features=feature_names)


# ---------------------------------------------------------------- npz


def _npz_headers(file: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in an .npz, from the .npy headers (no array data is read)."""
    if not zipfile.is_zipfile(file):
        raise DataError(f"{file}: is not an .npz file (a zip archive of .npy arrays, as numpy.savez writes)")
    out = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(fh)
                out[info.filename[:-4]] = (tuple(shape), dtype)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{file}: is not a readable .npz file ({' '.join(str(err).split())})") from None
    return out


def _check_npz(file: Path, headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> list[str]:
    """The names of the arrays to load, after checking their presence, shapes and dtypes."""
    for key in ("x_train", "y_train"):
        if key not in headers:
            raise DataError(f"{file}: has no array {key!r}{_suggest(key, list(headers))} (arrays: "
                            f"{', '.join(headers) or 'none'})")
    if ("x_test" in headers) != ("y_test" in headers):
        has, lacks = ("x_test", "y_test") if "x_test" in headers else ("y_test", "x_test")
        raise DataError(f"{file}: has {has} but no {lacks}; save both or neither")
    keys = ["x_train", "y_train", *(["x_test", "y_test"] if "x_test" in headers else [])]
    for key in keys:
        shape, dtype = headers[key]
        if dtype.hasobject:
            raise DataError(f"{file}: {key} holds Python objects; arrays are loaded without pickle "
                            "(allow_pickle=False), so save numbers (or text labels)")
        x = key.startswith("x")
        if not 1 <= len(shape) <= (4 if x else 2):
            expected = "(N, D), (N, H, W) or (N, C, H, W)" if x else "(N,) or (N, K)"
            raise DataError(f"{file}: {key} has shape {shape}; expected {expected}")
        if dtype.kind not in ("biuf" if x else "biufUS"):
            raise DataError(f"{file}: {key} has dtype {dtype}; expected numbers{'' if x else ' or text labels'}")
        if shape[0] == 0:
            raise DataError(f"{file}: {key} is empty")
    for split in ("train", "test")[:len(keys) // 2]:
        (xs, _), (ys, _) = headers[f"x_{split}"], headers[f"y_{split}"]
        if xs[0] != ys[0]:
            raise DataError(f"{file}: x_{split} has {xs[0]} samples but y_{split} has {ys[0]}")
    if len(keys) == 4:
        (train_shape, train_dtype), (test_shape, test_dtype) = headers["x_train"], headers["x_test"]
        if test_shape[1:] != train_shape[1:]:
            raise DataError(f"{file}: x_test samples are {test_shape[1:]}, x_train samples {train_shape[1:]}")
        if (train_dtype == np.uint8) != (test_dtype == np.uint8):
            raise DataError(f"{file}: x_train is {train_dtype} but x_test {test_dtype}; uint8 images are scaled to "
                            "[0, 1], so save both as uint8 or neither")
        if (headers["y_train"][1].kind in "US") != (headers["y_test"][1].kind in "US"):
            raise DataError(f"{file}: y_train is {headers['y_train'][1]} but y_test {headers['y_test'][1]}; save "
                            "both as numbers or both as text")
    _too_big(file, sum(int(np.prod(headers[k][0])) * headers[k][1].itemsize for k in keys))
    return keys


def _npz_kind(dtype: np.dtype) -> str:
    return "regression" if dtype.kind == "f" else "classification"


def npz_task(params: Mapping[str, Any]) -> str:
    """The task of an ``npz`` config: ``data.task``, or for ``auto`` the dtype of y_train (integers and text:
    classification, floats: regression), read from its header."""
    task, path = params.get("task", "auto"), params.get("path")
    if task in ("classification", "regression"):
        return task
    if task != "auto" or not isinstance(path, str) or not path:
        return "auto"
    file = _file(path)
    headers = _npz_headers(file)
    _check_npz(file, headers)
    return _npz_kind(headers["y_train"][1])


def load_npz(rng: np.random.Generator, progress: bool = True, *, path: str, task: str = "auto",
             test_fraction: float = 0.2) -> Dataset:
    """Arrays ``x_train``, ``y_train`` (and ``x_test``, ``y_test``) of an .npz, loaded without pickle.

    x is ``(N, D)``, ``(N, H, W)`` (given a channel axis: ``(N, 1, H, W)``) or ``(N, C, H, W)``; uint8 x is kept
    as is, so a run scales it to [0, 1] as MNIST. Without test arrays the test set is the fixed split.
    """
    file = _file(path)
    headers = _npz_headers(file)
    keys = _check_npz(file, headers)
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in keys}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{file}: cannot be read ({' '.join(str(err).split())})") from None
    for key in keys[::2]:
        x = arrays[key]
        if x.dtype.kind == "f" and not (np.isfinite(x) & (np.abs(x) <= FLOAT32_MAX)).all():
            ok = (np.isfinite(x) & (np.abs(x) <= FLOAT32_MAX)).reshape(len(x), -1).all(axis=1)
            raise DataError(f"{file}: {key} has NaN, infinite or beyond-float32 values (|x| > 3.4e38; sample "
                            f"{int(np.flatnonzero(~ok)[0])})")
        arrays[key] = x[:, None] if x.ndim == 3 else x.reshape(len(x), 1) if x.ndim == 1 else x
    kind = _npz_kind(arrays["y_train"].dtype) if task == "auto" else task
    test = len(keys) == 4
    ys = [arrays["y_train"], *([arrays["y_test"]] if test else [])]
    if kind == "regression":
        for key, y in zip(keys[1::2], ys):
            if y.dtype.kind in "US":
                raise DataError(f"{file}: {key} holds text ({y.dtype}); task: regression needs numbers")
        ys = [y.astype(np.float64).reshape(len(y), -1) for y in ys]
        for key, y in zip(keys[1::2], ys):
            if not np.isfinite(y).all():
                raise DataError(f"{file}: {key} has NaN or infinite values "
                                f"(sample {int(np.flatnonzero(~np.isfinite(y).all(axis=1))[0])})")
        classes = None
    else:
        for key, y in zip(keys[1::2], ys):
            if y.ndim == 2 and y.shape[1] != 1:
                raise DataError(f"{file}: {key} has shape {y.shape}; class labels are (N,)")
            if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
                raise DataError(f"{file}: {key} holds values that are not whole numbers; task: classification "
                                "needs class labels")
        ys = [y.reshape(-1).astype(np.int64) if y.dtype.kind in "fb" else y.reshape(-1) for y in ys]
        codes, classes = _encode_classes(np.concatenate(ys), np.arange(len(ys[0])), file, "y_train")
        ys = [codes[:len(ys[0])], codes[len(ys[0]):]] if test else [codes]
    if test:
        return Dataset("npz", arrays["x_train"], ys[0], arrays["x_test"], ys[1], kind,
                       None if classes is None else len(classes), source=str(file), classes=classes)
    return _split_dataset("npz", arrays["x_train"], ys[0], classes, file, test_fraction)


# ---------------------------------------------------------------- a folder of PNG images per class


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights of area resampling along one axis.

    Output pixel ``i`` covers ``[i * n_in / n_out, (i + 1) * n_in / n_out)`` of the input axis; its value is the
    mean of the input pixels it covers, each weighted by the length it covers (block means when ``n_in`` is a
    multiple of ``n_out``, nearest-neighbour copies when enlarging by a whole factor).
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    j = np.arange(n_in)
    overlap = np.clip(np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-resample ``(C, H, W)`` to ``(C, *size)``: ``Wh @ image @ Ww.T`` with :func:`area_weights`."""
    h, w = image.shape[1:]
    return area_weights(h, size[0]) @ image @ area_weights(w, size[1]).T


def _read_png(file: Path, grayscale: bool) -> np.ndarray:
    """One PNG as float ``(C, H, W)`` in [0, 1]: C = 1 grey (BT.601 luma) or 3 RGB; alpha is dropped."""
    import matplotlib.image

    try:
        pixels = np.asarray(matplotlib.image.imread(file), dtype=np.float64)
    except Exception as err:  # Pillow raises OSError, ValueError, SyntaxError ... for a damaged file
        reason = describe_os_error(err).split(": ")[-1] if isinstance(err, OSError) and err.errno else ""
        raise DataError(f"{file}: is not a readable PNG image{f' ({reason})' if reason else ''}") from None
    if pixels.max(initial=0) > 1:  # integer pixel values (imread gives floats in [0, 1] for PNG): scale them
        pixels = pixels / (65535.0 if pixels.max(initial=0) > 255 else 255.0)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise DataError(f"{file}: has pixels of shape {pixels.shape}; expected grey, RGB or RGBA")
    colour = pixels[:, :, :3] if pixels.shape[2] >= 3 else pixels[:, :, :1]
    if grayscale:
        colour = colour @ GREY[:, None] if colour.shape[2] == 3 else colour
    elif colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    return colour.transpose(2, 0, 1)


def read_image(file: Path, grayscale: bool = True, size: Sequence[int] | None = None) -> np.ndarray:
    """One PNG as the ``images`` data set stores it: uint8 ``(C, H, W)``, grey or RGB, area-resampled to
    ``size`` if given; what `dlb predict` reads too, so a run sees its own images exactly as in training."""
    image = _read_png(file, grayscale)
    if size is not None:
        image = resize(image, tuple(size))
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def read_csv_features(path: str | os.PathLike, features: Sequence[str], delimiter: str = ",") -> np.ndarray:
    """The named feature columns of a CSV as float64 ``(N, F)``, read as ``data: csv`` reads them (header
    names stripped, the run's delimiter); DataError naming the line and column of a bad value."""
    file = _file(path)
    rows = _csv_rows(file, delimiter)
    names = _header(rows, file)
    index = [_column(names, name, file, f"feature {name}") for name in features]
    body = [(line, [row[i] for i in index]) for line, row in rows]
    if not body:
        raise DataError(f"{file}: has a header but no rows")
    return _floats([r for _, r in body], [line for line, _ in body], list(features), file)


def _image_files(folder: Path) -> list[tuple[str, list[Path]]]:
    """(class name, sorted .png files) for each sub-folder, sorted by name; hidden folders are skipped."""
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as err:
        raise DataError(describe_os_error(err)) from None
    if not subs:
        raise DataError(f"{folder}: has no class folders; expected {folder}/<class>/*.png")
    out = []
    for sub in subs:
        try:
            files = sorted(p for p in sub.iterdir() if p.suffix.lower() == ".png" and p.is_file())
        except OSError as err:
            raise DataError(describe_os_error(err)) from None
        if not files:
            raise DataError(f"{sub}: has no .png images (each class folder needs at least one)")
        out.append((sub.name, files))
    return out


def load_images(rng: np.random.Generator, progress: bool = True, *, path: str,
                size: tuple[int, int] | None = (28, 28), grayscale: bool = True, test_fraction: float = 0.2) -> Dataset:
    """A folder of class sub-folders of PNG images, ``folder/<class>/*.png``, as uint8 ``(N, C, H, W)``.

    Classes are the sub-folder names in sorted order. Each image is read with ``matplotlib.image.imread``,
    made grey (``grayscale``, C = 1) or RGB (C = 3), area-resampled to ``size`` (else all must be the same size)
    and rounded to uint8, so a run scales it to [0, 1] as MNIST. The test set is the fixed split.
    """
    folder = _file(path, "folder")
    per_class = _image_files(folder)
    n = sum(len(files) for _, files in per_class)
    channels = 1 if grayscale else 3
    if size is not None:
        _too_big(folder, n * channels * size[0] * size[1])
    x = labels = first = None
    i = 0
    for label, (_, files) in enumerate(per_class):
        for file in files:
            image = read_image(file, grayscale, size)
            if x is None:
                first = file
                if size is None:
                    _too_big(folder, n * image.size)
                x = np.empty((n, *image.shape), dtype=np.uint8)
                labels = np.empty(n, dtype=np.int64)
            elif image.shape != x.shape[1:]:
                raise DataError(f"{file}: is {image.shape[1]}x{image.shape[2]}, the first image ({first}) is "
                                f"{x.shape[2]}x{x.shape[3]}; set data.size to resample them all")
            x[i] = image
            labels[i] = label
            i += 1
    classes = [name for name, _ in per_class]
    if len(classes) < 2:
        raise DataError(f"{folder}: has one class folder only ({classes[0]!r}); classification needs two or more")
    return _split_dataset("images", x, labels, classes, folder, test_fraction)
