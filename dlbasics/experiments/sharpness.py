"""How sharp a training loss is at a solution, and what lies on the line between two solutions.

Keskar, Mudigere, Nocedal, Smelyanskiy & Tang (2017), "On Large-Batch Training for Deep Learning: Generalization
Gap and Sharp Minima" (ICLR; arXiv:1609.04836): large mini-batches tend to end in sharp minima of the training
loss f (large positive curvature), small ones in flat minima, and the sharp ones generalise worse. Three
measurements, all in float64 on a fixed set of training samples, the model in eval mode (BatchNorm uses its
running statistics, dropout is off: f is then a deterministic function of the weights θ):

- :func:`hvp`, the Hessian-vector product by central differences of gradients (backprop gives gradients only;
  double backprop is not available in a NumPy library)::

      H v ≈ (∇f(θ + r v) − ∇f(θ − r v)) / (2 r),    ‖v‖ = 1                  (error O(r²), rounding O(ε_mach / r))

  with a small r (1e-7) so that the step does not cross ReLU kinks (see :func:`hvp`).

- :func:`top_eigenvalue`: power iteration on H v: v ← Hv / ‖Hv‖, λ = vᵀHv (the Rayleigh quotient), until
  |λ_k − λ_{k−1}| ≤ tol·|λ_k| or ``iters`` products. It finds the eigenvalue of largest magnitude, which at a
  minimum (H positive semi-definite) is the largest one, λ_max: the curvature along the sharpest direction.
  :func:`largest_eigenvalue` makes sure of that away from a minimum: when power iteration ends on a negative
  eigenvalue λ_neg (a saddle, an undertrained net), it runs again on H − λ_neg I, whose eigenvalues λ_i − λ_neg
  are >= 0 up to the estimate's error, and returns its top one plus λ_neg.

- :func:`epsilon_sharpness`: Keskar's Metric 2.1 with A = I (the full parameter space):

      C_ε = {y : |y_i| ≤ ε (|θ_i| + 1)},    φ(θ, ε) = 100 · (max_{y ∈ C_ε} f(θ + y) − f(θ)) / (1 + f(θ))

  The paper maximises with 10 iterations of L-BFGS-B; here by ``steps`` of projected sign-gradient ascent (the
  steepest-ascent step of the box's own ∞-norm, then the projection onto the box, which is a clip):
  y ← clip(y + η_k D ⊙ sign ∇f(θ + y), −D, D), D = ε(|θ| + 1), η_0 = 1 (straight to the maximiser of the
  linearised f over the box), η_k = 2^(−k) after. The largest f seen (f(θ) included) is the maximum, so φ ≥ 0
  and is a lower bound of the true maximum. A coordinate whose gradient is exactly 0 (at an exact minimum)
  takes a random sign.

- :func:`interpolate`: f and accuracy along θ(α) = (1 − α) θ_a + α θ_b (Keskar's Figure 3, after Goodfellow
  et al. 2015), every saved array interpolated, BatchNorm's running statistics too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..nn.losses import Loss
from ..nn.model import Sequential
from ..train.loop import evaluate

GradFn = Callable[[np.ndarray], np.ndarray]
LossGradFn = Callable[[np.ndarray], tuple[float, np.ndarray]]


def hvp(grad: GradFn, theta: np.ndarray, v: np.ndarray, r: float = 1e-7) -> np.ndarray:
    """H(θ) v by central differences of the gradient: (∇f(θ + r u) − ∇f(θ − r u)) / (2 r) · ‖v‖, u = v / ‖v‖.

    theta, v: (P,) float64. ``r``: the step along the unit vector u. Small, because of ReLU's kinks: the Hessian
    of a ReLU net is defined between kinks, and a step that carries one sample's pre-activation across 0 adds
    its gradient jump / 2r, a spurious term as large as the curvature itself; power iteration seeks out exactly
    such directions (on an undertrained quickstart net, r = 1e-5 gave λ_max = −14.8 or 56.5 depending on the
    start vector; r = 1e-7 and 1e-8 gave 10.707 from every start, as Lanczos did). In float64 the rounding error, about
    1e-16 ‖∇f‖ / r, stays far below the curvature at 1e-7."""
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros_like(theta)
    u = v / norm
    return (grad(theta + r * u) - grad(theta - r * u)) * (norm / (2.0 * r))


@dataclass
class Eigen:
    """What power iteration found: the eigenvalue, its unit eigenvector, products used, and whether it met the
    tolerance (``history``: the Rayleigh quotient after each product)."""

    value: float
    vector: np.ndarray
    iterations: int
    converged: bool
    history: list[float] = field(default_factory=list)
    #: the negative eigenvalue power iteration found first, when :func:`largest_eigenvalue` had to shift
    most_negative: float | None = None


def top_eigenvalue(grad: GradFn, theta: np.ndarray, *, iters: int = 20, tol: float = 1e-3, r: float = 1e-7,
                   rng: np.random.Generator | None = None, matvec: Callable[[np.ndarray], np.ndarray] | None = None,
                   offset: float = 0.0) -> Eigen:
    """The Hessian's eigenvalue of largest magnitude at θ by power iteration on :func:`hvp` (module docstring).

    Starts from a standard normal vector of ``rng`` (seed 0 by default). ``matvec`` replaces the finite-difference
    product (an exact H v, for tests). Each iteration costs two gradients over the objective's samples. The
    tolerance is relative to |λ + offset|: for an operator H − s I, offset = s measures it against the eigenvalue
    of H itself (against λ − s, a large shift would make the first change look small enough to stop)."""
    if iters < 1:
        raise ValueError(f"power iteration needs iters >= 1, got {iters}")
    rng = rng if rng is not None else np.random.default_rng(0)
    product = matvec or (lambda v: hvp(grad, theta, v, r))
    v = rng.standard_normal(theta.shape)
    v /= np.linalg.norm(v)
    history: list[float] = []
    for k in range(1, iters + 1):
        w = product(v)
        lam = float(v @ w)
        history.append(lam)
        norm = float(np.linalg.norm(w))
        if norm == 0.0 or not math.isfinite(norm):
            return Eigen(lam, v, k, norm == 0.0, history)
        v = w / norm
        if k > 1 and abs(lam - history[-2]) <= tol * abs(lam + offset):
            return Eigen(lam, v, k, True, history)
    return Eigen(history[-1], v, iters, False, history)


def largest_eigenvalue(grad: GradFn, theta: np.ndarray, *, iters: int = 20, tol: float = 1e-3, r: float = 1e-7,
                       rng: np.random.Generator | None = None,
                       matvec: Callable[[np.ndarray], np.ndarray] | None = None) -> Eigen:
    """The Hessian's largest (most positive) eigenvalue λ_max at θ: :func:`top_eigenvalue`, and when that ends on a
    negative eigenvalue λ_neg, power iteration again on H − λ_neg I (``iters`` more products at most); the result's
    ``iterations`` and ``history`` cover both runs, ``most_negative`` is λ_neg."""
    rng = rng if rng is not None else np.random.default_rng(0)
    product = matvec or (lambda v: hvp(grad, theta, v, r))
    first = top_eigenvalue(grad, theta, iters=iters, tol=tol, rng=rng, matvec=product)
    if first.value >= 0 or not math.isfinite(first.value):
        return first
    shift = first.value
    second = top_eigenvalue(grad, theta, iters=iters, tol=tol, rng=rng, matvec=lambda v: product(v) - shift * v,
                            offset=shift)
    return Eigen(second.value + shift, second.vector, first.iterations + second.iterations, second.converged,
                 first.history + [h + shift for h in second.history], shift)


@dataclass
class Sharpness:
    """Keskar's ε-sharpness at θ: ``percent`` = 100 (max_loss − loss) / (1 + loss)."""

    percent: float
    loss: float
    max_loss: float
    epsilon: float
    steps: int


