"""The local executor: up to ``jobs`` tasks at once, each in a fresh ("spawn") process with one BLAS thread.

A member that crashes, even in C code, fails alone. The parent trusts only what it can verify: a result
that the worker sent *and* an exit code that agrees with it. A worker that dies without a result (killed,
segfault, out of memory) or exits with a code that contradicts its result is recorded as failed with the
reason, in the returned :class:`TaskResult` and in the member's own summary.json, whatever that file said.
Workers treat SIGTERM and SIGHUP (a closed terminal) like an interrupt, so they mark their run
interrupted, and they are sent SIGTERM if the parent dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .task import EXIT_CODES, Task, TaskResult
from .worker import run_task

#: seconds the workers get to mark their runs interrupted after a Ctrl-C, before they are killed
STOP_GRACE_S = 30.0


def default_jobs() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _signals_blocked(*signums: int) -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(signums))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the parent process dies (so a killed parent leaves no orphan training)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(task: Task, conn: Connection) -> None:
    """Spawned process: run one task, send its result, exit with the run's exit code."""

    from ..signals import interrupt_on_stop_signals

    interrupt_on_stop_signals()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the children
    if hasattr(signal, "pthread_sigmask"):  # the parent started us with these blocked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    _die_with_parent()
    result = run_task(task)
    with _signals_blocked(signal.SIGTERM, signal.SIGHUP):  # the result is the point: do not lose it now
        conn.send(result)
        conn.close()
    sys.exit(EXIT_CODES[result.status])


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def verified(task: Task, result: TaskResult | None, exitcode: int | None, seconds: float,
             stopping: bool) -> TaskResult:
    """The result to believe: the worker's own when its exit code agrees with it; otherwise failed (or
    interrupted, when the parent was stopping the workers) with the reason."""
    if result is not None and exitcode == EXIT_CODES.get(result.status):
        result.exitcode, result.seconds = exitcode, seconds
        return result
    said = f" after reporting {result.status}" if result is not None else " before reporting a result"
    status = "interrupted" if stopping else "failed"
    from .worker import _summary_on_disk

    summary = result.summary if result is not None else _summary_on_disk(task.run_dir)
    return TaskResult(task, status, summary, f"worker {_death(exitcode)}{said}", seconds, exitcode)


def record(result: TaskResult) -> None:
    """Make the member's summary.json tell the truth the parent knows (a worker that died cannot)."""
    from ..runs.folder import RunFolder
    from .worker import _summary_on_disk

    run_dir = Path(result.task.run_dir)
    on_disk = _summary_on_disk(run_dir)
    if on_disk.get("status") == result.status:
        return
    summary = {**on_disk, "name": on_disk.get("name") or result.task.name, "status": result.status,
               "message": result.error or on_disk.get("message", "")}
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        RunFolder(run_dir).write_summary(summary)
    except OSError:
        pass  # the disk that failed the run may fail this too; the parent's own table still says it
    result.summary = summary


@dataclass
class _Running:
    task: Task
    proc: Any
    conn: Connection
    t0: float
    result: TaskResult | None = None


class LocalProcessExecutor:
    """Up to ``jobs`` tasks at a time, each in a fresh spawned process with train.threads = 1."""

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs or default_jobs())

    def run(self, tasks: Sequence[Task], on_done: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
        """Run every task; call ``on_done`` as each ends; return the results in task order. On Ctrl-C (any
        exception in the parent) the running workers are stopped, recorded as interrupted, and it re-raises."""
        ctx = mp.get_context("spawn")
        pending = deque(enumerate(tasks))
        running: dict[int, _Running] = {}
        results: dict[int, TaskResult] = {}

        def finish(i: int, stopping: bool) -> None:
            r = running.pop(i)
            r.proc.join()
            if r.result is None and r.conn.poll():
                with contextlib.suppress(EOFError, OSError):
                    r.result = r.conn.recv()
            r.conn.close()
            results[i] = verified(r.task, r.result, r.proc.exitcode, time.perf_counter() - r.t0, stopping)
            record(results[i])
            if on_done is not None and not stopping:
                on_done(results[i])

        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    i, task = pending.popleft()
                    cfg = {**task.config, "train": {**task.config["train"], "threads": 1}}
                    task1 = Task(task.name, cfg, Path(task.run_dir).absolute(), task.meta)
                    parent_end, child_end = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(task1, child_end), name=f"dlb-{task.name}")
                    with _signals_blocked(signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                        proc.start()  # a Ctrl-C during the child's start-up reaches only the parent
                    child_end.close()
                    running[i] = _Running(task, proc, parent_end, time.perf_counter())
                self._wait(running, finish)
        except BaseException:
            self._stop(running, finish)
            raise
        return [results[i] for i in range(len(tasks))]

    @staticmethod
    def _wait(running: dict[int, _Running], finish: Callable[[int, bool], None], timeout: float = 1.0) -> None:
        by_handle = {}
        for i, r in running.items():
            by_handle[r.proc.sentinel] = i
            if r.result is None:
                by_handle[r.conn] = i
        for handle in wait(list(by_handle), timeout):
            i = by_handle[handle]
            r = running.get(i)
            if r is None:
                continue
            if handle is r.conn:
                with contextlib.suppress(EOFError, OSError):  # died without a result: the sentinel says so
                    r.result = r.conn.recv()
            elif not r.proc.is_alive():
                finish(i, False)

    @staticmethod
    def _stop(running: dict[int, _Running], finish: Callable[[int, bool], None]) -> None:
        for r in running.values():  # they mark their runs interrupted and report
            with contextlib.suppress(OSError):
                r.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for r in list(running.values()):
            while r.result is None and r.proc.is_alive() and time.monotonic() < deadline:
                if r.conn.poll(0.1):
                    with contextlib.suppress(EOFError, OSError):
                        r.result = r.conn.recv()
            r.proc.join(max(0.0, deadline - time.monotonic()))
            if r.proc.is_alive():
                r.proc.kill()
        for i in list(running):
            finish(i, True)


class InProcessExecutor:
    """Every task in this process, one after the other (no isolation: a crash in C code ends everything).

    For notebooks, debugging and tests: no process start-up, and a breakpoint in the training loop works.
    """

    def run(self, tasks: Sequence[Task], on_done: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
        results = []
        for task in tasks:
            result = run_task(Task(task.name, task.config, Path(task.run_dir).absolute(), task.meta))
            result.exitcode = None
            results.append(result)
            if result.status == "interrupted":
                raise KeyboardInterrupt
            if on_done is not None:
                on_done(result)
        return results
