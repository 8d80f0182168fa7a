"""Reports opened in a real browser (headless Chromium over the DevTools protocol): no console error, no
exception, no request; the headings, tables and figures are there and drawn. Skipped without chromium."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from browser import Chromium, chromium_path
from test_report import SECTIONS, make_folders

from dlbasics.report import write_report
from dlbasics.report.views import TITLES

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium is not on PATH")

#: what the page says about itself: headings, rows per table, each svg's child elements and size
READ_PAGE = """(() => ({
  h1: [...document.querySelectorAll("h1")].map(e => e.textContent.trim()),
  h2: [...document.querySelectorAll("h2")].map(e => e.textContent.trim()),
  tables: [...document.querySelectorAll("table")].map(t => t.tBodies.length ? t.tBodies[0].rows.length : 0),
  svgs: [...document.querySelectorAll("svg")].map(s => {
    const box = s.getBoundingClientRect();
    return {children: s.childElementCount, width: box.width, height: box.height,
            drawn: s.querySelectorAll("path, text, image, use").length};
  }),
  width: document.documentElement.scrollWidth,
}))()"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A run (evaluated), a comparison of two optimizers over two seeds, a 3-fold cross-validation: each
    folder's report.html."""
    folders = make_folders(tmp_path_factory.mktemp("browser"), ("run", "compare", "cv"))
    return {kind: write_report([path]) for kind, path in folders.items()}


@pytest.fixture(scope="module")
def browser():
    with Chromium(timeout=20) as chromium:
        yield chromium


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("kind", ["run", "compare", "cv"])
def test_a_report_loads_offline_without_errors_and_shows_everything(browser, reports, kind):
    page = browser.open(reports[kind])
    assert page.console_errors == [] and page.exceptions == [] and page.requests == []
    seen = page.evaluate(READ_PAGE)
    assert seen["h1"] == [f"{TITLES[kind]}: {reports[kind].parent.name}"]
    assert seen["h2"] == SECTIONS[kind]
    assert len(seen["tables"]) >= 2 and all(n > 0 for n in seen["tables"])
    assert seen["svgs"], "no figure"
    for svg in seen["svgs"]:
        assert svg["children"] > 0 and svg["drawn"] > 20 and svg["width"] > 200 and svg["height"] > 100
    assert seen["width"] <= 1280  # nothing sticks out sideways at a laptop's width
    shot = page.screenshot(reports[kind].with_suffix(".png"), full_page=True)
    width, height = _png_size(shot)
    assert width == 1280 and height > 800


def test_tables_sort_by_a_column_on_click(browser, reports):
    page = browser.open(reports["compare"])
    order = page.evaluate("""(() => {
      const table = [...document.querySelectorAll("table")].find(t => t.tHead.textContent.includes("replicate"));
      const column = [...table.tHead.rows[0].cells].findIndex(c => c.textContent === "test_acc");
      const values = () => [...table.tBodies[0].rows].map(r => Number(r.cells[column].dataset.v));
      table.tHead.rows[0].cells[column].click();
      const up = values();
      table.tHead.rows[0].cells[column].click();
      return [up, values()];
    })()""")
    up, down = order
    assert up == sorted(up) and down == sorted(up, reverse=True) and len(up) == 4
    assert page.console_errors == [] and page.exceptions == []


def test_the_browser_would_see_a_request_an_error_and_an_exception(browser, tmp_path):
    """The zero counts above mean something: a page that fetches and fails is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom"); missing();</script></body></html>')
    page = browser.open(bad)
    assert page.requests == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in e for e in page.console_errors) and page.exceptions
    assert Path(page.url).name == "bad.html"
