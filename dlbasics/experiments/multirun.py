"""The life of a multi-run folder, written once for compare, cv, seeds, bagging and sweeps.

    group = open_group("compare", name, runs_dir, members=[...])   # the folder, summary.json "running"
    results = run_group(group, tasks, executor, on_done, on_progress)  # Ctrl-C: stopped, marked, re-raised
    ...                                                                  # the kind's own tables and plots
    close_group(group, results, statuses={...})                      # completed / partial / failed

Whatever goes wrong in between (Ctrl-C, a full disk, a bug in a plot), call sites wrap their work in
``with guard(group):`` so the folder's last word is "interrupted" or "failed" with the reason, never "running".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..execution import Executor, LocalProcessExecutor, Task, TaskResult
from ..runs.folder import RunFolder, json_safe
from ..runs.summary import group_status

OnDone = Callable[[TaskResult], None]
OnProgress = Callable[[Task, dict[str, Any]], None]
OnStart = Callable[[Sequence[Task], int], None]  # every task of a stage, and how many are finished already


@dataclass
class Group:
    """A multi-run folder and its summary, kept current on disk."""

    folder: RunFolder
    summary: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.folder.path

    def save(self) -> None:
        self.folder.write_summary(json_safe(self.summary))


def open_group(kind: str, name: str, runs_dir: str | Path | None = None, folder: RunFolder | None = None,
               **fields: Any) -> Group:
    """A new folder ``<stamp>-<kind>-<name>-<hex6>`` (or ``folder``, to continue one) with a running summary."""
    folder = folder or RunFolder.create(runs_dir, f"{kind}-{name}")
    summary = {**(folder.read_summary() if (folder.path / "summary.json").is_file() else {}),
               "status": "running", "kind": kind, "run_id": folder.run_id, "name": name, **fields}
    summary.pop("message", None)
    group = Group(folder, summary)
    group.save()
    return group


@contextlib.contextmanager
def guard(group: Group) -> Iterator[Group]:
    """On any exception: the group is marked interrupted (Ctrl-C, SIGTERM, SIGHUP) or failed, then re-raised."""
    try:
        yield group
    except BaseException as err:
        group.folder.mark_stopped(group.summary, err)
        raise


def run_group(group: Group, tasks: Sequence[Task], executor: Executor | None = None, on_done: OnDone | None = None,
              on_progress: OnProgress | None = None, done: dict[int, TaskResult] | None = None,
              on_start: OnStart | None = None) -> list[TaskResult]:
    """Run ``tasks`` (all but the indices in ``done``, results kept from earlier) and return every result in task
    order; ``on_start(tasks, n done)`` first (a progress display's totals); the group is marked stopped if this
    raises."""
    done = dict(done or {})
    todo = [i for i in range(len(tasks)) if i not in done]
    if on_start is not None:
        on_start([tasks[i] for i in todo], len(done))
    executor = executor or LocalProcessExecutor()
    with guard(group):
        if todo:
            fresh = executor.run([tasks[i] for i in todo], on_done, on_progress)
            done.update(zip(todo, fresh))
    return [done[i] for i in range(len(tasks))]


def close_group(group: Group, results: Sequence[TaskResult], **fields: Any) -> None:
    """The final summary: completed when every member completed, failed when none did, partial otherwise."""
    group.summary.update(fields)
    group.summary["status"] = group_status([r.status for r in results])
    group.save()
