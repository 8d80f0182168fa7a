"""What an executor runs and what it hands back: values, never files to be read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ExecutorError(RuntimeError):
    """An executor cannot start: an unknown name, a missing extra, an unreachable scheduler. One line."""


#: how a run ended -> the exit code of the process that ran it (the `dlb` exit codes)
EXIT_CODES = {"completed": 0, "diverged": 4, "interrupted": 130, "failed": 1}


@dataclass(frozen=True)
class Task:
    """One training run: a resolved config, the exact (absolute) folder it writes, a label to show it by,
    ``meta``, free JSON-able coordinates for whoever aggregates the results (member, seed, fold, ...), and
    whether the run draws its own loss.png / accuracy.png (members of a group: no, the group draws them)."""

    name: str
    config: dict[str, Any]
    run_dir: Path
    meta: Mapping[str, Any] = field(default_factory=dict)
    plots: bool = False


@dataclass
class TaskResult:
    """How a task ended. ``status``: completed, diverged, interrupted or failed; ``summary``: the run's
    summary.json as the worker wrote it (empty if it never wrote one); ``error``: one line saying why a
    task did not complete; ``exitcode``: the worker process's exit code where there was one."""

    task: Task
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    exitcode: int | None = None
