"""A :class:`~dlbasics.report.model.Page` as one self-contained HTML file: inline CSS, inline SVG figures, a few
lines of vanilla JavaScript to sort tables, a print stylesheet. Nothing is fetched: a Content-Security-Policy
forbids every request but ``data:`` images, so the file reads the same offline, mailed, or years later.

Every text that comes from a run folder (names, messages, config values, table cells) goes through
``html.escape``; only the SVG that matplotlib writes (which escapes its own text) is inserted as it is.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

from .model import Block, Facts, Page, Plot, Section, Table, Text
from .svg import figure_svg

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")

CSS = """
:root { --fg: #1d2330; --muted: #5f6b7a; --line: #d9dee5; --head: #f2f4f7; --accent: #2a5db0; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.55em; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 1.3em; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.12em; margin: 24px 0 8px; }
h4 { font-size: 1em; margin: 18px 0 6px; }
h2, h3, h4 { word-break: break-word; }
.subtitle { color: var(--muted); margin: 0 0 10px; }
nav ol { margin: 6px 0 14px; padding-left: 20px; columns: 2 320px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
.badge { display: inline-block; font-size: .72em; font-weight: 600; padding: 1px 8px; border-radius: 9px;
         vertical-align: middle; margin-left: 8px; background: #e8ebf0; color: #333; }
.st-completed { background: #dcf2e0; color: #17602a; }
.st-failed, .st-diverged, .st-corrupt, .st-killed { background: #fbe0e0; color: #8d1c1c; }
.st-partial, .st-interrupted, .st-running { background: #fcefd4; color: #7a4d00; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 8px 0 14px; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 8px 0 14px; max-width: 100%; }
table { border-collapse: collapse; font-size: .9em; font-variant-numeric: tabular-nums; }
p.caption { font-weight: 600; margin: 14px 0 0; color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top;
         white-space: nowrap; }
td.wrap { white-space: normal; min-width: 16em; overflow-wrap: anywhere; }
th { background: var(--head); position: sticky; top: 0; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
td.num { text-align: right; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef3fb; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px 20px; }
figure { margin: 6px 0 12px; min-width: 0; }
figure.wide { grid-column: 1 / -1; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .88em; margin-top: 2px; }
p.note { color: var(--muted); font-size: .9em; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; overflow-x: auto;
      font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
footer { max-width: 1180px; margin: 30px auto 20px; padding: 8px 24px; color: var(--muted); font-size: .85em;
         border-top: 1px solid var(--line); }
@media (max-width: 700px) { .plots { grid-template-columns: 1fr; } header, main { padding: 0 12px; } }
@media print {
  @page { margin: 14mm; }
  body { font-size: 10pt; }
  header, main, footer { max-width: none; padding: 0; }
  nav { display: none; }
  details summary { list-style: none; color: var(--fg); font-weight: 600; }
  h2 { break-after: avoid; }
  h3, h4, p.caption { break-after: avoid; }
  figure, tr, dl.facts { break-inside: avoid; }
  .plots { grid-template-columns: 1fr 1fr; }
  .table-wrap { overflow: visible; }
  th { position: static; }
  tbody tr:hover { background: none; }
  a { color: inherit; text-decoration: none; }
}
"""

# click a column header to sort by it (numbers as numbers, empty cells last); open folded parts to print
#: figures at least this wide (inches) take the whole width; text cells longer than LONG_TEXT may wrap
WIDE_INCHES, LONG_TEXT = 9.0, 48
#: a cell that starts with a number ("0.9512 [0.9480, 0.9544]", "+0.0021 [...]") sorts and aligns as one
_LEADING_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?=$|\s)")

SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], i = th.cellIndex;
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var key = function (tr) {
      var c = tr.cells[i];
      return c ? (c.dataset.v !== undefined ? c.dataset.v : c.textContent) : "";
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), empty = (x === "") - (y === "");
      if (empty) { return empty; }
      var nx = Number(x), ny = Number(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, undefined, {numeric: true});
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
});
"""


def render(page: Page, footer: str = "") -> str:
    """The page as one HTML document (a string)."""
    counter = iter(range(1, 1_000_000))
    ids = _ids(page.sections)
    body = "\n".join(_section(s, 2, ids, counter) for s in page.sections)
    nav = _nav(page.sections, ids)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(page.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header>\n<h1>{_e(page.title)}</h1>\n<p class=\"subtitle\">{_e(page.subtitle)}</p>\n{nav}</header>\n"
            f"<main>\n{body}\n</main>\n"
            + (f"<footer>{_e(footer)}</footer>\n" if footer else "")
            + f"<script>{SCRIPT}</script>\n</body>\n</html>\n")


def _ids(sections: Sequence[Section], prefix: str = "s") -> dict[int, str]:
    out: dict[int, str] = {}
    for i, s in enumerate(sections, 1):
        out[id(s)] = f"{prefix}{i}"
        out.update(_ids(s.children, f"{prefix}{i}-"))
    return out


def _nav(sections: Sequence[Section], ids: dict[int, str]) -> str:
    if len(sections) < 2:
        return ""
    items = []
    for s in sections:
        sub = "".join(f"<li><a href=\"#{ids[id(c)]}\">{_e(c.title)}</a></li>" for c in s.children)
        items.append(f"<li><a href=\"#{ids[id(s)]}\">{_e(s.title)}</a>" + (f"<ol>{sub}</ol>" if sub else "") + "</li>")
    return f"<nav><ol>{''.join(items)}</ol></nav>\n"


def _section(s: Section, level: int, ids: dict[int, str], counter: Iterator[int]) -> str:
    h = min(level, 6)
    badge = f" <span class=\"badge st-{_e(s.status)}\">{_e(s.status)}</span>" if s.status else ""
    parts = [f"<section id=\"{ids[id(s)]}\">", f"<h{h}>{_e(s.title)}{badge}</h{h}>"]
    plots: list[str] = []
    for block in s.blocks:
        if isinstance(block, Plot):
            plots.append(_plot(block, f"f{next(counter)}"))
            continue
        if plots:
            parts.append(f"<div class=\"plots\">{''.join(plots)}</div>")
            plots = []
        parts.append(_block(block))
    if plots:
        parts.append(f"<div class=\"plots\">{''.join(plots)}</div>")
    parts += [_section(c, level + 1, ids, counter) for c in s.children]
    parts.append("</section>")
    return "\n".join(parts)


def _block(block: Block) -> str:
    if isinstance(block, Facts):
        items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(format_value(v))}</dd>" for k, v in block.items)
        return f"<dl class=\"facts\">{items}</dl>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Text):
        if block.kind == "pre":
            inner = f"<pre>{_e(block.text)}</pre>"
        else:
            note = ' class="note"' if block.kind == "note" else ""
            inner = f"<p{note}>{_e(block.text)}</p>"
        return f"<details><summary>{_e(block.fold)}</summary>{inner}</details>" if block.fold else inner
    raise TypeError(f"not a report block: {type(block).__name__}")


def _plot(plot: Plot, prefix: str) -> str:
    """A figure at most a quarter larger than matplotlib drew it; a wide one spans the grid's columns. A figure
    that cannot be drawn is a one-line note in its place, as a part that fails is."""
    try:
        svg = figure_svg(plot.figure, prefix)
    except Exception as err:  # drawing happens here, after the part that built the figure returned
        reason = " ".join(str(err).split())
        return f"<p class=\"note\">{_e(f'this figure could not be drawn: {type(err).__name__}: {reason}')}</p>"
    width, _ = plot.figure.get_size_inches()
    wide = " class=\"wide\"" if width >= WIDE_INCHES else ""
    caption = f"<figcaption>{_e(plot.caption)}</figcaption>" if plot.caption else ""
    return f"<figure{wide} style=\"max-width: {round(width * 96 * 1.25)}px\">{svg}{caption}</figure>"


def _table(table: Table) -> str:
    columns = table.header()
    head = "".join(f"<th scope=\"col\">{_e(c)}</th>" for c in columns)
    body = []
    for row in table.rows:
        cells = []
        for c in columns:
            v = row.get(c)
            text = format_value(v, c)
            sort = _sort_key(v, text)
            if sort is not None:
                cells.append(f"<td class=\"num\" data-v=\"{_e(sort)}\">{_e(text)}</td>")
            else:
                wrap = " class=\"wrap\"" if len(text) > LONG_TEXT else ""
                cells.append(f"<td{wrap}>{_e(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption = f"<p class=\"caption\">{_e(table.caption)}</p>" if table.caption else ""
    note = f"<p class=\"note\">{_e(table.note)}</p>" if table.note else ""
    return (f"{caption}<div class=\"table-wrap\"><table class=\"sortable\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>{note}")


def _sort_key(v: Any, text: str) -> str | None:
    """The number a cell sorts by: its value, or the number its text starts with; None for text."""
    if _numeric(v):
        return repr(float(v))
    lead = _LEADING_NUMBER.match(text) if isinstance(v, str) else None
    return lead.group(0) if lead else None


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def format_value(v: Any, column: str = "") -> str:
    """A cell as text: numbers to 4 decimals (4 significant digits when tiny, huge or a learning rate; seconds
    to 2 decimals), NaN and None empty, lists and mappings as JSON."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if column.endswith("_s") or column in ("duration", "seconds"):
            return f"{v:.2f}"
        if column in ("lr", "p_value", "p") or column.endswith(".lr") or v == 0 or not 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.4f}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
