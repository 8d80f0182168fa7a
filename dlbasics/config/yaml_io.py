"""Reading and writing YAML safely: plain data only, and `1e-3` read as a number.

PyYAML follows YAML 1.1, where ``1e-3`` (no dot) is a *string*; everybody writes learning rates that
way, so the loader below adds the YAML 1.2 float pattern. It derives from ``yaml.SafeLoader`` and adds
nothing else: python tags (``!!python/object``) are refused exactly as by ``yaml.safe_load``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .fields import ConfigError

FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus YAML 1.2 floats (``1e-3``, ``5E+2``); a key given twice is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first on line {seen[key] + 1})", key_node.start_mark)
            if isinstance(key, str):
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))


def _one_line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if isinstance(err, yaml.constructor.ConstructorError) and str(err.problem).startswith("duplicate key"):
        return f"{where}{err.problem}"
    if isinstance(err, yaml.constructor.ConstructorError) and "tag" in str(err.problem):
        tag = re.search(r"'([^']*)'", str(err.problem))
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else "?"
        return f"{where}the YAML tag {shown} is not allowed (plain YAML values only)"
    problem = getattr(err, "problem", None) or str(err)
    return f"{where}invalid YAML: {' '.join(str(problem).split())}"


def loads(text: str, source: str = "") -> Any:
    """Parse YAML text with the safe loader; errors become a one-line ConfigError."""
    try:
        return yaml.load(text, Loader=Loader)  # Loader is a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(_one_line(err), source=source) from None


def load_file(path: str | Path) -> Any:
    """Read a YAML file; a missing or unreadable file is a ConfigError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such config file", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML config file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file ({err.__class__.__name__}: {err})", source=str(path)) from None
    return loads(text, source=str(path))


class _Dumper(yaml.SafeDumper):
    """Quotes every string the Loader would read back as something else (e.g. "1e5")."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))


def _list_flow(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list_flow)


def dumps(data: Any) -> str:
    """Dump plain data as block YAML in key order, short lists inline."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
