"""Reading and writing YAML safely: plain data only, and `1e-3` read as a number.

PyYAML follows YAML 1.1, where ``1e-3`` (no dot) is a *string*; everybody writes learning rates that
way, so the loaders below add the YAML 1.2 float pattern. They derive from ``yaml.SafeLoader`` (and its
libyaml twin ``yaml.CSafeLoader``, used when PyYAML was built with it) and add nothing else: python tags
(``!!python/object``) are refused exactly as by ``yaml.safe_load``.

A config is small, so input that cannot be one is refused before it costs time or memory: a file over
:data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH` (the composer is recursive) and aliases that
expand to more than :data:`MAX_ALIAS_VALUES` values (a "billion laughs" bomb). Depth and aliases are
counted on the parser's event stream, which is not recursive, before any value is built.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .fields import ConfigError, show

FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")

MAX_BYTES = 1_000_000
"""Largest config file or ``--set`` value: a thousand times the largest shipped config (about 1 KB), and
parsed in about a second (libyaml) to a few seconds (pure Python)."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings; the deepest real config has about 6 levels."""
MAX_ALIAS_VALUES = 100_000
"""Most values that YAML aliases (``*name``) may add to a document when they are expanded."""


class _Limits:
    """Nesting depth and alias expansion of a YAML event stream, checked one event at a time.

    The expanded size of each anchored value is remembered when its last event is seen, so an alias
    costs one lookup however deep the graph of aliases is (no recursion, no expansion).
    """

    def __init__(self) -> None:
        self.open: list[list] = []  # [anchor, expanded size so far] of each unclosed list or mapping
        self.sizes: dict[str, int] = {}  # anchor -> expanded number of values it names
        self.from_aliases = 0

    def see(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                raise _refused(event, f"nested more than {MAX_DEPTH} levels deep")
            self.open.append([event.anchor, 1])
            return
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = self.open.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            if any(name == event.anchor for name, _ in self.open):
                raise _refused(event, f"the YAML alias *{event.anchor} is inside the value it names (a loop)")
            anchor, size = None, self.sizes.get(event.anchor, 0)  # an undefined alias is the composer's error
            self.from_aliases += size
            if self.from_aliases > MAX_ALIAS_VALUES:
                raise _refused(event, f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values (an alias bomb?)")
        else:
            return
        if anchor is not None:
            self.sizes[anchor] = size
        if self.open:
            self.open[-1][1] += size


def _refused(event: yaml.Event, message: str) -> ConfigError:
    mark = event.start_mark
    return ConfigError(f"line {mark.line + 1}, column {mark.column + 1}: {message}")


class _Plain:
    """What both loaders add to the safe loader: 1.2 floats (below), duplicate keys and bad values as errors,
    and the input limits, checked on every event the parser hands out."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.limits = _Limits()

    def get_event(self) -> yaml.Event:
        event = super().get_event()
        self.limits.see(event)
        return event

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as err:  # 2001-13-45, an integer of 5000 digits
            reason = str(err).split(";")[0]
            raise yaml.constructor.ConstructorError(None, None, f"cannot read {show(node.value, 40)} ({reason})",
                                                    node.start_mark) from None

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


class Loader(_Plain, yaml.SafeLoader):
    """``yaml.SafeLoader`` plus YAML 1.2 floats (``1e-3``, ``5E+2``); a key given twice is an error."""


Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))

if yaml.__with_libyaml__:
    class FastLoader(_Plain, yaml.CSafeLoader):
        """:class:`Loader` with libyaml's parser and composer (C, about 5 times faster).

        The C composer does not call ``get_event``, so :func:`loads` runs the limits over ``yaml.parse`` first.
        """

    FastLoader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))
else:  # pragma: no cover - PyYAML without libyaml
    FastLoader = None


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


def _too_large(size: int, what: str) -> str:
    shown = f"{size / 1e6:.1f} MB" if size >= 1.05e6 else f"{size:,} bytes"
    return f"{shown} is too large for a {what} (limit {MAX_BYTES / 1e6:g} MB)"


def loads(text: str, source: str = "", what: str = "config file") -> Any:
    """Parse YAML text with the safe loader; errors and input over the limits become a one-line ConfigError.

    libyaml parses when available (it reads every shipped config identically); on a YAML error the
    pure-Python loader parses again, so the message is always the pure-Python one, line and column included.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ConfigError(_too_large(size, what), source=source)
    try:
        if FastLoader is not None:
            try:
                for _ in yaml.parse(text, Loader=FastLoader):  # depth and aliases, before the C composer
                    pass
                return yaml.load(text, Loader=FastLoader)  # FastLoader is a CSafeLoader subclass
            except yaml.YAMLError:
                pass
        return yaml.load(text, Loader=Loader)  # Loader is a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(_one_line(err), source=source) from None
    except ConfigError as err:
        err.source = source
        raise


def load_file(path: str | Path) -> Any:
    """Read a YAML file; a missing, unreadable or oversized file is a ConfigError naming it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size <= MAX_BYTES:
            with path.open(encoding="utf-8") as file:
                text = file.read(MAX_BYTES + 1)  # a pipe or a device may have no size
    except FileNotFoundError:
        raise ConfigError("no such config file", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML config file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file ({err.__class__.__name__}: {err})", source=str(path)) from None
    if size > MAX_BYTES:
        raise ConfigError(_too_large(size, "config file"), source=str(path))
    if len(text) > MAX_BYTES:
        raise ConfigError(f"more than {MAX_BYTES / 1e6:g} MB is too large for a config file", source=str(path))
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
