"""Shared fixtures: tiny configs and a temporary runs folder; tests never touch the network or ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


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
