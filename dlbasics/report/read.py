"""Reading what a run folder holds, forgivingly: a file that is missing or damaged is ``None``, never an error
(a report of an old or half-written folder shows what there is). summary.json is the exception: it goes through
:func:`dlbasics.runs.summary.read_summary`, whose one-line CorruptRunError the caller reports."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: column names whose values are measurements even when they happen to be whole numbers
_MEASURED = re.compile(r"acc|loss|lr|gap|p_value|_low|_high|_std|diff|_s$|mean|half|rate|mae|rmse|r2|f1|precision|"
                       r"recall")
_STAMP = re.compile(r"^\d{8}-\d{6}-")


def csv_rows(path: Path) -> list[dict[str, Any]] | None:
    """A CSV file as rows of dicts (empty cells None; whole-number count columns as ints), None if it is missing
    or unreadable."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    for column in df.columns:
        if df[column].dtype.kind == "f" and not _MEASURED.search(str(column)):
            values = [r[column] for r in rows if r[column] is not None]
            if values and all(float(v).is_integer() and abs(v) < 2**53 for v in values):
                for r in rows:
                    r[column] = None if r[column] is None else int(r[column])
    return [{str(k): _plain(v) for k, v in r.items()} for r in rows]


def _plain(v: Any) -> Any:
    """NumPy scalars as Python numbers, NaN as None."""
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def json_file(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def yaml_file(path: Path) -> Any:
    from ..config import ConfigError, yaml_io

    try:
        return yaml_io.load_file(path)
    except (ConfigError, OSError, ValueError, UnicodeDecodeError):
        return None


def text_file(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def frames(run_dirs: Sequence[Path]) -> list[Any]:
    """metrics.csv of each of ``run_dirs`` that has rows (pandas DataFrames)."""
    from ..plots.bands import frames_of

    return frames_of([p for p in run_dirs if Path(p).is_dir()])


def locate(recorded: Any, group: Path, below: str = "") -> Path | None:
    """The member folder a table recorded (``run_dir``): the folder of that name inside ``group``
    (``group/below/<name>``: right even when the group was moved or copied since), else the recorded path itself
    (a finished run reused from elsewhere); None if neither exists."""
    if not isinstance(recorded, str) or not recorded:
        return None
    path = Path(recorded)
    inside = group / below / path.name
    if inside.is_dir():
        return inside
    return path if path.is_dir() else None


def run_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a run (metrics.csv or summary.json of a single run), else its sub-folders that
    are runs (a member's replicates: ``seed-0/``, ``fold-1/``), in name order."""
    if (path / "metrics.csv").is_file():
        return [path]
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and (p / "metrics.csv").is_file())
    except OSError:
        return []
    return subs


def short_id(path: Path) -> str:
    """A folder's name without its time stamp (``compare-tiny-3f9a2c``)."""
    return _STAMP.sub("", path.name)
