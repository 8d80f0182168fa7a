"""A matplotlib ``Figure`` as an ``<svg>`` element to inline in HTML: no XML prolog, no namespaces, no metadata.

Text stays text (``svg.fonttype: none``: smaller, selectable, drawn in a local font), and the ids an SVG refers to
(clip paths, markers) get a prefix per figure, so several figures on one page never share an id.
"""

from __future__ import annotations

import io
import re
from typing import Any

_ID = re.compile(r'\sid="([^"]*)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def figure_svg(fig: Any, prefix: str = "f") -> str:
    """``fig`` drawn as one ``<svg ...>...</svg>`` string whose ids start with ``prefix``."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dlbasics"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return clean_svg(buf.getvalue(), prefix)


def clean_svg(text: str, prefix: str) -> str:
    """The ``<svg>`` element of a matplotlib SVG file, ready to inline: prolog, DOCTYPE, ``<metadata>`` and the
    ``xmlns`` attributes dropped (HTML knows SVG), unreferenced ids dropped, referenced ones prefixed."""
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    used = {m.group(2) for m in _REF.finditer(text)}
    text = _ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in used else "", text)
    return _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in used else m.group(0), text)