def epsilon_sharpness(loss_grad: LossGradFn, theta: np.ndarray, epsilon: float = 1e-3, steps: int = 10,
                      rng: np.random.Generator | None = None, loss: Callable[[np.ndarray], float] | None = None
                      ) -> Sharpness:
    """φ(θ, ε) by ``steps`` of projected sign-gradient ascent in the box |y_i| ≤ ε(|θ_i| + 1) (module docstring).

    ``loss_grad(θ) -> (f, ∇f)``; ``loss(θ) -> f`` (default: from loss_grad) for the last point, whose gradient
    is not needed. ``rng`` breaks ties of a zero gradient (seed 0 by default). Costs ``steps`` gradients."""
    if epsilon <= 0 or not math.isfinite(epsilon):
        raise ValueError(f"epsilon must be a positive number, got {epsilon}")
    if steps < 1:
        raise ValueError(f"epsilon-sharpness needs steps >= 1, got {steps}")
    rng = rng if rng is not None else np.random.default_rng(0)
    loss = loss or (lambda t: loss_grad(t)[0])
    half = epsilon * (np.abs(theta) + 1.0)
    y = np.zeros_like(theta)
    f0 = best = None
    for k in range(steps):
        f, g = loss_grad(theta + y)
        f0 = f if f0 is None else f0
        best = f if best is None else max(best, f)
        direction = np.sign(g)
        zero = direction == 0
        if zero.any():
            direction[zero] = rng.choice([-1.0, 1.0], size=int(zero.sum()))
        y = np.clip(y + (1.0 if k == 0 else 2.0 ** -k) * half * direction, -half, half)
    best = max(best, loss(theta + y))
    return Sharpness(100.0 * (best - f0) / (1.0 + f0), f0, best, epsilon, steps)


