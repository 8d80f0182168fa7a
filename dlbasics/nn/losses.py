"""Losses: ``forward(output, target) -> mean loss`` (a Python float) and ``backward() -> d loss / d output``.

Each is the mean negative log-likelihood of a model of the targets (up to constants), which is why it is the
right loss for its kind of target:

- ``mse``: Gaussian noise with fixed variance, -log N(y; out, s^2) = (y - out)^2 / 2s^2 + const: regression.
- ``mae``: Laplace noise, -log Laplace(y; out, b) = |y - out| / b + const: the median; robust to outliers.
- ``huber``: quadratic near 0, linear in the tails (between the two).
- ``power``: mean |y - out|^p, the family the notes' "why squares, not fourth powers or absolute values?"
  asks about: p = 2 is MSE, p = 1 MAE; a larger p weighs large errors (outliers) ever more.
- ``cross_entropy``: a categorical distribution given by softmax(out): -log p_y: classification.
- ``bce_with_logits``: a Bernoulli given by sigmoid(out): -[y log p + (1 - y) log(1 - p)]: binary labels.

Definitions, reductions (mean over all elements) and gradients at kinks follow ``torch.nn``.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from ..config.fields import Num, Spec


class Loss(abc.ABC):
    """Base class. ``task``: the targets it takes ("classification" or "regression")."""

    task: ClassVar[str]
    constraints: ClassVar[dict[str, Spec]] = {}
    #: False for losses with a kink (MAE at 0, Huber's second derivative at delta): see Layer.smooth
    smooth: ClassVar[bool] = True

    @abc.abstractmethod
    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """Mean loss over the batch."""

    @abc.abstractmethod
    def backward(self) -> np.ndarray:
        """Gradient of the mean loss w.r.t. ``out`` from the last forward call."""

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)

    def n_outputs(self, n_classes: int) -> int:
        """How many model outputs a classification problem with ``n_classes`` classes needs."""
        return n_classes

    def n_correct(self, out: np.ndarray, target: np.ndarray) -> int:
        """Correctly classified samples among ``out`` (classification losses only)."""
        return int(np.count_nonzero(out.argmax(axis=1) == target))


class CrossEntropyLoss(Loss):
    """Softmax + categorical cross-entropy, fused and numerically stable (``torch.nn.CrossEntropyLoss``).

    out: (N, K) logits. target: (N,) integer classes, or (N, K) class probabilities (one-hot or soft labels,
    as mixup produces). With label smoothing eps the target distribution q becomes (1 - eps) q + eps / K
    (PyTorch's definition). loss = mean_n sum_k -q_nk log softmax(out_n)_k; gradient (softmax(out) - q) / N.
    """

    task = "classification"
    constraints: ClassVar[dict[str, Spec]] = {
        "label_smoothing": Num(ge=0.0, le=1.0, doc="eps: target (1 - eps) one-hot + eps / K (PyTorch's definition)"),
    }

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def forward(self, out, target):
        n, k = out.shape
        shifted = out - out.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sumexp = exp.sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(sumexp)
        eps = self.label_smoothing
        if target.ndim == 1:
            nll = -log_probs[np.arange(n), target]
            per_sample = (1 - eps) * nll - eps * log_probs.mean(axis=1) if eps else nll
        else:
            q = (1 - eps) * target + eps / k if eps else target
            per_sample = -(q * log_probs).sum(axis=1)
        exp /= sumexp
        self.probs, self.target = exp, target
        return float(per_sample.mean())

    def backward(self):
        n, k = self.probs.shape
        eps = self.label_smoothing
        if self.target.ndim == 1:
            grad = self.probs - eps / k if eps else self.probs.copy()
            grad[np.arange(n), self.target] -= 1 - eps
        else:
            q = (1 - eps) * self.target + eps / k if eps else self.target
            grad = self.probs - q
        grad /= n
        return grad

    def n_correct(self, out, target):
        labels = target if target.ndim == 1 else target.argmax(axis=1)
        return int(np.count_nonzero(out.argmax(axis=1) == labels))


class BCEWithLogitsLoss(Loss):
    """Sigmoid + binary cross-entropy on logits, stable for any logit (``torch.nn.BCEWithLogitsLoss``).

    out: (N, D) logits; target: (N, D) in [0, 1], or (N,) integer labels {0, 1} of a two-class problem with
    out (N, 1). loss = mean of max(z, 0) - z y + log(1 + e^-|z|); gradient (sigmoid(z) - y) / (N * D).
    A two-class data set needs one output: p(class 1) = sigmoid(z); predicted class: z > 0.
    """

    task = "classification"

    def n_outputs(self, n_classes):
        if n_classes != 2:
            raise ValueError(f"bce_with_logits takes two classes, the data set has {n_classes}; use cross_entropy")
        return 1

    def _targets(self, out, target):
        return target.reshape(out.shape).astype(out.dtype) if target.ndim == 1 else target

    def forward(self, out, target):
        y = self._targets(out, target)
        self.sig = 0.5 * (1 + np.tanh(0.5 * out))
        self.y = y
        return float(np.mean(np.maximum(out, 0) - out * y + np.log1p(np.exp(-np.abs(out)))))

    def backward(self):
        return (self.sig - self.y) * (1.0 / self.y.size)

    def n_correct(self, out, target):
        y = self._targets(out, target)
        return int(np.count_nonzero(np.all((out > 0) == (y > 0.5), axis=1)))


class MSELoss(Loss):
    """Mean squared error over all elements (``torch.nn.MSELoss``): mean((out - y)^2); gradient 2 (out - y) / size.

    out, target: (N, D).
    """

    task = "regression"

    def forward(self, out, target):
        self.diff = out - target
        return float(np.mean(self.diff * self.diff))

    def backward(self):
        return self.diff * (2.0 / self.diff.size)


class L1Loss(Loss):
    """Mean absolute error (``torch.nn.L1Loss``): mean |out - y|; gradient sign(out - y) / size (0 at 0).

    Robust: an outlier pulls with a constant force instead of one growing with its error.
    """

    task = "regression"
    smooth = False

    def forward(self, out, target):
        self.diff = out - target
        return float(np.mean(np.abs(self.diff)))

    def backward(self):
        return np.sign(self.diff) * (1.0 / self.diff.size)


class HuberLoss(Loss):
    """Huber (``torch.nn.HuberLoss``): 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere; mean.

    Gradient d / size inside, delta sign(d) / size outside: MSE for small errors, MAE for large ones.
    """

    task = "regression"
    smooth = False
    constraints: ClassVar[dict[str, Spec]] = {"delta": Num(gt=0.0, doc="where the loss turns from quadratic to linear")}

    def __init__(self, delta: float = 1.0):
        self.delta = delta

    def forward(self, out, target):
        d = out - target
        self.diff = d
        ad = np.abs(d)
        return float(np.mean(np.where(ad < self.delta, 0.5 * d * d, self.delta * (ad - 0.5 * self.delta))))

    def backward(self):
        d = self.diff
        return np.clip(d, -self.delta, self.delta) * (1.0 / d.size)


class PowerLoss(Loss):
    """The p-th power error: mean |out - y|^p over all elements; gradient p |d|^(p-1) sign(d) / size.

    p = 2 is ``mse`` exactly (mean d^2, not the 1/2 d^2 some texts use), p = 1 is ``mae``. For p <= 1 the loss has a
    kink at d = 0 (for p < 1 its slope even grows without bound there); the gradient there is 0, as MAE's. For
    p > 1 it is smooth. Like MSE, large errors dominate for p > 1, and the more so the larger p: the median-like
    robustness of MAE is p <= 1.
    """

    task = "regression"
    constraints: ClassVar[dict[str, Spec]] = {"p": Num(gt=0.0, le=16.0, doc="the power: 2 is MSE, 1 is MAE")}

    def __init__(self, p: float = 2.0):
        if not 0 < p <= 16:
            raise ValueError(f"power loss p must be in (0, 16], got {p}")
        self.p = p

    @property
    def smooth(self) -> bool:  # a kink at d = 0 for p <= 1
        return self.p > 1

    def forward(self, out, target):
        self.diff = out - target
        self.abs = np.abs(self.diff)
        return float(np.mean(self.abs**self.p))

    def backward(self):
        d, ad, p = self.diff, self.abs, self.p
        if p == 2:
            return d * (2.0 / d.size)
        with np.errstate(divide="ignore"):
            mag = np.where(ad > 0, ad ** (p - 1), 0.0) if p < 1 else ad ** (p - 1)
        return (p / d.size) * np.sign(d) * mag


LOSSES: dict[str, type[Loss]] = {"cross_entropy": CrossEntropyLoss, "bce_with_logits": BCEWithLogitsLoss,
                                 "mse": MSELoss, "mae": L1Loss, "huber": HuberLoss, "power": PowerLoss}


def probabilities(outputs: np.ndarray, loss_name: str) -> np.ndarray:
    """(N, K) class probabilities from a model's logits, in float64: the softmax (``cross_entropy``), or
    ``[1 - p, p]`` with p = sigmoid(z) for a binary ``bce_with_logits`` model's single output (N, 1)."""
    out = np.asarray(outputs, dtype=np.float64)
    if loss_name == "bce_with_logits" and out.shape[1] == 1:
        p = 0.5 * (1 + np.tanh(0.5 * out[:, 0]))  # the sigmoid, without overflow
        return np.stack([1 - p, p], axis=1)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
