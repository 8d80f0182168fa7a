"""Showing a run's progress: a rich live display on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..train.loop import Callback


def format_row(row: dict[str, Any], epochs: int) -> str:
    """``epoch  3/10  train_loss 0.1234  train_acc 0.9650  val_loss ...  lr 0.001  1.23 s``."""
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}"]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        if row.get(key) is not None:
            parts.append(f"{key} {row[key]:.4f}")
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['epoch_time_s']:.2f} s")
    return "  ".join(parts)


class PlainProgress(Callback):
    """One line per epoch on ``stream`` (for logs and pipes)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def on_train_begin(self, info):
        self.epochs = info["epochs"]

    def on_epoch_end(self, row):
        print(format_row(row, self.epochs), file=self.stream, flush=True)


class RichProgress(Callback):
    """A live bar over epochs and one over the current epoch's batches, with the running loss and ETA."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=True,
        )

    def on_train_begin(self, info):
        self.epochs, self.n_batches = info["epochs"], info["n_batches"]
        self.every = max(1, self.n_batches // 50)
        self.progress.start()
        self.total = self.progress.add_task("epochs", total=self.epochs, info="")
        self.batches = self.progress.add_task("epoch 1", total=self.n_batches, info="")
        self.loss_sum = 0.0

    def on_epoch_begin(self, epoch):
        self.loss_sum = 0.0
        self.progress.reset(self.batches, total=self.n_batches, description=f"epoch {epoch}", info="")

    def on_batch_end(self, batch, loss):
        self.loss_sum += loss
        if batch % self.every == 0 or batch == self.n_batches:
            self.progress.update(self.batches, completed=batch, info=f"loss {self.loss_sum / batch:.4f}")

    def on_epoch_end(self, row):
        self.progress.console.print(format_row(row, self.epochs), highlight=False)
        shown = "  ".join(f"{k} {row[k]:.4f}" for k in ("val_loss", "val_acc") if row.get(k) is not None)
        self.progress.update(self.total, completed=row["epoch"], info=shown)

    def close(self) -> None:
        self.progress.stop()
