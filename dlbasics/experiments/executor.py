"""Running many training runs at once: one small interface, and a local process pool that implements it.

``compare``, ``cv`` and sweeps hand a list of :class:`Task` to an :class:`Executor` and read the run folders the
tasks wrote. Each task is one run in its own process with one BLAS thread, so members do not compete for the
BLAS pool and a crash (even a segfault) fails only that member. A distributed backend (e.g. Ray) would
implement the same ``run`` method without the callers changing.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Task:
    """One training run: a resolved config and the exact folder it must write."""

    name: str
    config: dict[str, Any]
    run_dir: Path


@dataclass
class Outcome:
    """How a task ended: the status from its summary.json (or "failed" when it never wrote one)."""

    task: Task
    status: str
    exitcode: int | None
    seconds: float
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Runs tasks, calling ``on_done`` as each finishes; returns the outcomes in task order."""

    def run(self, tasks: Sequence[Task], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]: ...


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def default_jobs() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker(config: dict[str, Any], run_dir: str) -> None:
    """Child process: train one config into ``run_dir``; exit 0 completed, 4 diverged, 130 interrupted, 1 failed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the children
    if hasattr(signal, "pthread_sigmask"):  # the parent started us with SIGINT blocked; ignored from now on
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from ..runner import train

    try:
        run = train(config, run_dir=run_dir, progress=False)
    except KeyboardInterrupt:
        os._exit(130)
    except BaseException:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / "error.log").write_text(traceback.format_exc())
        os._exit(1)
    os._exit(4 if run.summary["status"] == "diverged" else 0)


def _read_summary(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


class LocalProcessExecutor:
    """Up to ``jobs`` tasks at a time, each in a fresh ("spawn") process with train.threads = 1."""

    def __init__(self, jobs: int | None = None, poll_s: float = 0.05):
        self.jobs = max(1, jobs or default_jobs())
        self.poll_s = poll_s

    def run(self, tasks: Sequence[Task], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        ctx = mp.get_context("spawn")
        pending = list(enumerate(tasks))
        running: dict[int, tuple[Any, float]] = {}
        outcomes: dict[int, Outcome] = {}
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    i, task = pending.pop(0)
                    cfg = {**task.config, "train": {**task.config["train"], "threads": 1}}
                    proc = ctx.Process(target=_worker, args=(cfg, str(task.run_dir)), name=f"dlb-{task.name}")
                    with _sigint_blocked():  # a Ctrl-C during the child's start-up reaches only the parent
                        proc.start()
                    running[i] = (proc, time.perf_counter())
                for i, (proc, t0) in list(running.items()):
                    if proc.exitcode is None:
                        continue
                    del running[i]
                    outcomes[i] = self._outcome(tasks[i], proc.exitcode, time.perf_counter() - t0)
                    if on_done is not None:
                        on_done(outcomes[i])
                time.sleep(self.poll_s)
        except BaseException:
            for proc, _ in running.values():  # stop the others: they mark themselves interrupted
                proc.terminate()
            for proc, _ in running.values():
                proc.join(30)
            raise
        return [outcomes[i] for i in range(len(tasks))]

    @staticmethod
    def _outcome(task: Task, exitcode: int, seconds: float) -> Outcome:
        summary = _read_summary(task.run_dir)
        status = summary.get("status") or "failed"
        if status == "running":  # killed before it could write its final summary
            status = "failed"
        error = summary.get("message", "") if status != "completed" else ""
        if exitcode not in (0, 4) and not error:
            error = _last_line(task.run_dir / "error.log") or f"worker exited with code {exitcode}"
        return Outcome(task, status, exitcode, seconds, error, summary)
