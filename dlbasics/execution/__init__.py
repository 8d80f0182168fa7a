"""Running many training runs: a :class:`Task` in, a :class:`TaskResult` out, whatever runs it.

``run_task`` runs one task in the current process and never exits; executors (the local process pool here)
only decide where ``run_task`` runs and verify what comes back. An executor is anything with
``run(tasks, on_done) -> list[TaskResult]`` (results in task order, ``on_done`` called as each ends).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .local import InProcessExecutor, LocalProcessExecutor, default_jobs
from .task import EXIT_CODES, Task, TaskResult
from .worker import run_task


class Executor(Protocol):
    """Runs tasks, calling ``on_done`` as each finishes; returns the results in task order."""

    def run(self, tasks: Sequence[Task], on_done: Callable[[TaskResult], None] | None = None
            ) -> list[TaskResult]: ...


__all__ = ["EXIT_CODES", "Executor", "InProcessExecutor", "LocalProcessExecutor", "Task", "TaskResult", "default_jobs",
           "run_task"]
