"""What every `dlb` command shares: exit codes, the --set, --runs-dir, --quiet and --json options, one-line
errors, and :class:`Output`, which prints a command's result for people, not at all, or as JSON."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_FAILED, EXIT_USAGE, EXIT_DATA, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 2, 3, 4, 130

SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE",
                                                  help="Override a config value, e.g. optimizer.lr=0.01 (repeatable).")]
RunsDirOpt = Annotated[Path | None, typer.Option("--runs-dir", envvar="DLB_RUNS_DIR",
                                                 help="Where run folders go (default: ./runs).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (files are still written; "
                                                              "the exit code is the same).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the result, as one JSON document, on stdout.")]


ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="Where members run: local (worker processes here), dask (the cluster at $DLB_DASK_SCHEDULER, "
                       "else a local Dask cluster of --jobs workers) or dask://HOST:PORT.")]
CollectOpt = Annotated[bool, typer.Option(
    "--collect", help="Dask workers send each run folder back to be written here (when they do not share "
                      "--runs-dir).")]


@contextlib.contextmanager
def executor_for(spec: str, jobs: int | None, collect: bool) -> Iterator[object]:
    """The executor of ``--executor``, connected now (an unreachable scheduler fails before anything runs), and
    shut down after."""
    from ..execution import make_executor

    executor = make_executor(spec, jobs, collect)
    connect = getattr(executor, "connect", None)
    if connect is not None:
        connect()
    try:
        yield executor
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` as one line on stderr and return the Exit to raise."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return typer.Exit(code)


def wrap(line: str, indent: int = 2) -> str:
    """``line`` wrapped at spaces to the terminal's width (``COLUMNS``, else 80 in a pipe), continuation lines
    indented; a word longer than the width (a path, an id) is kept whole on a line of its own."""
    import shutil
    import textwrap

    width = shutil.get_terminal_size((80, 24)).columns
    if len(line) <= width or "\n" in line:
        return line
    return textwrap.fill(line, width, subsequent_indent=" " * indent, break_long_words=False,
                         break_on_hyphens=False)


class Output:
    """Where a command's result goes: tables and lines for people; nothing with --quiet; one JSON document on
    stdout with --json. Warnings and errors go to stderr whatever the choice. Both options at once is a usage
    error (exit 2), raised when the Output is made, before any work."""

    def __init__(self, quiet: bool = False, json_: bool = False):
        if quiet and json_:
            raise fail("--quiet prints nothing and --json prints the result: give one of them", EXIT_USAGE)
        self.quiet, self.json = quiet, json_
        self.human = not (quiet or json_)  # progress, tables and "run folder:" lines are shown

    def show(self, *items: Any) -> None:
        """Print lines (str) and rich renderables (tables) for people; nothing with --quiet or --json."""
        if self.human:
            from rich.console import Console

            for item in items:
                if isinstance(item, str):
                    print(wrap(item))
                else:
                    Console().print(item)

    def result(self, document: Any) -> None:
        """With --json, print ``document`` (NumPy numbers as Python's, NaN and inf as null, paths as strings);
        else nothing."""
        if self.json:
            from ..runs.folder import json_safe

            print(json.dumps(json_safe(document), indent=2, default=str))

    def folder(self, path: Path, **extra: Any) -> None:
        """With --json, print the folder's summary.json, ``extra`` (the rows of a table the summary does not
        hold) and ``"path"`` (the folder); else nothing."""
        if self.json:
            self.result({**json.loads((Path(path) / "summary.json").read_text()), **extra, "path": str(path)})


@contextlib.contextmanager
def user_errors(source: Path | str = "") -> Iterator[None]:
    """Turn user mistakes and missing data into one-line errors with their exit codes (no traceback).

    A config error found after loading (a layer that cannot take its input shape) names ``source``.
    """
    from ..config import ConfigError
    from ..data.datasets import DataError
    from ..data.download import DownloadError
    from ..errors import describe_os_error
    from ..execution import ExecutorError
    from ..runs.find import RunNotFound
    from ..runs.paths import RunPathError
    from ..runs.summary import CorruptRunError

    try:
        yield
    except ConfigError as err:
        err.source = err.source or str(source)
        raise fail(str(err), EXIT_USAGE) from None
    except (DataError, DownloadError) as err:
        raise fail(str(err), EXIT_DATA) from None
    except (CorruptRunError, RunNotFound, ExecutorError) as err:
        raise fail(str(err), EXIT_USAGE) from None
    except RunPathError as err:
        raise fail(str(err), EXIT_FAILED) from None
    except OSError as err:  # a runs folder that is a file, an unwritable cache, a full disk ...
        raise fail(describe_os_error(err), EXIT_FAILED) from None


def terminate_as_interrupt() -> None:
    """SIGTERM and SIGHUP (a kill, a closed terminal, a cancelled CI job) end a command like Ctrl-C does: runs
    are marked interrupted and parallel workers are stopped instead of being orphaned."""
    from ..signals import interrupt_on_stop_signals

    interrupt_on_stop_signals()


def interruptible(func: Callable[..., Any]) -> Callable[..., Any]:
    """A command that ends on Ctrl-C, SIGTERM or SIGHUP with one line and exit code 130 (commands that have
    something to say about what was kept catch the interrupt themselves, earlier)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        terminate_as_interrupt()
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None

    return wrapper
