"""Sharpness measures of the batch-size study: Hessian-vector products by differences of gradients agree with
the analytic Hessian of softmax regression and with the true derivative of the gradient; power iteration finds
the known top eigenvalue; Keskar's ε-sharpness is >= 0, equals its closed form on a separable quadratic, and
grows with ε."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlbasics.experiments.sharpness import (
    ModelObjective,
    epsilon_sharpness,
    hvp,
    interpolate,
    largest_eigenvalue,
    top_eigenvalue,
)
from dlbasics.nn.activations import Tanh
from dlbasics.nn.layers import Dense
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential


def _softmax_regression(n=40, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.integers(0, k, n)
    model = Sequential([Dense(k, init="xavier_normal")])
    model.build((d,), np.random.default_rng(seed + 1), np.float64)
    for p in model.parameters():  # a bias that is not zero, so its block of H is exercised
        p.data += 0.3 * rng.standard_normal(p.shape)
    return model, x, y


def _analytic_hessian(model, x):
    """H of mean softmax cross-entropy in θ = [W.ravel(), b] = [W; b].ravel(): mean_n kron(x̃ x̃ᵀ, diag p − p pᵀ),
    x̃ = [x, 1]."""
    W, b = (p.data for p in model.parameters())
    z = x @ W + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    xt = np.hstack([x, np.ones((len(x), 1))])
    return sum(np.kron(np.outer(xi, xi), np.diag(pi) - np.outer(pi, pi)) for xi, pi in zip(xt, p)) / len(x)


def test_hessian_vector_product_matches_the_analytic_hessian_of_softmax_regression():
    model, x, y = _softmax_regression()
    f = ModelObjective(model, CrossEntropyLoss(), x, y, batch_size=16)  # three chunks: the weighting is checked
    H = _analytic_hessian(model, x)
    v = np.random.default_rng(5).standard_normal(f.theta0.size)
    got = hvp(f.grad, f.theta0, v)  # the default r
    assert np.abs(got - H @ v).max() < 1e-8 * np.abs(H @ v).max()
    eig = top_eigenvalue(f.grad, f.theta0, iters=200, tol=1e-10)
    assert eig.converged and eig.value == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6)


def test_hessian_vector_product_is_the_derivative_of_the_gradient_in_a_nonlinear_net():
    """A tanh net (no closed-form Hessian): H v against d/dt ∇f(θ + t v) from a wider, 4-point difference; and
    the product is symmetric, uᵀ H v = vᵀ H u, as a Hessian's must be."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    model = Sequential([Dense(5, init="xavier_normal"), Tanh(), Dense(2, init="xavier_normal")])
    model.build((3,), np.random.default_rng(3), np.float64)
    f = ModelObjective(model, CrossEntropyLoss(), x, y)
    u, v = rng.standard_normal((2, f.theta0.size))
    h, t = 1e-3, f.theta0
    four_point = (8 * (f.grad(t + h * v) - f.grad(t - h * v)) - (f.grad(t + 2 * h * v) - f.grad(t - 2 * h * v))) \
        / (12 * h)
    hv = hvp(f.grad, t, v)
    assert np.abs(hv - four_point).max() < 1e-7 * np.abs(four_point).max()
    assert u @ hv == pytest.approx(v @ hvp(f.grad, t, u), rel=1e-7)
    f.reset()
    assert np.array_equal(f.theta(), f.theta0)


def test_power_iteration_finds_the_known_top_eigenvalue_of_a_quadratic():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    eigenvalues = np.array([9.0, 4.0, 3.5, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.0, -0.5, -1.0])
    A = q @ np.diag(eigenvalues) @ q.T
    eig = top_eigenvalue(lambda t: A @ t, np.ones(12), iters=500, tol=1e-12)
    assert eig.converged and eig.value == pytest.approx(9.0, rel=1e-9)
    assert abs(eig.vector @ q[:, 0]) == pytest.approx(1.0, abs=1e-5)
    capped = top_eigenvalue(lambda t: A @ t, np.ones(12), iters=2, tol=1e-12)
    assert not capped.converged and capped.iterations == 2


