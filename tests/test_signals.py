"""Real signals to real processes: SIGTERM, SIGHUP (a closed terminal) and SIGKILL leave honest statuses,
exit 130 and no orphaned workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import TINY
from dlbasics.execution import Task
from dlbasics.execution.local import died


def start(*args: str) -> subprocess.Popen:
    """`dlb ARGS` in a new session (its own process group, as a terminal's job would be)."""
    return subprocess.Popen([sys.executable, "-m", "dlbasics", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(pattern: str, root: Path, count: int, timeout: float = 60.0) -> list[Path]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = sorted(root.glob(pattern))
        if len(found) >= count and all(p.stat().st_size > 60 for p in found):  # a header and a row
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern} did not appear in {root}")


def status(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


def test_sigterm_stops_a_comparison_and_its_workers(write_config, tmp_path):
    runs = tmp_path / "runs"
    proc = start("compare", str(write_config(TINY.replace("epochs: 3", "epochs: 100000"))), "--optimizers",
                 "sgd,adam", "--jobs", "2", "--runs-dir", str(runs))
    wait_for("*/*/metrics.csv", runs, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    (parent,) = runs.iterdir()
    assert status(parent)["status"] == "interrupted"
    for child in ("00-sgd", "01-adam"):
        assert status(parent / child)["status"] == "interrupted"
    sizes = [(parent / c / "metrics.csv").stat().st_size for c in ("00-sgd", "01-adam")]
    time.sleep(1.0)  # an orphaned worker would still be appending an epoch every few milliseconds
    assert sizes == [(parent / c / "metrics.csv").stat().st_size for c in ("00-sgd", "01-adam")]


def test_a_killed_member_fails_and_a_hangup_interrupts_the_rest(write_config, tmp_path):
    runs = tmp_path / "runs"
    proc = start("compare", str(write_config(TINY.replace("epochs: 3", "epochs: 100000"))), "--optimizers",
                 "sgd,adam", "--jobs", "2", "--runs-dir", str(runs))
    wait_for("*/*/metrics.csv", runs, 2)
    (parent,) = runs.iterdir()
    os.kill(status(parent / "00-sgd")["pid"], signal.SIGKILL)
    deadline = time.time() + 30
    while status(parent / "00-sgd")["status"] == "running" and time.time() < deadline:
        time.sleep(0.05)  # the parent records the death in the member's own summary
    sgd = status(parent / "00-sgd")
    assert sgd["status"] == "failed" and sgd["message"] == "worker was killed by SIGKILL before reporting a result"
    os.killpg(proc.pid, signal.SIGHUP)  # the terminal closes: every process of the group gets SIGHUP
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    assert status(parent)["status"] == "interrupted" and status(parent)["message"] == "interrupted by SIGHUP"
    adam = status(parent / "01-adam")
    assert adam["status"] == "interrupted" and adam["message"] == "interrupted by SIGHUP"
    assert status(parent / "00-sgd")["status"] == "failed"


def test_a_hangup_interrupts_a_single_run(write_config, tmp_path):
    proc = start("train", str(write_config(TINY.replace("epochs: 3", "epochs: 100000"))), "--runs-dir",
                 str(tmp_path))
    (metrics,) = wait_for("*/metrics.csv", tmp_path, 1)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err
    assert status(metrics.parent)["status"] == "interrupted"


def test_a_worker_that_dies_before_reporting_fails_its_member_with_the_reason(tmp_path):
    task = Task("m", {}, tmp_path / "m")
    killed = died(task, -9, 1.0, stopping=False)
    assert killed.status == "failed" and killed.error == "worker was killed by SIGKILL before reporting a result"
    assert died(task, 1, 1.0, stopping=False).error == "worker exited with code 1 before reporting a result"
    assert died(task, -15, 1.0, stopping=True).status == "interrupted"
