"""Exact resume: a run stopped at any epoch and continued from its checkpoint equals the run never stopped,
bit for bit (weights and every metrics column but the times)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.config import ConfigError
from dlbasics.runner import Run, resume
from dlbasics.train.loop import Callback

CASES = {
    "sgd-momentum-step": ["optimizer.name=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "schedule.name=step",
                          "schedule.step_size=2", "schedule.gamma=0.5", "train.epochs=6"],
    # plateau cuts the lr every epoch (no value beats best by 90 %) and early stopping counts every epoch (no
    # accuracy beats the best by 0.5): losing either's state on resume changes the numbers
    "adam-plateau-dropout-mixup-early-stopping": [
        "schedule.name=plateau", "schedule.patience=0", "schedule.threshold=0.9", "model.dropout=0.3",
        "regularization.mixup.alpha=0.4", "regularization.early_stopping={monitor: val_acc, patience: 5, "
        "min_delta: 0.5, restore_best: true}", "train.epochs=7"],
    # the classic velocity carries each step's own lr (the step schedule halves it): it must be restored as saved
    "nesterov-classic-step": ["optimizer.name=nesterov", "optimizer.lr=0.1",
                                           "optimizer.momentum_form=classic", "schedule.name=step",
                                           "schedule.step_size=2", "schedule.gamma=0.5", "train.epochs=6"],
    "batchnorm-onecycle-noise-clipping": ["model.batchnorm=true", "schedule.name=onecycle",
                                          "regularization.input_noise.std=0.05", "regularization.weight_noise.std=0.01",
                                          "regularization.grad_clip.max_norm=1.0", "train.epochs=5"],
}
IMAGES = """
name: images
seed: 1
data: {name: mnist-mini, train_size: 180, val_split: 0.25, augment: {shift: 2, rotation: 10}}
model: {type: mlp, hidden: [16]}
regularization: {cutmix: {alpha: 1.0}, cutout: {size: 6}, l2: 1.0e-4}
schedule: {name: cosine_restarts, T_0: 2, warmup: 1}
train: {epochs: 5, batch_size: 32, eval_every: 2}
"""


class StopAt(Callback):
    """Ctrl-C at the end of epoch ``epoch``, as a user would."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, row):
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def same(a: Run, b: Run) -> None:
    times = ["epoch_time_s", "elapsed_s"]
    pd.testing.assert_frame_equal(a.metrics.drop(columns=times), b.metrics.drop(columns=times), check_exact=True)
    with np.load(a.path / "model.npz") as wa, np.load(b.path / "model.npz") as wb:
        assert wa.files == wb.files and all(np.array_equal(wa[k], wb[k]) for k in wa.files)
    assert a.summary["final"] == b.summary["final"] and a.summary["best"] == b.summary["best"]


@pytest.mark.parametrize("case", [*CASES, "images-augmentation-cutmix-cutout-restarts-eval-every-2"])
def test_an_interrupted_run_resumed_equals_the_run_never_stopped(write_config, tmp_path, case):
    cfg = load_config(write_config(TINY), CASES[case]) if case in CASES else load_config(write_config(IMAGES))
    whole = train(cfg, runs_dir=tmp_path / "whole", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, runs_dir=tmp_path / "part", progress=False, callbacks=[StopAt(3)])
    (folder,) = (tmp_path / "part").iterdir()
    assert Run(folder).summary["status"] == "interrupted"
    if case.startswith("adam-plateau"):  # the state that must survive is really there
        from dlbasics.train.checkpoint import load

        meta = load(folder / "checkpoint.npz").meta
        assert meta["early_stopping"]["wait"] > 0 and meta["schedule"]["num_bad_epochs"] == 0
        assert meta["optimizer"]["param_groups"][0]["lr"] < cfg["optimizer"]["lr"]  # plateau has cut it
    resumed = resume(folder, progress=False)
    assert resumed.summary["status"] == whole.summary["status"] == "completed"
    assert [r["from_epoch"] for r in resumed.summary["resumes"]] == [2]  # epoch 3 never completed
    same(resumed, whole)


