"""The local executor: ``jobs`` persistent worker processes, each with one BLAS thread.

A worker is spawned once, imports NumPy and dlbasics once, keeps the data sets it has loaded (a sweep's
members mostly share one), and runs task after task: per member, only the training itself costs time.
A member that crashes its worker, even in C code, fails alone: the worker is replaced and the next tasks go on.

The parent trusts only what it can verify. A worker reports each epoch (``on_progress``) and then its
:class:`TaskResult`; a worker that dies before reporting (killed, segfault, out of memory) is recorded as failed
with the reason, in the returned result and in the member's own summary.json, whatever that file said.
Workers treat SIGTERM and SIGHUP (a closed terminal) like an interrupt, so they mark their run interrupted,
and they get SIGTERM when the parent dies. On Ctrl-C in the parent every worker is stopped the same way.
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
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .task import Task, TaskResult
from .worker import is_run_folder, run_task, summary_on_disk

#: seconds the workers get to mark their runs interrupted after a Ctrl-C, before they are killed
STOP_GRACE_S = 30.0

OnDone = Callable[[TaskResult], None]
OnProgress = Callable[[Task, dict[str, Any]], None]


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


def _worker(conn: Connection) -> None:
    """A spawned worker: run the tasks the parent sends until it sends None (or a stop signal arrives)."""
    from ..runner import cache_datasets
    from ..signals import interrupt_on_stop_signals

    interrupt_on_stop_signals()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the workers
    try:
        if hasattr(signal, "pthread_sigmask"):  # the parent started us with these blocked: a stop signal sent
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})  # now
        _die_with_parent()                                                # lands in the except below
        cache_datasets()
        try:
            conn.send(("ready", None, None))
        except OSError:
            return
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message is None:
                return
            index, task = message
            result = run_task(task, lambda row, i=index: conn.send(("progress", i, row)))
            try:
                with _signals_blocked(signal.SIGTERM, signal.SIGHUP):  # the result is the point: do not lose it
                    conn.send(("done", index, result))
            except OSError:
                return
            if result.status == "interrupted":
                return  # a stop signal: this worker is done
    except KeyboardInterrupt:
        pass  # stopped while idle


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def died(task: Task, exitcode: int | None, seconds: float, stopping: bool) -> TaskResult:
    """The result of a task whose worker died before reporting: failed (interrupted, when the parent was
    stopping the workers), with the reason."""
    status = "interrupted" if stopping else "failed"
    return TaskResult(task, status, summary_on_disk(task.run_dir),
                      f"worker {_death(exitcode)} before reporting a result", seconds, exitcode)


def record(result: TaskResult) -> None:
    """Make the member's summary.json tell the truth the parent knows (a worker that died cannot)."""
    from ..runs.folder import RunFolder

    run_dir = Path(result.task.run_dir)
    if run_dir.exists() and not is_run_folder(run_dir):
        return  # not ours to write into
    on_disk = summary_on_disk(run_dir)
    if on_disk.get("status") == result.status:
        return
    if on_disk.get("status") == "completed" and result.status == "interrupted":
        result.status, result.error, result.summary = "completed", "", on_disk  # it finished: the pipe lost it
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
class _Worker:
    proc: Any
    conn: Connection
    index: int | None = None  # the task it runs
    t0: float = 0.0
    ready: bool = False  # it has booted (imports done): a death from now on is its task's


