"""train.batch_schedule: the batch grows at milestones (Smith et al. 2018), each epoch's size is in metrics.csv."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import ConfigError, load_config
from dlbasics.nn.losses import MSELoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import SGD
from dlbasics.train.batch_schedule import BatchSchedule
from dlbasics.train.loop import fit


def test_sizes_change_after_the_milestone_epochs():
    grow = BatchSchedule(16, [2, 4], factor=4, max_batch_size=200)
    assert [grow(e) for e in range(1, 7)] == [16, 16, 64, 64, 200, 200]  # 256 capped
    listed = BatchSchedule(10, [1, 3], sizes=[30, 50])
    assert [listed(e) for e in range(1, 5)] == [10, 30, 30, 50]
    with pytest.raises(ValueError, match="one per milestone"):
        BatchSchedule(10, [1, 3], sizes=[30])


def test_fit_uses_each_epochs_batch_size_and_records_it():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 1))
    model = Sequential(mlp_layers([], 1, flatten=False)).build((3,), np.random.default_rng(1), np.float64)
    hist = fit(model, MSELoss(), SGD(model.parameters(), lr=0.01), x, y, rng=rng, epochs=3, batch_size=10,
               batch_schedule=BatchSchedule(10, [1, 2], sizes=[50, 1000]))
    assert [r["batch_size"] for r in hist.rows] == [10, 50, 100]  # never more than the training set
    assert [r["step"] for r in hist.rows] == [10, 12, 13]


def test_a_run_records_batch_size_per_epoch_and_sizes_a_per_step_schedule(write_config, tmp_path):
    from dlbasics.runner import build_schedule_only, train

    text = ("name: grow\ndata: {name: moons, n_train: 100, n_test: 20, val_split: 0.2}\nmodel: {hidden: [4]}\n"
            "train: {epochs: 3, batch_size: 8, batch_schedule: {milestones: [1], factor: 2.5}}\n")
    path = write_config(text)
    run = train(load_config(path), runs_dir=tmp_path / "runs", progress=False, plots=False)
    lines = (run.path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step,lr,batch_size,") and [ln.split(",")[3] for ln in lines[1:]] == [
        "8", "20", "20"]
    sched = build_schedule_only(load_config(path, ["schedule.name=onecycle"])).schedule
    assert sched.total == 10 + 4 + 4  # 80 training samples: 10 steps of 8, then 4 of 20 per epoch


@pytest.mark.parametrize("text,fragment", [
    ("train: {batch_schedule: {milestones: [3, 2], factor: 2}}\n", "train.batch_schedule.milestones: expected "
                                                                   "increasing epochs"),
    ("train: {batch_schedule: {milestones: [3]}}\n", "train.batch_schedule: give either batch_sizes"),
    ("train: {batch_schedule: {milestones: [3], batch_sizes: [1, 2]}}\n", "train.batch_schedule.batch_sizes: 2 "
                                                                          "sizes for 1 milestones"),
    ("train: {batch_size: full, batch_schedule: {milestones: [3], factor: 2}}\n", "train.batch_schedule: needs a "
                                                                                  "number as train.batch_size"),
])
def test_bad_batch_schedules_name_their_key(write_config, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(text))
    assert fragment in str(err.value)