def test_a_killed_run_resumes_from_its_last_checkpoint(write_config, tmp_path):
    sets = [*CASES["sgd-momentum-step"][:-1], "train.epochs=40", "train.checkpoint_every=3"]  # killed in between
    path = write_config(TINY)
    proc = subprocess.Popen([sys.executable, "-m", "dlbasics", "train", str(path), "--runs-dir", str(tmp_path / "k"),
                             *[a for s in sets for a in ("--set", s)]], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        found = list((tmp_path / "k").glob("*/metrics.csv"))
        if found and len(found[0].read_text().splitlines()) > 6:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (folder,) = (tmp_path / "k").iterdir()
    assert json.loads((folder / "summary.json").read_text())["status"] == "running"  # it never knew
    from dlbasics.runs.find import read_info

    assert read_info(folder).status == "killed"  # what `dlb runs list` shows: nothing holds the run any more
    result = dlb("train", "--resume", folder, "--quiet")
    assert result.returncode == 0, result.stderr
    whole = train(load_config(path, sets), runs_dir=tmp_path / "whole", progress=False)
    same(Run(folder), whole)


def test_a_completed_run_trains_further_and_equals_the_longer_run(write_config, tmp_path):
    path = write_config(TINY)
    short = train(load_config(path, CASES["sgd-momentum-step"]), runs_dir=tmp_path / "s", progress=False)
    longer = train(load_config(path, [*CASES["sgd-momentum-step"], "train.epochs=9"]), runs_dir=tmp_path / "l",
                   progress=False)
    with pytest.raises(ConfigError, match="already trained 6 of 6 epochs"):
        resume(short.path, progress=False)
    same(resume(short.path, epochs=9, progress=False), longer)
    assert short.summary["resumes"][0]["previous_status"] == "completed"


def test_resume_from_the_cli_changes_nothing_but_the_epochs(write_config, tmp_path):
    run = train(load_config(write_config(TINY)), runs_dir=tmp_path, progress=False)
    result = dlb("train", "--resume", run.path, "--set", "optimizer.lr=0.5", "--set", "train.epochs=5")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "only train.epochs may change, not optimizer.lr" in result.stderr
    for args in (["--resume", run.path, "--seeds", "2"], [write_config(TINY), "--resume", run.path], []):
        result = dlb("train", *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, args
    result = dlb("train", "--resume", run.path, "--set", "train.epochs=4", "--quiet")
    assert result.returncode == 0 and len(Run(run.path).metrics) == 4


def test_a_run_without_checkpoints_says_so(write_config, tmp_path):
    run = train(load_config(write_config(TINY), ["train.checkpoint_every=0"]), runs_dir=tmp_path, progress=False)
    assert not (run.path / "checkpoint.npz").exists()
    with pytest.raises(ConfigError, match=r"no checkpoint\.npz to continue from"):
        resume(run.path, epochs=5, progress=False)


def test_what_cannot_continue_is_refused_in_one_line(write_config, tmp_path):
    path = write_config(TINY)
    stopped = train(load_config(path, ["regularization.early_stopping={patience: 1, min_delta: 10}",
                                       "train.epochs=8"]), runs_dir=tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="early stopping ended the run at epoch 2"):
        resume(stopped.path, epochs=10, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(path, ["train.epochs=6"]), runs_dir=tmp_path / "b", progress=False, callbacks=[StopAt(4)])
    (part,) = (tmp_path / "b").iterdir()
    with pytest.raises(ConfigError, match=r"train\.epochs 2 is fewer than the 3 epochs trained"):
        resume(part, epochs=2, progress=False)
    result = dlb("train", "--resume", part, "--threads", "2")
    assert result.returncode == 2 and "not train.threads" in result.stderr
    with part.joinpath(".lock").open("a+") as held:  # the run is still training in another process
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="is in use by another run"):
            resume(part, progress=False)
    import yaml

    config = yaml.safe_load((part / "config.yaml").read_text())
    config["data"]["n_train"] = 301  # another data set than the one it trained on
    (part / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="the data set changed since the run trained"):
        resume(part, progress=False)
