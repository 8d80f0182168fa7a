"""Downloads from a local HTTP server: mirrors, retries, checksums, atomic writes; never the internet."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from dlbasics.data import download
from dlbasics.data.download import DownloadError, download_file, download_files, md5sum, mirrors_for

GOOD = bytes(range(256)) * 1000
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()
NAME = "data.bin"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.0)


@pytest.fixture
def dest(tmp_path):
    return tmp_path / "dest"


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


def test_success(site, dest):
    mirror = site.mirror("m1", {NAME: GOOD})
    path = download_file(NAME, [mirror], dest, GOOD_MD5, progress=False)
    assert path == dest / NAME
    assert path.read_bytes() == GOOD
    assert md5sum(path) == GOOD_MD5
    assert leftovers(dest) == []
    assert site.requests == [f"/m1/{NAME}"]


def test_progress_bar_does_not_crash(site, dest, capsys):
    mirror = site.mirror("m1", {NAME: GOOD})
    path = download_file(NAME, [mirror], dest, GOOD_MD5.upper(), progress=True)
    assert path.read_bytes() == GOOD
    assert capsys.readouterr().out == ""


def test_checksum_mismatch_falls_through(site, dest):
    bad = site.mirror("m1", {NAME: GOOD[:-1] + b"x"})
    good = site.mirror("m2", {NAME: GOOD})
    path = download_file(NAME, [bad, good], dest, GOOD_MD5, progress=False)
    assert path.read_bytes() == GOOD
    assert site.requests == [f"/m1/{NAME}", f"/m2/{NAME}"]
    assert leftovers(dest) == []


def test_404_goes_to_next_mirror_without_retry(site, dest):
    empty = site.mirror("m1")
    good = site.mirror("m2", {NAME: GOOD})
    path = download_file(NAME, [empty, good], dest, GOOD_MD5, retries=3, progress=False)
    assert path.read_bytes() == GOOD
    assert site.requests == [f"/m1/{NAME}", f"/m2/{NAME}"]


def test_all_mirrors_fail(site, dest):
    missing = site.mirror("m1")
    bad = site.mirror("m2", {NAME: b"corrupted"})
    dead = closed_port_url()
    with pytest.raises(DownloadError) as info:
        download_file(NAME, [missing, bad, dead], dest, GOOD_MD5, retries=1, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"could not download {NAME}: ")
    assert f"{missing}: HTTP 404" in message
    bad_md5 = hashlib.md5(b"corrupted").hexdigest()
    assert f"{bad}: checksum mismatch (expected {GOOD_MD5}, got {bad_md5})" in message
    assert f"{dead}: connection refused" in message.lower()
    assert list(dest.iterdir()) == []


def test_server_error_recovers_on_retry(site, dest):
    mirror = site.mirror("m1", {NAME: GOOD})
    site.server.fail_first[f"/m1/{NAME}"] = 1
    path = download_file(NAME, [mirror], dest, GOOD_MD5, retries=2, progress=False)
    assert path.read_bytes() == GOOD
    assert site.requests == [f"/m1/{NAME}"] * 2
    assert leftovers(dest) == []


def test_server_error_gives_up_after_retries(site, dest):
    mirror = site.mirror("m1", {NAME: GOOD})
    site.server.fail_first[f"/m1/{NAME}"] = 10
    with pytest.raises(DownloadError, match=r"HTTP 500 \(3 attempts\)"):
        download_file(NAME, [mirror], dest, GOOD_MD5, retries=2, progress=False)
    assert len(site.requests) == 3
    assert list(dest.iterdir()) == []


def test_unreachable_mirror_goes_to_next(site, dest):
    good = site.mirror("m2", {NAME: GOOD})
    path = download_file(NAME, [closed_port_url(), good], dest, GOOD_MD5, retries=1, progress=False)
    assert path.read_bytes() == GOOD
    assert site.requests == [f"/m2/{NAME}"]


def test_download_files_skips_verified_files(site, dest):
    other = b"other file"
    mirror = site.mirror("m1", {NAME: GOOD, "other.bin": other})
    dest.mkdir()
    (dest / NAME).write_bytes(GOOD)
    files = {NAME: GOOD_MD5, "other.bin": hashlib.md5(other).hexdigest()}
    paths = download_files(files, [mirror], dest, progress=False)
    assert [p.name for p in paths] == [NAME, "other.bin"]
    assert site.requests == ["/m1/other.bin"]
    assert (dest / "other.bin").read_bytes() == other


def test_download_files_replaces_bad_file_and_creates_dest(site, tmp_path):
    mirror = site.mirror("m1", {NAME: GOOD})
    dest = tmp_path / "a" / "b"
    dest.mkdir(parents=True)
    (dest / NAME).write_bytes(b"stale")
    download_files({NAME: GOOD_MD5}, [mirror], dest, progress=False)
    assert (dest / NAME).read_bytes() == GOOD
    new_dest = tmp_path / "x" / "y"
    download_files({NAME: GOOD_MD5}, [mirror], new_dest, progress=False)
    assert (new_dest / NAME).read_bytes() == GOOD


def test_mirrors_for(monkeypatch):
    assert mirrors_for("mnist") == download.SOURCES["mnist"]["mirrors"]
    assert mirrors_for("fashion-mnist") == download.SOURCES["fashion-mnist"]["mirrors"]
    monkeypatch.setenv("DLB_MIRRORS_FASHION_MNIST", "http://a.example/fm/, http://b.example/fm")
    assert mirrors_for("fashion-mnist") == ["http://a.example/fm/", "http://b.example/fm/"]
    assert mirrors_for("mnist") == download.SOURCES["mnist"]["mirrors"]
    with pytest.raises(ValueError, match="no download sources"):
        mirrors_for("cifar")


def test_sources_are_well_formed():
    for source in download.SOURCES.values():
        assert all(m.startswith("http") and m.endswith("/") for m in source["mirrors"])
        assert len(source["files"]) == 4
        assert all(len(md5) == 32 for md5 in source["files"].values())
