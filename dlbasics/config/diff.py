"""Configs side by side: dotted keys (the keys of ``--set``), what differs between configs or from the defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: the registry keys whose choice decides the other keys' defaults
REGISTRY_KEYS = (("data", "name"), ("model", "type"), ("optimizer", "name"), ("loss", "name"), ("schedule", "name"))


def dotted(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"optimizer.lr": 0.01, "model.layers.0.units": 32, ...}`` (the keys of ``--set``)."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(dotted(value, path + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            out.update(dotted({str(i): v for i, v in enumerate(value)}, path + "."))
        else:
            out[path] = value
    return out


def config_defaults(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults ``cfg`` is compared with: the config with only its data set, model type, optimizer, loss and
    schedule chosen (so each registry entry's own defaults count as defaults) and its name."""
    from . import ConfigError, resolve_config

    raw: dict[str, Any] = {}
    for section, key in REGISTRY_KEYS:
        if isinstance(cfg.get(section), Mapping) and key in cfg[section]:
            raw[section] = {key: cfg[section][key]}
    try:
        return resolve_config(raw, name=cfg.get("name"))
    except ConfigError:  # a combination that needs more than the names (a loss that needs another task ...)
        return resolve_config({}, name=cfg.get("name"))


#: what a missing key shows as in a diff
ABSENT = "(absent)"


def diff_from_defaults(cfg: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted key, default, value)`` for every key where the resolved config ``cfg`` differs from its
    :func:`config_defaults`."""
    return [(k, a, b) for k, (a, b) in config_diff([config_defaults(cfg), cfg]).items()]


def config_diff(configs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The dotted keys whose values are not the same in every config, with each config's value (ABSENT)."""
    flat = [dotted(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    out = {}
    for key in keys:
        values = [f.get(key, ABSENT) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out[key] = values
    return out


