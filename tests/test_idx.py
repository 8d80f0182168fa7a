"""IDX reader and writer: round trips, malformed files, image / label pairs (synthetic data only)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dlbasics.data.idx import IDXError, load_idx_pair, read_idx, write_idx

RNG = np.random.default_rng(0)
ARRAYS = {
    "images": RNG.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
    "labels": RNG.integers(0, 10, size=7, dtype=np.uint8),
    "float32": RNG.standard_normal((3, 4)).astype(np.float32),
    "int16": np.array([[-300, 2], [7, 32000]], dtype=np.int16),
    "float64": np.array([1.5, -2.25, np.pi]),
}


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_round_trip(tmp_path, name, suffix):
    array = ARRAYS[name]
    path = write_idx(tmp_path / f"{name}-idx{suffix}", array)
    got = read_idx(path)
    assert got.shape == array.shape
    assert got.dtype == array.dtype
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    got[...] = 0  # the result is writable


def test_header_layout(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 3), dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(6)


def test_gzip_detected_by_magic_not_extension(tmp_path):
    gz = write_idx(tmp_path / "a.gz", ARRAYS["images"])
    renamed = gz.rename(tmp_path / "images.bin")
    np.testing.assert_array_equal(read_idx(renamed), ARRAYS["images"])
    raw = write_idx(tmp_path / "b", ARRAYS["labels"])
    misnamed = raw.rename(tmp_path / "labels.gz")
    np.testing.assert_array_equal(read_idx(misnamed), ARRAYS["labels"])


def test_bad_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(IDXError, match="magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_dtype_code(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00")
    with pytest.raises(IDXError, match="dtype code 0x0A"):
        read_idx(path)


def test_truncated_raw_file_names_byte_counts(tmp_path):
    path = write_idx(tmp_path / "images", ARRAYS["images"])
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    expected = 16 + 5 * 28 * 28
    assert len(data) == expected
    with pytest.raises(IDXError, match=rf"expected {expected} bytes.*got {expected - 100}") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_raw_file_too_long(tmp_path):
    path = write_idx(tmp_path / "labels", ARRAYS["labels"])
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(IDXError, match=r"expected 15 bytes.*got 17"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(IDXError, match="header"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "images.gz", ARRAYS["images"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(IDXError, match="gzip"):
        read_idx(path)


def test_gzip_payload_shorter_than_header_says(tmp_path):
    path = tmp_path / "short.gz"
    header = bytes([0, 0, 0x08, 1, 0, 0, 0, 10])
    path.write_bytes(gzip.compress(header + bytes(4)))
    with pytest.raises(IDXError, match="expected decompressed size 18 bytes, got 12"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(IDXError, match="no such file"):
        read_idx(tmp_path / "nope")


def test_load_idx_pair(tmp_path):
    images = write_idx(tmp_path / "img.gz", ARRAYS["images"])
    labels = write_idx(tmp_path / "lab.gz", ARRAYS["labels"][:5])
    x, y = load_idx_pair(images, labels)
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8
    assert y.shape == (5,)


def test_load_idx_pair_mismatched_n(tmp_path):
    images = write_idx(tmp_path / "img", ARRAYS["images"])
    labels = write_idx(tmp_path / "lab", ARRAYS["labels"])
    with pytest.raises(IDXError, match=r"7 labels.*5 images"):
        load_idx_pair(images, labels)


def test_load_idx_pair_wrong_ndim(tmp_path):
    images = write_idx(tmp_path / "img", ARRAYS["float32"])
    labels = write_idx(tmp_path / "lab", ARRAYS["labels"][:3])
    with pytest.raises(IDXError, match=r"\(N, H, W\)"):
        load_idx_pair(images, labels)
    with pytest.raises(IDXError, match=r"\(N,\)"):
        load_idx_pair(write_idx(tmp_path / "img2", ARRAYS["images"]), images)
