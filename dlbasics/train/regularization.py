"""What the ``regularization:`` and ``data.augment:`` sections do inside the training loop, in one place.

Per mini-batch, in training only (evaluation never sees any of it):

1. the batch: input noise x + N(0, std^2); image augmentation; cutout; then mixup or cutmix (cutmix with
   probability ``cutmix.prob`` when both are on, mixup otherwise), which turn the labels into soft labels;
2. weight noise: the forward and backward passes run at w + N(0, std^2) and the step is applied to w;
3. the penalty: cost = mean data loss + l1 * sum|w| + l2 / 2 * sum w^2 over the weights of dense and conv
   layers (not biases, not normalisation parameters), so its gradient adds l1 sign(w) + l2 w. One convention
   for both: each lambda is the coefficient of its penalty's gradient (as scikit-learn's ElasticNet,
   alpha l1_ratio |w|_1 + alpha (1 - l1_ratio) / 2 |w|^2). The l2 is the same lambda as an optimizer's
   coupled ``weight_decay`` and the notes' lambda / 2 w^2; the notes' L1, lambda / 2 |w|, is ``l1: lambda / 2``;
   Keras' l1(a) is ``l1: a`` and l2(a), a sum w^2, is ``l2: 2 a``. Reported as ``train_penalty``, apart from
   the data loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.augment import augment, cutmix, cutout, mixup
from ..nn.layers import leaves
from ..nn.model import Sequential
from ..nn.norm import _Norm
from ..nn.parameter import Parameter


def penalised_weights(model: Sequential) -> list[Parameter]:
    """The weights a penalty or weight noise applies to: "weight" of every layer that is not a normalisation."""
    return [p for layer in model.layers for leaf in leaves(layer) if not isinstance(leaf, _Norm)
            for p in leaf.parameters() if p.name == "weight"]


class Regularizer:
    """The training-time regularizers of one run (see the module docstring); built by the runner."""

    def __init__(self, model: Sequential, reg: dict[str, Any], augmentation: dict[str, Any] | None, task: str,
                 n_classes: int | None, rngs: dict[str, np.random.Generator], binary: bool = False):
        self.weights = penalised_weights(model)
        self.l1, self.l2 = reg.get("l1", 0.0), reg.get("l2", 0.0)
        self.input_std = reg.get("input_noise", {}).get("std", 0.0)
        self.weight_std = reg.get("weight_noise", {}).get("std", 0.0)
        self.mixup_alpha = reg.get("mixup", {}).get("alpha", 0.0)
        self.cutmix_alpha = reg.get("cutmix", {}).get("alpha", 0.0)
        self.cutmix_prob = reg.get("cutmix", {}).get("prob", 0.5)
        self.cutout_size = reg.get("cutout", {}).get("size", 0)
        self.cutout_prob = reg.get("cutout", {}).get("prob", 1.0)
        self.augmentation = {k: v for k, v in (augmentation or {}).items() if v}
        self.task, self.n_classes, self.rngs = task, n_classes, rngs
        self.binary = binary  # one output per sample (bce_with_logits): labels mix as probabilities of class 1
        self.saved: list[np.ndarray] = []

    @property
    def active(self) -> bool:
        return any((self.l1, self.l2, self.input_std, self.weight_std, self.mixup_alpha, self.cutmix_alpha,
                    self.cutout_size, self.augmentation))

    @property
    def has_penalty(self) -> bool:
        return bool(self.l1 or self.l2)

    def batch(self, xb: np.ndarray, yb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The transformed training batch (new arrays; soft labels after mixup or cutmix)."""
        if self.input_std:
            xb = xb + (self.input_std * self.rngs["input_noise"].standard_normal(xb.shape)).astype(xb.dtype)
        if self.augmentation:
            xb = augment(xb, self.rngs["augment"], **self.augmentation)
        if self.cutout_size:
            xb = cutout(xb, self.rngs["mix"], self.cutout_size, self.cutout_prob)
        if self.binary and (self.cutmix_alpha or self.mixup_alpha) and yb.ndim == 1:
            yb = yb.reshape(-1, 1).astype(xb.dtype)
        use_cutmix = self.cutmix_alpha and (not self.mixup_alpha or self.rngs["mix"].random() < self.cutmix_prob)
        if use_cutmix:
            xb, yb, _ = cutmix(xb, yb, self.rngs["mix"], self.cutmix_alpha, self._k(yb))
        elif self.mixup_alpha:
            xb, yb, _ = mixup(xb, yb, self.rngs["mix"], self.mixup_alpha, self._k(yb))
        return xb, yb

    def _k(self, yb: np.ndarray) -> int:
        # 2-D targets (regression, binary probabilities) mix as they are: one_hot leaves them alone
        return yb.shape[1] if yb.ndim == 2 else self.n_classes

    def before_forward(self) -> None:
        """Weight noise on: keep w, run forward and backward at w + noise."""
        if self.weight_std:
            rng = self.rngs["weight_noise"]
            self.saved = [p.data.copy() for p in self.weights]
            for p in self.weights:
                p.data += (self.weight_std * rng.standard_normal(p.shape)).astype(p.data.dtype)

    def restore(self) -> None:
        """Weight noise off: the clean weights back (also when a step is abandoned)."""
        if self.saved:
            for p, w in zip(self.weights, self.saved):
                p.data[...] = w
            self.saved = []

    def after_backward(self) -> None:
        """Weight noise off (w restored exactly) and the penalty's gradient added."""
        self.restore()
        for p in self.weights:
            if self.l2:
                p.grad += self.l2 * p.data
            if self.l1:
                p.grad += self.l1 * np.sign(p.data)

    def penalty(self) -> float:
        """l1 sum|w| + l2 / 2 sum w^2 at the current weights."""
        total = 0.0
        for p in self.weights:
            if self.l2:
                total += 0.5 * self.l2 * float(np.vdot(p.data, p.data))
            if self.l1:
                total += self.l1 * float(np.abs(p.data).sum())
        return total
