"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in, raw or gzip-compressed.

An IDX file is a header (two zero bytes, a dtype code, the number of dimensions, then each dimension as a
big-endian uint32) followed by the array data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from math import prod
from pathlib import Path
from typing import BinaryIO

import numpy as np

DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES: dict[np.dtype, int] = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


class IDXError(ValueError):
    """An IDX file is malformed: one line naming the file and what is wrong."""


def _read_exact(f: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``f`` as far as the data goes; return the number of bytes read."""
    done = 0
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            break
        done += n
    return done


def _count_rest(f: BinaryIO) -> int:
    """Read ``f`` to its end and return how many bytes were left."""
    total = 0
    while chunk := f.read(1 << 20):
        total += len(chunk)
    return total


def _parse(f: BinaryIO, path: Path, compressed: bool, file_size: int | None) -> np.ndarray:
    """Read header and payload from an open (possibly decompressing) stream."""
    what = "decompressed size" if compressed else "file size"
    head = f.read(4)
    if len(head) < 4:
        raise IDXError(f"{path}: not an IDX file: only {len(head)} bytes, a header needs at least 4")
    if head[:2] != b"\x00\x00":
        raise IDXError(f"{path}: not an IDX file: bad magic bytes {head[:2].hex()} (expected 0000)")
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise IDXError(f"{path}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    raw_dims = f.read(4 * ndim)
    header = 4 + 4 * ndim
    if len(raw_dims) < 4 * ndim:
        raise IDXError(f"{path}: truncated header: expected at least {header} bytes, got {4 + len(raw_dims)}")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    dtype = DTYPES[code]
    payload = prod(dims) * dtype.itemsize
    expected = header + payload
    if file_size is not None and file_size != expected:
        raise IDXError(f"{path}: wrong {what}: expected {expected} bytes for shape {dims} {dtype.name}, "
                       f"got {file_size}")
    try:
        buf = np.empty(payload, dtype=np.uint8)
    except (MemoryError, ValueError, OverflowError):
        raise IDXError(f"{path}: header claims shape {dims} ({expected} bytes), too large to read") from None
    got = _read_exact(f, memoryview(buf))
    if got < payload:
        raise IDXError(f"{path}: truncated: expected {what} {expected} bytes, got {header + got}")
    extra = _count_rest(f)
    if extra:
        raise IDXError(f"{path}: too long: expected {what} {expected} bytes, got {expected + extra}")
    arr = buf.view(dtype).reshape(dims)
    if not dtype.isnative:
        arr.byteswap(inplace=True)
        arr = arr.view(dtype.newbyteorder("="))
    return arr


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip, detected by its magic bytes) into a writable native-endian array.

    Raises IDXError if the header is bad, the dtype code unknown, the size does not match the header
    exactly, or the gzip stream is corrupt or truncated.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if not compressed:
                return _parse(raw, path, compressed=False, file_size=os.fstat(raw.fileno()).st_size)
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                    return _parse(f, path, compressed=True, file_size=None)
            except _GZIP_ERRORS as err:
                reason = f"{type(err).__name__}: {err}"
                raise IDXError(f"{path}: corrupt or truncated gzip data ({reason})") from None
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except OSError as err:
        raise IDXError(f"{path}: cannot read: {err.strerror or err}") from None


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends with ``.gz``; return the path."""
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in CODES:
        raise ValueError(f"cannot write dtype {array.dtype} as IDX (supported: uint8, int8, int16, int32, "
                         f"float32, float64)")
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"shape {array.shape} does not fit an IDX header")
    code = CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(header)
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(header)
            f.write(data)
    return path


def load_idx_pair(images_path: str | os.PathLike[str],
                  labels_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file ``(N, H, W)`` and its labels file ``(N,)``; IDXError if they do not match."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise IDXError(f"{images_path}: expected images of shape (N, H, W), got shape {images.shape}")
    if labels.ndim != 1:
        raise IDXError(f"{labels_path}: expected labels of shape (N,), got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise IDXError(f"{labels_path}: {labels.shape[0]} labels, but {images_path} has "
                       f"{images.shape[0]} images")
    return images, labels
