"""Reading summary.json safely: a folder on disk may hold anything (a half-written file, a hand edit, a list).

Every reader of a run's summary goes through :func:`read_summary`, which checks the shape of the keys that
dlbasics writes and raises :class:`CorruptRunError` (one line naming the file and the problem) instead of
letting a ``"duration_s": "long"`` surface later as a TypeError deep in a table or a statistic. Keys it does
not know are passed through untouched (group folders: compare, cv, sweep add their own).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

STATUSES = ("running", "completed", "diverged", "interrupted", "failed", "partial")


def group_status(statuses: list[str]) -> str:
    """A group's status from its members': completed when all completed, failed when none did, else partial."""
    done = sum(s == "completed" for s in statuses)
    return "completed" if done == len(statuses) else "failed" if done == 0 else "partial"


class CorruptRunError(ValueError):
    """A run folder's summary.json is missing, unreadable or not the shape dlbasics writes."""


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _text(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _numbers(v: Any) -> bool:
    """null, or a mapping of names to numbers or null (an epoch, metrics, timings)."""
    return v is None or (isinstance(v, Mapping) and all(_number(x) for x in v.values()))


def _mapping(v: Any) -> bool:
    return v is None or isinstance(v, Mapping)


#: the keys every summary.json (a run's or a group's) may hold and what each must be
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "status": (lambda v: v in STATUSES, f"one of {', '.join(STATUSES)}"),
    "run_id": (_text, "a string"), "name": (_text, "a string"), "kind": (_text, "a string"),
    "message": (_text, "a string"), "started": (_text, "a string"), "finished": (_text, "a string"),
    "seed": (_number, "a number"), "duration_s": (_number, "a number"), "steps": (_number, "a number"),
    "epochs_planned": (_number, "a number"), "epochs_completed": (_number, "a number"),
}
#: more keys of a single run's summary (a group folder, with a "kind", uses these names its own way)
RUN_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "final": (_numbers, "a mapping of numbers"), "best": (_numbers, "a mapping of numbers"),
    "timing": (_numbers, "a mapping of numbers"), "data": (_mapping, "a mapping"), "model": (_mapping, "a mapping"),
}


def check_summary(summary: Any, where: str = "summary.json") -> dict[str, Any]:
    """``summary`` if it has the shape of a dlbasics summary, else CorruptRunError naming ``where`` and the key."""
    if not isinstance(summary, dict):
        raise CorruptRunError(f"{where}: expected a JSON object, got {type(summary).__name__}")
    if "status" not in summary:
        raise CorruptRunError(f"{where}: no status")
    checks = CHECKS if summary.get("kind") not in (None, "train") else {**CHECKS, **RUN_CHECKS}
    for key, (ok, what) in checks.items():
        if key in summary and not ok(summary[key]):
            shown = json.dumps(summary[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise CorruptRunError(f"{where}: {key} should be {what}, got {shown}")
    return summary


def read_summary(path: str | Path) -> dict[str, Any]:
    """summary.json at ``path``, parsed and checked; CorruptRunError (one line) for any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorruptRunError(f"{path.parent}: not a run folder (no summary.json)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CorruptRunError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CorruptRunError(f"{path}: not valid JSON ({err})") from None
    return check_summary(data, str(path))