class LocalProcessExecutor:
    """``jobs`` persistent worker processes (default: the CPU cores), each training with train.threads = 1.

    ``run`` starts the workers and stops them when it is done. Used as a context manager (or after ``start``),
    the pool lives until ``close``: it boots while the caller still validates its plan, and serves several
    ``run`` calls (nested cross-validation's two stages) with the same warm workers.
    """

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs or default_jobs())
        self._workers: list[_Worker] = []
        self._failed_starts = 0
        self._keep = False

    def _spawn(self) -> None:
        ctx = mp.get_context("spawn")
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child_end,), name="dlb-worker", daemon=True)
        with _signals_blocked(signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            proc.start()  # a Ctrl-C during the worker's start-up reaches only the parent, once it is listed
            child_end.close()
            self._workers.append(_Worker(proc, parent_end))

    def start(self, count: int | None = None) -> LocalProcessExecutor:
        """Spawn the workers now (they import and boot in the background); keep them until ``close``."""
        self._keep = True
        while len(self._workers) < min(self.jobs, count or self.jobs):
            self._spawn()
        return self

    connect = start

    def close(self) -> None:
        """Stop the idle workers (each finishes nothing: they are idle between runs)."""
        workers, self._workers, self._keep = self._workers, [], False
        for w in workers:
            with contextlib.suppress(OSError, ValueError):
                w.conn.send(None)
        for w in workers:
            w.proc.join(5)
            if w.proc.is_alive():
                w.proc.kill()

    def __enter__(self) -> LocalProcessExecutor:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None,
            on_progress: OnProgress | None = None) -> list[TaskResult]:
        """Run every task; ``on_progress(task, row)`` after each epoch, ``on_done(result)`` as each ends;
        return the results in task order. On Ctrl-C (any exception in the parent) the workers are stopped, their
        runs recorded as interrupted, and it re-raises."""
        pending = deque(range(len(tasks)))
        workers = self._workers
        results: dict[int, TaskResult] = {}
        prepared = [replace(t, config={**t.config, "train": {**t.config["train"], "threads": 1}},
                            run_dir=Path(t.run_dir).absolute()) for t in tasks]

        def finish(index: int, result: TaskResult, notify: bool = True) -> None:
            record(result)
            results[index] = result
            if on_done is not None and notify:
                on_done(result)

        try:
            while len(workers) < min(self.jobs, len(tasks)):
                self._spawn()
            while pending or any(w.index is not None for w in workers):
                if not workers:
                    self._spawn()
                for w in workers:
                    if w.index is None and pending:
                        index = pending.popleft()
                        try:
                            w.conn.send((index, prepared[index]))
                        except OSError:  # the worker is gone: the task waits for another one
                            pending.appendleft(index)
                            continue
                        w.index, w.t0 = index, time.perf_counter()
                self._serve(workers, tasks, finish, on_progress, self._spawn, pending)
        except BaseException:
            self._stop(workers, tasks, finish)
            self._workers = []
            raise
        if not self._keep:
            self.close()
        return [results[i] for i in range(len(tasks))]

    def _serve(self, workers: list[_Worker], tasks: Sequence[Task], finish: Callable[..., None],
               on_progress: OnProgress | None, start: Callable[[], None], pending: deque) -> None:
        """Wait for messages or deaths and handle them."""
        handles = {w.conn: w for w in workers} | {w.proc.sentinel: w for w in workers}
        for handle in wait(list(handles), timeout=1.0):
            w = handles[handle]
            if handle is w.conn:
                try:
                    kind, index, payload = w.conn.recv()
                except (EOFError, OSError):
                    continue  # the sentinel tells the rest
                if kind == "ready":
                    w.ready, self._failed_starts = True, 0
                elif kind == "progress" and on_progress is not None:
                    on_progress(tasks[index], payload)
                elif kind == "done":
                    payload.seconds = time.perf_counter() - w.t0
                    w.index = None
                    finish(index, payload)
            elif not w.proc.is_alive() and w in workers:
                w.proc.join()
                workers.remove(w)
                if not w.ready:  # died before it was ready: it cannot start (not its task's fault)
                    if w.index is not None:
                        pending.appendleft(w.index)
                    self._failed_starts += 1
                    if self._failed_starts >= 3:
                        raise RuntimeError(f"worker processes die as they start (the last {_death(w.proc.exitcode)}); "
                                           "is the program importable by a spawned process?")
                elif w.index is not None:
                    finish(w.index, died(tasks[w.index], w.proc.exitcode, time.perf_counter() - w.t0, False))
                if pending:
                    start()

    @staticmethod
    def _stop(workers: list[_Worker], tasks: Sequence[Task], finish: Callable[..., None]) -> None:
        from ..signals import STOP_SIGNALS, _ignore

        saved = {}
        for sig in (signal.SIGINT, *STOP_SIGNALS):  # a second Ctrl-C must not abandon the workers half-stopped
            with contextlib.suppress(ValueError):
                saved[sig] = signal.signal(sig, _ignore)
        try:
            LocalProcessExecutor._stop_workers(workers, tasks, finish)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    @staticmethod
    def _stop_workers(workers: list[_Worker], tasks: Sequence[Task], finish: Callable[..., None]) -> None:
        for w in workers:  # they mark their runs interrupted and report
            with contextlib.suppress(OSError):
                w.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S

        def drain(w: _Worker, wait_s: float) -> None:
            """Read what the worker sent (progress, its result) until its result or ``wait_s`` of silence."""
            while w.index is not None and w.conn.poll(wait_s):
                try:
                    kind, index, payload = w.conn.recv()
                except (EOFError, OSError):
                    return
                if kind == "done":
                    payload.seconds = time.perf_counter() - w.t0
                    finish(index, payload, notify=False)
                    w.index = None

        for w in workers:
            while w.index is not None and w.proc.is_alive() and time.monotonic() < deadline:
                drain(w, 0.1)
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            drain(w, 0)  # a result sent just before the worker ended is still in the pipe
            if w.index is not None:
                finish(w.index, died(tasks[w.index], w.proc.exitcode, time.perf_counter() - w.t0, True),
                       notify=False)
                w.index = None


class InProcessExecutor:
    """Every task in this process, one after the other (no isolation: a crash in C code ends everything).

    For notebooks, debugging and tests: no process start-up, and a breakpoint in the training loop works.
    """

    def run(self, tasks: Sequence[Task], on_done: OnDone | None = None,
            on_progress: OnProgress | None = None) -> list[TaskResult]:
        results = []
        for task in tasks:
            task = replace(task, run_dir=Path(task.run_dir).absolute())
            report = (lambda row, t=task: on_progress(t, row)) if on_progress is not None else None
            result = run_task(task, report)
            results.append(result)
            if result.status == "interrupted":
                raise KeyboardInterrupt
            if on_done is not None:
                on_done(result)
        return results