class ModelObjective:
    """f(θ): a model's mean loss over fixed samples as a function of its flattened parameters, in eval mode.

    model: a built float64 :class:`Sequential`; x: (N, *input_shape); y: its targets. θ is the concatenation of
    ``model.parameters()`` raveled in order (P,). Each call writes θ into the model; :meth:`reset` puts the
    weights it started with back. Loss and gradient are summed over chunks of ``batch_size`` samples, weighted
    by their size, so memory stays bounded for any N; regularization penalties are not part of f.
    """

    def __init__(self, model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 2000):
        self.params = model.parameters()
        if any(p.data.dtype != np.float64 for p in self.params):
            raise TypeError("ModelObjective needs a float64 model (build it with train.dtype: float64)")
        self.model, self.loss_fn, self.x, self.y, self.batch_size = model, loss, x, y, batch_size
        self.sizes = [p.size for p in self.params]
        self.theta0 = self.theta()
        self.calls = 0  # gradients computed

    def theta(self) -> np.ndarray:
        """The model's current parameters, flattened (a copy)."""
        return np.concatenate([p.data.ravel() for p in self.params])

    def set(self, theta: np.ndarray) -> None:
        start = 0
        for p, n in zip(self.params, self.sizes):
            p.data[...] = theta[start:start + n].reshape(p.shape)
            start += n

    def reset(self) -> None:
        self.set(self.theta0)

    def loss(self, theta: np.ndarray) -> float:
        self.set(theta)
        n = len(self.x)
        total = 0.0
        for s in range(0, n, self.batch_size):
            xb, yb = self.x[s:s + self.batch_size], self.y[s:s + self.batch_size]
            total += self.loss_fn.forward(self.model.forward(xb, training=False), yb) * len(xb)
        return total / n

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.set(theta)
        self.calls += 1
        n = len(self.x)
        total, grad = 0.0, np.zeros_like(theta)
        for s in range(0, n, self.batch_size):
            xb, yb = self.x[s:s + self.batch_size], self.y[s:s + self.batch_size]
            weight = len(xb) / n
            total += self.loss_fn.forward(self.model.forward(xb, training=False), yb) * weight
            self.model.backward(self.loss_fn.backward() * weight)
            grad += np.concatenate([p.grad.ravel() for p in self.params])
        return total, grad

    def grad(self, theta: np.ndarray) -> np.ndarray:
        return self.loss_grad(theta)[1]


def interpolate(model: Sequential, state_a: Mapping[str, np.ndarray], state_b: Mapping[str, np.ndarray],
                alphas: Sequence[float], sets: Mapping[str, tuple[np.ndarray, np.ndarray]], loss: Loss,
                batch_size: int = 2000) -> list[dict[str, Any]]:
    """Loss (and accuracy) on each of ``sets`` (name -> (x, y)) at θ(α) = (1 − α) θ_a + α θ_b for every α:
    one row per α, ``{"alpha", "<name>_loss", "<name>_acc"}``. Every array of the two state dicts (weights and
    BatchNorm running statistics) is interpolated; the model is left at ``state_a``."""
    rows = []
    try:
        for alpha in alphas:
            model.load_state_dict({k: (1.0 - alpha) * state_a[k] + alpha * state_b[k] for k in state_a})
            row: dict[str, Any] = {"alpha": float(alpha)}
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for name, (x, y) in sets.items():
                    row.update({f"{name}_{k}": v for k, v in evaluate(model, loss, x, y, batch_size).items()})
            rows.append(row)
    finally:
        model.load_state_dict(dict(state_a))
    return rows
