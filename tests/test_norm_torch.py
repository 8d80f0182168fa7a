"""Normalisation layers against torch.nn in float64: forward, autograd backward, running statistics.

Skipped when PyTorch is not installed; the same layers are checked without it in test_norm_dropout.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm

torch = pytest.importorskip("torch", reason="PyTorch not installed: the reference comparison is optional")

TOL = {"rtol": 1e-10, "atol": 1e-10}

CASES = [  # (ours, torch's given the per-sample shape, per-sample shape)
    (lambda: BatchNorm1d(momentum=0.2, eps=1e-3), lambda s: torch.nn.BatchNorm1d(s[0], eps=1e-3, momentum=0.2),
     (3,)),
    (lambda: BatchNorm1d(), lambda s: torch.nn.BatchNorm1d(s[0]), (3, 5)),
    (lambda: BatchNorm1d(affine=False), lambda s: torch.nn.BatchNorm1d(s[0], affine=False), (3, 5)),
    (lambda: BatchNorm2d(momentum=0.05), lambda s: torch.nn.BatchNorm2d(s[0], momentum=0.05), (4, 3, 2)),
    (lambda: LayerNorm(), lambda s: torch.nn.LayerNorm(s), (6,)),
    (lambda: LayerNorm(eps=1e-3), lambda s: torch.nn.LayerNorm(s, eps=1e-3), (4, 3, 2)),
    (lambda: LayerNorm(elementwise_affine=False), lambda s: torch.nn.LayerNorm(s, elementwise_affine=False),
     (3, 5)),
    (lambda: GroupNorm(2), lambda s: torch.nn.GroupNorm(2, s[0]), (4,)),
    (lambda: GroupNorm(3, eps=1e-3), lambda s: torch.nn.GroupNorm(3, s[0], eps=1e-3), (6, 5)),
    (lambda: GroupNorm(2, affine=False), lambda s: torch.nn.GroupNorm(2, s[0], affine=False), (4, 3, 2)),
    (lambda: InstanceNorm(), lambda s: torch.nn.InstanceNorm1d(s[0]), (3, 5)),
    (lambda: InstanceNorm(affine=True), lambda s: torch.nn.InstanceNorm1d(s[0], affine=True), (3, 5)),
    (lambda: InstanceNorm(), lambda s: torch.nn.InstanceNorm2d(s[0]), (3, 2, 4)),
    (lambda: InstanceNorm(eps=1e-3, affine=True), lambda s: torch.nn.InstanceNorm2d(s[0], eps=1e-3, affine=True),
     (3, 2, 4)),
]
IDS = [f"{type(ours()).__name__}{'' if ours().affine else '-plain'}-{'x'.join(map(str, shape))}"
       for ours, _, shape in CASES]


def _pair(make_ours, make_theirs, shape, rng):
    ours, theirs = make_ours(), make_theirs(shape).double()
    ours.build(shape, rng, np.float64)
    for p in ours.parameters():  # same random affine parameters in both
        p.data[...] = rng.standard_normal(p.shape) + (1.0 if p.name == "weight" else 0.0)
        getattr(theirs, p.name).data.copy_(torch.from_numpy(p.data))
    return ours, theirs


def _step(ours, theirs, x, dout, training, params=None):
    """One forward and backward of both; compares outputs and the gradients of x and every parameter (of
    ``ours.parameters()`` against the same-named ones of ``params``, default ``theirs``)."""
    theirs.train(training)
    for p in theirs.parameters():
        p.grad = None
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(ours.forward(x, training), tout.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.backward(dout), tx.grad.numpy(), **TOL)
    for p in ours.parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs if params is None else params, p.name).grad.numpy(), **TOL)


@pytest.mark.parametrize(("make_ours", "make_theirs", "shape"), CASES, ids=IDS)
def test_matches_torch_over_3_training_steps_then_eval(make_ours, make_theirs, shape):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(make_ours, make_theirs, shape, rng)
    assert {p.name for p in ours.parameters()} == {n for n, _ in theirs.named_parameters()}
    for k in range(3):
        x = rng.standard_normal((5, *shape)) * (1 + k) + k
        _step(ours, theirs, x, rng.standard_normal(x.shape), training=True)
    for name, buf in ours.buffers().items():
        np.testing.assert_allclose(buf, getattr(theirs, name).numpy(), **TOL)
    assert set(ours.buffers()) == {n for n, _ in theirs.named_buffers() if n != "num_batches_tracked"}
    x = rng.standard_normal((2, *shape))
    _step(ours, theirs, x, rng.standard_normal(x.shape), training=False)


def test_batchnorm_batch_of_one_raises_as_torch():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(3).double()(torch.ones(1, 3, dtype=torch.float64))
    ours = BatchNorm1d()
    ours.build((3,), np.random.default_rng(0), np.float64)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        ours.forward(np.ones((1, 3)), training=True)


@pytest.mark.parametrize("pool", [True, False])
def test_fused_batchnorm_relu_pool_matches_torch(pool):
    """Sequential fuses batchnorm2d, relu[, maxpool2d 2x2] into one step (nn/fused.py): same values as torch's."""
    from dlbasics.nn.activations import ReLU
    from dlbasics.nn.model import Sequential
    from dlbasics.nn.pooling import MaxPool2D

    rng = np.random.default_rng(7)
    model = Sequential([BatchNorm2d(), ReLU()] + ([MaxPool2D(2)] if pool else [])).build((3, 4, 6), rng, np.float64)
    assert len(model.steps) == 1
    for layer in model.layers:
        layer.needs_input_grad = True
    theirs = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.ReLU(), *([torch.nn.MaxPool2d(2)] if pool else []))
    theirs = theirs.double()
    weight = np.array([1.2, -0.7, 0.0])  # a negative and a zero scale
    bn = model.layers[0]
    bn.weight.data[...], bn.bias.data[...] = weight, [0.1, 0.3, 0.2]
    theirs[0].weight.data.copy_(torch.from_numpy(weight))
    theirs[0].bias.data.copy_(torch.from_numpy(bn.bias.data))
    for training in (True, False):
        x = np.round(rng.standard_normal((2, 3, 4, 6)) * 2)  # ties
        dout = rng.standard_normal((2, 3, 2, 3) if pool else x.shape)
        _step(model, theirs, x, dout, training, params=theirs[0])
        np.testing.assert_allclose(bn.running_mean, theirs[0].running_mean.numpy(), **TOL)
        np.testing.assert_allclose(bn.running_var, theirs[0].running_var.numpy(), **TOL)
