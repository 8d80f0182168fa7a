"""Download data set files from a list of mirrors, verify their MD5 and move them into place atomically.

Each file is tried on each mirror in order. Transient failures (connection errors, timeouts, HTTP 5xx)
are retried with a short backoff; HTTP 4xx, checksum mismatches and too-slow mirrors move on to the next
mirror at once. Data is streamed into a hidden ``.part`` file next to the destination, which is fsynced and
renamed to its final name only when its MD5 matches, and is removed on any failure or interruption.

Three limits keep a dead or hostile server from holding a download forever (module constants; tests lower them):

- ``TIMEOUT_SECONDS`` = 30 s: the longest wait for the connection or for any single read.
- ``MIN_RATE`` = 1024 B/s over the trailing ``RATE_WINDOW_SECONDS`` = 30 s: a mirror that delivers less than
  1 KiB/s over the last 30 s (checked once 30 s have passed) is abandoned as "too slow", so a server
  trickling a byte every few seconds, which never trips the read timeout, is dropped after 30 s.
- ``DEADLINE_SECONDS`` = 1800 s: one attempt at one file must complete within 30 min, whatever the rate.
  MNIST's largest file (9.9 MB) therefore needs an average of about 5.5 KB/s; on a slower link pass a larger
  ``deadline`` to :func:`download_file`.

Both rate and deadline are checked between reads, which return whatever data has arrived, so a check is never
more than one read timeout late.

Mirrors of a data set can be overridden with ``DLB_MIRRORS_<NAME>`` (name upper-cased, ``-`` as ``_``),
a comma-separated list of URL prefixes, e.g. ``DLB_MIRRORS_MNIST=https://example.org/mnist/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

SOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        "files": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "files": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}
CHUNK_SIZE = 1 << 20
USER_AGENT = "dlbasics"
BACKOFF_SECONDS = 0.5
"""Sleep ``BACKOFF_SECONDS * attempt`` before retrying a transient failure (tests set it to 0)."""
TIMEOUT_SECONDS = 30.0
"""Longest wait for the connection or for any single read."""
DEADLINE_SECONDS = 1800.0
"""Longest time one attempt at one file may take, from the request to the last byte."""
MIN_RATE = 1024.0
"""Fewest bytes per second a mirror must average over the last ``RATE_WINDOW_SECONDS`` (0 turns the check off)."""
RATE_WINDOW_SECONDS = 30.0
"""The trailing window ``MIN_RATE`` is measured over; the check starts once a download has run this long."""
TRANSIENT_HTTP = {408, 425, 429}


class DownloadError(RuntimeError):
    """A file could not be downloaded from any mirror: one line listing each mirror and why it failed."""


class _TransientError(Exception):
    """A failure worth retrying on the same mirror."""


class _PermanentError(Exception):
    """A failure that moves on to the next mirror at once."""


class _LocalWriteError(Exception):  # args[0]: the OSError
    """Writing the downloaded data to disk failed; no mirror can fix that."""


class _Pace:
    """Abandon a transfer that misses its deadline or falls below ``min_rate`` over the trailing ``window``."""

    def __init__(self, deadline: float, min_rate: float, window: float) -> None:
        self.deadline, self.min_rate, self.window = deadline, min_rate, window
        self.start = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self.start, 0)])  # (time, bytes received by then)

    def check(self, received: int) -> None:
        """Raise _PermanentError if the transfer, now at ``received`` bytes, is too late or too slow."""
        now = time.monotonic()
        if now - self.start > self.deadline:
            raise _PermanentError(f"no complete download within {self.deadline:g} s")
        if self.min_rate <= 0:
            return
        samples = self._samples
        samples.append((now, received))
        while len(samples) > 1 and samples[1][0] <= now - self.window:
            samples.popleft()  # keep one sample at least ``window`` old as the baseline
        then, before = samples[0]
        if now - then >= self.window:
            rate = (received - before) / (now - then)
            if rate < self.min_rate:
                raise _PermanentError(f"too slow: {rate:.0f} B/s over the last {self.window:g} s, "
                                      f"minimum {self.min_rate:.0f} B/s")


def mirrors_for(name: str) -> list[str]:
    """Return the URL prefixes to download data set ``name`` from (``DLB_MIRRORS_<NAME>`` overrides)."""
    var = "DLB_MIRRORS_" + name.upper().replace("-", "_")
    override = os.environ.get(var, "").strip()
    if override:
        mirrors = [m.strip() for m in override.split(",") if m.strip()]
    elif name in SOURCES:
        mirrors = list(SOURCES[name]["mirrors"])
    else:
        raise ValueError(f"no download sources for data set {name!r} (known: {', '.join(SOURCES)}; "
                         f"or set {var})")
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def md5sum(path: str | os.PathLike[str]) -> str:
    """Return the hex MD5 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(err: BaseException) -> str:
    """Short one-line description of a network error."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        inner = err.reason
        if isinstance(inner, BaseException):
            return _reason(inner)
        return str(inner)
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}" if text != type(err).__name__ else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _NoProgress:
    """Stand-in for a rich progress bar that shows nothing."""

    def reset(self, total: int | None) -> None:
        """Start counting again."""

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes."""


