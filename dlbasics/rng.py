"""Random streams: every random number of a run comes from a generator derived from the run's one seed."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent ``Generator`` for one consumer ("data", "init", "shuffle", ...) of the root ``seed``.

    Streams are keyed by name, so adding a new consumer never changes the numbers of the existing ones:
    two runs with the same seed and model start from the same weights and see the same batches.
    """
    return np.random.default_rng([seed, zlib.crc32(name.encode())])
