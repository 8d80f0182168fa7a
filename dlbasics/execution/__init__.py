"""Running many training runs: a :class:`Task` in, a :class:`TaskResult` out, whatever runs it.

``run_task`` runs one task in the current process and never exits; executors (the local process pool here)
only decide where ``run_task`` runs and verify what comes back. An executor is anything with
``run(tasks, on_done) -> list[TaskResult]`` (results in task order, ``on_done`` called as each ends).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .local import InProcessExecutor, LocalProcessExecutor, default_jobs
from .task import EXIT_CODES, ExecutorError, Task, TaskResult
from .worker import run_task


class Executor(Protocol):
    """Runs tasks, calling ``on_progress(task, row)`` after each epoch (where it can) and ``on_done(result)`` as
    each finishes; returns the results in task order. On an exception (Ctrl-C) it stops what runs and re-raises."""

    def run(self, tasks: Sequence[Task], on_done: Callable[[TaskResult], None] | None = None,
            on_progress: Callable[[Task, dict[str, Any]], None] | None = None) -> list[TaskResult]: ...


__all__ = [
    "EXIT_CODES",
    "Executor",
    "ExecutorError",
    "InProcessExecutor",
    "LocalProcessExecutor",
    "Task",
    "TaskResult",
    "default_jobs",
    "make_executor",
    "run_task",
]


def make_executor(spec: str = "local", jobs: int | None = None, collect: bool = False) -> Executor:
    """The executor named on the command line: ``local`` (persistent local workers), ``dask`` (the cluster at
    ``$DLB_DASK_SCHEDULER``, else a new LocalCluster of ``jobs`` workers) or ``dask://HOST:PORT`` (also
    ``dask://tcp://HOST:PORT``, ``dask://tls://...``, as a scheduler prints its address)."""
    if spec == "local":
        if collect:
            raise ExecutorError("--collect sends run folders back from Dask workers; it needs --executor dask")
        return LocalProcessExecutor(jobs)
    if spec == "dask" or spec.startswith("dask://"):
        from .dask import DaskExecutor

        rest = spec[len("dask://"):] if spec.startswith("dask://") else None
        address = rest if rest is None or "://" in rest else f"tcp://{rest}"  # dask://tls://host:port as given
        return DaskExecutor(address, jobs, collect)
    raise ExecutorError(f"unknown executor {spec!r} (allowed: local, dask, dask://HOST:PORT)")
