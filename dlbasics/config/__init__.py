"""Config files: YAML in, a validated and fully resolved dict out (defaults filled in, overrides applied).

    cfg = load_config("configs/quickstart.yaml", overrides=["optimizer.lr=0.01"])

Errors are :class:`ConfigError`: one line naming the file (or the ``--set`` override), the dotted key
path, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import yaml_io
from .fields import ConfigError
from .schema import ROOT, SECTIONS, check_across_sections, fill_dependent_defaults
from .values import sweep_values

__all__ = ["ConfigError", "apply_overrides", "config_hash", "load_config", "resolve_config"]


def _origin(text: str) -> str:
    """How an error names the override ``text``: ``--set key=value``, cut to 100 characters."""
    return f"--set {text}" if len(text) <= 100 else f"--set {text[:97]}..."


def _key_parts(key: str, text: str) -> list[str]:
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ConfigError(f"bad key path {key.strip()!r}", source=_origin(text))
    return parts


def _parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("expected KEY=VALUE, e.g. optimizer.lr=0.01", source=_origin(text))
    parts = _key_parts(key, text)
    values = sweep_values(value, _origin(text)) if value.strip() else None
    if values is not None:
        one = (f"one list is written [{value.strip()}]" if all(isinstance(v, (int, float)) for v in values)
               else f"one string with commas is quoted: {key.strip()}='{value.strip()}'")
        raise ConfigError(f"several values are a sweep: run `dlb sweep CONFIG --set {text[:60]}` ({one})",
                          source=_origin(text))
    return parts, yaml_io.loads(value, source=_origin(text), what="--set value") if value.strip() else None


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str | tuple[str, Any]]
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """Set ``a.b.c=value`` overrides (values parsed as YAML) into a copy of ``raw``; an override may also be a
    ``(dotted key, value)`` pair, set as it is (a sweep's values).

    Returns the new dict and a map from each overridden dotted path to its override text, so errors on
    those keys can name the override. A numeric part indexes a list (``model.layers.0.units=32``).
    """
    out = copy.deepcopy(dict(raw))
    origins: dict[str, str] = {}
    for item in overrides:
        if isinstance(item, tuple):
            text = f"{item[0]}={json.dumps(item[1], default=str)}"
            parts, value = _key_parts(item[0], text), copy.deepcopy(item[1])
        else:
            text = item
            parts, value = _parse_override(text)
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = node[int(part)] if isinstance(node, list) and part.isdigit() and int(part) < len(node) else (
                node.get(part) if isinstance(node, dict) else None)
            if nxt is None and isinstance(node, dict) and parts[i + 1].isdigit():
                path = ".".join(parts[:i + 1])
                raise ConfigError(f"{path} is not in the config file, so it has no item {parts[i + 1]} to set; "
                                  f"set the whole value, e.g. --set {path}=[...]", path, _origin(text))
            if nxt is None:
                if isinstance(node, list):
                    raise ConfigError(f"index {part} out of range", ".".join(parts[:i + 1]), _origin(text))
                if isinstance(node, dict):
                    nxt = node[part] = {}
                else:
                    raise ConfigError("cannot set a key inside a non-mapping value", ".".join(parts[:i]),
                                      _origin(text))
            elif isinstance(nxt, str) and i == 0 and part in SECTIONS:  # `optimizer: adam` shorthand
                nxt = node[part] = {"name": nxt}
            node = nxt
        last = parts[-1]
        if isinstance(node, list):
            if not (last.isdigit() and int(last) < len(node)):
                raise ConfigError(f"index {last} out of range", ".".join(parts), _origin(text))
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError("cannot set a key inside a non-mapping value", ".".join(parts[:-1]), _origin(text))
        origins[".".join(parts)] = text
    return out, origins


def resolve_config(raw: Any, source: str = "<config>", overrides: Iterable[str | tuple[str, Any]] = (),
                   name: str | None = None) -> dict[str, Any]:
    """Validate a raw config (a dict from YAML) with overrides; return the fully resolved config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a mapping of sections at the top level (name, seed, data, ...)", source=source)
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(f"keys must be strings, got {key!r}", source=source)
    raw, origins = apply_overrides(raw, overrides)
    try:
        cfg = ROOT.validate(fill_dependent_defaults(raw), "")
        check_across_sections(cfg)
    except ConfigError as err:
        err.source = next((_origin(origins[p]) for p in origins
                           if err.path == p or err.path.startswith(p + ".") or (p.startswith(err.path + ".")
                           and err.path)), source)
        raise
    if cfg["name"] is None:
        cfg["name"] = name or "run"
    return cfg


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read, validate and resolve a YAML config file (the run name defaults to the file's stem).

    A file with no settings at all (empty, only comments) is an error rather than a run of all the defaults;
    ``{}`` asks for the defaults explicitly.
    """
    path = Path(path)
    if path.suffix not in (".yaml", ".yml") and path.is_file():
        raise ConfigError("expected a .yaml or .yml config file", source=str(path))
    raw = yaml_io.load_file(path)
    if raw is None:
        raise ConfigError("is empty; write at least one setting (e.g. `name: my_run`), or `{}` for all the defaults",
                          source=str(path))
    return resolve_config(raw, source=str(path), overrides=overrides, name=path.stem)


def config_hash(cfg: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config in canonical JSON (key order and formatting do not matter)."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
