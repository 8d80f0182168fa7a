"""One line for any error: what a summary.json "message", a member's failure and a CLI error line say."""

from __future__ import annotations

import errno


class InputError(ValueError):
    """Inputs that do not fit a trained model: their shape, their values, their file. One line."""


def describe_os_error(err: OSError) -> str:
    """A failed file operation: ``<file>: no space left on device (ENOSPC)``."""
    code = errno.errorcode.get(err.errno or 0)
    reason = (err.strerror or str(err)).lower() + (f" ({code})" if code else "")
    return f"{err.filename}: {reason}" if err.filename else reason


def one_line(err: BaseException) -> str:
    """``TypeError: can only concatenate str ...`` on one line; an OSError with an errno as
    :func:`describe_os_error` says it."""
    if isinstance(err, OSError) and err.errno is not None:
        return describe_os_error(err)
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
