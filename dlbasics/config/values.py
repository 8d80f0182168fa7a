"""Sweep values on the command line, Hydra-style: ``--set optimizer.lr=1e-4,1e-3,1e-2``.

A comma splits values only outside brackets, braces, parentheses and quotes, so ``model.hidden=[64],[128,64]``
is two values (``[64]`` and ``[128, 64]``) and ``name='a,b'`` is one. ``range(a, b[, step])`` is the numbers
from ``a`` up to but not including ``b`` (Python's range, floats allowed: ``range(0.1, 0.5, 0.1)``). Each value
is then read as YAML, like any ``--set`` value.
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import yaml_io
from .fields import ConfigError

_CLOSE = {"[": "]", "{": "}", "(": ")"}
_RANGE = re.compile(r"^\s*range\((.*)\)\s*$", re.S)
#: the most values one ``range(...)`` may produce
MAX_RANGE = 10_000


def split_values(text: str, source: str = "") -> list[str]:
    """The comma-separated pieces of ``text``, splitting only at the top level (outside ``[] {} ()`` and
    quotes). ConfigError for unbalanced brackets or quotes, or an empty piece."""
    pieces, depth, quote, start, prev = [], [], "", 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and prev in ("", ",", "[", "{", "(", ":"):  # a quote opens a value, as in YAML: it's
            quote = ch                                                # is one word, 'a,b' one value
        elif ch in _CLOSE:
            depth.append(_CLOSE[ch])
        elif ch in "]})":
            if not depth or depth.pop() != ch:
                raise ConfigError(f"unbalanced {ch!r} at character {i + 1} of {text!r}", source=source)
        elif ch == "," and not depth:
            pieces.append(text[start:i])
            start = i + 1
        if not ch.isspace():
            prev = ch if not quote or ch == quote else prev
    if quote:
        raise ConfigError(f"unclosed quote {quote} in {text!r}", source=source)
    if depth:
        raise ConfigError(f"unclosed {'(' if depth[-1] == ')' else '[' if depth[-1] == ']' else '{'} in {text!r}",
                          source=source)
    pieces.append(text[start:])
    if len(pieces) > 1 and any(not p.strip() for p in pieces):
        raise ConfigError(f"empty value in the list {text!r}", source=source)
    return pieces


def _range(args: str, source: str) -> list[Any]:
    try:
        nums = [yaml_io.loads(a, source=source) for a in split_values(args, source)]
    except ConfigError:
        nums = []
    if not 2 <= len(nums) <= 3 or not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in nums):
        raise ConfigError(f"range({args}): expected range(start, stop[, step]) with numbers", source=source)
    start, stop, step = (*nums, 1)[:3]
    if step == 0 or not all(math.isfinite(n) for n in (start, stop, step)):
        raise ConfigError(f"range({args}): the step must be a finite number other than 0", source=source)
    count = math.ceil((stop - start) / step - 1e-9)  # range(0.1, 0.4, 0.1) is 3 values, not 4
    if count <= 0:
        raise ConfigError(f"range({args}) is empty", source=source)
    if count > MAX_RANGE:
        raise ConfigError(f"range({args}) has {count} values; at most {MAX_RANGE}", source=source)
    if all(isinstance(n, int) for n in (start, stop, step)):
        return list(range(start, stop, step))
    decimals = max(_decimals(n) for n in (start, step))
    return [round(start + i * step, decimals) for i in range(count)]


def _decimals(x: float) -> int:
    text = repr(float(x))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 12


def sweep_values(value: str, source: str = "") -> list[Any] | None:
    """The values a ``--set`` value sweeps over, or None when it is a single value."""
    match = _RANGE.match(value)
    if match:
        return _range(match.group(1), source)
    pieces = split_values(value, source)
    if len(pieces) == 1:
        return None
    return [yaml_io.loads(p, source=source, what="--set value") for p in pieces]


def split_override(text: str) -> tuple[str, list[Any] | None]:
    """``key=a,b,c`` -> (``key``, [a, b, c]); a single value gives (``key``, None)."""
    key, sep, value = text.partition("=")
    if not sep:
        return key.strip(), None
    return key.strip(), sweep_values(value, source=f"--set {text[:100]}")
