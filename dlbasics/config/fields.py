"""Small declarative validators for the YAML config: one `Spec` per value, composed into sections.

Every spec has ``validate(value, path) -> value`` that returns the normalised value (defaults filled in) or
raises :class:`ConfigError` naming the dotted key path, the bad value and what is allowed. Library classes
declare the allowed range of their hyper-parameters with these specs (``Class.constraints``); names and
defaults come from the class signature, so a hyper-parameter is declared in exactly one place.
"""

from __future__ import annotations

import abc
import difflib
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

REQUIRED = object()


class ConfigError(ValueError):
    """A user mistake in a config: one line naming the source, the key path and what is allowed."""

    def __init__(self, message: str, path: str = "", source: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path
        self.source = source

    def __str__(self) -> str:
        parts = [p if len(p) <= 100 else p[:97] + "..." for p in (self.source, self.path) if p]
        return ": ".join([*parts, self.message])


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    """Return "; did you mean 'x'?" for the closest option, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


SHOW_LIMIT = 80


def show(value: Any, limit: int = SHOW_LIMIT) -> str:
    """Render a value the way the user wrote it, for error messages, cut to ``limit`` characters with "...".

    Lists and mappings are rendered item by item and the rendering stops at the limit, so a huge value
    (a YAML alias bomb, a value that contains itself) costs no more than a small one.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    pieces = _pieces(value, limit) if isinstance(value, (str, list, tuple, dict, set, frozenset)) else [
        _repr(value, limit, str)]  # a number as str(): 0.001, 1e-08
    text = ""
    for piece in pieces:
        text += piece
        if len(text) > limit:
            return text[:limit - 3] + "..."
    return text


def _pieces(value: Any, limit: int) -> Iterator[str]:
    """``repr(value)`` in pieces, lazily; each piece is at most about ``limit`` characters."""
    if isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ", " if i else ""
            yield from _pieces(key, limit)
            yield ": "
            yield from _pieces(item, limit)
        yield "}"
    elif isinstance(value, (list, tuple)) or (isinstance(value, (set, frozenset)) and value):  # set() as is
        brackets = "[]" if isinstance(value, list) else "()" if isinstance(value, tuple) else "{}"
        yield brackets[0]
        for i, item in enumerate(value):
            yield ", " if i else ""
            yield from _pieces(item, limit)
        yield "," * (isinstance(value, tuple) and len(value) == 1) + brackets[1]
    else:
        yield _repr(value, limit)


def _repr(value: Any, limit: int, render: Callable[[Any], str] = repr) -> str:
    """``render(value)``, of at most the first ``limit + 1`` characters of a string."""
    if isinstance(value, (str, bytes)):
        value = value[:limit + 1]
    try:
        return render(value)
    except ValueError:  # str() of an integer with more than 4300 digits
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"


def join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


class Spec(abc.ABC):
    """Base class: a default and a validate method."""

    default: Any = REQUIRED
    doc: str = ""

    @abc.abstractmethod
    def validate(self, value: Any, path: str) -> Any:
        """Return the normalised value or raise ConfigError."""

    def describe(self) -> str:
        return "a value"

    def with_default(self, default: Any) -> Spec:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.default = default
        return clone


class Num(Spec):
    """A real number (or an integer with ``integer=True``) with optional bounds."""

    def __init__(self, default: Any = REQUIRED, *, integer: bool = False, gt: float | None = None,
                 ge: float | None = None, lt: float | None = None, le: float | None = None, doc: str = ""):
        self.default, self.integer, self.doc = default, integer, doc
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        bounds = []
        for op, b in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le)):
            if b is not None:
                bounds.append(f"{op} {b:g}")
        return kind + (" " + " and ".join(bounds) if bounds else "")

    def validate(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        given = value
        if self.integer:
            if not isinstance(value, int):
                raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        else:
            try:
                value = float(value)
            except OverflowError:  # an integer of hundreds of digits
                raise ConfigError(f"expected a finite number, got {show(value)}", path) from None
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(f"expected a finite number, got {show(value)}", path)
        ok = ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
              and (self.lt is None or value < self.lt) and (self.le is None or value <= self.le))
        if not ok:
            raise ConfigError(f"expected {self.describe()}, got {show(given)}", path)
        return value


class Bool(Spec):
    def __init__(self, default: Any = REQUIRED, doc: str = ""):
        self.default, self.doc = default, doc

    def describe(self) -> str:
        return "true or false"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {show(value)}", path)
        return value


class Str(Spec):
    def __init__(self, default: Any = REQUIRED, doc: str = ""):
        self.default, self.doc = default, doc

    def describe(self) -> str:
        return "a string"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"expected a non-empty string, got {show(value)}", path)
        return value


