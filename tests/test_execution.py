"""Executors: persistent local workers, progress reports, crashes that fail only their member."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from conftest import TINY
from dlbasics.config import load_config, resolve_config
from dlbasics.execution import InProcessExecutor, LocalProcessExecutor, Task


def tiny(write_config, **sets):
    return load_config(write_config(TINY), [f"{k}={v}" for k, v in sets.items()])


def test_an_exception_in_training_fails_only_its_member(write_config, tmp_path):
    cfg = tiny(write_config)
    bad = resolve_config({**cfg, "name": "bad"}, "x")
    bad["model"]["hidden"] = "not a list"  # past validation: the worker raises inside training
    tasks = [Task("good", cfg, tmp_path / "good"), Task("bad", bad, tmp_path / "bad"),
             Task("good2", cfg, tmp_path / "good2")]
    outcomes = LocalProcessExecutor(1).run(tasks)
    assert [o.status for o in outcomes] == ["completed", "failed", "completed"]
    assert outcomes[1].error.startswith("TypeError: ") and (tmp_path / "bad" / "error.log").is_file()
    assert json.loads((tmp_path / "bad" / "summary.json").read_text())["status"] == "failed"


def test_one_worker_runs_many_members_and_reports_every_epoch(write_config, tmp_path):
    cfg = tiny(write_config)
    tasks = [Task(f"m{i}", {**cfg, "seed": i}, tmp_path / f"m{i}") for i in range(3)]
    seen, done = [], []
    outcomes = LocalProcessExecutor(1).run(tasks, on_done=done.append,
                                           on_progress=lambda task, row: seen.append((task.name, row["epoch"])))
    assert [o.status for o in outcomes] == ["completed"] * 3 and len(done) == 3
    assert seen == [(f"m{i}", e) for i in range(3) for e in (1, 2, 3)]
    pids = {json.loads((tmp_path / f"m{i}" / "summary.json").read_text())["pid"] for i in range(3)}
    assert len(pids) == 1 and os.getpid() not in pids  # one persistent worker, not the parent


def test_a_killed_worker_is_replaced_and_fails_only_its_member(write_config, tmp_path):
    slow = tiny(write_config, **{"train.epochs": 100000})
    fast = tiny(write_config)
    tasks = [Task("slow", slow, tmp_path / "slow"), Task("a", fast, tmp_path / "a"), Task("b", fast, tmp_path / "b")]

    def kill_when_running():
        path = tmp_path / "slow" / "summary.json"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                os.kill(json.loads(path.read_text())["pid"], signal.SIGKILL)
                return
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    outcomes = LocalProcessExecutor(1).run(tasks)
    killer.join()
    assert [o.status for o in outcomes] == ["failed", "completed", "completed"]
    assert outcomes[0].error == "worker was killed by SIGKILL before reporting a result"
    assert json.loads((tmp_path / "slow" / "summary.json").read_text())["status"] == "failed"


def test_the_in_process_executor_gives_the_same_numbers_as_the_workers(write_config, tmp_path):
    cfg = tiny(write_config)
    local = LocalProcessExecutor(1).run([Task("m", cfg, tmp_path / "local")])[0]
    here = InProcessExecutor().run([Task("m", cfg, tmp_path / "here")])[0]
    assert local.summary["final"] == here.summary["final"]


def test_an_earlier_attempt_of_a_task_is_replaced_but_a_foreign_folder_is_not(write_config, tmp_path):
    cfg = tiny(write_config)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text('{"status": "interrupted"}')
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    old, foreign = InProcessExecutor().run([Task("o", cfg, tmp_path / "old"), Task("f", cfg, tmp_path / "foreign")])
    assert old.status == "completed"
    assert foreign.status == "failed" and "not a run folder" in foreign.error
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_a_result_lost_in_the_pipe_never_turns_a_completed_run_into_an_interrupted_one(write_config, tmp_path):
    from dlbasics.execution.local import died, record

    cfg = tiny(write_config)
    done = InProcessExecutor().run([Task("m", cfg, tmp_path / "m")])[0]
    lost = died(done.task, 0, 1.0, stopping=True)  # the worker ended; its result was not read
    record(lost)
    assert lost.status == "completed" and json.loads((tmp_path / "m" / "summary.json").read_text())["status"] == \
        "completed"
