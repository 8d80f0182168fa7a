"""Running one task in the current process: :func:`run_task` returns a :class:`TaskResult` and never exits,
so the same function serves a persistent worker process, a Dask task or the caller's own process."""

from __future__ import annotations

import contextlib
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import one_line
from ..train.loop import Callback
from .task import Task, TaskResult

#: files that only a run (or a failed attempt at one) writes
RUN_MARKERS = ("config.yaml", "summary.json", "error.log")
#: called with each epoch's metrics row while a task trains
Progress = Callable[[dict[str, Any]], None]


class _Report(Callback):
    def __init__(self, progress: Progress, epochs: int):
        self.progress, self.epochs = progress, epochs

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        self.progress({**row, "epochs": self.epochs})


def run_task(task: Task, progress: Progress | None = None) -> TaskResult:
    """Train ``task.config`` into ``task.run_dir`` (a folder left there by an earlier attempt of the same task is
    replaced). A crash becomes status "failed" with a one-line error (the traceback goes to ``error.log`` in the
    run folder when it can be written); KeyboardInterrupt (Ctrl-C, or a stop signal turned into it) becomes
    "interrupted". ``progress`` is called with every epoch's metrics row (plus ``epochs``, the planned total)."""
    from ..runner import train
    from ..runs.folder import json_safe

    t0 = time.perf_counter()
    run_dir = Path(task.run_dir)
    if run_dir.exists() and not is_run_folder(run_dir):
        return TaskResult(task, "failed", {}, f"{run_dir} exists and is not a run folder; not overwriting it")
    callbacks = [_Report(progress, task.config["train"]["epochs"])] if progress is not None else []
    try:
        if run_dir.exists():
            shutil.rmtree(run_dir)  # what an earlier attempt of this task left
        run = train(task.config, run_dir=run_dir, progress=False, callbacks=callbacks, plots=task.plots)
        summary = json_safe(run.last_summary)
        status = summary["status"]
        error = "" if status == "completed" else summary.get("message", "")
    except KeyboardInterrupt as err:
        from ..signals import interrupt_message

        summary, status, error = summary_on_disk(run_dir), "interrupted", interrupt_message(err)
    except Exception as err:
        summary, status, error = summary_on_disk(run_dir), "failed", one_line(err)
        with contextlib.suppress(OSError):
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "error.log").write_text(traceback.format_exc())
    return TaskResult(task, status, summary, error, time.perf_counter() - t0)


def is_run_folder(path: Path) -> bool:
    """An empty folder, or one with a run's config.yaml, summary.json or error.log: ours to replace or update."""
    return path.is_dir() and (not any(path.iterdir()) or any((path / f).exists() for f in RUN_MARKERS))


def summary_on_disk(run_dir: Path) -> dict:
    """A run folder's summary.json if it is readable and well formed, else {}."""
    from ..runs.summary import CorruptRunError, read_summary

    try:
        return read_summary(Path(run_dir) / "summary.json")
    except CorruptRunError:
        return {}
