"""Progress of a multi-run command (compare, cv, seeds, bagging, sweep).

On a terminal: a live table of the running members (epoch / total, the latest validation metric, ETA) under a
line of counts, with one line printed above it as each member ends. In a pipe or a log: only that one line
per finished member. Both are fed by the executor's ``on_progress`` and ``on_done`` callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from ..execution import Task, TaskResult
from .tables import Col, FitTable

MAX_ROWS = 12  # running members shown at once


@dataclass
class _State:
    name: str
    status: str = "waiting"
    epoch: int = 0
    epochs: int = 0
    metric: str = ""
    started: float | None = None


def _key(task: Task) -> str:
    return str(Path(task.run_dir).absolute())


def _seconds(s: float | None) -> str:
    if s is None or s != s:
        return ""
    s = round(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def result_line(result: TaskResult, held_out: bool = False) -> str:
    """``adam seed 1: completed in 3.2 s  test_loss 0.1234  test_acc 0.9650  (the reason, if it did not complete)``."""
    final = result.summary.get("final") or {}
    prefix = "held-out " if held_out else ""
    shown = "  ".join(f"{prefix}{k if not held_out else k[5:]} {final[k]:.4f}" for k in ("test_loss", "test_acc")
                      if isinstance(final.get(k), (int, float)))
    why = f"({result.error})" if result.error and result.status != "completed" else ""
    return "  ".join(p for p in (f"{result.task.name}: {result.status} in {result.seconds:.1f} s", shown, why) if p)


class Board:
    """Feed it with ``on_progress`` / ``on_done``; use it as a context manager around the executor's run."""

    def __init__(self, tasks: Sequence[Task], console: Console | None = None, jobs: int = 1, quiet: bool = False,
                 held_out: bool = False):
        self.console = console or Console(stderr=True)
        self.states = {_key(t): _State(t.name) for t in tasks}
        self.jobs, self.quiet, self.held_out = max(1, jobs), quiet, held_out
        self.t0 = time.perf_counter()
        self.durations: list[float] = []
        self.kept = 0  # members finished before this command (kept, not retrained)
        self.live: Live | None = None

    def __enter__(self) -> Board:
        if self.console.is_terminal and not self.quiet:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None

    def on_start(self, tasks: Sequence[Task], done: int = 0) -> None:
        """A stage begins: these tasks wait (``done`` members were finished before, e.g. a resumed sweep's)."""
        for t in tasks:
            self.states.setdefault(_key(t), _State(t.name))
        self.kept += done
        self._refresh()

    def on_progress(self, task: Task, row: dict[str, Any]) -> None:
        st = self.states.setdefault(_key(task), _State(task.name))
        if st.started is None:
            st.started = time.perf_counter() - row.get("elapsed_s", 0.0)
        st.status, st.epoch, st.epochs = "running", int(row["epoch"]), int(row.get("epochs") or 0)
        metric = next((k for k in ("val_acc", "val_loss", "train_loss") if row.get(k) is not None), None)
        st.metric = f"{metric} {row[metric]:.4f}" if metric else ""
        self._refresh()

    def on_done(self, result: TaskResult) -> None:
        st = self.states.setdefault(_key(result.task), _State(result.task.name))
        st.status = result.status
        self.durations.append(result.seconds)
        if not self.quiet:
            line = Text(result_line(result, self.held_out))
            if result.status != "completed":
                line.stylize("red")
            self.console.print(line)  # wrapped at word boundaries to the terminal (80 columns in a pipe)
        self._refresh()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> Group:
        states = list(self.states.values())
        counts: dict[str, int] = {}
        for st in states:
            counts[st.status] = counts.get(st.status, 0) + 1
        finished = len(states) - counts.get("waiting", 0) - counts.get("running", 0)
        eta = ""
        if self.durations:
            left = counts.get("waiting", 0) + counts.get("running", 0) / 2
            eta = f", ETA {_seconds(left * sum(self.durations) / len(self.durations) / self.jobs)}"
        kept = f", {self.kept} kept from before" if self.kept else ""
        head = Text(f"{finished}/{len(states)} done ("
                    + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                    + f"{kept}), elapsed {_seconds(time.perf_counter() - self.t0)}{eta}")
        running = [st for st in states if st.status == "running"][:MAX_ROWS]
        rows = []
        for st in running:
            left = None
            if st.started is not None and st.epoch:
                left = (time.perf_counter() - st.started) / st.epoch * max(0, st.epochs - st.epoch)
            rows.append({"member": st.name, "epoch": f"{st.epoch}/{st.epochs}", "latest": st.metric,
                         "ETA": _seconds(left)})
        table = FitTable([Col("member", "member", "id"), Col("epoch", "epoch"),
                          Col("latest", "latest", "id", priority=1), Col("ETA", "ETA", priority=0)], rows,
                         style="plain", header_style="bold")
        return Group(head, table) if running else Group(head)
