"""Index splits: a validation split from the training set (stratified for classes, in time order for series)."""

from __future__ import annotations

import numpy as np


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``counts``: largest remainder, ties to the lower group.

    Integer arithmetic only, so the shares are exact and the same on every machine; they sum to ``total``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    if total == 0 or n == 0:
        return np.zeros_like(counts)
    quotas = counts * total // n
    remainders = counts * total % n
    short = total - int(quotas.sum())
    order = sorted(range(len(counts)), key=lambda k: (-int(remainders[k]), k))
    for k in order[:short]:
        quotas[k] += 1
    return quotas


def train_val_split(n: int, val_fraction: float, rng: np.random.Generator, labels: np.ndarray | None = None,
                    ordered: bool = False, n_val: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train_idx, val_idx) partitioning ``range(n)``; ``round(val_fraction * n)`` go to validation
    (or exactly ``n_val`` when given).

    - ``ordered`` (time series): validation is the last block, never shuffled across time.
    - ``labels`` given: stratified, each class contributes in proportion to its size (largest remainder).
    - otherwise: a uniformly random subset.
    """
    if n_val is None:
        n_val = round(val_fraction * n)
    if n_val == 0:
        return np.arange(n), np.arange(0)
    if n_val >= n:
        raise ValueError(f"val_split {val_fraction} leaves no training samples out of {n}")
    if ordered:
        return np.arange(n - n_val), np.arange(n - n_val, n)
    if labels is None:
        val = rng.permutation(n)[:n_val]
    else:
        classes, inverse = np.unique(labels, return_inverse=True)
        per_class = allocate(np.bincount(inverse, minlength=len(classes)), n_val)
        val = np.concatenate([rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(per_class)])
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def validation_size(train_size: int, val_split: float) -> int:
    """Validation samples that go with ``train_size`` training samples: ``val_split`` of the two together, as
    without a ``train_size``: round(train_size * val_split / (1 - val_split)) (10,000 at 0.1: 1,111)."""
    return round(train_size * val_split / (1 - val_split))
