"""Build ``mnist_mini.npz``: a small, stratified, real subset of MNIST bundled with dlbasics.

The data is a subset of the MNIST database of handwritten digits by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges (http://yann.lecun.com/exdb/mnist/), licensed under the Creative Commons
Attribution-Share Alike 3.0 license (CC BY-SA 3.0); the subset is distributed under the same license.

It holds 10,000 of the 60,000 training images and 2,000 of the 10,000 test images, with the class
proportions of each set kept (largest-remainder allocation, so totals are exact). The images of each class
are chosen with ``np.random.default_rng(20261123)`` and kept in their original order; ``train_index`` and
``test_index`` record the original positions.

Rebuild it from the four MNIST IDX files (``train-images-idx3-ubyte[.gz]`` etc.) with::

    python -m dlbasics.data.build_mnist_mini SRC_DIR [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .datasets import IDX_FILES as FILES
from .datasets import find_file as _find_file
from .idx import load_idx_pair
from .splits import allocate

SEED = 20261123
N_TRAIN = 10_000
N_TEST = 2_000
MAX_BYTES = 3_000_000
DEFAULT_OUT = Path(__file__).with_name("mnist_mini.npz")


def find_file(src_dir: Path, name: str) -> Path:
    """Return ``src_dir/name.gz`` or ``src_dir/name``, whichever exists."""
    found = _find_file(src_dir, name)
    if found is None:
        raise FileNotFoundError(f"neither {name}.gz nor {name} found in {src_dir}")
    return found


def stratified_indices(labels: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Choose ``total`` indices with the class proportions of ``labels``, sorted in original order."""
    classes, counts = np.unique(labels, return_counts=True)
    quotas = allocate(counts, total)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=int(q), replace=False)
              for c, q in zip(classes, quotas, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def build(src_dir: Path, out: Path) -> int:
    """Build the subset from ``src_dir`` into ``out``; print sizes and return the file size in bytes."""
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = load_idx_pair(*(find_file(src_dir, name) for name in FILES[split]))
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise ValueError(f"{split}: expected uint8 images and labels, got {images.dtype}, {labels.dtype}")
        if len(labels) < n:
            raise ValueError(f"{split}: need at least {n} examples, {src_dir} has {len(labels)}")
        index = stratified_indices(labels, n, rng)
        arrays[f"x_{split}"] = images[index]
        arrays[f"y_{split}"] = labels[index]
        arrays[f"{split}_index"] = index
        counts = np.bincount(arrays[f"y_{split}"], minlength=10)
        print(f"{split}: {len(index)} of {len(labels)} images of {images.shape[1:]}, "
              f"per class {counts.tolist()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix="." + out.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.2f} MB, {size} bytes)")
    return size


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m dlbasics.data.build_mnist_mini",
                                     description="Build the bundled mnist-mini subset of MNIST.")
    parser.add_argument("src_dir", type=Path, help="folder holding the four MNIST IDX files (raw or .gz)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        size = build(args.src_dir, args.out)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if size > MAX_BYTES:
        print(f"warning: {args.out} is {size} bytes, more than the {MAX_BYTES}-byte budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
