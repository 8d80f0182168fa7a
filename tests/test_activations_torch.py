"""Activations and losses against torch.nn.functional in float64 (skipped when PyTorch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.nn.activations import ELU, GELU, LeakyReLU, Softmax, Softplus
from dlbasics.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss

torch = pytest.importorskip("torch", reason="PyTorch not installed: the reference comparison is optional")
F = torch.nn.functional


@pytest.mark.parametrize("ours,theirs", [
    (LeakyReLU(0.2), lambda t: F.leaky_relu(t, 0.2)), (ELU(0.7), lambda t: F.elu(t, 0.7)),
    (GELU(), lambda t: F.gelu(t)), (GELU("tanh"), lambda t: F.gelu(t, approximate="tanh")),
    (Softplus(2.0, 5.0), lambda t: F.softplus(t, 2.0, 5.0)), (Softmax(), lambda t: F.softmax(t, dim=1)),
])
def test_activations_equal_torch_forward_and_backward(ours, theirs):
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((7, 5)) * 3, rng.standard_normal((7, 5))
    t = torch.tensor(x, requires_grad=True)
    out = theirs(t)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.forward(x, True), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.backward(g), t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ours,theirs,target", [
    (CrossEntropyLoss(0.15), lambda z, y: F.cross_entropy(z, y, label_smoothing=0.15), "int"),
    (CrossEntropyLoss(0.1), lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1), "soft"),
    (BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits, "prob"),
    (MSELoss(), F.mse_loss, "real"), (L1Loss(), F.l1_loss, "real"),
    (HuberLoss(0.5), lambda z, y: F.huber_loss(z, y, delta=0.5), "real"),
])
def test_losses_equal_torch_value_and_gradient(ours, theirs, target):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((8, 4)) * 2
    y = {"int": rng.integers(0, 4, 8), "soft": rng.dirichlet(np.ones(4), 8), "prob": rng.uniform(0, 1, (8, 4)),
         "real": rng.standard_normal((8, 4))}[target]
    tz = torch.tensor(z, requires_grad=True)
    value = theirs(tz, torch.tensor(y))
    value.backward()
    assert ours.forward(z, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(ours.backward(), tz.grad.numpy(), rtol=1e-12, atol=1e-15)
