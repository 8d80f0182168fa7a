"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in, raw or gzip-compressed.

An IDX file is a header (two zero bytes, a dtype code, the number of dimensions, then each dimension as a
big-endian uint32) followed by the array data in C order, big-endian.

The header is checked before any of the data is allocated or decompressed: against the shape the caller
expects, if given, and against what the file could hold (a raw file's size must match the header exactly; a
gzip file cannot inflate to more than ``MAX_DEFLATE_RATIO`` times its size), so a lying header costs nothing.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Sequence
from math import prod
from pathlib import Path
from typing import BinaryIO, TypeVar

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
MAX_DEFLATE_RATIO = 1032
"""DEFLATE's largest possible compression ratio (a 258-byte match in 2 bits): the cap on what a gzip file holds."""
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
T = TypeVar("T")


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


def _count_rest(f: BinaryIO, limit: int = 1 << 26) -> int:
    """Read ``f`` to its end, or ``limit`` bytes past where it is, and return how many bytes were left."""
    total = 0
    while total < limit and (chunk := f.read(min(1 << 20, limit - total))):
        total += len(chunk)
    return total


def _shape_text(shape: Sequence[int | None]) -> str:
    """``(None, 28, 28)`` -> ``(N, 28, 28)``: an expected shape as the messages print it."""
    dims = ["N" if d is None and i == 0 else "any" if d is None else str(d) for i, d in enumerate(shape)]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def _header(f: BinaryIO, path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Read the header from an open (possibly decompressing) stream; return shape, dtype and header bytes."""
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
    return tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4")), DTYPES[code], header


def _check_size(path: Path, dims: tuple[int, ...], dtype: np.dtype, header: int, compressed: bool,
                file_size: int) -> None:
    """A raw file must be exactly header plus data; a gzip file must be able to inflate to that."""
    expected = header + prod(dims) * dtype.itemsize
    if not compressed and file_size != expected:
        raise IDXError(f"{path}: wrong file size: expected {expected} bytes for shape {dims} {dtype.name}, "
                       f"got {file_size}")
    if compressed and expected > MAX_DEFLATE_RATIO * file_size:
        raise IDXError(f"{path}: header claims shape {dims} {dtype.name} ({expected} bytes), more than a "
                       f"{file_size}-byte gzip file can hold (at most {MAX_DEFLATE_RATIO}:1)")


def _check_shape(path: Path, dims: tuple[int, ...], shape: Sequence[int | None] | None) -> None:
    if shape is None:
        return
    if len(dims) != len(shape) or any(want is not None and got != want for got, want in zip(dims, shape)):
        raise IDXError(f"{path}: header claims shape {dims}, expected {_shape_text(shape)}")


def _parse(f: BinaryIO, path: Path, compressed: bool, file_size: int,
           shape: Sequence[int | None] | None) -> np.ndarray:
    """Read header and payload from an open (possibly decompressing) stream."""
    what = "decompressed size" if compressed else "file size"
    dims, dtype, header = _header(f, path)
    _check_shape(path, dims, shape)
    _check_size(path, dims, dtype, header, compressed, file_size)
    payload = prod(dims) * dtype.itemsize
    expected = header + payload
    try:
        buf = np.empty(payload, dtype=np.uint8)
    except (MemoryError, ValueError, OverflowError):
        raise IDXError(f"{path}: header claims shape {dims} ({expected} bytes), too large to read") from None
    got = _read_exact(f, memoryview(buf))
    if got < payload:
        raise IDXError(f"{path}: truncated: expected {what} {expected} bytes, got {header + got}")
    limit = 1 << 26  # stop counting an endless stream after 64 MiB
    extra = _count_rest(f, limit)
    if extra:
        more = f"at least {expected + limit}" if extra >= limit else expected + extra
        raise IDXError(f"{path}: too long: expected {what} {expected} bytes, got {more}")
    arr = buf.view(dtype).reshape(dims)
    if not dtype.isnative:
        arr.byteswap(inplace=True)
        arr = arr.view(dtype.newbyteorder("="))
    return arr


def _open_and(path: Path, read: Callable[[BinaryIO, bool, int], T]) -> T:
    """Open ``path``, raw or gzip (detected by its magic bytes), and call ``read(stream, compressed, size)``.

    Turns a missing file, an unreadable one and corrupt gzip data into IDXError.
    """
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            size = os.fstat(raw.fileno()).st_size
            if not compressed:
                return read(raw, False, size)
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                    return read(f, True, size)
            except _GZIP_ERRORS as err:
                reason = f"{type(err).__name__}: {err}"
                raise IDXError(f"{path}: corrupt or truncated gzip data ({reason})") from None
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except OSError as err:
        raise IDXError(f"{path}: cannot read: {err.strerror or err}") from None


def read_idx_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """Return the shape and dtype an IDX file's header declares, without reading its data.

    Raises IDXError if the header is bad or claims more data than the file can hold (see the module docstring).
    """
    path = Path(path)

    def read(f: BinaryIO, compressed: bool, size: int) -> tuple[tuple[int, ...], np.dtype]:
        dims, dtype, header = _header(f, path)
        _check_size(path, dims, dtype, header, compressed, size)
        return dims, dtype.newbyteorder("=")

    return _open_and(path, read)


def read_idx(path: str | os.PathLike[str], shape: Sequence[int | None] | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip, detected by its magic bytes) into a writable native-endian array.

    ``shape``, if given, is the shape expected, ``None`` for any size along an axis: ``(None, 28, 28)`` for
    MNIST images. A header that does not match it is rejected before any data is allocated or decompressed.
    Raises IDXError if the header is bad or unexpected, the dtype code unknown, the size does not match the
    header exactly, or the gzip stream is corrupt or truncated.
    """
    path = Path(path)
    return _open_and(path, lambda f, compressed, size: _parse(f, path, compressed, size, shape))


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


def load_idx_pair(images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str],
                  image_shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file ``(N, H, W)`` and its labels file ``(N,)``; IDXError if they do not match.

    ``image_shape`` is the expected ``(H, W)`` (any if None). Both headers are checked against each other and
    against ``image_shape`` before either file's data is read.
    """
    image_dims, _ = read_idx_header(images_path)
    label_dims, _ = read_idx_header(labels_path)
    if len(image_dims) != 3 or (image_shape is not None and image_dims[1:] != tuple(image_shape)):
        want = "(N, H, W)" if image_shape is None else _shape_text((None, *image_shape))
        raise IDXError(f"{images_path}: expected images of shape {want}, header claims {image_dims}")
    if len(label_dims) != 1:
        raise IDXError(f"{labels_path}: expected labels of shape (N,), header claims {label_dims}")
    if image_dims[0] != label_dims[0]:
        raise IDXError(f"{labels_path}: {label_dims[0]} labels, but {images_path} has {image_dims[0]} images")
    return read_idx(images_path, shape=image_dims), read_idx(labels_path, shape=label_dims)
