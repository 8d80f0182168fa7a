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

#: (metrics key, header, width) of the per-epoch lines: 68 characters wide, 72 with 1,000+ epochs, so that 80
#: columns never wrap them (a value too wide for its column, a diverging loss of 1e+06, is written in 3 digits)
COLUMNS = (("train_loss", "train loss", 10), ("train_acc", "train acc", 9), ("val_loss", "val loss", 8),
           ("val_acc", "val acc", 7))


class EpochLines:
    """Per-epoch lines under one header, fixed-width columns: train and validation loss and accuracy, lr, the
    epoch's seconds. A regression run has no accuracy columns, a run without validation no validation ones; an
    epoch not validated (``train.eval_every``) leaves them blank."""

    def __init__(self, info: dict[str, Any]):
        self.epochs = info["epochs"]
        self.width = max(5, 2 * len(str(self.epochs)) + 1)
        self.keys = [c for c in COLUMNS if (info.get("classify", True) or not c[0].endswith("acc"))
                     and (info.get("validates", True) or not c[0].startswith("val"))]
        self.started = False

    def header(self) -> str:
        cells = [f"{'epoch':>{self.width}}", *(f"{h:>{w}}" for _, h, w in self.keys), f"{'lr':>9}", f"{'time':>8}"]
        return "  ".join(cells)

    def line(self, row: dict[str, Any]) -> str:
        cells = [f"{row['epoch']}/{self.epochs}".rjust(self.width)]
        for key, _, w in self.keys:
            value = row.get(key)
            cells.append(_cell(value, w))
        cells.append(f"{row['lr']:>9.3g}")
        cells.append(f"{row['epoch_time_s']:>6.2f} s")
        return "  ".join(cells)

    def lines(self, row: dict[str, Any]) -> list[str]:
        """The line of ``row``, after the header when it is the first."""
        first, self.started = not self.started, True
        return ([self.header()] if first else []) + [self.line(row)]


def _cell(value: float | None, width: int) -> str:
    """``0.1234`` right-aligned in ``width``; ``1.23e+06`` when 4 decimals would not fit; blank for None."""
    if value is None:
        return " " * width
    text = f"{value:.4f}"
    return (text if len(text) <= width else f"{value:.3g}").rjust(width)


class PlainProgress(Callback):
    """One line per epoch on ``stream`` (for logs and pipes), under a header line."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def on_train_begin(self, info):
        self.table = EpochLines(info)

    def on_epoch_end(self, row):
        try:
            for line in self.table.lines(row):
                print(line, file=self.stream, flush=True)
        except BrokenPipeError:  # `dlb train ... | head`: the reader is gone; stop as a closed terminal would
            raise KeyboardInterrupt("a closed output pipe (EPIPE)") from None


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
        self.by_epoch = info.get("batches_by_epoch")
        self.table = EpochLines(info)
        self.every = max(1, self.n_batches // 50)
        self.progress.start()
        self.total = self.progress.add_task("epochs", total=self.epochs, info="")
        self.batches = self.progress.add_task("epoch 1", total=self.n_batches, info="")
        self.loss_sum = 0.0

    def on_epoch_begin(self, epoch):
        self.loss_sum = 0.0
        if self.by_epoch:  # a batch-size schedule: this epoch's number of batches
            self.n_batches = self.by_epoch[epoch - 1]
            self.every = max(1, self.n_batches // 50)
        self.progress.reset(self.batches, total=self.n_batches, description=f"epoch {epoch}", info="")

    def on_batch_end(self, batch, loss):
        self.loss_sum += loss
        if batch % self.every == 0 or batch == self.n_batches:
            self.progress.update(self.batches, completed=batch, info=f"loss {self.loss_sum / batch:.4f}")

    def on_epoch_end(self, row):
        for line in self.table.lines(row):  # printed above the bars: they stay when the bars go
            self.progress.console.print(line, highlight=False, soft_wrap=True)
        shown = "  ".join(f"{k} {row[k]:.4f}" for k in ("val_loss", "val_acc") if row.get(k) is not None)
        self.progress.update(self.total, completed=row["epoch"], info=shown)

    def close(self) -> None:
        self.progress.stop()
