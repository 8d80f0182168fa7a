"""Reading inputs to predict on, and their labels, from the files users have: IDX (.gz or raw), .npy, .npz,
CSV, or PNG images (a folder of them, or a list). Raw values come back as they are stored; the run's own
preprocessing is applied later (:class:`dlbasics.inference.Predictor`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError


def _npz(path: Path, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        if key in z.files:
            return z[key]
        if len(z.files) == 1:
            return z[z.files[0]]
        raise InputError(f"{path}: no array {key!r} (arrays: {', '.join(z.files)})")


def _csv(path: Path, columns: Sequence[str] | None, delimiter: str) -> np.ndarray:
    from .custom import read_csv_features
    from .datasets import DataError

    if not columns:  # every column: the header tells which
        from .custom import _csv_rows, _file, _header

        columns = _header(_csv_rows(_file(path), delimiter), _file(path))
    try:
        return read_csv_features(path, columns, delimiter)
    except DataError as err:
        raise InputError(str(err)) from None


def _png(path: Path, channels: int, size: Sequence[int] | None) -> np.ndarray:
    """One PNG as uint8 (C, H, W), grey or RGB as the model takes it, resampled to ``size`` as ``data: images``
    does in training (``size`` None: as it is)."""
    from .custom import read_image
    from .datasets import DataError

    try:
        return read_image(path, grayscale=channels == 1, size=size)
    except DataError as err:
        raise InputError(str(err)) from None


def read_inputs(paths: Sequence[str | Path], input_shape: Sequence[int] = (), columns: Sequence[str] | None = None,
                delimiter: str = ",", image_size: Sequence[int] | None = None) -> np.ndarray:
    """Raw inputs from ``paths``: one IDX / .npy / .npz (key ``x``) / CSV file, or PNG images (files or folders of
    them, sorted by name). ``input_shape`` (the model's, per sample) says how many channels images need and their
    size; ``columns`` which CSV columns are the features and ``delimiter`` how they are separated;
    ``image_size`` resamples images as the run's ``data: images`` did. InputError (one line naming the file)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() == ".png")
            if not found:
                raise InputError(f"{p}: no .png images in this folder")
            files += found
        elif not p.exists():
            raise InputError(f"{p}: no such file")
        else:
            files.append(p)
    pngs = [f for f in files if f.suffix.lower() == ".png"]
    if pngs:
        if len(pngs) != len(files):
            raise InputError("give PNG images, or one IDX / .npy / .npz / CSV file, not both")
        channels = input_shape[0] if len(input_shape) == 3 else 1
        images = [_png(f, channels, image_size) for f in pngs]
        want = tuple(input_shape[1:]) if len(input_shape) == 3 else None
        for f, image in zip(pngs, images):
            if want and image.shape[-2:] != want:
                raise InputError(f"{f}: {image.shape[-1]}x{image.shape[-2]} pixels; the model takes "
                                 f"{want[1]}x{want[0]} (resize the image)")
            if image.shape != images[0].shape:
                raise InputError(f"{f}: {image.shape} differs from {pngs[0]}: {images[0].shape}")
        return np.stack(images)
    if len(files) != 1:
        raise InputError(f"give one IDX / .npy / .npz / CSV file (got {len(files)} files)")
    return _array(files[0], "x", columns, delimiter)


def _array(path: Path, key: str, columns: Sequence[str] | None, delimiter: str = ",") -> np.ndarray:
    from .idx import GZIP_MAGIC, IDXError, read_idx

    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            return _npz(path, key)
        if suffix == ".csv":
            return _csv(path, columns, delimiter)
        with open(path, "rb") as fh:
            head = fh.read(3)
        if head[:2] == GZIP_MAGIC or head[:2] == b"\x00\x00":
            return read_idx(path)
    except IDXError as err:
        raise InputError(str(err)) from None
    except (OSError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{path}: cannot read ({' '.join(str(err).split())})") from None
    raise InputError(f"{path}: unknown format (expected IDX, .npy, .npz, .csv or .png)")


def read_labels(path: str | Path, column: str | None = None, delimiter: str = ",") -> np.ndarray:
    """Labels (or regression targets) from an IDX, .npy, .npz (key ``y``) or CSV file (``column``, or its only
    column; class names stay strings)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        from .custom import _column, _csv_rows, _file, _header

        rows = _csv_rows(_file(path), delimiter)
        names = _header(rows, _file(path))
        if column is None and len(names) != 1:
            raise InputError(f"{path}: which column are the labels? ({', '.join(names)})")
        i = _column(names, column or names[0], _file(path), "--labels")
        values = np.array([row[i].strip() for _, row in rows])
        try:
            return values.astype(np.float64)
        except ValueError:
            return values  # class names
    values = _array(path, "y", None)
    return values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values
