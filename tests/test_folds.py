"""Cross-validation splitters: partitions, stratification, time order, gaps, nesting, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.data.folds import kfold, make_folds, rolling, stratified, timeseries


@pytest.mark.parametrize("n,k", [(10, 2), (23, 5), (100, 10)])
def test_kfold_held_out_parts_partition_the_indices(n, k):
    folds = kfold(n, k, np.random.default_rng(0))
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(n))
    for train, h in folds:
        assert len(np.intersect1d(train, h)) == 0 and len(train) + len(h) == n
    sizes = [len(h) for _, h in folds]
    assert max(sizes) - min(sizes) <= 1


def test_stratified_folds_keep_class_proportions_within_one_sample():
    labels = np.repeat(np.arange(4), [53, 31, 17, 9])
    folds = stratified(labels, 5, np.random.default_rng(1))
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(len(labels)))
    for c, count in enumerate([53, 31, 17, 9]):
        per_fold = [int(np.sum(labels[h] == c)) for _, h in folds]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count
        for f in per_fold:
            assert abs(f - count / 5) <= 1
    sizes = [len(h) for _, h in folds]
    assert max(sizes) - min(sizes) <= 1


def test_stratified_needs_k_at_most_the_smallest_class():
    with pytest.raises(ValueError, match="k = 5 folds is more than the 3 samples of class 2"):
        stratified(np.array([0] * 10 + [1] * 10 + [2] * 3), 5, np.random.default_rng(0))


def test_time_series_folds_never_look_ahead_and_respect_the_gap():
    folds = timeseries(100, 4, gap=3)
    for train, held in folds:
        assert train.max() < held.min() - 3  # every training index precedes the held-out block, with the gap
        assert np.array_equal(held, np.arange(held[0], held[-1] + 1))
    starts = [h[0] for _, h in folds]
    assert starts == sorted(starts) and folds[-1][1][-1] == 99
    assert [len(t) for t, _ in folds] == sorted(len(t) for t, _ in folds)  # expanding window


def test_rolling_folds_have_a_fixed_training_window():
    folds = rolling(100, 4, window=15, gap=2)
    assert all(len(train) == 15 and train.max() < held.min() - 2 for train, held in folds)


def test_a_gap_that_leaves_no_training_data_is_an_error():
    with pytest.raises(ValueError, match="gap = 30 leaves no training data"):
        timeseries(50, 4, gap=30)


def test_k_below_two_is_an_error():
    with pytest.raises(ValueError, match="at least 2 folds"):
        kfold(10, 1, np.random.default_rng(0))


@pytest.mark.parametrize("strategy", ["kfold", "stratified", "holdout"])
def test_the_same_seed_gives_the_same_folds(strategy):
    labels = np.arange(60) % 3
    a = make_folds(strategy, 60, 4, np.random.default_rng(7), labels)
    b = make_folds(strategy, 60, 4, np.random.default_rng(7), labels)
    c = make_folds(strategy, 60, 4, np.random.default_rng(8), labels)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c))


def test_nested_inner_folds_never_touch_the_outer_held_out_fold():
    from dlbasics.data.datasets import load_dataset, make_splits

    ds = load_dataset("spirals", np.random.default_rng(0), n_train=200, n_test=50)
    outer = {"strategy": "stratified", "k": 4, "index": 1, "gap": 0, "window": None, "fraction": 0.2}
    def rngs():  # fresh generators per split, as the runner makes them from the seed
        return [np.random.default_rng(10), np.random.default_rng(11)]

    outer_only = make_splits(ds, 0.0, np.random.default_rng(0), np.float64, folds=[outer], fold_rngs=rngs()[:1])
    outer_held = {tuple(r) for r in outer_only.x_test}
    for j in range(3):
        inner = {**outer, "k": 3, "index": j}
        split = make_splits(ds, 0.1, np.random.default_rng(0), np.float64, folds=[outer, inner], fold_rngs=rngs())
        seen = {tuple(r) for r in np.concatenate([split.x_train, split.x_val, split.x_test])}
        assert not seen & outer_held  # inner training, validation and held-out data are all outer training data
        assert len(seen) == 150
