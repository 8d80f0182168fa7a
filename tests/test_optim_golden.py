"""Every optimizer and schedule, with non-default flags, against trajectories recorded from PyTorch.

The fixtures in tests/golden/ were written by tests/golden/make_golden.py with torch 2.13 (AdamP with the
authors' algorithm written in torch); these tests need no torch. Tolerance: 1e-6 relative, float64.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from dlbasics.nn.parameter import Parameter
from dlbasics.optim.optimizers import OPTIMIZERS, SGD, Adam
from dlbasics.optim.schedules import SCHEDULES

GOLDEN = Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_cases", GOLDEN / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
TRAJECTORIES = np.load(GOLDEN / "optim.npz")
SEQUENCES = json.loads((GOLDEN / "schedules.json").read_text())


@pytest.mark.parametrize("case", cases.OPTIMIZER_CASES, ids=[c[0] for c in cases.OPTIMIZER_CASES])
def test_optimizer_matches_torch_trajectory(case):
    case_id, name, kwargs, _, _ = case
    p0, m, c = cases.problem()
    p = Parameter(p0.copy())
    opt = OPTIMIZERS[name]([p], **kwargs)
    recorded = []
    for step in range(1, cases.STEPS + 1):
        p.grad[...] = cases.gradient(p.data, m, c, case_id in cases.RADIAL_FREE)
        opt.step()
        if step in cases.RECORDED:
            recorded.append(p.data.copy())
    expected = TRAJECTORIES[case_id]
    np.testing.assert_allclose(np.array(recorded), expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(expected[-1], p0), "the case must move the parameters"


def test_every_optimizer_has_a_golden_case():
    assert {c[1] for c in cases.OPTIMIZER_CASES} == set(OPTIMIZERS)


def test_the_scale_invariant_case_takes_adamps_projection():
    from dlbasics.optim.optimizers import AdamP

    p0, m, c = cases.problem()
    p = Parameter(p0.copy())
    opt = AdamP([p], lr=0.01)
    g = cases.gradient(p.data, m, c, radial_free=True)
    d, wd_factor = opt._projection(p, g, g.copy(), opt.param_groups[0])
    assert wd_factor == 0.1
    rows, drows = p.data.reshape(4, -1), d.reshape(4, -1)
    np.testing.assert_allclose(np.sum(rows * drows, axis=1), 0, atol=1e-12)  # no radial component left


@pytest.mark.parametrize("case", cases.SCHEDULE_CASES, ids=[c[0] for c in cases.SCHEDULE_CASES])
def test_schedule_matches_torch_sequence(case):
    case_id, name, kwargs, units, opt_name, _ = case
    p = Parameter(np.zeros(2))
    opt = SGD([p], lr=0.1, momentum=0.9) if opt_name == "sgd" else Adam([p], lr=0.01)
    sched = SCHEDULES[name](opt, total=units, **kwargs)
    metric = cases.plateau_metric(case_id)
    lrs, moms = [], []
    for t in range(units):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if "betas" in group else group["momentum"])
        sched.step(metric[t] if name == "plateau" else None)
    expected = SEQUENCES[case_id]
    np.testing.assert_allclose(lrs, expected["lr"], rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(moms, expected["momentum"], rtol=1e-6)
    assert len(set(np.round(lrs, 12))) > 1, "the case must change the lr"


def test_every_schedule_but_constant_has_a_golden_case():
    assert {c[1] for c in cases.SCHEDULE_CASES} == set(SCHEDULES) - {"constant"}
