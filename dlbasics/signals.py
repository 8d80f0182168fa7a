"""Stop signals as Ctrl-C: SIGTERM (a kill, a cancelled job) and SIGHUP (a closed terminal) raise
KeyboardInterrupt, so a run marks itself interrupted and a parent stops its workers instead of orphaning them.

The handler fires once: later stop signals are ignored while the interrupted work writes its final status
(a closed terminal sends SIGHUP to every process of the group, and the parent then sends SIGTERM too).
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any

STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


def interrupt_on_stop_signals() -> None:
    """Install the one-shot handler for SIGTERM and SIGHUP (main thread only; a no-op elsewhere)."""

    def handler(signum: int, frame: Any) -> None:
        for sig in STOP_SIGNALS:  # a Python no-op, not SIG_IGN: a signal already pending must find a handler
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, _ignore)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, handler)


def _ignore(signum: int, frame: Any) -> None:
    """Later stop signals: the work is already stopping."""


def interrupt_message(err: KeyboardInterrupt) -> str:
    """What to write into a summary: which signal stopped the run, or Ctrl-C."""
    return f"interrupted by {err.args[0]}" if err.args else "interrupted by Ctrl-C"
