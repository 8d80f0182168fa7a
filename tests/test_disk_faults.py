"""A full disk: every write that fails ends the run "failed" with one line naming the file and the errno, and
summary.json says so (or is absent), never "completed" or "running". Uses a real small tmpfs (root only)."""

from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

from conftest import REPO, TINY, dlb
from dlbasics import load_config, train
from dlbasics.runs.folder import RunFolder, atomic_write


@pytest.fixture
def tmpfs(tmp_path):
    """A 300 KB tmpfs mounted at tmp_path / "fs"."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(mount, leave_bytes: int) -> None:
    """Fill the file system until only about ``leave_bytes`` are free."""
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    with open(mount / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))


def statuses(root) -> list[str]:
    out = []
    for path in sorted(root.rglob("summary.json")):
        out.append(json.loads(path.read_text())["status"])
    return out


def test_a_run_on_a_300kb_disk_fails_in_one_line_naming_the_file(tmpfs):
    result = dlb("train", REPO / "configs" / "quickstart.yaml", "--set", "train.epochs=2", "--runs-dir", tmpfs)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "no space left on device (ENOSPC)" in result.stderr and str(tmpfs) in result.stderr
    (run,) = tmpfs.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "ENOSPC" in summary["message"]
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("leave_kb", [0, 4, 8, 12, 16, 64])
def test_whatever_space_is_left_the_summary_never_says_completed_or_running(tmpfs, write_config, leave_kb):
    fill(tmpfs, leave_kb * 1024)
    cfg = load_config(write_config(TINY), ["train.epochs=2"])
    with pytest.raises(OSError) as info:
        train(cfg, runs_dir=tmpfs / "runs" if leave_kb else tmpfs, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert set(statuses(tmpfs)) <= {"failed"}


def test_members_on_a_full_disk_fail_and_so_does_the_comparison(tmpfs, write_config):
    path = write_config(TINY.replace("epochs: 3", "epochs: 1").replace("[16]", "[512, 512]"))
    result = dlb("compare", path, "--optimizers", "sgd,adam", "--jobs", "2", "--no-report", "--runs-dir", tmpfs)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert ".npz: no space left on device (ENOSPC)" in " ".join(result.stderr.split())
    assert statuses(tmpfs) == ["failed"] * 3


def test_the_summary_falls_back_to_an_in_place_write_when_nothing_is_left(tmp_path, monkeypatch):
    folder = RunFolder(tmp_path)
    folder.write_summary({"status": "running", "run_id": "r", "name": "n", "versions": {"x": "y" * 500}})

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("dlbasics.runs.folder.atomic_write", full)
    with pytest.raises(OSError):
        folder.write_summary({"status": "completed", "run_id": "r", "name": "n"})
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["status"] == "failed" and "ENOSPC" in saved["message"] and saved["run_id"] == "r"


def test_a_failed_write_names_the_target_file_not_a_temporary(tmp_path):
    target = tmp_path / "gone" / "model.npz"
    with pytest.raises(OSError) as info:
        atomic_write(target, b"x")
    assert info.value.filename == str(target) and info.value.errno == errno.ENOENT
