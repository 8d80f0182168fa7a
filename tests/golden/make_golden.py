"""Regenerate the golden trajectories with PyTorch (needs torch; the tests that read them do not).

    python tests/golden/make_golden.py        # writes tests/golden/optim.npz and tests/golden/schedules.json

Optimizers: each case of cases.py runs STEPS steps of torch.optim on the deterministic gradient field, in
float64, and the parameters after every step are stored. AdamP is not in torch.optim: it is written here with
torch tensors following the authors' published implementation (clovaai/AdamP), an independent second copy.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("golden_cases", HERE / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


class AdamP(torch.optim.Optimizer):
    """clovaai/AdamP's algorithm, written out with torch ops."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, delta=0.1, wd_ratio=0.1,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, delta=delta,
                                      wd_ratio=wd_ratio, nesterov=nesterov))

    @staticmethod
    def _projection(p, grad, perturb, delta, wd_ratio, eps):
        expand = [-1] + [1] * (len(p.shape) - 1)
        for view in (lambda x: x.reshape(x.size(0), -1), lambda x: x.reshape(1, -1)):
            cos = F.cosine_similarity(view(grad), view(p.data), dim=1, eps=eps).abs()
            if cos.max() < delta / math.sqrt(view(p.data).size(1)):
                p_n = p.data / view(p.data).norm(dim=1).view(expand).add(eps)
                perturb = perturb - p_n * view(p_n * perturb).sum(dim=1).view(expand)
                return perturb, wd_ratio
        return perturb, 1.0

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                grad, beta1, beta2 = p.grad, *group["betas"]
                state = self.state[p]
                if not state:
                    state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                bc1, bc2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (state["exp_avg_sq"].sqrt() / math.sqrt(bc2)).add_(group["eps"])
                if group["nesterov"]:
                    perturb = (beta1 * state["exp_avg"] + (1 - beta1) * grad) / denom
                else:
                    perturb = state["exp_avg"] / denom
                wd = 1.0
                if len(p.shape) > 1:
                    perturb, wd = self._projection(p, grad, perturb, group["delta"], group["wd_ratio"], group["eps"])
                if group["weight_decay"] > 0:
                    p.mul_(1 - group["lr"] * group["weight_decay"] * wd)
                p.add_(perturb, alpha=-group["lr"] / bc1)


def torch_gradient(p: torch.Tensor, m: torch.Tensor, c: torch.Tensor, radial_free: bool) -> torch.Tensor:
    g = p @ m + c + 0.3 * torch.sin(3 * p)
    if radial_free:
        rows, grows = p.reshape(p.shape[0], -1), g.reshape(p.shape[0], -1)
        coef = (rows * grows).sum(dim=1, keepdim=True) / (rows * rows).sum(dim=1, keepdim=True)
        g = (grows - coef * rows).reshape(p.shape)
    return g


def optimizer_trajectories() -> dict[str, np.ndarray]:
    """The parameters after each of the steps in cases.RECORDED, per case."""
    p0, m, c = cases.problem()
    tm, tc = torch.tensor(m), torch.tensor(c)
    out = {}
    for case_id, _, _, torch_name, torch_kwargs in cases.OPTIMIZER_CASES:
        p = torch.tensor(p0.copy(), requires_grad=True)
        cls = AdamP if torch_name == "AdamP" else getattr(torch.optim, torch_name)
        opt = cls([p], **torch_kwargs)
        traj = []
        for step in range(1, cases.STEPS + 1):
            with torch.no_grad():
                p.grad = torch_gradient(p, tm, tc, case_id in cases.RADIAL_FREE)
            opt.step()
            if step in cases.RECORDED:
                traj.append(p.detach().numpy().copy())
        out[case_id] = np.array(traj)
    return out


def _torch_scheduler(opt, spec):
    import bisect

    sched = torch.optim.lr_scheduler
    if spec[0] == "chain":
        return sched.ChainedScheduler([_torch_scheduler(opt, sub) for sub in spec[1]])
    if spec[0] == "lambda":
        _, kind, p = spec
        if kind == "power":
            return sched.LambdaLR(opt, lambda t: 1 / (1 + t / p["s"]) ** p["c"])
        return sched.LambdaLR(opt, lambda t: p["factors"][bisect.bisect_right(p["boundaries"], t)])
    return getattr(sched, spec[0])(opt, **spec[1])


def schedule_sequences() -> dict[str, dict[str, list[float]]]:
    """lr (and momentum / beta1) at t = 0 .. units - 1 of every schedule case."""
    out = {}
    for case_id, _, _, units, opt_name, spec in cases.SCHEDULE_CASES:
        p = torch.zeros(2, requires_grad=True)
        opt = (torch.optim.SGD([p], lr=0.1, momentum=0.9) if opt_name == "sgd"
               else torch.optim.Adam([p], lr=0.01))
        sched = _torch_scheduler(opt, spec)
        metric = cases.plateau_metric(case_id)
        lrs, moms = [], []
        for t in range(units):
            group = opt.param_groups[0]
            lrs.append(group["lr"])
            moms.append(group["betas"][0] if "betas" in group else group["momentum"])
            opt.step()
            if spec[0] == "ReduceLROnPlateau":
                sched.step(metric[t])
            else:
                sched.step()
        out[case_id] = {"lr": lrs, "momentum": moms}
    return out


def main() -> None:
    torch.set_default_dtype(torch.float64)
    np.savez_compressed(HERE / "optim.npz", **optimizer_trajectories())
    (HERE / "schedules.json").write_text(json.dumps(schedule_sequences(), indent=1) + "\n")
    print(f"wrote {HERE / 'optim.npz'} and {HERE / 'schedules.json'} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
