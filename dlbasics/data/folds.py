"""Cross-validation splitters: (train indices, held-out indices) per fold, from one seeded generator.

- ``kfold``: shuffle, cut into k folds whose sizes differ by at most one; each fold is held out once.
- ``stratified``: as kfold, but each class is dealt over the folds separately, so every fold keeps the class
  proportions (per class, fold counts differ by at most one).
- ``holdout``: a single split (the held-out fraction, stratified for classes).
- ``timeseries``: forward chaining with an expanding window: fold i trains on everything before its block and
  holds out the block; ``gap`` samples between them are dropped (no look-ahead, no shuffling across time).
- ``rolling``: as timeseries with a training window of fixed length ``window``.

Every function returns sorted index arrays; the same generator state gives the same folds.
"""

from __future__ import annotations

import numpy as np

from .splits import train_val_split

Fold = tuple[np.ndarray, np.ndarray]


def _check_k(k: int, n: int) -> None:
    if k < 2:
        raise ValueError(f"k = {k}: cross-validation needs at least 2 folds")
    if k > n:
        raise ValueError(f"k = {k} folds is more than the {n} samples")


def _from_assignment(fold_of: np.ndarray, k: int) -> list[Fold]:
    every = np.arange(len(fold_of))
    return [(every[fold_of != i], every[fold_of == i]) for i in range(k)]


def kfold(n: int, k: int, rng: np.random.Generator) -> list[Fold]:
    """Shuffled k-fold: a random permutation cut into k nearly equal folds."""
    _check_k(k, n)
    fold_of = np.empty(n, dtype=np.intp)
    fold_of[rng.permutation(n)] = np.arange(n) % k
    return _from_assignment(fold_of, k)


def stratified(labels: np.ndarray, k: int, rng: np.random.Generator) -> list[Fold]:
    """k folds with the class proportions of ``labels``: each class shuffled and dealt round-robin.

    The deal continues from fold to fold across classes, so fold sizes also differ by at most one.
    """
    labels = np.asarray(labels)
    _check_k(k, len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < k:
        small = classes[counts.argmin()]
        raise ValueError(f"k = {k} folds is more than the {counts.min()} samples of class {small}; "
                         "use fewer folds or strategy kfold")
    fold_of = np.empty(len(labels), dtype=np.intp)
    start = 0
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = (start + np.arange(len(members))) % k
        start = (start + len(members)) % k
    return _from_assignment(fold_of, k)


def holdout(n: int, fraction: float, rng: np.random.Generator, labels: np.ndarray | None = None) -> list[Fold]:
    """One split holding out ``fraction`` of the samples (stratified when labels are given)."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction {fraction} must be between 0 and 1")
    return [train_val_split(n, fraction, rng, labels=labels)]


def timeseries(n: int, k: int, gap: int = 0, test_size: int | None = None, window: int | None = None) -> list[Fold]:
    """Forward chaining: k consecutive held-out blocks at the end; each trains on what precedes it (minus a gap).

    Block size ``test_size`` (default n // (k + 1)); fold i holds out [s_i, s_i + test_size) with
    s_i = n - (k - i) * test_size, and trains on [0, s_i - gap) — or on the last ``window`` samples of that
    range (rolling origin with a fixed window). Every training index precedes every held-out index.
    """
    if k < 1:
        raise ValueError(f"k = {k}: time-series CV needs at least 1 fold")
    size = test_size or n // (k + 1)
    if size < 1:
        raise ValueError(f"{n} samples are too few for {k} time-series folds")
    folds = []
    for i in range(k):
        start = n - (k - i) * size
        end = start - gap
        if end < 1:
            raise ValueError(f"gap = {gap} leaves no training data before fold {i} (its block starts at {start}); "
                             "use a smaller gap or fewer folds")
        begin = max(0, end - window) if window else 0
        folds.append((np.arange(begin, end), np.arange(start, start + size)))
    return folds


def rolling(n: int, k: int, window: int, gap: int = 0, test_size: int | None = None) -> list[Fold]:
    """Time-series folds whose training window has a fixed length ``window`` (a rolling origin)."""
    if window < 1:
        raise ValueError(f"window = {window} must be at least 1")
    return timeseries(n, k, gap, test_size, window)


def make_folds(strategy: str, n: int, k: int, rng: np.random.Generator, labels: np.ndarray | None = None,
               gap: int = 0, window: int | None = None, fraction: float = 0.2) -> list[Fold]:
    """Folds by strategy name (kfold, stratified, holdout, timeseries, rolling)."""
    if strategy == "kfold":
        return kfold(n, k, rng)
    if strategy == "stratified":
        if labels is None:
            raise ValueError("stratified folds need class labels; use kfold for regression")
        return stratified(labels, k, rng)
    if strategy == "holdout":
        return holdout(n, fraction, rng, labels)
    if strategy == "timeseries":
        return timeseries(n, k, gap)
    if strategy == "rolling":
        return rolling(n, k, window or max(1, n // (k + 1)), gap)
    raise ValueError(f"unknown CV strategy {strategy!r}")
