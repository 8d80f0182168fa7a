"""Every run-folder path is made here, and only here: safe names, bounded length, unique, inside the runs dir.

A config's ``name:`` is user input and may hold anything (``x/../../../ESCAPED``, 300 characters, emoji).
:func:`folder_name` turns it into one safe path component; :func:`run_path` joins a component to its parent
and refuses any result that does not resolve inside that parent (a symlinked parent included). Folders that
sit side by side (members of a comparison, folds, seeds) are made unique by construction, with an index
prefix (``00-adam``, ``01-adam``), never by guessing a free suffix.

    run_path(runs_dir, "mnist_adam", stamp=True)   # runs/20261130-101500-mnist_adam-3f9a2c  (new, random hex)
    run_path(parent, "adam", index=1)              # <parent>/01-adam
    run_path(parent, "seed-2")                     # <parent>/seed-2

``grep -rn "run_path(" dlbasics`` lists every place a run folder path is built.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

#: longest name part of a folder (the stamp, index and random suffix come on top): well under NAME_MAX (255)
MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+|\.{2,}")
_DASHES = re.compile(r"-{2,}")


class RunPathError(ValueError):
    """A run folder path would fall outside its parent folder."""


def folder_name(name: str, index: int | None = None, width: int = 2) -> str:
    """``name`` as one safe path component: runs of characters other than ``A-Z a-z 0-9 . _ -``, and of two
    or more dots, become one ``-``; no leading or trailing ``.``/``-`` (so never ``.`` or ``..``); at most
    :data:`MAX_NAME` characters; ``run`` when nothing is left. With ``index``, prefixed by it zero-padded to
    ``width`` digits (``03-name``)."""
    safe = _DASHES.sub("-", _UNSAFE.sub("-", str(name))).strip("-.")[:MAX_NAME].rstrip("-.") or "run"
    return safe if index is None else f"{index:0{width}d}-{safe}"


def run_path(parent: str | Path, name: str, *, index: int | None = None, width: int = 2, stamp: bool = False,
             when: float | None = None, tag: str | None = None) -> Path:
    """The absolute path of a run folder named after ``name`` inside ``parent`` (nothing is created).

    ``stamp=True``: ``<YYYYmmdd-HHMMSS>-<name>-<tag>`` for a new top-level run (time ``when`` or now; ``tag``
    defaults to 6 random hex digits: a sweep passes the hash that finds it again). Raises RunPathError when the
    result would not resolve inside ``parent``.
    """
    component = folder_name(name, index, width)
    if stamp:
        suffix = folder_name(tag) if tag else secrets.token_hex(3)
        component = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}-{component}-{suffix}"
    root = Path(parent).resolve()
    path = root / component
    resolved = path.resolve()
    if resolved.parent != root:
        raise RunPathError(f"run folder {path} would resolve to {resolved}, outside {root}")
    return path
