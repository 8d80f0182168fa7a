"""Shared fixtures: tiny configs and a temporary runs folder; tests never touch the network or ../shared."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


def pytest_configure(config):
    """A test run started in the background by a non-interactive shell (``make test &``, a CI step's ``cmd &``)
    inherits SIGINT ignored (POSIX: such jobs ignore SIGINT and SIGQUIT), and so would every dlb process a test
    starts, as Python keeps an inherited SIG_IGN: the tests that press Ctrl-C on one would see it ignored. They
    test dlb, not how pytest was launched: give SIGINT back its default (in every xdist worker too)."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test sees the developer's data folders, cache or runs folder."""
    monkeypatch.delenv("DLB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DLB_RUNS_DIR", str(tmp_path / "runs"))
    for key in list(os.environ):
        if key.startswith("DLB_MIRRORS_"):
            monkeypatch.delenv(key)


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config text to a file and return its path."""

    def write(text: str, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


TINY = """
name: tiny
seed: 3
data: {name: spirals, n_train: 300, n_test: 100, val_split: 0.2}
model: {type: mlp, hidden: [16]}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 3, batch_size: 32}
"""


class _Handler(SimpleHTTPRequestHandler):
    """Serves files from a folder, counts requests, and answers 500 to the first few of chosen paths."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests.append(self.path)
            failing = server.fail_first.get(self.path, 0)
            if failing:
                server.fail_first[self.path] = failing - 1
        if failing:
            self.send_error(500)
            return
        super().do_GET()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Site:
    """A running local HTTP server and the folder it serves."""

    def __init__(self, root: Path, server: _Server):
        self.root = root
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}/"

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def mirror(self, name: str, files: dict[str, bytes] | None = None) -> str:
        """Create a mirror folder holding ``files`` and return its URL prefix."""
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        for filename, data in (files or {}).items():
            (folder / filename).write_bytes(data)
        return f"{self.url}{name}/"


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    server.requests = []
    server.fail_first = {}
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield Site(root, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dlb(*args, cwd=None, columns: int = 200, env: dict | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Run the `dlb` command line in this process (``dlbasics.cli.main.main`` with ``args``) and capture what it
    prints and its exit code, as a subprocess would give them: one interpreter and its imports serve every test
    (a subprocess would pay ~0.8 s of start-up and imports per call). ``columns`` sets COLUMNS (the width tables
    are fitted to), ``env`` adds environment variables for this call, and stdin is ``input`` (e.g. "y\\n" for a
    confirmation prompt), or empty: a pipe with nothing in it, never the terminal. Signal handlers, the working
    folder, ``sys.argv``, ``sys.stdin`` and the environment are restored after; a traceback escaping ``main`` lands
    in stderr with exit code 1. Nothing bounds the time a call takes: tests about the process itself (signals,
    pipes, time limits, hostile input that could hang) use :func:`dlb_process`."""
    import contextlib
    import io
    import signal
    import traceback

    from dlbasics.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["dlb", *map(str, args)]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    saved_argv, saved_cwd, saved_env, saved_stdin = sys.argv, os.getcwd(), dict(os.environ), sys.stdin
    code = 0
    try:
        os.environ.update({"COLUMNS": str(columns), **{k: str(v) for k, v in (env or {}).items()}})
        sys.argv = argv
        sys.stdin = io.StringIO(input or "")
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if not isinstance(exit_.code, (int, type(None))):
                    print(exit_.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv, sys.stdin = saved_argv, saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def dlb_process(*args, cwd=None, timeout=180, env=None) -> subprocess.CompletedProcess:
    """Run `dlb` as its own process (``python -m dlbasics``), for what only a process shows: signals, pipes,
    start-up, a hang bounded by ``timeout``."""
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "dlbasics", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)
