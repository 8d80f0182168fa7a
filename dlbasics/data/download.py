"""Download data set files from a list of mirrors, verify their MD5 and move them into place atomically.

Each file is tried on each mirror in order. Transient failures (connection errors, timeouts, HTTP 5xx)
are retried with a short backoff; HTTP 4xx and checksum mismatches move on to the next mirror at once.
Data is streamed into a hidden ``.part`` file next to the destination, which is fsynced and renamed to
its final name only when its MD5 matches, and is removed on any failure.

Mirrors of a data set can be overridden with ``DLB_MIRRORS_<NAME>`` (name upper-cased, ``-`` as ``_``),
a comma-separated list of URL prefixes, e.g. ``DLB_MIRRORS_MNIST=https://example.org/mnist/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
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
TRANSIENT_HTTP = {408, 425, 429}


class DownloadError(RuntimeError):
    """A file could not be downloaded from any mirror: one line listing each mirror and why it failed."""


class _TransientError(Exception):
    """A failure worth retrying on the same mirror."""


class _PermanentError(Exception):
    """A failure that moves on to the next mirror at once."""


class _LocalWriteError(Exception):
    """Writing the downloaded data to disk failed; no mirror can fix that."""


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


def _stream(url: str, out: BinaryIO, timeout: float, bar: _NoProgress | _RichProgress) -> str:
    """Stream ``url`` into ``out``, returning the MD5 of the bytes received."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar.reset(total)
            digest = hashlib.md5()
            received = 0
            while chunk := response.read(CHUNK_SIZE):
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as err:
                    raise _LocalWriteError(f"cannot write {out.name}: {_reason(err)}") from None
                received += len(chunk)
                bar.advance(len(chunk))
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


def _fetch_to_temp(url: str, dest_dir: Path, filename: str, timeout: float,
                   bar: _NoProgress | _RichProgress) -> tuple[str, str]:
    """Download ``url`` into a fresh, fsynced ``.part`` file in ``dest_dir``; return its name and MD5.

    The temporary file is removed if anything goes wrong.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix="." + filename, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            got = _stream(url, out, timeout, bar)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return tmp_name, got


def download_file(filename: str, mirrors: Sequence[str], dest_dir: str | os.PathLike[str], md5: str, *,
                  retries: int = 2, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right MD5 into ``dest_dir``.

    The URL is ``mirror + filename``. Returns the final path; raises DownloadError naming every mirror's
    failure. No ``.part`` file is left behind, whatever happens.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    expected = md5.lower()
    if not mirrors:
        raise DownloadError(f"could not download {filename}: no mirrors configured")
    failures: list[str] = []
    tmp_name: str | None = None
    try:
        with _progress_bar(filename, progress) as bar:
            for mirror in mirrors:
                reason = ""
                for attempt in range(retries + 1):
                    if attempt:
                        time.sleep(BACKOFF_SECONDS * attempt)
                    try:
                        tmp_name, got = _fetch_to_temp(mirror + filename, dest_dir, filename, timeout, bar)
                    except _TransientError as err:
                        reason = f"{err} ({attempt + 1} attempts)" if attempt else str(err)
                        continue
                    except _PermanentError as err:
                        reason = str(err)
                        break
                    except _LocalWriteError as err:
                        raise DownloadError(f"could not download {filename}: {err}") from None
                    if got != expected:
                        os.unlink(tmp_name)
                        tmp_name = None
                        reason = f"checksum mismatch (expected {expected}, got {got})"
                        break
                    os.chmod(tmp_name, 0o644)
                    os.replace(tmp_name, final)
                    tmp_name = None
                    return final
                failures.append(f"{mirror}: {reason}")
        raise DownloadError(f"could not download {filename}: " + "; ".join(failures))
    finally:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)


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
