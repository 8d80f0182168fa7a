"""Help text in the words of the command line, not of Python: ``--epochs INTEGER``, ``--out PATH``, flags bare.

Typer (0.16 and later) labels values with their Python annotations, ``<int>``, ``<list[str]>``, ``<path>``, and
even flags as ``<bool>``; a user reading ``dlb train --help`` should not have to know Python's type names. This
module relabels them once, when the CLI is imported, in the upper-case style of click and of most Unix tools.
Choices (``a|b``) and explicit metavars (``KEY=VALUE``) are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

NAMES = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT", "path": "PATH", "file": "FILE", "directory": "DIR",
         "datetime": "DATETIME", "uuid": "UUID"}


def plain_label(label: str | None) -> str | None:
    """``<int>`` -> ``INTEGER``, ``<list[str]>`` -> ``TEXT``, ``<int range>`` -> ``INTEGER``, ``<bool>`` -> None;
    anything else (choices, metavars) unchanged."""
    if label is None or not (label.startswith("<") and label.endswith(">")):
        return label
    inner = label[1:-1]
    inner = re.sub(r"^list\[(.*)\]$", r"\1", inner)
    inner = re.sub(r" range$", "", inner)
    if inner == "bool":
        return None
    return NAMES.get(inner.lower(), inner.upper())


def install() -> None:
    """Patch Typer's help labels (idempotent; a Typer without them, which prints click's, is left alone)."""
    try:
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - an older or newer Typer without this class
        return
    original = getattr(_TyperParameter, "display_type", None)
    if original is None or getattr(original, "dlbasics_plain", False):
        return

    def display_type(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else plain_label(original(self, ctx))

    display_type.dlbasics_plain = True  # type: ignore[attr-defined]
    _TyperParameter.display_type = display_type
