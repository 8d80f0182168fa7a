"""Weight initialisers: ``init(shape, fan_in, fan_out, rng, dtype) -> array``.

Conventions follow ``torch.nn.init``: He (Kaiming) uses ``fan_in`` and gain sqrt(2) (ReLU); Xavier (Glorot)
uses ``(fan_in + fan_out)`` and gain 1. For a Dense weight of shape ``(in, out)``, fan_in = in and
fan_out = out; for a conv kernel ``(C_out, C_in, *k)``, fan_in = C_in * prod(k), fan_out = C_out * prod(k).

- He et al. 2015, "Delving Deep into Rectifiers", https://arxiv.org/abs/1502.01852
- Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks"
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple, int, int, np.random.Generator, np.dtype], np.ndarray]


def he_normal(shape, fan_in, fan_out, rng, dtype=np.float32):
    """N(0, 2 / fan_in): keeps the variance of ReLU activations constant across layers."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / fan_in): the uniform with He's variance 2 / fan_in."""
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def xavier_normal(shape, fan_in, fan_out, rng, dtype=np.float32):
    """N(0, 2 / (fan_in + fan_out)): Glorot's choice for tanh and sigmoid."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def xavier_uniform(shape, fan_in, fan_out, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def zeros(shape, fan_in, fan_out, rng, dtype=np.float32):
    """All zeros (used for biases)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS: dict[str, Initializer] = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "zeros": zeros,
}
