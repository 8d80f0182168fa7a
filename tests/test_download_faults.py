"""Hostile servers, signals and lying IDX headers: slow mirrors time out, a kill leaves no ``.part``, a header
that claims gigabytes is rejected before anything is allocated. Local servers and files only, never the internet."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import dlb_process
from dlbasics.data import download
from dlbasics.data.datasets import DataError, load_dataset
from dlbasics.data.download import DownloadError, download_file
from dlbasics.data.idx import IDXError, read_idx, write_idx

NAME = "data.bin"
GOOD = bytes(range(256)) * 40
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()
MNIST = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.0)


# ---------------------------------------------------------------- a server that trickles its bytes


class _TrickleHandler(BaseHTTPRequestHandler):
    """Sends the headers at once, then the body one byte every ``server.interval`` seconds."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        try:
            for i in range(len(server.body)):
                if server.stop.wait(server.interval):
                    return
                self.wfile.write(server.body[i:i + 1])
        except OSError:  # the client gave up
            pass


class _TrickleServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


@pytest.fixture
def trickle():
    """Start a trickling server: ``trickle(body, interval)`` returns its URL; ``trickle.requests`` lists the paths."""
    started = []
    lock = threading.Lock()

    def start(body: bytes, interval: float) -> str:
        server = _TrickleServer(("127.0.0.1", 0), _TrickleHandler)
        server.body, server.interval = body, interval
        server.requests, server.lock, server.stop = start.requests, lock, threading.Event()
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    start.requests = []
    yield start
    for server, thread in started:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_trickling_server_is_abandoned_after_the_minimum_rate_window(trickle, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "RATE_WINDOW_SECONDS", 0.4, raising=False)
    body = GOOD[:60]
    url = trickle(body, interval=0.05)  # about 20 B/s, far below the default minimum of 1024 B/s: 3 s in all
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_file(NAME, [url], tmp_path, hashlib.md5(body).hexdigest(), retries=2, progress=False)
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert "\n" not in message
    assert f"{url}: too slow: " in message and "B/s over the last 0.4 s, minimum 1024 B/s" in message
    assert elapsed < 2.0
    assert leftovers(tmp_path) == []


def test_a_too_slow_mirror_is_left_for_the_next_one_without_retrying_it(trickle, site, tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    monkeypatch.setattr(download, "RATE_WINDOW_SECONDS", 0.3, raising=False)
    slow = trickle(GOOD[:60], interval=0.05)  # 3 s for a truncated copy at 20 B/s
    good = site.mirror("m2", {NAME: GOOD})
    start = time.monotonic()
    path = download_file(NAME, [slow, good], dest, GOOD_MD5, retries=2, progress=False)
    assert time.monotonic() - start < 2.0
    assert path.read_bytes() == GOOD
    assert trickle.requests == [f"/{NAME}"]
    assert site.requests == [f"/m2/{NAME}"]
    assert leftovers(dest) == [NAME]


def test_a_download_that_misses_the_deadline_is_abandoned(trickle, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "DEADLINE_SECONDS", 0.5, raising=False)
    body = GOOD[:400]
    url = trickle(body, interval=0.005)  # never idle long enough for a read timeout, but 400 bytes take 2 s
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"no complete download within 0.5 s") as info:
        download_file(NAME, [url], tmp_path, hashlib.md5(body).hexdigest(), progress=False)
    assert "\n" not in str(info.value)
    assert time.monotonic() - start < 2.0
    assert leftovers(tmp_path) == []


def test_a_slow_but_steady_download_above_the_minimum_rate_completes(trickle, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "RATE_WINDOW_SECONDS", 0.2, raising=False)
    body = GOOD[:200]
    url = trickle(body, interval=0.002)  # a few hundred B/s: slow, but above min_rate
    path = download_file(NAME, [url], tmp_path, hashlib.md5(body).hexdigest(), min_rate=50, progress=False)
    assert path.read_bytes() == body


def test_the_default_limits_let_a_slow_link_fetch_mnist():
    assert download.DEADLINE_SECONDS >= 1800
    assert download.MIN_RATE <= 1024
    assert download.RATE_WINDOW_SECONDS >= 30