class _RichProgress:
    """A rich progress bar on stderr: file name, bytes done / total, speed and time left."""

    def __init__(self, progress: Any, description: str) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=None)

    def reset(self, total: int | None) -> None:
        """Start counting again with a new total."""
        self._progress.reset(self._task, total=total, completed=0)

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes."""
        self._progress.advance(self._task, n)


@contextlib.contextmanager
def _progress_bar(description: str, enabled: bool) -> Iterator[_NoProgress | _RichProgress]:
    """Yield a progress reporter, shown on stderr only when ``enabled``."""
    if not enabled:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield _RichProgress(progress, description)


def _open(request: urllib.request.Request, timeout: float, pace: _Pace) -> Any:
    """``urlopen`` within the attempt's deadline: a server that trickles its status line and headers a byte at a
    time never trips the per-read ``timeout``, so the opening runs in a thread and is abandoned at the deadline
    (the thread ends when its socket times out)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["response"] = urllib.request.urlopen(request, timeout=timeout)
        except BaseException as err:  # handed to the caller below
            box["error"] = err

    thread = threading.Thread(target=target, name="dlb-download-open", daemon=True)
    thread.start()
    thread.join(max(0.0, pace.deadline - (time.monotonic() - pace.start)))
    if thread.is_alive():
        raise _PermanentError(f"no response within {pace.deadline:g} s")
    if "error" in box:
        raise box["error"]
    return box["response"]


def _stream(url: str, out: BinaryIO, timeout: float, pace: _Pace, bar: _NoProgress | _RichProgress) -> str:
    """Stream ``url`` into ``out``, returning the MD5 of the bytes received."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _open(request, timeout, pace) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar.reset(total)
            digest = hashlib.md5()
            received = 0
            pace.check(received)
            while chunk := response.read1(CHUNK_SIZE):  # what has arrived, so the pace is checked often
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as err:
                    raise _LocalWriteError(err) from None
                received += len(chunk)
                bar.advance(len(chunk))
                pace.check(received)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code >= 500 or err.code in TRANSIENT_HTTP:
            raise _TransientError(f"HTTP {err.code}") from None
        raise _PermanentError(f"HTTP {err.code}") from None
    except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets, incomplete reads
        raise _TransientError(_one_line(_reason(err))) from None
    if total is not None and received != total:
        raise _TransientError(f"connection closed after {received} of {total} bytes")
    return digest.hexdigest()


def _fetch(url: str, tmp: Path, timeout: float, pace: _Pace, bar: _NoProgress | _RichProgress) -> str:
    """Download ``url`` into a new, fsynced file ``tmp``; return its MD5. ``tmp`` is removed on any failure."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            try:
                got = _stream(url, out, timeout, pace, bar)
                out.flush()
                os.fsync(out.fileno())
            except _LocalWriteError as err:  # a full disk: the file is named, no mirror can help
                cause = err.args[0]
                raise OSError(cause.errno, cause.strerror, str(tmp)) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return got


def download_file(filename: str, mirrors: Sequence[str], dest_dir: str | os.PathLike[str], md5: str, *,
                  retries: int = 2, timeout: float | None = None, deadline: float | None = None,
                  min_rate: float | None = None, progress: bool = True) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right MD5 into ``dest_dir``.

    The URL is ``mirror + filename``. ``timeout`` bounds each wait for the server (default ``TIMEOUT_SECONDS``,
    30 s); ``deadline`` each attempt (default ``DEADLINE_SECONDS``, 1800 s); a mirror averaging less than
    ``min_rate`` bytes/s (default ``MIN_RATE``, 1024; 0 = no check) over the last ``RATE_WINDOW_SECONDS`` (30 s)
    is abandoned for the next one. Returns the final path; raises DownloadError naming every mirror's failure.
    No ``.part`` file is left behind, whatever happens (an interrupt included).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    expected = md5.lower()
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    deadline = DEADLINE_SECONDS if deadline is None else deadline
    min_rate = MIN_RATE if min_rate is None else min_rate
    if not mirrors:
        raise DownloadError(f"could not download {filename}: no mirrors configured")
    failures: list[str] = []
    # named before it exists, so that the ``finally`` below can remove it whenever an interrupt strikes
    tmp = dest_dir / f".{filename}.{secrets.token_hex(6)}.part"
    try:
        with _progress_bar(filename, progress) as bar:
            for mirror in mirrors:
                reason = ""
                for attempt in range(retries + 1):
                    if attempt:
                        time.sleep(BACKOFF_SECONDS * attempt)
                    pace = _Pace(deadline, min_rate, RATE_WINDOW_SECONDS)
                    try:
                        got = _fetch(mirror + filename, tmp, timeout, pace, bar)
                    except _TransientError as err:
                        reason = f"{err} ({attempt + 1} attempts)" if attempt else str(err)
                        continue
                    except _PermanentError as err:
                        reason = str(err)
                        break
                    if got != expected:
                        os.unlink(tmp)
                        reason = f"checksum mismatch (expected {expected}, got {got})"
                        break
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, final)
                    return final
                failures.append(f"{mirror}: {reason}")
        raise DownloadError(f"could not download {filename}: " + "; ".join(failures))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def download_files(files: Mapping[str, str], mirrors: Sequence[str], dest_dir: str | os.PathLike[str],
                   **kw: Any) -> list[Path]:
    """Download each ``filename -> md5`` of ``files`` into ``dest_dir``, skipping files already verified.

    Keyword arguments go to :func:`download_file`. Returns the paths in the order of ``files``.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, md5 in files.items():
        path = dest_dir / filename
        if path.is_file() and md5sum(path) == md5.lower():
            paths.append(path)
            continue
        paths.append(download_file(filename, mirrors, dest_dir, md5, **kw))
    return paths
