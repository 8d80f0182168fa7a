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

import contextlib
import csv
import errno
import io
import json
import math
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import yaml_io
from ..errors import describe_os_error, one_line
from .paths import run_path

METRIC_COLUMNS = ["epoch", "step", "lr", "batch_size", "train_loss", "train_acc", "train_penalty", "val_loss",
                  "val_acc", "train_eval_loss", "train_eval_acc", "epoch_time_s", "elapsed_s"]


#: the command line of this process when it is the `dlb` CLI (set by ``dlbasics.cli.main.main``), recorded in
#: every summary.json it writes, so a report can say how a folder was made
COMMAND: list[str] | None = None


def default_runs_dir() -> Path:
    """``$DLB_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("DLB_RUNS_DIR") or "runs")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (readers see the old or the new file).

    A failure (a full disk, a read-only or vanished folder) raises OSError whose ``filename`` is ``path``,
    never the temporary file's name, and leaves no temporary file behind. ``durable=False`` skips the fsync:
    still atomic for a crash of the process, not for a power cut (checkpoints, rewritten every epoch).
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; a run folder is as readable as any file the user writes
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise OSError(err.errno, err.strerror, str(path)) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def overwrite_in_place(path: Path, data: bytes) -> bool:
    """Last resort when the disk is full: write ``data`` over the existing file ``path`` in place, only if it
    is no longer than the file (so no new block is needed), then truncate. Not atomic. True if written."""
    try:
        with open(path, "r+b") as fh:
            if len(data) > os.fstat(fh.fileno()).st_size:
                return False
            fh.write(data)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return True
    except OSError:
        return False


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


class RunFolder:
    """One run's folder. ``RunFolder.create(runs_dir, name)`` makes a new, unique one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._columns: list[str] = []

    @classmethod
    def create(cls, runs_dir: str | Path | None, name: str, when: float | None = None,
               tag: str | None = None) -> RunFolder:
        """A new folder ``<YYYYmmdd-HHMMSS>-<name>-<6 random hex, or tag>``; never reuses an existing one."""
        runs_dir = cls.check_writable(runs_dir)
        for attempt in range(100):
            again = f"{tag}-{secrets.token_hex(2)}" if tag and attempt else tag  # the same second, the same tag
            path = run_path(runs_dir, name, stamp=True, when=when, tag=again)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise FileExistsError(f"could not create a unique run folder in {runs_dir}")

    @classmethod
    def create_at(cls, path: str | Path) -> RunFolder:
        """A new folder at exactly ``path`` (a member of a comparison, made by ``run_path``); an existing one is
        an error."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return cls(path)

    @staticmethod
    def check_writable(runs_dir: str | Path | None) -> Path:
        """Create ``runs_dir`` if needed; raise OSError (naming it) now if run folders cannot be made there."""
        runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        if runs_dir.exists() and not runs_dir.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "the runs dir is a file, not a folder", str(runs_dir))
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a parent of it is a file
            raise NotADirectoryError(errno.ENOTDIR, "a parent of the runs dir is a file", str(runs_dir)) from None
        if not os.access(runs_dir, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "cannot write run folders here", str(runs_dir))
        return runs_dir

    @property
    def run_id(self) -> str:
        return self.path.name

    def write_config(self, cfg: dict[str, Any]) -> None:
        atomic_write(self.path / "config.yaml", yaml_io.dumps(cfg).encode())

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json, atomically, with ``command`` (the `dlb` command line that made it, when this process is
        the CLI). When that fails (a full disk), the essentials (status, message, ids) are written over the
        existing file in place, which needs no new space, and the error is raised."""
        if COMMAND is not None and "command" not in summary:
            summary = {**summary, "command": COMMAND}
        text = json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n"
        try:
            atomic_write(self.path / "summary.json", text.encode())
        except OSError as err:
            keep = {k: summary[k] for k in ("run_id", "name", "kind") if k in summary}
            status = summary.get("status")
            if status not in ("failed", "interrupted", "diverged"):  # "completed" it is not, if it cannot say so
                status, keep["message"] = "failed", describe_os_error(err)
            else:
                keep["message"] = summary.get("message") or describe_os_error(err)
            overwrite_in_place(self.path / "summary.json", json.dumps({"status": status, **keep}).encode())
            raise

    @contextlib.contextmanager
    def lock(self, what: str = "dlb") -> Iterator[None]:
        """Hold ``.lock`` in the folder (flock) while a process writes it: a second one (a resume of a run still
        training, a second `dlb sweep` of the same sweep) gets a ConfigError naming the holder's pid instead of
        overwriting its files. The lock ends with the process, however it ends."""
        import fcntl

        from ..config import ConfigError

        with open(self.path / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                raise ConfigError(f"{self.path} is in use by another {what} (pid {fh.read().strip() or '?'}); wait "
                                  "for it to end") from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield

    def mark_stopped(self, summary: dict[str, Any], err: BaseException) -> None:
        """A folder whose work stopped on ``err`` says so (interrupted, or failed with the error in one line),
        never "running"; a failure to write that is swallowed (``err`` is what the caller re-raises)."""
        interrupted = isinstance(err, KeyboardInterrupt)
        summary["status"] = "interrupted" if interrupted else "failed"
        if not interrupted:
            summary["message"] = one_line(err)
        else:
            from ..signals import interrupt_message

            summary["message"] = interrupt_message(err) if interrupted else one_line(err)  # type: ignore[arg-type]
        with contextlib.suppress(OSError):
            self.write_summary(summary)

    def read_summary(self) -> dict[str, Any]:
        """summary.json as a dict, checked (CorruptRunError naming the file and what is wrong)."""
        from .summary import read_summary

        return read_summary(self.path / "summary.json")

    def open_metrics(self, columns: Sequence[str], rows: Sequence[dict[str, Any]] = ()) -> None:
        """Start metrics.csv with a header of ``columns`` (a subset of METRIC_COLUMNS, in that order), and
        ``rows`` already (a resumed run's rows up to its checkpoint)."""
        self._columns = list(columns)
        text = _csv_line(self._columns) + "".join(_csv_line(self._cells(row)) for row in rows)
        atomic_write(self.path / "metrics.csv", text.encode())

    def read_metrics_rows(self) -> list[dict[str, Any]]:
        """metrics.csv back as the rows the training loop made: epoch and step integers, the rest floats
        (exactly: they were written with repr), empty cells left out."""
        with open(self.path / "metrics.csv", newline="", encoding="utf-8") as fh:
            return [{k: int(v) if k in ("epoch", "step", "batch_size") else float(v) for k, v in row.items()
                     if v not in ("", None)}
                    for row in csv.DictReader(fh)]

    def _cells(self, row: dict[str, Any]) -> list[str]:
        return ["" if row.get(c) is None else _fmt(row[c]) for c in self._columns]

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row (missing values empty, floats at full precision) and flush it."""
        self._write_line(self._cells(row))

    def _write_line(self, cells: list[str]) -> None:
        path = self.path / "metrics.csv"
        try:
            with open(path, "a", newline="", encoding="utf-8") as fh:
                fh.write(_csv_line(cells))
                fh.flush()
        except OSError as err:
            raise OSError(err.errno, err.strerror, str(path)) from None

    def append_rows(self, name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` to the CSV file ``name`` (a header of ``columns`` first if it does not exist yet), in one
        flushed write, as metrics.csv: a table that grows while the run trains (diagnostics.csv)."""
        path = self.path / name
        text = ("" if path.exists() else _csv_line(columns)) + "".join(
            _csv_line(["" if r.get(c) is None else _fmt(r[c]) for c in columns]) for r in rows)
        try:
            with open(path, "a", newline="", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
        except OSError as err:
            raise OSError(err.errno, err.strerror, str(path)) from None

    def read_rows(self, name: str) -> list[dict[str, str]]:
        """A CSV file of the folder as rows of strings ([] when it does not exist)."""
        path = self.path / name
        if not path.exists():
            return []
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

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


def folder_size(path: Path) -> int:
    """Bytes in the files under ``path`` (symlinks not followed)."""
    path = Path(path)
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, f)).st_size
    return total


def folder_files(path: Path) -> list[tuple[str, int]]:
    """``(name, bytes)`` of each entry of a run folder, sub-folders as ``name/`` with their total."""
    entries = sorted(p for p in Path(path).iterdir() if not p.name.startswith("."))
    return [(p.name + ("/" if p.is_dir() else ""), folder_size(p)) for p in entries]
