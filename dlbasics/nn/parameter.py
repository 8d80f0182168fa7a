"""A trainable tensor and its gradient."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape and dtype).

    Layers create their parameters and write gradients into ``grad`` in ``backward``; optimizers read
    ``grad`` and update ``data`` in place. Optimizers key their state by the Parameter object.
    """

    __slots__ = ("data", "grad", "name", "out_axis")

    def __init__(self, data: np.ndarray, name: str = "", out_axis: int = 0):
        self.data = data
        self.grad = np.zeros_like(data)
        self.name = name
        self.out_axis = out_axis  # the axis of output channels/units (Dense (in, out): 1; conv (C_out, ...): 0)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"
