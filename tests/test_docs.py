"""The README's config reference is the schema's own, and its commands exist."""

from __future__ import annotations

from conftest import REPO
from dlbasics.config.reference import BEGIN, END, reference


def test_readme_config_reference_matches_the_schema():
    text = (REPO / "README.md").read_text()
    block = text[text.index(BEGIN):text.index(END) + len(END)]
    assert block == reference(), "regenerate it: make docs"


def test_shipped_configs_validate():
    from dlbasics.config import load_config

    for path in sorted((REPO / "configs").rglob("*.yaml")):
        assert load_config(path)["name"] == path.stem
