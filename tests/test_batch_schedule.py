"""train.batch_schedule: the batch grows at milestones (Smith et al. 2018), each epoch's size is in metrics.csv."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
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
    for bad in ({"sizes": [30, 0]}, {"factor": 0.0}, {"factor": 2.0, "max_batch_size": 0}):  # Python users
        with pytest.raises(ValueError, match="batch sizes must be >= 1 and factor > 0"):  # (fit: division by 0)
            BatchSchedule(10, [1, 3], **bad)


def test_a_factor_too_large_for_a_float_means_the_whole_training_set_not_a_traceback():
    huge = BatchSchedule(8, [1, 2], factor=1e300)  # 8 * 1e600 overflows a float
    assert huge(1) == 8 and huge(3) >= 2**62
    assert BatchSchedule(8, [1, 2], factor=1e300, max_batch_size=64)(3) == 64


@pytest.mark.parametrize("overrides,refused", [
    ([], False),
    (["train.batch_schedule={milestones: [2], batch_sizes: [1000]}"], True),  # the grown batch must fit
    (["train.diagnostics=true", "train.diagnostics_probe=1000"], True),  # so must the diagnostics' probe batch
    (["train.diagnostics=true"], False),  # the default probe of 256
])
def test_the_memory_check_holds_the_largest_batch_and_the_diagnostics_probe(overrides, refused):
    from dlbasics.runner import build_model

    # quickstart's MLP: about 3.8 MB with batches of 64, 9.3 MB with 1000 (weights, Adam state, activations)
    cfg = load_config(REPO / "configs/quickstart.yaml", ["train.max_memory=6MB", *overrides])
    if refused:
        with pytest.raises(ConfigError, match="but the limit is 6 MB"):
            build_model(cfg, (1, 28, 28), 10, n_train=9000)
    else:
        build_model(cfg, (1, 28, 28), 10, n_train=9000)


def test_fit_uses_each_epochs_batch_size_and_records_it():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 1))
    model = Sequential(mlp_layers([], 1, flatten=False)).build((3,), np.random.default_rng(1), np.float64)
    hist = fit(model, MSELoss(), SGD(model.parameters(), lr=0.01), x, y, rng=rng, epochs=3, batch_size=10,
               batch_schedule=BatchSchedule(10, [1, 2], sizes=[50, 1000]))
    assert [r["batch_size"] for r in hist.rows] == [10, 50, 100]  # never more than the training set
    assert [r["step"] for r in hist.rows] == [10, 12, 13]


def test_a_run_records_batch_size_per_epoch_and_sizes_a_per_step_schedule(write_config, tmp_path):
    from dlbasics.optim.schedules import trace
    from dlbasics.plots.schedule import plot_schedule
    from dlbasics.runner import Run, build_schedule_only, steps_by_epoch, train
    from dlbasics.runs.folder import RunFolder

    text = ("name: grow\ndata: {name: moons, n_train: 100, n_test: 20, val_split: 0.2}\nmodel: {hidden: [4]}\n"
            "train: {epochs: 3, batch_size: 8, batch_schedule: {milestones: [1], factor: 2.5}}\n")
    path = write_config(text)
    run = train(load_config(path), runs_dir=tmp_path / "runs", progress=False, plots=False)
    lines = (run.path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step,lr,batch_size,") and [ln.split(",")[3] for ln in lines[1:]] == [
        "8", "20", "20"]
    grown = run.config
    grown["train"]["batch_schedule"]["factor"] = 1e12  # batches past the 80 samples: loading the model counts
    RunFolder(run.path).write_config(grown)  # batches of 80, as fit made them (not 8e12: "needs about 896 TB")
    assert Run(run.path).load_model().num_parameters() == 4 * 3 + 5 * 2
    cfg = load_config(path, ["schedule.name=onecycle"])
    sched = build_schedule_only(cfg).schedule
    assert sched.total == 10 + 4 + 4  # 80 training samples: 10 steps of 8, then 4 of 20 per epoch
    assert steps_by_epoch(cfg, 80) == [10, 4, 4]  # what --dry-run and dlb schedule report
    fig = plot_schedule(trace(sched, sched.total), [10, 4, 4])
    x = fig.axes[0].lines[0].get_xdata()  # each epoch's steps spread over that epoch, not 18 / 10 = 1.8 epochs
    np.testing.assert_allclose(x[[0, 9, 10, 14, 17]], [0, 0.9, 1, 2, 2.75])


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