class Choice(Spec):
    """One of a fixed set of strings (registry names), with a did-you-mean on a typo."""

    def __init__(self, options: list[str] | tuple[str, ...] | Callable[[], list[str]], default: Any = REQUIRED,
                 doc: str = ""):
        self._options, self.default, self.doc = options, default, doc

    @property
    def options(self) -> list[str]:
        return list(self._options() if callable(self._options) else self._options)

    def describe(self) -> str:
        opts = self.options
        return f"'{opts[0]}'" if len(opts) == 1 else "one of " + ", ".join(opts)

    def validate(self, value: Any, path: str) -> Any:
        opts = self.options
        if value not in opts or not isinstance(value, str):
            hint = did_you_mean(value, opts) if isinstance(value, str) else ""
            raise ConfigError(f"unknown value {show(value)}{hint} (allowed: {', '.join(opts)})", path)
        return value


class Optional(Spec):
    """``null`` or the inner spec; the default is ``null`` unless given."""

    def __init__(self, inner: Spec, default: Any = None, doc: str = ""):
        self.inner, self.default, self.doc = inner, default, doc or inner.doc

    def describe(self) -> str:
        return f"null or {self.inner.describe()}"

    def validate(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.validate(value, path)


class Either(Spec):
    """The first of several specs that accepts the value, e.g. an integer or the word ``full``."""

    def __init__(self, *options: Spec, default: Any = REQUIRED, doc: str = ""):
        self.options, self.default, self.doc = options, default, doc

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)

    def validate(self, value: Any, path: str) -> Any:
        for opt in self.options:
            try:
                return opt.validate(value, path)
            except ConfigError:
                continue
        raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)


class Seq(Spec):
    """A list whose items all follow ``item``; ``length`` fixes its size (a YAML list or a tuple default)."""

    def __init__(self, item: Spec, default: Any = REQUIRED, *, length: int | None = None, min_len: int = 0,
                 doc: str = ""):
        self.item, self.default, self.length, self.min_len, self.doc = item, default, length, min_len, doc

    def describe(self) -> str:
        size = f"{self.length} " if self.length is not None else ""
        return f"a list of {size}items, each {self.item.describe()}"

    def validate(self, value: Any, path: str) -> Any:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        if self.length is not None and len(value) != self.length:
            raise ConfigError(f"expected a list of {self.length} items, got {len(value)}", path)
        if len(value) < self.min_len:
            raise ConfigError(f"expected at least {self.min_len} item(s), got {len(value)}", path)
        return [self.item.validate(v, join(path, i)) for i, v in enumerate(value)]


class Scalar(Spec):
    """Any single YAML value: a number, string, boolean or null (for grids of values of various keys)."""

    def __init__(self, default: Any = REQUIRED, doc: str = ""):
        self.default, self.doc = default, doc

    def describe(self) -> str:
        return "a number, string or true/false"

    def validate(self, value: Any, path: str) -> Any:
        if isinstance(value, (dict, list, tuple)):
            raise ConfigError(f"expected a single value, got {show(value)}", path)
        return value


class Anything(Spec):
    """Any YAML value (a swept value: checked later, where it is set into a member's config)."""

    def __init__(self, default: Any = REQUIRED, doc: str = ""):
        self.default, self.doc = default, doc

    def describe(self) -> str:
        return "any value"

    def validate(self, value: Any, path: str) -> Any:
        return value


class MapOf(Spec):
    """A mapping from free-form string keys (e.g. dotted config keys) to values of one spec."""

    def __init__(self, value: Spec, default: Any = REQUIRED, doc: str = ""):
        self.value, self.default, self.doc = value, default, doc

    def describe(self) -> str:
        return f"a mapping of keys to {self.value.describe()}"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        return {str(k): self.value.validate(v, join(path, str(k))) for k, v in value.items()}


class Section(Spec):
    """A mapping with known keys; unknown keys are errors with a did-you-mean; defaults are filled in.

    ``check`` runs on the validated mapping for rules that tie several keys together and returns
    ``(key, message)`` for a violation or ``None``.
    """

    def __init__(self, fields: Mapping[str, Spec], doc: str = "",
                 check: Callable[[dict], tuple[str, str] | None] | None = None):
        self.fields, self.doc, self.check = dict(fields), doc, check
        self.default = {}

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.fields)

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a mapping (key: value), got {show(value)}", path)
        for key in value:
            if key not in self.fields:
                allowed = ", ".join(self.fields) or "none"
                raise ConfigError(f"unknown key{did_you_mean(key, list(self.fields))} (allowed: {allowed})",
                                  join(path, key))
        out = {}
        for key, spec in self.fields.items():
            if key in value:
                out[key] = spec.validate(value[key], join(path, key))
            elif spec.default is REQUIRED:
                raise ConfigError(f"missing required key ({spec.describe()})", join(path, key))
            else:
                out[key] = spec.validate(spec.default, join(path, key)) if spec.default is not None else None
        if self.check is not None:
            problem = self.check(out)
            if problem is not None:
                key, message = problem
                raise ConfigError(message, join(path, key) if key else path)
        return out


