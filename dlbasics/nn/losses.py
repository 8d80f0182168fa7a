"""Losses: ``forward(output, target) -> mean loss`` (a Python float) and ``backward() -> d loss / d output``.

Each loss is the negative log-likelihood of a model of the targets, averaged over the batch:
- MSE is the Gaussian likelihood with fixed variance (up to constants): regression;
- cross-entropy is the categorical likelihood of softmax probabilities: classification.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from ..config.fields import Num, Spec


class Loss(abc.ABC):
    """Base class: ``task`` says which targets the loss takes ("classification" or "regression")."""

    task: ClassVar[str]
    constraints: ClassVar[dict[str, Spec]] = {}

    @abc.abstractmethod
    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """Mean loss over the batch."""

    @abc.abstractmethod
    def backward(self) -> np.ndarray:
        """Gradient of the mean loss w.r.t. ``out`` from the last forward call."""

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)


class CrossEntropyLoss(Loss):
    """Softmax + categorical cross-entropy, fused and numerically stable (PyTorch's ``nn.CrossEntropyLoss``).

    out: (N, K) logits; target: (N,) integer classes. With label smoothing eps the target distribution is
    q = (1 - eps) onehot(y) + eps / K, and loss = mean_n sum_k -q_k log softmax(out)_k (PyTorch's definition).
    Gradient: (softmax(out) - q) / N.
    """

    task = "classification"
    constraints: ClassVar[dict[str, Spec]] = {
        "label_smoothing": Num(ge=0.0, le=1.0, doc="eps: target (1 - eps) one-hot + eps / K (PyTorch's definition)"),
    }

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def forward(self, out, target):
        n = out.shape[0]
        shifted = out - out.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sumexp = exp.sum(axis=1, keepdims=True)
        log_norm = np.log(sumexp)
        rows = np.arange(n)
        nll = log_norm[:, 0] - shifted[rows, target]
        eps = self.label_smoothing
        if eps:
            smooth = log_norm[:, 0] - shifted.mean(axis=1)  # mean_k -log p_k
            per_sample = (1 - eps) * nll + eps * smooth
        else:
            per_sample = nll
        exp /= sumexp
        self.probs, self.target = exp, target
        return float(per_sample.mean())

    def backward(self):
        n, k = self.probs.shape
        eps = self.label_smoothing
        grad = self.probs - eps / k if eps else self.probs.copy()
        grad[np.arange(n), self.target] -= 1 - eps
        grad /= n
        return grad


class MSELoss(Loss):
    """Mean squared error over all elements (PyTorch's ``nn.MSELoss``): mean((out - target)^2).

    out, target: (N, D). Gradient: 2 (out - target) / (N * D).
    """

    task = "regression"

    def forward(self, out, target):
        self.diff = out - target
        return float(np.mean(self.diff * self.diff))

    def backward(self):
        return self.diff * (2.0 / self.diff.size)


LOSSES: dict[str, type[Loss]] = {"cross_entropy": CrossEntropyLoss, "mse": MSELoss}
