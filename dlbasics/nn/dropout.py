"""Dropout: a random subset of activations set to zero in training."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..config.fields import Num, Spec
from .layers import Layer


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014, JMLR 15): zero each element with probability p in training.

    x: any shape -> the same shape. ``p`` is the DROP probability everywhere in dlbasics (``model.dropout``,
    ``{type: dropout, p: ...}``), as ``torch.nn.Dropout(p)`` and Keras' ``Dropout(rate)``; the course's dropout
    values (the seed models' 0.2 and 0.5, the notes' "ratio 0.5 or 0.7") are drop ratios too and go in as
    written. Training: mask = (u >= p) with u ~ U[0, 1) drawn from
    ``self.rng`` (set by ``Sequential.build``), y = x * mask / (1 - p), dx = dout * mask / (1 - p); the
    scaling keeps E[y] = x, so eval is the identity y = x, dx = dout.
    p must be in [0, 1): PyTorch accepts p = 1 and outputs zeros, which cuts every gradient below the layer,
    so here it is an error.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "p": Num(ge=0.0, lt=1.0, doc="probability of zeroing (dropping) an element; keep ratio = 1 - p")}
    stochastic: ClassVar[bool] = True
    kept_outputs, scratch_outputs = 2, 2  # the mask and the output; forward draws u and (u >= p) first

    def __init__(self, p: float = 0.5):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
        self.p = p
        self.rng: np.random.Generator | None = None
        self.mask: np.ndarray | None = None

    def forward(self, x, training=False):
        if not training or self.p == 0:
            self.mask = None
            return x
        if self.rng is None:
            raise RuntimeError("dropout has no random generator: build it in a Sequential or set layer.rng")
        self.mask = (self.rng.random(x.shape, dtype=x.dtype) >= self.p).astype(x.dtype)
        self.mask *= 1.0 / (1.0 - self.p)
        return x * self.mask

    def backward(self, dout):
        if not self.needs_input_grad:
            return None
        return dout if self.mask is None else dout * self.mask

    def eval_memory(self, input_shape, output_shape, itemsize):
        """Evaluation returns x itself and keeps no mask."""
        return 0

    def extra_repr(self):
        return f"p={self.p}"
