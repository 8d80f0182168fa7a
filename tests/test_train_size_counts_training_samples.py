"""``data.train_size`` is the number of training samples after the validation split, in every kind of run."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import dlb
from dlbasics.data.datasets import sized_split, split_indices
from dlbasics.data.splits import validation_size

LABELS = np.repeat(np.arange(10), 100)  # 1,000 samples, 100 per class


def test_validation_is_val_split_of_training_plus_validation_taken_from_the_rest():
    assert validation_size(10_000, 0.1) == 1_111 and validation_size(20_000, 0.1) == 2_222
    assert validation_size(500, 0.5) == 500 and validation_size(300, 0.0) == 0
    tr, va, test = split_indices(1000, LABELS, False, 0.2, np.random.default_rng(0), train_size=400)
    assert (len(tr), len(va), test) == (400, 100, None) and not set(tr) & set(va)
    assert np.bincount(LABELS[tr]).tolist() == [40] * 10 and np.bincount(LABELS[va]).tolist() == [10] * 10


def test_without_room_validation_takes_what_is_left_and_none_left_is_an_error():
    # 950 training samples want 238 for validation at 0.2; only 50 remain: validation is those 50
    tr, va = sized_split(1000, 950, 0.2, np.random.default_rng(0), LABELS)
    assert (len(tr), len(va)) == (950, 50) and len(set(tr) | set(va)) == 1000
    with pytest.raises(ValueError, match="1000 training samples leave none of the 1000 training samples"):
        sized_split(1000, 1000, 0.2, np.random.default_rng(0), LABELS)
    tr, va = sized_split(1000, 1000, 0.0, np.random.default_rng(0), LABELS)  # no validation asked: all train
    assert (len(tr), len(va)) == (1000, 0)


def test_a_time_series_keeps_its_most_recent_samples_training_block_then_validation_block():
    tr, va = sized_split(100, 40, 0.2, np.random.default_rng(0), ordered=True)
    assert tr.tolist() == list(range(50, 90)) and va.tolist() == list(range(90, 100))


@pytest.mark.parametrize("strategy", ["timeseries", "rolling"])
def test_every_time_series_fold_trains_on_the_block_just_before_its_held_out_block(strategy):
    # forward chaining moves the training block with the held-out block; the first samples of each fold's
    # training part would be the same for every fold and ever further from what it predicts
    blocks = set()
    for i in range(4):
        spec = {"strategy": strategy, "k": 4, "index": i, "gap": 5, "window": 190 if strategy == "rolling" else None,
                "fraction": None}
        tr, va, held = split_indices(1000, None, True, 0.2, np.random.default_rng(0), 150, [spec],
                                     [np.random.default_rng(1)])
        assert (len(tr), len(va)) == (150, 38) and tr.max() < va.min() and va.max() + 1 + 5 == held.min()
        assert np.array_equal(np.concatenate([tr, va]), np.arange(tr.min(), va.max() + 1))
        blocks.add(int(tr.min()))
    assert len(blocks) == 4


def test_every_cross_validation_fold_trains_on_train_size_and_tests_on_its_whole_fold():
    folds = [{"strategy": "stratified", "k": 4, "index": i, "gap": 0, "window": None, "fraction": None}
             for i in range(4)]
    for spec in folds:
        tr, va, held = split_indices(1000, LABELS, False, 0.2, np.random.default_rng(0), 300, [spec],
                                     [np.random.default_rng(1)])
        assert (len(tr), len(va), len(held)) == (300, 75, 250)
        assert not (set(tr) | set(va)) & set(held)


def test_a_train_size_the_data_cannot_give_is_one_line_naming_the_key(write_config):
    result = dlb("train", write_config("data: {name: mnist-mini, train_size: 10000}\n"), "--dry-run")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "data.train_size: 10000 training samples leave none of the 10000" in result.stderr


def test_dry_run_reports_the_training_count(write_config):
    result = dlb("train", write_config("data: {name: mnist-mini, train_size: 900, val_split: 0.25}\n"), "--dry-run")
    assert result.returncode == 0 and "900 training / 300 validation / 2,000 test" in result.stdout
