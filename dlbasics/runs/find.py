"""Finding run folders again: by id or a unique prefix of one, as a list with one headline metric each.

    resolve_run("20261130-1015")            # runs/20261130-101500-mnist_adam-3f9a2c (a unique prefix)
    resolve_run("20261130-1017/00-sgd")     # a member of a group: <group id or prefix>/<member or prefix>
    list_runs(Path("runs"))                  # [RunInfo(id=..., kind="train", status="completed", ...), ...]

A folder is read only through :func:`dlbasics.runs.summary.read_summary`; a damaged one is a RunInfo with
status ``corrupt`` and its ``error``, never an exception. Every kind of folder has one headline metric:

    train       final test_acc (test_loss for regression; validation metrics when there is no test)
    compare     the best member's sort metric (``sort_by`` over comparison.csv); seeds: the mean over seeds
    cv          the mean held-out test_acc (test_loss) over folds
    sweep       the best point's mean of the sweep's metric
    bagging     the ensemble's test_acc (test_loss)

Finished runs side by side (`dlb runs compare`, a report of several runs): :mod:`dlbasics.report.runs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .folder import default_runs_dir, folder_size
from .summary import CorruptRunError, read_summary

#: what ``dlb runs list --kind`` knows (group kinds write theirs into summary.json; "seeds" is `train --seeds`)
KINDS = ("train", "seeds", "compare", "cv", "sweep", "bagging", "init-study", "playground", "bias-variance",
         "boosting", "runs-compare", "lr-find", "fit-study", "folds")
_STAMP = re.compile(r"^(\d{8}-\d{6})-")
#: the config keys that pick registry entries, whose defaults depend on them
class RunNotFound(ValueError):  # noqa: N818 (the name says what happened)
    """A run reference names no run folder, or more than one (an ambiguous prefix), or not a run. One line."""


@dataclass
class RunInfo:
    """One run folder as ``dlb runs list`` shows it: what it is, how it ended, when, and its headline metric.

    ``kind``: train, seeds, compare, cv, sweep, bagging, ... (``?`` for a corrupt folder); ``metric``/``value``: the
    headline metric, ``detail`` what it belongs to (the best member or point); ``metrics``: every metric that
    ``--sort`` can use; ``error``: why a folder is corrupt (its status is then ``corrupt``).
    """

    path: Path
    id: str
    kind: str
    status: str
    name: str | None = None
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    duration_s: float | None = None
    metric: str | None = None
    value: float | None = None
    detail: str = ""
    epochs_completed: int | None = None
    epochs_planned: int | None = None
    message: str = ""
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def epochs(self) -> str:
        if self.epochs_planned is None and self.epochs_completed is None:
            return ""
        return f"{self.epochs_completed or 0}/{self.epochs_planned if self.epochs_planned is not None else '?'}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        for key in ("started", "finished"):
            out[key] = None if out[key] is None else out[key].isoformat()
        out["epochs"] = self.epochs
        return out


def resolve_run(ref: str | Path, runs_dir: Path | None = None) -> Path:
    """The run folder ``ref`` names: a path that exists; else a run id (the folder name) or a unique prefix of
    one in ``runs_dir`` (default: ``$DLB_RUNS_DIR`` or ``./runs``), ``<group>/<member>`` for a member of a group
    (each part an id or a unique prefix). Raises RunNotFound (one line) when none or several match."""
    path = Path(ref)
    if path.exists():
        return path
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    text = str(ref).strip().rstrip("/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise RunNotFound(f"no run folder {str(ref)!r}")
    try:
        if path.is_absolute():
            raise RunNotFound(f"no run folder {ref}")
        return _walk(root, parts, text)
    except RunNotFound:
        parent = path.parent  # "runs/20261130-10" (the runs dir, then a prefix): as if the prefix were given alone
        inside = parent.is_dir() and (parent.resolve() == root.resolve() or root.resolve() in parent.resolve().parents)
        if len(parts) > 1 and inside:
            return _match(parent, path.name, text)
        raise


def _walk(root: Path, parts: Sequence[str], ref: str) -> Path:
    if not root.is_dir():
        raise RunNotFound(f"no run {ref!r}: the runs dir {root} does not exist")
    folder = root
    for part in parts:
        folder = _match(folder, part, ref)
    return folder


def _match(folder: Path, part: str, ref: str) -> Path:
    """The sub-folder of ``folder`` named ``part``, or the only one whose name starts with it."""
    if (folder / part).is_dir():
        return folder / part
    try:
        found = sorted(p for p in folder.iterdir() if p.name.startswith(part) and not p.name.startswith(".")
                       and p.is_dir())
    except OSError as err:
        raise RunNotFound(f"no run {ref!r}: cannot list {folder} ({err.strerror})") from None
    if len(found) == 1:
        return found[0]
    if not found:
        raise RunNotFound(f"no run {ref!r} in {folder} (dlb runs list shows the runs; --runs-dir or $DLB_RUNS_DIR "
                          "picks the runs dir)")
    more = f", ... ({len(found)} in all)" if len(found) > 5 else ""
    raise RunNotFound(f"run {ref!r} is ambiguous in {folder}: {', '.join(p.name for p in found[:5])}{more}")


def list_runs(runs_dir: Path | None = None) -> list[RunInfo]:
    """Every top-level folder of ``runs_dir`` with a summary.json, oldest first (a damaged one: status corrupt)."""
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if not p.name.startswith(".") and (p / "summary.json").is_file()]
    infos = [read_info(p) for p in folders]
    return sorted(infos, key=lambda r: (r.started or _EPOCH, r.id))


_EPOCH = dt.datetime.fromtimestamp(0).astimezone()


def still_running(path: Path, pid: int | None) -> bool:
    """Whether a folder whose summary says "running" is still being written: its process holds ``.lock`` (a run,
    a sweep), or its ``pid`` is alive (older folders); True when there is no way to tell."""
    import fcntl

    lock = path / ".lock"
    if lock.is_file():
        try:
            with open(lock) as fh:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        except OSError:
            return True
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
    return True


def read_info(path: Path) -> RunInfo:
    """One folder's RunInfo (status ``corrupt`` and ``error`` when its summary.json is damaged). A group folder
    records no times: it started at the stamp in its name and finished when its summary.json was last written."""
    path = Path(path)
    try:
        s = read_summary(path / "summary.json")
    except CorruptRunError as err:
        return RunInfo(path, path.name, "?", "corrupt", started=_stamp(path), error=str(err))
    kind = s.get("kind") or "train"
    if kind == "compare" and (_STAMP.sub("", path.name).startswith("compare-seeds-")):
        kind = "seeds"
    status = s["status"]
    if status == "running" and not still_running(path, s.get("pid")):
        status = "killed"  # it says running, but nothing runs it: killed with no chance to say so
    info = RunInfo(path, path.name, kind, status, name=s.get("name"), message=s.get("message") or "",
                   started=_time(s.get("started")) or _stamp(path), finished=_time(s.get("finished")),
                   duration_s=s.get("duration_s"))
    if kind == "train":
        info.epochs_completed, info.epochs_planned = s.get("epochs_completed"), s.get("epochs_planned")
        final, best = s.get("final") or {}, s.get("best") or {}
        info.metrics = {**{k: v for k, v in (s.get("last") or {}).items() if k.startswith(("val_", "train_"))},
                        **{k: v for k, v in final.items() if k != "epoch"},
                        **{f"best_{k}": v for k, v in best.items() if k != "epoch"}}
        info.metrics = {k: float(v) for k, v in info.metrics.items() if _num(v)}
        for key in ("test_acc", "test_loss", "val_acc", "val_loss"):
            if key in info.metrics:
                info.metric, info.value = key, info.metrics[key]
                break
    else:
        _group_headline(info, s)
        if info.duration_s is None and info.status != "running":
            with contextlib.suppress(OSError):  # (a folder deleted while listing)
                info.finished = _mtime(path / "summary.json")
                if info.started is not None:
                    info.duration_s = max(0.0, (info.finished - info.started).total_seconds())
    return info


def _group_headline(info: RunInfo, s: Mapping[str, Any]) -> None:
    """The headline metric of a group folder, from its summary (and comparison.csv for a comparison)."""
    kind = s.get("kind")
    if kind == "compare":
        key = s.get("sort_by") or "test_acc"
        best = _best_member(info.path / "comparison.csv", key)
        if best is not None:
            info.metric, info.value, info.detail = key, best[1], best[0]
        elif isinstance(s.get("statuses"), Mapping):
            statuses = list(s["statuses"].values())
            info.detail = f"{sum(x == 'completed' for x in statuses)}/{len(statuses)} members completed"
    elif kind == "cv":
        metrics = s.get("metrics") if isinstance(s.get("metrics"), Mapping) else {}
        for key in ("test_acc", "test_loss"):
            if isinstance(metrics.get(key), Mapping) and _num(metrics[key].get("mean")):
                info.metric, info.value = key, float(metrics[key]["mean"])
                info.detail = f"mean of {metrics[key].get('n', '?')} folds"
                break
    elif kind == "sweep":
        best = s.get("best") if isinstance(s.get("best"), Mapping) else {}
        if _num(best.get("mean")):
            info.metric, info.value, info.detail = str(s.get("metric")), float(best["mean"]), str(best.get("label", ""))
    elif kind == "bagging":
        final = s.get("final") if isinstance(s.get("final"), Mapping) else {}
        for key in ("test_acc", "test_loss"):
            if _num(final.get(key)):
                info.metric, info.value = key, float(final[key])
                break
    if info.metric is not None:
        info.metrics = {info.metric: info.value}


def _best_member(csv_path: Path, key: str) -> tuple[str, float] | None:
    """(member, value) of the best completed member of a comparison.csv by ``key`` (max for accuracies)."""
    if not csv_path.is_file():
        return None
    import pandas as pd

    try:
        df = pd.read_csv(csv_path)
    except (ValueError, OSError):
        return None
    if key not in df or "status" not in df or "member" not in df:
        return None
    done = df[(df["status"] == "completed") & df[key].notna()]
    if done.empty:
        return None
    row = done.loc[done[key].idxmax() if key.endswith("acc") else done[key].idxmin()]
    return str(row["member"]), float(row[key])


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.astimezone()


def _stamp(path: Path) -> dt.datetime | None:
    """When a folder was started: the stamp in its name (local time), else its modification time."""
    found = _STAMP.match(path.name)
    if found:
        try:
            return dt.datetime.strptime(found.group(1), "%Y%m%d-%H%M%S").astimezone()
        except ValueError:
            pass
    try:
        return _mtime(path)
    except OSError:
        return None


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone()


def filter_runs(runs: Iterable[RunInfo], statuses: Iterable[str] = (), kinds: Iterable[str] = (),
                name: str | None = None, since: dt.datetime | None = None,
                before: dt.datetime | None = None) -> list[RunInfo]:
    """The runs with one of ``statuses`` and ``kinds`` (empty: any), a name or id (with or without its time stamp)
    matching the glob ``name`` (without a wildcard: containing it), started at or after ``since`` and before
    ``before``."""
    statuses, kinds = set(statuses), set(kinds)
    if name is not None and not any(c in name for c in "*?["):
        name = f"*{name}*"
    out = []
    for r in runs:
        if (statuses and r.status not in statuses) or (kinds and r.kind not in kinds):
            continue
        if name is not None and not any(fnmatchcase(x, name) for x in (r.id, _STAMP.sub("", r.id), r.name or "")):
            continue
        if (since is not None or before is not None) and r.started is None:
            continue
        if (since is not None and r.started < since) or (before is not None and r.started >= before):
            continue
        out.append(r)
    return out


def check_removable(path: Path, runs_dir: Path | None = None) -> Path:
    """``path`` resolved, if it is a run folder inside ``runs_dir``; RunNotFound (one line) otherwise."""
    root = (Path(runs_dir) if runs_dir is not None else default_runs_dir()).resolve()
    real = Path(path).resolve()
    if real == root or root not in real.parents:
        raise RunNotFound(f"{path} is not inside the runs dir {root}; not deleting it")
    if not real.is_dir() or not ((real / "summary.json").is_file() or (real / "config.yaml").is_file()):
        raise RunNotFound(f"{path} is not a run folder (no summary.json or config.yaml); not deleting it")
    return real


def remove_run(path: Path, runs_dir: Path | None = None) -> int:
    """Delete the run folder ``path`` (checked by :func:`check_removable`) and return the bytes it held."""
    real = check_removable(path, runs_dir)
    size = folder_size(real)
    shutil.rmtree(real)
    return size