def test_a_negative_eigenvalue_of_larger_magnitude_is_shifted_away_to_find_the_largest_one():
    """Away from a minimum (a saddle: eigenvalues 3 ... -9) plain power iteration finds -9; the largest is 3."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    A = q @ np.diag([3.0, 2.0, 1.0, 0.5, 0.0, -1.0, -4.0, -9.0]) @ q.T
    assert top_eigenvalue(lambda t: A @ t, np.zeros(8), iters=500, tol=1e-12).value == pytest.approx(-9.0)
    eig = largest_eigenvalue(lambda t: A @ t, np.zeros(8), iters=500, tol=1e-12)
    assert eig.value == pytest.approx(3.0, rel=1e-8) and eig.most_negative == pytest.approx(-9.0, rel=1e-8)
    positive = largest_eigenvalue(lambda t: A @ t + 10 * t, np.zeros(8), iters=500, tol=1e-12)
    assert positive.value == pytest.approx(13.0, rel=1e-8) and positive.most_negative is None


def test_the_shifted_run_is_not_stopped_by_the_shift():
    """H − λ_neg I is nearly a multiple of I when |λ_neg| is large: its Rayleigh quotient barely moves at first.
    Measured against the eigenvalue of H (not of the shifted operator), the tolerance does not end it there."""
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = q @ np.diag(np.r_[2.0, 1.9, np.zeros(197), -50.0]) @ q.T
    eig = largest_eigenvalue(lambda t: A @ t, np.zeros(200), iters=200, tol=1e-3)
    assert eig.most_negative == pytest.approx(-50.0, rel=1e-3) and eig.value == pytest.approx(2.0, rel=0.05)


def test_epsilon_sharpness_is_the_closed_form_on_a_separable_quadratic_and_grows_with_epsilon():
    """f = ½ Σ a_i y_i² at its minimum θ = 0: every corner of the box |y_i| ≤ ε is a maximum, f = ½ ε² Σ a_i, so
    φ = 100 · ½ ε² Σ a_i (f(θ) = 0): found although the gradient at θ is exactly 0."""
    a = np.array([1.0, 4.0, 0.25, 2.0])

    def loss_grad(t):
        return 0.5 * float(a @ t ** 2), a * t

    for eps in (1e-3, 1e-2):
        s = epsilon_sharpness(loss_grad, np.zeros(4), eps, steps=5)
        assert s.percent == pytest.approx(100 * 0.5 * eps ** 2 * a.sum(), rel=1e-12)


def test_epsilon_sharpness_box_scales_with_the_weights_and_divides_by_one_plus_the_loss():
    """Keskar's Metric 2.1 away from the origin: f = c + ½ Σ a_i (t − θ)_i², the box |y_i| ≤ ε(|θ_i| + 1), so
    φ = 100 · ½ Σ a_i ε² (|θ_i| + 1)² / (1 + c)."""
    a, theta, c, eps = np.array([1.0, 4.0, 0.25, 2.0]), np.array([3.0, -0.5, 0.0, -10.0]), 2.5, 1e-3

    def loss_grad(t):
        return c + 0.5 * float(a @ (t - theta) ** 2), a * (t - theta)

    s = epsilon_sharpness(loss_grad, theta, eps, steps=3)
    expected = 100 * 0.5 * float(a @ (eps * (np.abs(theta) + 1)) ** 2) / (1 + c)
    assert s.loss == c and s.percent == pytest.approx(expected, rel=1e-12)


def test_epsilon_sharpness_of_a_trained_net_is_non_negative_and_grows_with_epsilon():
    model, x, y = _softmax_regression(seed=4)
    f = ModelObjective(model, CrossEntropyLoss(), x, y)
    values = [epsilon_sharpness(f.loss_grad, f.theta0, eps, steps=4, loss=f.loss).percent
              for eps in (1e-4, 1e-3, 1e-2, 1e-1)]
    assert values[0] >= 0 and all(b > a for a, b in itertools.pairwise(values)), values


def test_interpolation_passes_through_both_solutions_and_leaves_the_model_at_the_first():
    model, x, y = _softmax_regression(seed=6)
    a = model.state_dict()
    b = {k: v + 0.5 for k, v in a.items()}
    loss = CrossEntropyLoss()
    rows = interpolate(model, a, b, [0.0, 0.5, 1.0], {"train": (x, y)}, loss)
    f = ModelObjective(model, loss, x, y)
    assert rows[0]["train_loss"] == pytest.approx(f.loss(f.theta0), rel=1e-12)
    f.set(np.concatenate([b["0.weight"].ravel(), b["0.bias"]]))
    assert rows[2]["train_loss"] == pytest.approx(f.loss(f.theta()), rel=1e-12)
    assert {"train_loss", "train_acc"} <= set(rows[1])
    f.reset()
    assert all(np.array_equal(v, a[k]) for k, v in model.state_dict().items())
