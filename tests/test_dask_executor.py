"""The Dask executor on a real distributed.LocalCluster: the local numbers, collected folders, a killed worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'dlbasics[dask]'")

from conftest import TINY
from dlbasics.config import load_config
from dlbasics.execution import InProcessExecutor, Task
from dlbasics.execution.dask import DaskExecutor
from dlbasics.experiments.sweep import plan_sweep, run_sweep


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster of two worker processes for the module (starting one costs seconds)."""
    with DaskExecutor(jobs=2) as executor:
        executor.connect()
        yield executor


def finals(result) -> list:
    return [(r["member"], r["status"], r["val_loss"], r["test_acc"]) for r in result.rows]


def test_a_sweep_on_a_dask_cluster_gives_the_numbers_of_the_local_executor(cluster, write_config, tmp_path):
    plan = plan_sweep(load_config(write_config(TINY)), {"optimizer.lr": [0.3, 0.01]}, seeds=2)
    here = run_sweep(plan, runs_dir=tmp_path / "here", executor=InProcessExecutor())
    there = run_sweep(plan, runs_dir=tmp_path / "dask", executor=cluster)
    assert finals(there) == finals(here) and {r["status"] for r in there.rows} == {"completed"}
    pids = {json.loads((p / "summary.json").read_text())["pid"] for p in (there.path / "members").iterdir()}
    assert os.getpid() not in pids  # trained by the cluster's workers


def test_collect_sends_the_run_folders_back_with_the_local_numbers(cluster, write_config, tmp_path):
    cfg = load_config(write_config(TINY))
    cluster.collect = True
    try:
        (result,) = cluster.run([Task("m", cfg, tmp_path / "m")])
    finally:
        cluster.collect = False
    assert result.status == "completed"
    assert {"config.yaml", "summary.json", "metrics.csv", "model.npz"} <= {p.name for p in (tmp_path / "m").iterdir()}
    here = InProcessExecutor().run([Task("m", cfg, tmp_path / "here")])[0]
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["final"] == here.summary["final"]
    with np.load(tmp_path / "m" / "model.npz") as a, np.load(tmp_path / "here" / "model.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_a_worker_killed_mid_member_costs_only_that_member(cluster, write_config, tmp_path):
    cfg = load_config(write_config(TINY))
    slow = {**cfg, "train": {**cfg["train"], "epochs": 40}}
    tasks = [Task("slow", slow, tmp_path / "slow"), Task("a", cfg, tmp_path / "a"), Task("b", cfg, tmp_path / "b")]

    killed = []

    def kill_when_running():
        path = tmp_path / "slow" / "summary.json"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                os.kill(json.loads(path.read_text())["pid"], signal.SIGKILL)
                killed.append(True)
                return
            except (OSError, ValueError, KeyError):
                time.sleep(0.02)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    results = cluster.run(tasks)
    killer.join()
    assert killed  # the member's worker really died under it
    assert [r.status for r in results[1:]] == ["completed", "completed"]
    assert results[0].status in ("completed", "failed")  # Dask reruns it on another worker, or gives up
    here = InProcessExecutor().run([Task("a", cfg, tmp_path / "here")])[0]
    assert results[1].summary["final"] == here.summary["final"]
