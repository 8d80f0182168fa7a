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


def pack(params: list[Parameter]) -> None:
    """Move the parameters' ``data`` and ``grad`` into two flat buffers, in order: each becomes a view of its
    piece (same shape, values kept). An optimizer whose rule is element-wise then updates a group whose
    parameters are consecutive pieces in one call per operation (:func:`flat_run`) instead of one per parameter:
    the same arithmetic on the same elements, so the same results, with a fraction of the calls (an MLP of 3
    Dense layers has 6 parameters; Adam makes ~11 NumPy calls per parameter per step). Parameters of mixed
    dtypes are left as they are."""
    if not params or len({p.data.dtype for p in params}) != 1:
        return
    total = sum(p.size for p in params)
    data, grad = np.empty(total, params[0].data.dtype), np.empty(total, params[0].data.dtype)
    start = 0
    for p in params:
        stop = start + p.size
        data[start:stop] = p.data.ravel()
        grad[start:stop] = p.grad.ravel()
        p.data, p.grad = data[start:stop].reshape(p.shape), grad[start:stop].reshape(p.shape)
        start = stop


def flat_run(arrays: list[np.ndarray]) -> np.ndarray | None:
    """The 1-D array of which ``arrays`` are consecutive, C-contiguous pieces in order (as :func:`pack` leaves
    the parameters), or None when they are not."""
    base = arrays[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    itemsize, origin = base.itemsize, base.__array_interface__["data"][0]
    first = expected = arrays[0].__array_interface__["data"][0]
    for a in arrays:
        if (a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != expected):
            return None
        expected += a.size * itemsize
    start = (first - origin) // itemsize
    return base[start:start + (expected - first) // itemsize]
