"""Headless Chromium driven over the Chrome DevTools Protocol on a pipe: no dependency beyond the browser.

    with Chromium() as browser:
        page = browser.open(Path("report.html"))     # waits for the load event
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"), full_page=True)
        page.console_errors, page.exceptions, page.requests   # what went wrong, what was fetched

``--remote-debugging-pipe``: the browser reads commands from its fd 3 and writes replies and events to its fd 4,
each a JSON message ended by a NUL byte. The pipes are moved to fds 3 and 4 in the child just before exec
(``pass_fds`` alone keeps a descriptor at its own number, which is rarely 3 or 4). The browser runs in a
process group of its own, killed on close whatever happened.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


class CDPError(RuntimeError):
    """The browser answered a command with an error, closed the pipe, or did not answer in time."""


def chromium_path() -> str | None:
    """The Chromium (or Chrome) on PATH, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser; ``open`` a file in a fresh tab. Use as a context manager (it always kills)."""

    def __init__(self, executable: str | None = None, timeout: float = 20.0, width: int = 1280, height: int = 800):
        self.timeout, self.width, self.height = timeout, width, height
        executable = executable or chromium_path()
        if executable is None:
            raise FileNotFoundError("no chromium on PATH")
        self.profile = tempfile.mkdtemp(prefix="dlb-chromium-")
        to_browser_r, self._out = _pipe_high()  # commands: we write, the browser reads as fd 3
        self._in, from_browser_w = _pipe_high()  # replies and events: the browser writes fd 4, we read

        def fds_3_and_4() -> None:  # in the child, before exec: only os calls
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        try:
            self.proc = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={self.profile}",
                 f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=False, preexec_fn=fds_3_and_4, start_new_session=True)
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask the browser to close, then kill its process group (renderers, GPU and zygote processes too)."""
        try:
            if self.proc.poll() is None:
                try:
                    self._write({"id": -1, "method": "Browser.close"})
                    self.proc.wait(timeout=3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            for fd in (self._out, self._in):
                with contextlib.suppress(OSError):
                    os.close(fd)
            shutil.rmtree(self.profile, ignore_errors=True)

    # --- the protocol -----------------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Send a command and return its result (events that arrive meanwhile are kept for ``wait_for``)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read(deadline, f"a reply to {method}")
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, method: str, session: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """The params of the first event ``method`` (of ``session``) not yet taken, waiting for it if need be."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    del self._events[i]
                    return event.get("params", {})
            self._events.append(self._read(deadline, f"the event {method}"))

    def events(self, session: str) -> list[dict[str, Any]]:
        """Every event of ``session`` received so far (kept, not taken)."""
        return [e for e in self._events if e.get("sessionId") == session]

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                message = self._read(deadline, "events")
                if "method" in message:
                    self._events.append(message)
        except TimeoutError:
            pass

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data):]

    def _read(self, deadline: float, what: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium sent no {what} in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise CDPError(f"chromium closed the pipe (exit code {self.proc.poll()}) while waiting for {what}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    # --- pages ------------------------------------------------------------------------------------------------

    def open(self, path: Path) -> Page:
        """Open a local file in a tab (the browser's first one, then new ones) and wait for its load event."""
        target = self._free_page()
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session)
        url = Path(path).absolute().as_uri()
        navigated = self.send("Page.navigate", {"url": url}, session)
        if navigated.get("errorText"):
            raise CDPError(f"cannot open {url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", session)
        self.drain(0.2)  # late console messages and requests
        return Page(self, session, url)

    def _free_page(self) -> str:
        """The id of a page target nobody is attached to: the about:blank the browser started with (it may take a
        moment to appear), or a new tab."""
        deadline = time.monotonic() + min(self.timeout, 5.0)
        while True:
            targets = self.send("Target.getTargets")["targetInfos"]
            free = [t["targetId"] for t in targets if t.get("type") == "page" and not t.get("attached")]
            if free:
                return free[0]
            if any(t.get("type") == "page" for t in targets) or time.monotonic() > deadline:
                return self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            time.sleep(0.05)


class Page:
    """A loaded tab: evaluate JavaScript, take screenshots, and what it logged and requested."""

    def __init__(self, browser: Chromium, session: str, url: str):
        self.browser, self.session, self.url = browser, session, url

    def evaluate(self, expression: str) -> Any:
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": True}, self.session)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:60]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [e.get("params", {}) for e in self.browser.events(self.session) if e["method"] == method]

    @property
    def console_errors(self) -> list[str]:
        """console.error calls and error log entries (failed loads, Content-Security-Policy violations)."""
        calls = [" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                 for p in self._events("Runtime.consoleAPICalled") if p.get("type") == "error"]
        logged = [p["entry"].get("text", "") for p in self._events("Log.entryAdded")
                  if p.get("entry", {}).get("level") == "error"]
        return calls + logged

    @property
    def exceptions(self) -> list[str]:
        return [p.get("exceptionDetails", {}).get("text", "") for p in self._events("Runtime.exceptionThrown")]

    @property
    def requests(self) -> list[str]:
        """Every URL requested but the page itself and ``data:`` URLs."""
        urls = [p.get("request", {}).get("url", "") for p in self._events("Network.requestWillBeSent")]
        return [u for u in urls if u != self.url and not u.startswith("data:")]

    def screenshot(self, path: Path, full_page: bool = False) -> bytes:
        """A PNG of the viewport, or of the whole page (``captureBeyondViewport``); written to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.browser.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": size["width"],
                                                             "height": size["height"], "scale": 1})
        data = base64.b64decode(self.browser.send("Page.captureScreenshot", params, self.session)["data"])
        Path(path).write_bytes(data)
        return data


def _pipe_high() -> tuple[int, int]:
    """A pipe whose two ends are at descriptors >= 10 (so moving them to 3 and 4 in the child cannot overwrite
    one with the other) and close on exec (the child gets only its copies at 3 and 4)."""
    r, w = os.pipe()
    try:
        return fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, 10)
    finally:
        os.close(r)
        os.close(w)
