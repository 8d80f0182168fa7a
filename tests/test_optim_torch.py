"""SGD and Adam against torch.optim itself, step by step in float64 (skipped when PyTorch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.nn.parameter import Parameter
from dlbasics.optim.optimizers import SGD, Adam

torch = pytest.importorskip("torch", reason="PyTorch not installed: the reference comparison is optional")


@pytest.mark.parametrize("make", [
    lambda ps: (SGD(ps, lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01),
                lambda tp: torch.optim.SGD(tp, lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    lambda ps: (SGD(ps, lr=0.05, momentum=0.8, nesterov=True, maximize=True),
                lambda tp: torch.optim.SGD(tp, lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    lambda ps: (Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=True),
                lambda tp: torch.optim.Adam(tp, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1,
                                            amsgrad=True)),
    lambda ps: (Adam(ps, lr=0.003), lambda tp: torch.optim.Adam(tp, lr=0.003)),
], ids=["sgd-momentum-dampening-wd", "sgd-nesterov-maximize", "adam-amsgrad-wd", "adam-defaults"])
def test_matches_torch_over_50_steps_in_float64(make):
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 4))
    p = Parameter(init.copy())
    tp = torch.tensor(init.copy(), requires_grad=True)
    ours, make_torch = make([p])
    theirs = make_torch([tp])
    for _ in range(50):
        g = rng.standard_normal((3, 4))
        p.grad[...] = g
        tp.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
