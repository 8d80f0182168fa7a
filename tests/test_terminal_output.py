"""What a person sees in a real terminal: `dlb train` on a pseudo-terminal of 80 columns, its output replayed by
a terminal emulator (pyte), so cursor movements and erased lines count as they would on screen."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import TINY

pyte = pytest.importorskip("pyte", reason="pyte (a dev extra) emulates the terminal")


def _screen_after(args: list[str], cols: int = 80, rows: int = 40, timeout: float = 60) -> tuple[list[str], bytes]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, "-m", "dlbasics", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    raw = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                raw += chunk
                stream.feed(chunk)
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    assert proc.returncode == 0, raw.decode(errors="replace")[-2000:]
    return [line.rstrip() for line in screen.display if line.strip()], raw


def test_after_the_progress_bar_goes_every_epoch_line_stays_on_screen_unwrapped(write_config, tmp_path):
    lines, raw = _screen_after(["train", str(write_config(TINY)), "--set", "train.epochs=5",
                                "--runs-dir", str(tmp_path / "runs")])
    assert b"epochs" in raw  # the live bars were drawn (and then removed)
    header = lines.index(next(line for line in lines if line.startswith("epoch")))
    epochs = lines[header + 1:header + 6]
    assert [line.split()[0] for line in epochs] == [f"{e}/5" for e in range(1, 6)]  # one screen line each
    assert lines[header + 6].startswith("completed: 5 epochs")
    assert lines[header + 7].startswith("run folder: ")  # (a long path wraps, as any terminal wraps it)
    assert not any("━" in line for line in lines)  # no bar is left behind