class Registry(Spec):
    """A mapping whose ``key`` entry (``name`` or ``type``) picks one of several sections.

    ``options`` maps each registered name to its :class:`Section`; ``common`` fields are allowed
    for every name. ``infer`` may pick the name when the key is absent.
    """

    def __init__(self, options: Mapping[str, Section] | Callable[[], Mapping[str, Section]], *, key: str = "name",
                 default: Any = REQUIRED, common: Mapping[str, Spec] | None = None,
                 infer: Callable[[Mapping], str | None] | None = None, doc: str = ""):
        self._options, self.key, self.default_name = options, key, default
        self.common, self.infer, self.doc = dict(common or {}), infer, doc
        self.default = {}

    @property
    def options(self) -> Mapping[str, Section]:
        return self._options() if callable(self._options) else self._options

    def describe(self) -> str:
        return f"a mapping with '{self.key}: <one of {', '.join(self.options)}>'"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if isinstance(value, str):  # shorthand: `optimizer: adam`
            value = {self.key: value}
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        name = value.get(self.key)
        if name is None and self.infer is not None:
            name = self.infer(value)
        if name is None:
            name = self.default_name
        if name is REQUIRED or name is None:
            raise ConfigError(f"missing required key (one of {', '.join(self.options)})", join(path, self.key))
        Choice(list(self.options)).validate(name, join(path, self.key))
        section = self.options[name]
        fields = {self.key: Str(name), **self.common, **section.fields}
        rest = {k: v for k, v in value.items() if k != self.key}
        merged = Section(fields, check=section.check).validate({self.key: name, **rest}, path)
        return merged


def section_from_signature(func: Callable, constraints: Mapping[str, Spec] | None = None,
                           skip: tuple[str, ...] = ("self", "params", "optimizer"), doc: str = "") -> Section:
    """Build a Section from a callable's keyword parameters: names and defaults from the signature.

    The type of each value follows ``constraints[name]`` when given, else the type of the default
    (float -> Num, int -> Num(integer), bool -> Bool, str -> Str, tuple -> Seq of that element type).
    """
    constraints = dict(constraints or {})
    fields: dict[str, Spec] = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = REQUIRED if param.default is inspect.Parameter.empty else param.default
        if isinstance(default, tuple):
            default = list(default)
        spec = constraints.pop(name, None) or _spec_for_default(default, name, func)
        fields[name] = spec.with_default(default)
    if constraints:
        raise TypeError(f"{func}: constraints for unknown parameters {sorted(constraints)}")
    return Section(fields, doc=doc or (inspect.getdoc(func) or "").split("\n")[0])


def _spec_for_default(default: Any, name: str, func: Callable) -> Spec:
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Num(integer=True)
    if isinstance(default, float):
        return Num()
    if isinstance(default, str):
        return Str()
    if isinstance(default, list) and default:
        return Seq(_spec_for_default(default[0], name, func), length=len(default))
    raise TypeError(f"{func}: parameter '{name}' needs an explicit constraint")


#: byte multiples a size may end with: SI (powers of 1000) and IEC (powers of 1024), case-insensitive
SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(value: int | float | str) -> int:
    """A size as bytes: a number of bytes, or a string such as "8GB", "512 MB", "1.5GiB" (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, (int, float)):
        number, unit = value, "b"
    else:
        text = str(value).strip().lower().replace(" ", "").replace("_", "")
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(digits):] or "b"
        try:
            number = float(digits)
        except ValueError:
            raise ValueError(f"not a size: {value!r}") from None
    if unit not in SIZE_UNITS or not 0 < number < float("inf"):
        raise ValueError(f"not a size: {value!r}")
    return max(1, int(number * SIZE_UNITS[unit]))


class Size(Spec):
    """An amount of memory: a number of bytes or a string with a unit ("8GB", "512MB", "1.5GiB"); kept as
    written (``size_bytes`` converts it)."""

    def __init__(self, default: Any = REQUIRED, doc: str = ""):
        self.default, self.doc = default, doc

    def describe(self) -> str:
        return "a size: bytes, or a number with kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024)"

    def validate(self, value: Any, path: str) -> Any:
        try:
            size_bytes(value)
        except ValueError:
            raise ConfigError(f"expected {self.describe()}, e.g. '8GB' or '512MB', got {show(value)}", path) from None
        return value
