"""Weight initialisers, named and parameterised as ``torch.nn.init`` (names end without the trailing underscore).

Every initialiser is ``f(shape, fan_in, fan_out, rng, dtype, **params) -> array``. Fans: a Dense weight of
shape ``(in, out)`` has fan_in = in, fan_out = out; a conv kernel ``(C_out, C_in, *k)`` has
fan_in = C_in * prod(k) and fan_out = C_out * prod(k) (:func:`fans`).

``gain`` is a number or the name of the activation that follows (:func:`calculate_gain`, PyTorch's table):
linear / sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4.

- Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks"
  (xavier_*: Var = gain^2 * 2 / (fan_in + fan_out))
- He et al. 2015, "Delving Deep into Rectifiers", https://arxiv.org/abs/1502.01852 (he_*: Var = gain^2 / fan_in,
  gain sqrt(2) for ReLU)
- LeCun et al. 1998, "Efficient BackProp" (lecun_normal: Var = 1 / fan_in)

The course notes' "Xavier (Glorot): std 1/sqrt(n)" (n: the nodes of the previous layer, as in "deep learning
from scratch") is ``lecun_normal`` here, not ``xavier_normal``: Glorot's std sqrt(2 / (fan_in + fan_out)) is
the same number only when fan_in = fan_out (as in the init study's width x width layers). The notes' "He:
std sqrt(2/n)" is ``he_normal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..config.fields import Choice, Either, Num, Registry, Section, Spec, section_from_signature

GAINS: dict[str, float] = {"linear": 1.0, "identity": 1.0, "conv": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3,
                           "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1 + 0.01**2)), "selu": 0.75,
                           "elu": 1.0, "gelu": 1.0, "softplus": 1.0}


def calculate_gain(nonlinearity: str | float) -> float:
    """The recommended gain for an activation (``torch.nn.init.calculate_gain``); a number passes through."""
    if isinstance(nonlinearity, (int, float)) and not isinstance(nonlinearity, bool):
        return float(nonlinearity)
    if nonlinearity not in GAINS:
        raise ValueError(f"no gain known for {nonlinearity!r}; known: {', '.join(GAINS)}")
    return GAINS[nonlinearity]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: Dense ``(in, out)``; conv kernel ``(C_out, C_in, *k)``."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def zeros(shape, fan_in, fan_out, rng, dtype=np.float32):
    """All zeros: every unit computes the same thing (symmetry is never broken; nothing learns)."""
    return np.zeros(shape, dtype=dtype)


def constant(shape, fan_in, fan_out, rng, dtype=np.float32, value: float = 0.1):
    """Every weight equal to ``value`` (symmetric like zeros)."""
    return np.full(shape, value, dtype=dtype)


def uniform(shape, fan_in, fan_out, rng, dtype=np.float32, a: float = 0.0, b: float = 1.0):
    """U(a, b) (PyTorch's defaults a=0, b=1)."""
    return rng.uniform(a, b, shape).astype(dtype)


def normal(shape, fan_in, fan_out, rng, dtype=np.float32, mean: float = 0.0, std: float = 1.0):
    """N(mean, std^2) (PyTorch's defaults: std 1, which saturates sigmoid units in deep nets)."""
    return (mean + std * rng.standard_normal(shape)).astype(dtype)


def small_normal(shape, fan_in, fan_out, rng, dtype=np.float32, std: float = 0.01):
    """N(0, 0.01^2): activations shrink toward 0 layer after layer (the course's "small normal")."""
    return (std * rng.standard_normal(shape)).astype(dtype)


def xavier_uniform(shape, fan_in, fan_out, rng, dtype=np.float32, gain: float | str = 1.0):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)): Glorot's choice for tanh and sigmoid."""
    bound = calculate_gain(gain) * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def xavier_normal(shape, fan_in, fan_out, rng, dtype=np.float32, gain: float | str = 1.0):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot; the notes' "Xavier 1/sqrt(n)" is
    :func:`lecun_normal`, equal to this only when fan_in = fan_out)."""
    std = calculate_gain(gain) * math.sqrt(2.0 / (fan_in + fan_out))
    return (std * rng.standard_normal(shape)).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype=np.float32, gain: float | str = "relu"):
    """U(-a, a), a = gain * sqrt(3 / fan_in) (``kaiming_uniform_``, mode fan_in): for ReLU nets."""
    bound = calculate_gain(gain) * math.sqrt(3.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def he_normal(shape, fan_in, fan_out, rng, dtype=np.float32, gain: float | str = "relu"):
    """N(0, std^2), std = gain / sqrt(fan_in) (``kaiming_normal_``): keeps ReLU activations' variance constant."""
    std = calculate_gain(gain) / math.sqrt(fan_in)
    return (std * rng.standard_normal(shape)).astype(dtype)


def lecun_normal(shape, fan_in, fan_out, rng, dtype=np.float32):
    """N(0, 1 / fan_in) (LeCun): the course notes' "Xavier, std 1/sqrt(n)", and what some "Xavier"
    implementations really are."""
    return (rng.standard_normal(shape) / math.sqrt(fan_in)).astype(dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f for f in (zeros, constant, uniform, normal, small_normal, xavier_uniform, xavier_normal,
                            he_uniform, he_normal, lecun_normal)
}

_GAIN = Either(Num(gt=0.0), Choice(list(GAINS)), doc="a number or the activation that follows (relu, tanh, ...)")

#: config specs of the initialisers' own parameters (names and defaults come from the signatures)
CONSTRAINTS: dict[str, dict[str, Spec]] = {
    "constant": {"value": Num(doc="the value of every weight")},
    "uniform": {"a": Num(doc="lower bound"), "b": Num(doc="upper bound")},
    "normal": {"mean": Num(doc="mean"), "std": Num(ge=0.0, doc="standard deviation")},
    "small_normal": {"std": Num(ge=0.0, doc="standard deviation")},
    "xavier_uniform": {"gain": _GAIN}, "xavier_normal": {"gain": _GAIN},
    "he_uniform": {"gain": _GAIN}, "he_normal": {"gain": _GAIN},
}


def initialize(spec: str | Mapping[str, Any], shape: tuple[int, ...], rng: np.random.Generator,
               dtype: Any = np.float32) -> np.ndarray:
    """A weight array of ``shape`` from an initialiser name or ``{name: ..., **params}`` mapping."""
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = params.pop("name")
    fan_in, fan_out = fans(tuple(shape))
    return INITIALIZERS[name](tuple(shape), fan_in, fan_out, rng, dtype, **params)


def _sections() -> dict[str, Section]:
    skip = ("shape", "fan_in", "fan_out", "rng", "dtype")
    return {name: section_from_signature(f, CONSTRAINTS.get(name, {}), skip=skip) for name, f in INITIALIZERS.items()}


#: the config spec of an ``init:`` value: a name (``he_normal``) or a mapping (``{name: normal, std: 0.1}``)
INIT = Registry(_sections, key="name", doc="weight initialiser: a name or {name: ..., its parameters}")


def describe(spec: str | Mapping[str, Any]) -> str:
    """Short text for an init spec: "he_normal", "normal(std=0.5)" (parameters at their defaults omitted)."""
    import inspect

    if isinstance(spec, str):
        return spec
    name = spec["name"]
    defaults = {k: p.default for k, p in inspect.signature(INITIALIZERS[name]).parameters.items()}
    extra = [f"{k}={v}" for k, v in spec.items() if k != "name" and defaults.get(k) != v]
    return f"{name}({', '.join(extra)})" if extra else name
