"""Running one task in the current process: :func:`run_task` returns a :class:`TaskResult` and never exits,
so the same function serves a spawned process, a persistent worker or a Dask task."""

from __future__ import annotations

import contextlib
import time
import traceback
from pathlib import Path

from .task import Task, TaskResult


def _one_line(err: BaseException) -> str:
    from ..runs.folder import describe_os_error

    if isinstance(err, OSError) and err.errno is not None:
        return describe_os_error(err)
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run_task(task: Task) -> TaskResult:
    """Train ``task.config`` into ``task.run_dir``. A crash becomes status "failed" with a one-line error (the
    traceback goes to ``error.log`` in the run folder when it can be written); KeyboardInterrupt (Ctrl-C, or
    SIGTERM turned into it) becomes "interrupted"."""
    from ..runner import train

    t0 = time.perf_counter()
    try:
        run = train(task.config, run_dir=task.run_dir, progress=False)
        from ..runs.folder import json_safe

        summary = json_safe(run.last_summary)
        status = summary["status"]
        error = "" if status == "completed" else summary.get("message", "")
    except KeyboardInterrupt as err:
        from ..signals import interrupt_message

        summary, status, error = _summary_on_disk(task.run_dir), "interrupted", interrupt_message(err)
    except Exception as err:
        summary, status, error = _summary_on_disk(task.run_dir), "failed", _one_line(err)
        with contextlib.suppress(OSError):
            (Path(task.run_dir) / "error.log").write_text(traceback.format_exc())
    return TaskResult(task, status, summary, error, time.perf_counter() - t0)


def _summary_on_disk(run_dir: Path) -> dict:
    from ..runs.summary import CorruptRunError, read_summary

    try:
        return read_summary(Path(run_dir) / "summary.json")
    except CorruptRunError:
        return {}
