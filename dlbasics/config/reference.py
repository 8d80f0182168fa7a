"""The config reference in Markdown, generated from the schema (so the README cannot drift from the code).

    python -m dlbasics.config.reference              # print the block that README.md embeds
    python -m dlbasics.config.reference README.md    # rewrite that block in place (make docs)
"""

from __future__ import annotations

from typing import Any

from .fields import REQUIRED, Registry, Section, Seq, Spec
from .schema import SECTIONS

BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"


def _default(spec: Spec) -> str:
    value: Any = spec.default
    if value is REQUIRED:
        return "required"
    if isinstance(spec, (Section, Registry)):
        return ""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _rows(section: Section, prefix: str) -> list[str]:
    return [f"| `{prefix}{key}` | {spec.describe()} | {_default(spec)} | {spec.doc} |"
            for key, spec in section.fields.items()]


def _list_items(registry: Registry, path: str) -> list[str]:
    out = [f"Each item of `{path}` (`{registry.key}:` one of {', '.join(f'`{o}`' for o in registry.options)}):", "",
           f"| `{registry.key}` | keys (default) | what it is |", "|---|---|---|"]
    for option, section in registry.options.items():
        keys = ", ".join(f"`{k}` ({_default(f)})" for k, f in section.fields.items()) or "none"
        out.append(f"| `{option}` | {keys} | {section.doc} |")
    return [*out, ""]


def reference() -> str:
    """Markdown: one table per section; registry sections get a table per registered name."""
    out = [BEGIN, ""]
    header = ["| key | allowed | default | meaning |", "|---|---|---|---|"]
    for name, spec in SECTIONS.items():
        if isinstance(spec, Registry):
            default = f"`{spec.default_name}`" if spec.default_name not in (None, REQUIRED) else "by task"
            out += [f"### `{name}:` (`{spec.key}:` one of {', '.join(f'`{o}`' for o in spec.options)}; "
                    f"default {default})", "", spec.doc + ".", ""]
            if spec.common:
                out += ["Keys for every choice:", "", *header, *_rows(Section(spec.common), f"{name}."), ""]
            for option, section in spec.options.items():
                title = f"`{spec.key}: {option}`" + (f": {section.doc}" if section.doc else "")
                if section.fields:
                    out += [title, "", *header, *_rows(section, f"{name}."), ""]
                else:
                    out += [f"{title} (no keys)", ""]
                for key, field in section.fields.items():
                    if isinstance(field, Seq) and isinstance(field.item, Registry):
                        out += _list_items(field.item, f"{name}.{key}")
        elif isinstance(spec, Section):
            out += [f"### `{name}:`", "", (spec.doc or "") + ".", ""]
            out += [*header, *_rows(spec, f"{name}."), ""] if spec.fields else ["(no keys yet)", ""]
        else:
            out += [f"### `{name}:` {spec.describe()}, default {_default(spec)}", "", spec.doc + ".", ""]
    out.append(END)
    return "\n".join(out)


def write_into(path: str) -> None:
    """Replace the block between the markers in ``path`` with the current reference."""
    from pathlib import Path

    text = Path(path).read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    Path(path).write_text(text[:start] + reference() + text[end:])


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        write_into(sys.argv[1])
    else:
        print(reference())