# ---------------------------------------------------------------- dlb data download under a signal


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"])
def test_a_signal_during_dlb_data_download_removes_the_part_file_and_exits_130(trickle, tmp_path, sig):
    url = trickle(b"\x00" * 100_000, interval=0.02)
    dest = tmp_path / "mnist"
    env = {**os.environ, "DLB_MIRRORS_MNIST": url, "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "dlbasics", "data", "download", "mnist", "--root", str(dest)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while not (dest.exists() and any(p.name.endswith(".part") for p in dest.iterdir())):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.01)
        time.sleep(0.1)  # some bytes are in the file
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("error: interrupted"), err
    assert "Traceback" not in err
    assert leftovers(dest) == []


# ---------------------------------------------------------------- IDX headers that lie


def _gzip_member_of_zeros(n: int) -> bytes:
    return gzip.compress(bytes(n), compresslevel=9, mtime=0)


def _idx_header(dims: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


def _peak_bytes(func) -> tuple[int, BaseException | None]:
    """Run ``func`` and return the peak of traced Python/NumPy memory during it, and what it raised."""
    tracemalloc.start()
    try:
        func()
    except BaseException as err:
        return tracemalloc.get_traced_memory()[1], err
    finally:
        tracemalloc.stop()
    return tracemalloc.get_traced_memory()[1], None


def test_a_header_that_does_not_match_the_expected_shape_is_rejected_before_the_body(tmp_path):
    path = tmp_path / "huge-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_header((55000, 55000, 55000)) + bytes(1000)))
    start = time.monotonic()
    peak, err = _peak_bytes(lambda: read_idx(path, shape=(None, 28, 28)))
    assert time.monotonic() - start < 0.5
    assert isinstance(err, IDXError)
    message = str(err)
    assert "\n" not in message
    assert str(path) in message and "(55000, 55000, 55000)" in message and "(N, 28, 28)" in message
    assert peak < 10 * 2**20


def test_an_expected_shape_accepts_any_count_or_an_exact_one(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    path = write_idx(tmp_path / "images.gz", images)
    assert read_idx(path, shape=(None, 28, 28)).shape == (5, 28, 28)
    assert read_idx(path, shape=(5, 28, 28)).shape == (5, 28, 28)
    with pytest.raises(IDXError, match=r"claims shape \(5, 28, 28\).*expected \(6, 28, 28\)"):
        read_idx(path, shape=(6, 28, 28))
    with pytest.raises(IDXError, match=r"expected \(N,\)"):
        read_idx(path, shape=(None,))


def test_a_gzip_header_claiming_more_than_deflate_could_hold_is_rejected_without_decompressing(tmp_path):
    # 300 KB of gzip that really inflates to 300 MB, under a header claiming 55,000 x 55,000 bytes (3 GB):
    # DEFLATE cannot reach more than about 1032:1, so the header is a lie and must be caught before reading.
    path = tmp_path / "bomb-idx2-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_header((55000, 55000)), mtime=0) + _gzip_member_of_zeros(2**20) * 300)
    start = time.monotonic()
    peak, err = _peak_bytes(lambda: read_idx(path))
    assert time.monotonic() - start < 0.5
    assert isinstance(err, IDXError), err
    message = str(err)
    assert "\n" not in message and str(path) in message and "(55000, 55000)" in message
    assert f"{path.stat().st_size}-byte gzip" in message
    assert peak < 10 * 2**20


def test_the_most_compressible_honest_gzip_passes_the_ratio_check(tmp_path):
    zeros = np.zeros((200, 100, 100), np.uint8)
    path = write_idx(tmp_path / "zeros.gz", zeros)
    assert path.stat().st_size * 1000 < zeros.nbytes  # as compressible as DEFLATE gets
    np.testing.assert_array_equal(read_idx(path), zeros)


def _mnist_folder(folder: Path, train_images: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [np.zeros((60, 28, 28), np.uint8), np.arange(60, dtype=np.uint8) % 10,
              np.zeros((10, 28, 28), np.uint8), np.arange(10, dtype=np.uint8) % 10]
    for name, arr in zip(MNIST, arrays):
        write_idx(folder / f"{name}.gz", arr)
    if train_images is not None:
        (folder / f"{MNIST[0]}.gz").write_bytes(train_images)
    return folder


def test_the_mnist_loader_rejects_images_of_the_wrong_shape_from_the_header(tmp_path):
    # a valid 60 MB IDX file (60 KB of gzip) of 1000x1000 "images": the loader must not read it to find out
    wrong = gzip.compress(_idx_header((60, 1000, 1000)), mtime=0) + _gzip_member_of_zeros(10**6) * 60
    folder = _mnist_folder(tmp_path / "mnist", wrong)
    peak, err = _peak_bytes(lambda: load_dataset("mnist", root=str(folder), progress=False))
    assert isinstance(err, DataError), err
    message = str(err)
    assert "\n" not in message and f"{MNIST[0]}.gz" in message
    assert "(60, 1000, 1000)" in message and "(N, 28, 28)" in message
    assert peak < 20 * 2**20


def test_dlb_train_reports_a_corrupt_data_file_in_one_line_with_exit_3(tmp_path, write_config):
    folder = _mnist_folder(tmp_path / "mnist")
    (folder / f"{MNIST[2]}.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    config = write_config(f"""
name: corrupt
data: {{name: mnist, root: {folder}, val_split: 0.2}}
model: {{type: mlp, hidden: [8]}}
optimizer: {{name: sgd, lr: 0.1}}
train: {{epochs: 1, batch_size: 16}}
""")
    result = dlb_process("train", config, "--runs-dir", tmp_path / "runs", timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert f"{MNIST[2]}.gz" in result.stderr and "gzip" in result.stderr


def test_a_server_trickling_its_headers_is_abandoned_at_the_deadline(tmp_path):
    import contextlib
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\n")
            while not stop.wait(0.2):  # a header line every 0.2 s: no single read ever times out
                conn.sendall(b"X-Slow: a\r\n")

    threading.Thread(target=serve, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="no response within 1 s"):
            download_file(NAME, [f"http://127.0.0.1:{listener.getsockname()[1]}/"], tmp_path, GOOD_MD5,
                          progress=False, deadline=1, timeout=0.5, retries=0)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - start < 3 and not list(tmp_path.iterdir())


def test_a_full_disk_during_a_download_names_the_file_and_is_not_a_data_error(site, tmp_path, monkeypatch):
    import errno

    mirror = site.mirror("m1", {NAME: GOOD})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(download.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as info:
        download_file(NAME, [mirror], tmp_path / "dest", GOOD_MD5, progress=False)
    assert info.value.errno == errno.ENOSPC and info.value.filename.endswith(".part")
    assert not isinstance(info.value, DownloadError) and not list((tmp_path / "dest").iterdir())
