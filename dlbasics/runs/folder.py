"""The run folder ``runs/<YYYYmmdd-HHMMSS>-<name>-<hash6>/``: atomic writes, metrics flushed every epoch.

    config.yaml    the resolved config (defaults and overrides filled in): repeat the run with it
    metrics.csv    one row per epoch, appended and flushed as each epoch ends
    summary.json   status (running / completed / diverged / interrupted / failed), best and final metrics, ...
    model.npz      the weights by name ("0.weight", ...); ``np.load(..., allow_pickle=False)``
    loss.png, accuracy.png

Whole-file writes go to a temporary file in the same folder and are renamed over the target, so a reader
never sees half a file; metrics rows are written one ``write`` call each and flushed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import yaml_io

METRIC_COLUMNS = ["epoch", "step", "lr", "train_loss", "train_acc", "train_penalty", "val_loss", "val_acc",
                  "train_eval_loss", "train_eval_acc", "epoch_time_s", "elapsed_s"]


def default_runs_dir() -> Path:
    """``$DLB_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("DLB_RUNS_DIR") or "runs")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (readers see the old or the new file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; a run folder is as readable as any file the user writes
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_safe(value: Any) -> Any:
    """NaN and inf become null (JSON has no such numbers); NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


class RunFolder:
    """One run's folder. ``RunFolder.create(runs_dir, name)`` makes a new, unique one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._columns: list[str] = []

    @classmethod
    def create(cls, runs_dir: str | Path | None, name: str, when: float | None = None) -> RunFolder:
        """A new folder ``<YYYYmmdd-HHMMSS>-<name>-<6 random hex>``; never reuses an existing one."""
        runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        for _ in range(100):
            path = runs_dir / f"{stamp}-{slug(name)}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise FileExistsError(f"could not create a unique run folder in {runs_dir}")

    @classmethod
    def create_at(cls, path: str | Path) -> RunFolder:
        """A new folder at exactly ``path`` (a member of a comparison); an existing one is an error."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return cls(path)

    @staticmethod
    def check_writable(runs_dir: str | Path | None) -> Path:
        """Create ``runs_dir`` if needed; raise OSError now if run folders cannot be made there."""
        runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        runs_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(runs_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write run folders into {runs_dir}")
        return runs_dir

    @property
    def run_id(self) -> str:
        return self.path.name

    def write_config(self, cfg: dict[str, Any]) -> None:
        atomic_write(self.path / "config.yaml", yaml_io.dumps(cfg).encode())

    def write_summary(self, summary: dict[str, Any]) -> None:
        text = json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n"
        atomic_write(self.path / "summary.json", text.encode())

    def read_summary(self) -> dict[str, Any]:
        return json.loads((self.path / "summary.json").read_text())

    def open_metrics(self, columns: Sequence[str]) -> None:
        """Start metrics.csv with a header of ``columns`` (a subset of METRIC_COLUMNS, in that order)."""
        self._columns = list(columns)
        atomic_write(self.path / "metrics.csv", _csv_line(self._columns).encode())

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row (missing values empty, floats at full precision) and flush it."""
        self._write_line(["" if row.get(c) is None else _fmt(row[c]) for c in self._columns])

    def _write_line(self, cells: list[str]) -> None:
        with open(self.path / "metrics.csv", "a", newline="", encoding="utf-8") as fh:
            fh.write(_csv_line(cells))
            fh.flush()

    def save_arrays(self, arrays: dict[str, np.ndarray], name: str) -> None:
        """An .npz of named arrays (loads with ``np.load(path, allow_pickle=False)``)."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(self.path / name, buf.getvalue())

    def save_weights(self, state: dict[str, np.ndarray], name: str = "model.npz") -> None:
        self.save_arrays(state, name)

    def save_figure(self, fig: Any, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        atomic_write(self.path / name, buf.getvalue())


def _csv_line(cells: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)
