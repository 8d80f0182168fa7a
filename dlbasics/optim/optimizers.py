"""Gradient-descent optimizers, sorted by increasing complexity.

The contract, the same for every optimizer:

- ``Optimizer(params, **hyper)``: ``params`` is a list of :class:`~dlbasics.nn.Parameter` or a list of
  parameter groups ``{"params": [...], "lr": ..., ...}`` whose keys override the defaults (PyTorch's
  ``param_groups``). Hyper-parameter names and defaults are PyTorch's ``torch.optim`` ones.
- ``step()`` reads ``p.grad`` of every parameter and updates ``p.data`` in place, following the update
  rule written in the class docstring exactly (the pseudo-code of PyTorch's documentation).
- The optimizer owns all of its state (``self.state[p]``: moment buffers, step counts); layers own none.
- A schedule changes ``group["lr"]``; ``group["initial_lr"]`` keeps the starting value.

Updates run in place on preallocated buffers so a training step allocates as little as possible.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ..config.fields import Bool, Choice, Num, Seq, Spec
from ..nn.parameter import Parameter
from .blas import axpby


class Optimizer(abc.ABC):
    """Base class: parameter groups, per-parameter state and the loop over parameters."""

    constraints: ClassVar[dict[str, Spec]] = {}
    #: the rule treats every element on its own (no norms, shapes or axes of a parameter), so a group of
    #: parameters packed into one buffer (:func:`~dlbasics.nn.parameter.pack`) can be updated as one array.
    #: Off unless a rule says so (a new optimizer that looks at whole parameters stays correct); subclasses
    #: inherit it, so a subclass of an element-wise rule that looks at whole parameters sets it back to False
    elementwise: ClassVar[bool] = False

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], defaults: dict[str, Any]):
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            merged = {**defaults, **group, "params": list(group["params"])}
            merged.setdefault("initial_lr", merged["lr"])
            self.param_groups.append(merged)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self._flat: dict[int, _FlatGroup | None] = {}

    def step(self) -> None:
        """Apply one update to every parameter from its current gradient.

        A group whose parameters lie one after another in one buffer (as ``Sequential.build`` packs them) is
        updated as one flat array when the rule is element-wise: the same operations on the same elements, one
        NumPy call each for the whole group instead of one per parameter. ``state[p]`` then holds views of the
        group's flat state arrays, so it reads (and saves) as always."""
        for i, group in enumerate(self.param_groups):
            flat = self._flat_group(i, group) if self.elementwise else None
            if flat is not None:
                self.update(flat.param, flat.param.grad, flat.state, group)
                flat.distribute(self.state)
                continue
            for p in group["params"]:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self.init_state(p, group)
                self.update(p, p.grad, state, group)

    def _flat_group(self, index: int, group: dict[str, Any]) -> _FlatGroup | None:
        """The group as one flat parameter with flat state, if its parameters are consecutive pieces of one
        buffer (else None, and the loop over parameters runs). Cached; checked by identity every step."""
        params = group["params"]
        flat = self._flat.get(index, False)
        if flat is not False and (flat is None or flat.valid(params, self.state)):
            return flat
        flat = self._flat[index] = _FlatGroup.make(params, self, group) if len(params) > 1 else None
        return flat

    def init_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0}

    @abc.abstractmethod
    def update(self, p: Parameter, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.data`` in place from ``grad`` with the group's hyper-parameters."""

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group."""
        return self.param_groups[0]["lr"]

    def _params(self) -> list[Parameter]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """All the optimizer's state, keyed by parameter index as ``torch.optim``: ``{"state": {i: {name: value}},
        "param_groups": [{hyper-parameters..., "params": [i, ...]}]}``. Arrays are copies; scratch buffers are
        not state and are left out."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()
                                if k != "scratch"} for p, st in self.state.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output into an optimizer over parameters of the same shapes, in order."""
        params = self._params()
        groups = saved["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("optimizer state: the parameter groups do not match this model's")
        for group, old in zip(self.param_groups, groups):
            group.update({k: tuple(v) if isinstance(group.get(k), tuple) else v for k, v in old.items()
                          if k != "params"})
        group_of = {id(p): g for g in self.param_groups for p in g["params"]}
        self.state, self._flat = {}, {}
        for i, values in saved["state"].items():
            p = params[int(i)]
            state = self.init_state(p, group_of[id(p)])
            for k, v in values.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.data.shape:
                        raise ValueError(f"optimizer state {k} of parameter {i}: shape {v.shape}, expected "
                                         f"{p.data.shape}")
                    state[k] = v.astype(p.data.dtype, copy=True)
                else:
                    state[k] = v
            self.state[p] = state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"


class _FlatGroup:
    """A parameter group packed in one buffer, seen as one parameter: ``param`` (a Parameter whose data and grad
    are the flat runs of the members'), ``state`` (the optimizer's state for it: flat arrays, shared scalars).
    The members' ``state[p]`` entries are views of the flat arrays (copied in if they existed before)."""

    def __init__(self, members: list[Parameter], param: Parameter, state: dict[str, Any],
                 member_states: list[dict[str, Any]]):
        self.members, self.param, self.state, self.member_states = members, param, state, member_states
        self.datas, self.grads = [p.data for p in members], [p.grad for p in members]
        self.keys: set[str] = set()
        self.offsets = np.cumsum([0] + [p.size for p in members])

    @classmethod
    def make(cls, members: list[Parameter], opt: Optimizer, group: dict[str, Any]) -> _FlatGroup | None:
        from ..nn.parameter import flat_run

        data, grad = flat_run([p.data for p in members]), flat_run([p.grad for p in members])
        if data is None or grad is None:
            return None
        param = Parameter.__new__(Parameter)
        param.data, param.grad, param.name, param.out_axis = data, grad, "flat", 0
        old = [opt.state.get(p) for p in members]
        if all(st is None for st in old):
            state = opt.init_state(param, group)
            member_states = [opt.state.setdefault(p, {}) for p in members]
        elif all(st is not None for st in old) and all(st.keys() == old[0].keys() for st in old):
            state = {}  # state from before packing or from a checkpoint: gathered into flat arrays
            for key, value in old[0].items():
                if isinstance(value, np.ndarray) and all(st[key].shape == p.shape for st, p in zip(old, members)):
                    state[key] = np.concatenate([st[key].ravel() for st in old])
                elif all(_same(st[key], value) for st in old):
                    state[key] = value
                else:
                    return None  # members at different steps: updated one by one
            member_states = old
        else:
            return None
        flat = cls(members, param, state, member_states)
        flat.distribute(opt.state)
        return flat

    def valid(self, params: list[Parameter], states: dict[Parameter, dict[str, Any]]) -> bool:
        """Still the same parameters, arrays and state dictionaries as when made."""
        return (len(params) == len(self.members) and all(
            p is q and p.data is d and p.grad is g and states.get(p) is st
            for p, q, d, g, st in zip(params, self.members, self.datas, self.grads, self.member_states)))

    def distribute(self, states: dict[Parameter, dict[str, Any]]) -> None:
        """Give the members views of flat state arrays that are new, and the current scalars (step counts)."""
        for key, value in self.state.items():
            if isinstance(value, np.ndarray) and value.shape == self.param.data.shape:
                if key not in self.keys:
                    for p, st, a, b in zip(self.members, self.member_states, self.offsets, self.offsets[1:]):
                        st[key] = value[a:b].reshape(p.shape)
                    self.keys.add(key)
            else:
                for st in self.member_states:
                    st[key] = value


def _same(a: Any, b: Any) -> bool:
    return a is b or (not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray) and a == b)


def _check(**values: float) -> None:
    """PyTorch's argument checks: every value given must be >= 0."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"invalid {name} {value} (must be >= 0)")


def _check_betas(betas: tuple[float, float]) -> None:
    if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
        raise ValueError(f"invalid betas {list(betas)} (each must be in [0, 1))")


def _grad(p: Parameter, grad: np.ndarray, group: dict[str, Any], decoupled: bool = False) -> np.ndarray:
    """The first lines of every rule: negate for ``maximize``, then weight decay.

    Coupled (L2, PyTorch's ``weight_decay``): g <- g + wd p. Decoupled (AdamW, Loshchilov & Hutter 2019):
    p <- p (1 - lr wd), the gradient untouched.
    """
    if group.get("maximize"):
        grad = -grad
    wd = group.get("weight_decay", 0.0)
    if wd:
        if decoupled:
            p.data *= 1 - group["lr"] * wd
        else:
            grad = grad + wd * p.data
    return grad


def _moments(state: dict[str, Any], grad: np.ndarray, beta1: float, beta2: float) -> tuple[np.ndarray, ...]:
    """m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2, in place. Returns (m, v, scratch)."""
    m, v, tmp = state["exp_avg"], state["exp_avg_sq"], state["scratch"]
    axpby(1 - beta1, grad, beta1, m)  # one pass each (BLAS ?axpby), see dlbasics.optim.blas
    np.multiply(grad, grad, out=tmp)
    axpby(1 - beta2, tmp, beta2, v)
    return m, v, tmp


def _adam_state(p: Parameter) -> dict[str, Any]:
    return {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data),
            "scratch": np.empty_like(p.data)}


_LR, _WD = Num(ge=0.0, doc="learning rate"), Num(ge=0.0, doc="L2 penalty coefficient (see the update rule)")
_EPS = Num(ge=0.0, doc="term added to the denominator for numerical stability")
_MAXIMIZE = Bool(doc="maximise the objective instead of minimising it")
#: where eps enters the denominator: outside the square root, sqrt(v) + eps, or inside, sqrt(v + eps)
EPS_MODES = ("outside", "inside")
_EPS_MODE = Choice(list(EPS_MODES), doc="where eps enters: outside the root, sqrt(v) + eps (PyTorch), or inside, "
                                        "sqrt(v + eps) (the course notes)")
MOMENTUM_FORMS = ("pytorch", "classic")
ADAM_EPS_MODES = ("outside", "inside", "hat", "hat_inside")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"invalid {name} {value!r} ({', '.join(allowed)})")


def _denominator(v: np.ndarray, eps: float, mode: str, out: np.ndarray) -> np.ndarray:
    """sqrt(v) + eps (``eps_mode`` outside) or sqrt(v + eps) (inside), into ``out``."""
    if mode == "inside":
        np.add(v, eps, out=out)
        return np.sqrt(out, out=out)
    np.sqrt(v, out=out)
    out += eps
    return out


_BETAS = Seq(Num(ge=0.0, lt=1.0), length=2, doc="decay rates of the first and second moment estimates")


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (``torch.optim.SGD``).

    For each parameter p with gradient g, at step t (t = 1, 2, ...), ``momentum_form: pytorch`` (the default)::

        g <- -g                          if maximize
        g <- g + weight_decay * p        if weight_decay != 0
        if momentum != 0:
            b <- g                       if t = 1
            b <- momentum * b + (1 - dampening) * g   otherwise
            g <- g + momentum * b        if nesterov  (the gradient at the look-ahead point)
            g <- b                       otherwise
        p <- p - lr * g

    ``momentum_form: classic`` is the velocity form of the course notes (lecture 2: v <- alpha v - eta dL/dW;
    W <- W + v), Sutskever et al. 2013 and Keras; the lr multiplies each gradient as it enters v::

        v <- -lr * g                                       if t = 1
        v <- momentum * v - lr * (1 - dampening) * g       otherwise
        p <- p + v                                         without nesterov
        p <- p + v_new + momentum * (v_new - v_old)        nesterov (see below)

    With a constant lr the two forms walk the same points (v = -lr b); once a schedule changes the lr they
    differ: PyTorch's buffer b applies the new lr to the whole remembered velocity, the classic v keeps the
    old steps at the lr they were taken with.

    Nesterov. The notes take the gradient at the look-ahead point: v <- alpha v - eta dL(W + alpha v);
    W <- W + v (notes 001 write it in PyTorch's buffer form, a <- beta a + dL(W - eta beta a), W <- W - eta a:
    the same points while eta is constant, with v = -eta a). Both
    ``nesterov`` forms store that look-ahead point phi = W + momentum v in ``p`` (so the loop's gradient,
    taken at ``p``, is the notes' look-ahead gradient), as PyTorch and Keras do: substituting W = phi - momentum v
    into the notes' rule gives phi <- phi + v_new + momentum (v_new - v_old), exactly, for any lr sequence
    (classic); PyTorch's ``p <- p - lr (g + momentum b)`` is the same rule with v = -lr b, so it equals the notes'
    only while the lr is constant. The notes' W is ``p - momentum v`` (classic), ``p + lr momentum b`` (pytorch).

    Defaults as PyTorch: lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, momentum_form
    pytorch. The config names ``momentum`` (momentum 0.9) and ``nesterov`` (momentum 0.9, nesterov) are SGD
    with those defaults.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "momentum": Num(ge=0.0, doc="momentum factor"),
        "dampening": Num(ge=0.0, le=1.0, doc="dampening for momentum"), "weight_decay": _WD,
        "nesterov": Bool(doc="Nesterov momentum: the gradient at the look-ahead point"), "maximize": _MAXIMIZE,
        "momentum_form": Choice(list(MOMENTUM_FORMS), doc="pytorch: b <- mu b + g, p <- p - lr b; classic (the "
                                                          "notes, Keras): v <- mu v - lr g, p <- p + v. With "
                                                          "nesterov both keep (evaluate, save) the look-ahead point "
                                                          "W + mu v, not the notes' W"),
    }
    elementwise = True

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False,
                 momentum_form: str = "pytorch"):
        _check(lr=lr, momentum=momentum, weight_decay=weight_decay)
        _check_choice("momentum_form", momentum_form, MOMENTUM_FORMS)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, momentum_form=momentum_form))

    def update(self, p, grad, state, group):
        state["step"] += 1
        grad = _grad(p, grad, group)
        momentum = group["momentum"]
        if momentum and group["momentum_form"] == "classic":
            self._classic(p, grad, state, group)
            return
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                axpby(1 - group["dampening"], grad, momentum, buf)
            grad = grad + momentum * buf if group["nesterov"] else buf
        axpby(-group["lr"], grad, 1.0, p.data)

    @staticmethod
    def _classic(p: Parameter, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """The velocity form: v <- momentum v - lr (1 - dampening) g; p <- p + v (or the look-ahead step)."""
        momentum, lr = group["momentum"], group["lr"]
        v = state.get("velocity")
        if v is None:  # v_0 = 0, and the first step undamped, as PyTorch's b_1 = g
            v = state["velocity"] = np.zeros_like(p.data)
            scale = lr
        else:
            scale = lr * (1 - group["dampening"])
        old = v.copy() if group["nesterov"] else None
        v *= momentum
        v -= scale * grad
        if old is None:
            p.data += v
        else:  # p <- p + v + momentum (v - v_old) = p + (1 + momentum) v - momentum v_old
            old *= -momentum
            old += (1 + momentum) * v
            p.data += old


class Momentum(SGD):
    """SGD with momentum 0.9 (Polyak's heavy ball): config name ``momentum``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False,
                 momentum_form: str = "pytorch"):
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov, maximize, momentum_form)


class Nesterov(SGD):
    """SGD with Nesterov momentum 0.9 (the gradient at the look-ahead point): config name ``nesterov``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = True, maximize: bool = False,
                 momentum_form: str = "pytorch"):
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov, maximize, momentum_form)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011) as ``torch.optim.Adagrad``: every weight's step shrinks with its gradient history.

    state_sum starts at initial_accumulator_value; at step t (t = 1, 2, ...)::

        g <- -g                            if maximize
        g <- g + weight_decay * p          if weight_decay != 0
        clr = lr / (1 + (t - 1) * lr_decay)
        state_sum <- state_sum + g^2
        p <- p - clr * g / (sqrt(state_sum) + eps)     eps_mode "outside" (PyTorch, the default)
        p <- p - clr * g / sqrt(state_sum + eps)       eps_mode "inside" (the course notes 001:
                                                       W <- W - eta / sqrt(G + eps) g; notes 002 have no eps,
                                                       but eps 0 gives 0/0 where g has always been 0)

    The sum only grows, so the effective learning rate decays toward 0. Defaults as PyTorch: lr=1e-2,
    lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, eps_mode outside.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "lr_decay": Num(ge=0.0, doc="learning-rate decay per step"), "weight_decay": _WD,
        "initial_accumulator_value": Num(ge=0.0, doc="starting value of the sum of squared gradients"),
        "eps": _EPS, "maximize": _MAXIMIZE, "eps_mode": _EPS_MODE,
    }
    elementwise = True

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False,
                 eps_mode: str = "outside"):
        _check(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_choice("eps_mode", eps_mode, EPS_MODES)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize, eps_mode=eps_mode))

    def init_state(self, p, group):
        return {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"]),
                "scratch": np.empty_like(p.data)}

    def update(self, p, grad, state, group):
        state["step"] += 1
        grad = _grad(p, grad, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total, tmp = state["sum"], state["scratch"]
        np.multiply(grad, grad, out=tmp)
        total += tmp
        _denominator(total, group["eps"], group["eps_mode"], tmp)
        np.divide(grad, tmp, out=tmp)
        tmp *= clr
        p.data -= tmp


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012) as ``torch.optim.Adadelta``: EMAs of squared gradients and squared updates.

    v and u start at 0; at each step::

        g <- -g                                 if maximize
        g <- g + weight_decay * p               if weight_decay != 0
        v <- rho v + (1 - rho) g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g      eps_mode "inside" (PyTorch and Zeiler, the default)
        delta = sqrt(u + eps) / (sqrt(v) + eps) * g    eps_mode "outside" (the course notes 001:
                                                       W <- W - sqrt(H + eps) / (sqrt(G) + eps) g)
        u <- rho u + (1 - rho) delta^2
        p <- p - lr * delta

    ``eps_mode`` says where eps enters the denominator, as for Adagrad and RMSprop; here PyTorch puts it
    inside the root and the notes outside (the numerator's eps is inside in both). The ratio of RMS values
    carries the units of p, so the method needs no learning rate and the notes give it none: lr=1 (PyTorch's
    default) is the notes' rule, any other lr scales every step in PyTorch's form. Defaults: lr=1.0, rho=0.9,
    eps=1e-6, weight_decay=0, eps_mode inside.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": Num(ge=0.0, doc="scales every step (PyTorch's form); 1, the default, is the rule without a "
                              "learning rate (Zeiler, the course notes)"),
        "rho": Num(ge=0.0, le=1.0, doc="decay rate of the running averages"), "eps": _EPS,
        "weight_decay": _WD, "maximize": _MAXIMIZE,
        "eps_mode": Choice(list(EPS_MODES), doc="where eps enters the denominator: inside, sqrt(v + eps) "
                                                "(PyTorch), or outside, sqrt(v) + eps (the course notes)"),
    }
    elementwise = True

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 maximize: bool = False, eps_mode: str = "inside"):
        _check(lr=lr, eps=eps, weight_decay=weight_decay)
        _check_choice("eps_mode", eps_mode, EPS_MODES)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"invalid rho {rho} (must be in [0, 1])")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      eps_mode=eps_mode))

    def init_state(self, p, group):
        return {"step": 0, "square_avg": np.zeros_like(p.data), "acc_delta": np.zeros_like(p.data),
                "scratch": np.empty_like(p.data)}

    def update(self, p, grad, state, group):
        state["step"] += 1
        grad = _grad(p, grad, group)
        rho, eps = group["rho"], group["eps"]
        v, u, tmp = state["square_avg"], state["acc_delta"], state["scratch"]
        v *= rho
        v += (1 - rho) * grad * grad
        np.add(u, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        delta = tmp / _denominator(v, eps, group["eps_mode"], np.empty_like(v))
        delta *= grad
        u *= rho
        u += (1 - rho) * delta * delta
        delta *= group["lr"]
        p.data -= delta


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e) as ``torch.optim.RMSprop``: divide by an EMA of squared gradients.

    v (and g_avg, b) start at 0; at each step::

        g <- -g                                 if maximize
        g <- g + weight_decay * p               if weight_decay != 0
        v <- alpha v + (1 - alpha) g^2
        v~ = v - g_avg^2, g_avg <- alpha g_avg + (1 - alpha) g   if centered (g_avg updated first)
        v~ = v                                                  otherwise
        if momentum > 0:  b <- momentum b + g / (sqrt(v~) + eps);  p <- p - lr b
        else:             p <- p - lr g / (sqrt(v~) + eps)

    ``eps_mode: inside`` takes sqrt(v~ + eps) instead of sqrt(v~) + eps: the course notes' rule (001 and 002:
    G <- gamma G + (1 - gamma) g^2; W <- W - eta / sqrt(G + eps) g, with gamma = alpha).
    Defaults as PyTorch: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    eps_mode outside.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "alpha": Num(ge=0.0, le=1.0, doc="smoothing constant of the squared-gradient EMA"),
        "eps": _EPS, "weight_decay": _WD, "momentum": Num(ge=0.0, doc="momentum factor"),
        "centered": Bool(doc="divide by the estimated variance (v - mean(g)^2) instead of v"),
        "maximize": _MAXIMIZE, "eps_mode": _EPS_MODE,
    }
    elementwise = True

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False, eps_mode: str = "outside"):
        _check(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        _check_choice("eps_mode", eps_mode, EPS_MODES)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize, eps_mode=eps_mode))

    def init_state(self, p, group):
        state = {"step": 0, "square_avg": np.zeros_like(p.data), "scratch": np.empty_like(p.data)}
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.data)
        if group["momentum"]:
            state["momentum_buffer"] = np.zeros_like(p.data)
        return state

    def update(self, p, grad, state, group):
        state["step"] += 1
        grad = _grad(p, grad, group)
        alpha = group["alpha"]
        v, tmp = state["square_avg"], state["scratch"]
        v *= alpha
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - alpha
        v += tmp
        if group["centered"]:
            g_avg = state["grad_avg"]
            g_avg *= alpha
            g_avg += (1 - alpha) * grad
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            _denominator(tmp, group["eps"], group["eps_mode"], tmp)
        else:
            _denominator(v, group["eps"], group["eps_mode"], tmp)
        np.divide(grad, tmp, out=tmp)
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += tmp
            p.data -= group["lr"] * buf
        else:
            tmp *= group["lr"]
            p.data -= tmp


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) as ``torch.optim.Adam``.

    For each parameter p with gradient g, at step t (t = 1, 2, ...), m_0 = v_0 = 0::

        g <- -g                                  if maximize
        g <- g + weight_decay * p                if weight_decay != 0   (coupled L2; AdamW decouples it)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                   if amsgrad (then v_max replaces v below)
        m^ = m / (1 - beta1^t),  v^ = v / (1 - beta2^t)
        p <- p - lr * m^ / (sqrt(v^) + eps)      eps_mode "outside" (PyTorch, the default)
        p <- p - lr * m^ / sqrt(v^ + eps)        eps_mode "inside": the course notes 002
        p <- p - lr * m^ / (sqrt(v^) + eps / sqrt(1 - beta2^t))   eps_mode "hat": the paper's epsilon-hat
               = lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)   (Keras / TensorFlow)
        p <- p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / sqrt(v + eps)   eps_mode "hat_inside": the
               course notes 001 (both corrections folded into the step size, eps inside the root of v)

    "Epsilon matters in practice": with a tiny v the forms differ by orders of magnitude.
    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "betas": _BETAS, "eps": _EPS, "weight_decay": _WD,
        "amsgrad": Bool(doc="use the running maximum of v (AMSGrad, Reddi et al. 2018)"), "maximize": _MAXIMIZE,
        "eps_mode": Choice(list(ADAM_EPS_MODES), doc="where eps enters: PyTorch's outside the root, inside it "
                                                     "(notes 002), Keras' epsilon-hat, or inside the root of the "
                                                     "uncorrected v (notes 001)"),
    }
    elementwise = True
    decoupled: ClassVar[bool] = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 eps_mode: str = "outside"):
        _check(lr=lr, eps=eps, weight_decay=weight_decay)
        _check_betas(betas)
        _check_choice("eps_mode", eps_mode, ADAM_EPS_MODES)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, eps_mode=eps_mode))

    def init_state(self, p, group):
        state = _adam_state(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def update(self, p, grad, state, group):
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        grad = _grad(p, grad, group, self.decoupled)
        m, v, tmp = _moments(state, grad, beta1, beta2)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # the step written as (lr / bc1) * sqrt(bc2) * m / (sqrt(v) + eps * sqrt(bc2)): the same value as
        # the rule above with sqrt(bc2) moved out of the element-wise work (one pass fewer)
        sqrt_bc2 = math.sqrt(1 - beta2**t)
        mode, eps = group["eps_mode"], group["eps"]
        if mode == "inside":
            np.multiply(v, 1 / (1 - beta2**t), out=tmp)
            tmp += eps
            np.sqrt(tmp, out=tmp)
            sqrt_bc2 = 1.0
        elif mode == "hat_inside":
            _denominator(v, eps, "inside", tmp)
        else:
            np.sqrt(v, out=tmp)
            tmp += eps * sqrt_bc2 if mode == "outside" else eps
        np.divide(m, tmp, out=tmp)
        axpby(-group["lr"] / (1 - beta1**t) * sqrt_bc2, tmp, 1.0, p.data)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019) as ``torch.optim.AdamW``.

    As :class:`Adam`, except that weight decay shrinks the weights directly instead of entering the gradient
    (and so the moments)::

        p <- p * (1 - lr * weight_decay)        first, then Adam's update without weight decay

    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
                 eps_mode: str = "outside"):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize, eps_mode)


class NAdam(Optimizer):
    r"""NAdam (Dozat 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam`` (with momentum decay).

    psi = momentum_decay; mu_t = beta1 (1 - 0.5 * 0.96^(t psi)); at step t (t = 1, 2, ...)::

        g <- -g;  weight decay coupled (g <- g + wd p) or, if decoupled_weight_decay, p <- p (1 - lr wd)
        m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
        m^ = mu_{t+1} m / (1 - prod_{i<=t+1} mu_i) + (1 - mu_t) g / (1 - prod_{i<=t} mu_i)
        v^ = v / (1 - beta2^t)
        p <- p - lr m^ / (sqrt(v^) + eps)

    Defaults as PyTorch: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "betas": _BETAS, "eps": _EPS, "weight_decay": _WD,
        "momentum_decay": Num(ge=0.0, doc="psi: how fast mu_t approaches beta1"),
        "decoupled_weight_decay": Bool(doc="decay the weights directly (as AdamW) instead of via the gradient"),
        "maximize": _MAXIMIZE,
    }
    elementwise = True

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False,
                 maximize: bool = False):
        _check(lr=lr, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {**_adam_state(p), "mu_product": 1.0}

    def update(self, p, grad, state, group):
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        grad = _grad(p, grad, group, group["decoupled_weight_decay"])
        psi = group["momentum_decay"]
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v, tmp = _moments(state, grad, beta1, beta2)
        np.multiply(v, 1 / (1 - beta2**t), out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += group["eps"]
        lr = group["lr"]
        p.data -= (lr * (1 - mu) / (1 - mu_product)) * grad / tmp
        p.data -= (lr * mu_next / (1 - mu_product * mu_next)) * m / tmp


class RAdam(Optimizer):
    r"""RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate") as ``torch.optim.RAdam``.

    rho_inf = 2 / (1 - beta2) - 1; at step t (t = 1, 2, ...)::

        g <- -g;  weight decay coupled (g <- g + wd p) or, if decoupled_weight_decay, p <- p (1 - lr wd)
        m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2;   m^ = m / (1 - beta1^t)
        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:   l = sqrt(1 - beta2^t) / (sqrt(v) + eps)
                        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                        p <- p - lr m^ l r         (the variance of the adaptive rate is tractable: rectify it)
        else:           p <- p - lr m^             (early steps: plain momentum SGD)

    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "betas": _BETAS, "eps": _EPS, "weight_decay": _WD,
        "decoupled_weight_decay": Bool(doc="decay the weights directly (as AdamW) instead of via the gradient"),
        "maximize": _MAXIMIZE,
    }
    elementwise = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, maximize: bool = False):
        _check(lr=lr, eps=eps, weight_decay=weight_decay)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def init_state(self, p, group):
        return _adam_state(p)

    def update(self, p, grad, state, group):
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        grad = _grad(p, grad, group, group["decoupled_weight_decay"])
        m, v, tmp = _moments(state, grad, beta1, beta2)
        step = group["lr"] / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            np.sqrt(v, out=tmp)
            tmp += group["eps"]
            np.divide(m, tmp, out=tmp)
            tmp *= step * rect * math.sqrt(1 - beta2**t)
            p.data -= tmp
        else:
            p.data -= step * m


class AdamP(Optimizer):
    r"""AdamP (Heo et al. 2021, "AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights", https://arxiv.org/abs/2006.08217), following the authors' implementation (clovaai/AdamP).

    Adam's update direction with, for weights of 2 or more dimensions, the radial component removed when the
    weight looks scale-invariant (e.g. followed by batch norm), since that component only grows the norm::

        m, v, m^ as Adam (no coupled weight decay);   d = m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        d = (beta1 m + (1 - beta1) g) / (sqrt(v) / sqrt(1 - beta2^t) + eps)    if nesterov
        for view in (per output channel, whole tensor):
            if max |cos(g, p)| over the view's rows < delta / sqrt(row length):   (scale-invariant)
                p_n = p / (||p|| + eps) per row;  d <- d - p_n <p_n, d> per row;  wd_ratio is used;  stop
        p <- p (1 - lr weight_decay wd_factor)     (wd_factor = wd_ratio if projected, else 1)
        p <- p - lr / (1 - beta1^t) d

    "Output channel" is the first axis of a conv kernel (C_out, C_in, ...) and the second of our Dense
    weight (in, out), as PyTorch's Linear stores it transposed. Defaults as the authors': lr=1e-3,
    betas=(0.9, 0.999), eps=1e-8, weight_decay=0, delta=0.1, wd_ratio=0.1, nesterov=False.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": _LR, "betas": _BETAS, "eps": _EPS, "weight_decay": _WD,
        "delta": Num(ge=0.0, doc="cosine threshold that detects scale invariance"),
        "wd_ratio": Num(ge=0.0, doc="weight-decay factor for projected (scale-invariant) weights"),
        "nesterov": Bool(doc="Nesterov momentum in the direction"),
    }

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, delta: float = 0.1, wd_ratio: float = 0.1, nesterov: bool = False):
        _check(lr=lr, eps=eps, weight_decay=weight_decay, delta=delta, wd_ratio=wd_ratio)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, delta=delta,
                                      wd_ratio=wd_ratio, nesterov=nesterov))

    def init_state(self, p, group):
        return _adam_state(p)

    @staticmethod
    def _rows(x: np.ndarray, out_axis: int) -> np.ndarray:
        """The tensor as (output channels, everything else)."""
        return np.moveaxis(x, out_axis, 0).reshape(x.shape[out_axis], -1)

    def _projection(self, p: Parameter, grad: np.ndarray, d: np.ndarray, group: dict[str, Any]) -> tuple:
        eps = group["eps"]
        axis = getattr(p, "out_axis", 0)
        for view in (lambda x: self._rows(x, axis), lambda x: x.reshape(1, -1)):
            w, gv = view(p.data), view(grad)
            wn, gn = np.linalg.norm(w, axis=1), np.linalg.norm(gv, axis=1)
            cos = np.abs(np.sum(w * gv, axis=1)) / (np.maximum(wn, eps) * np.maximum(gn, eps))
            if cos.max() < group["delta"] / math.sqrt(w.shape[1]):
                p_n = w / (wn + eps)[:, None]
                dv = view(d) - p_n * np.sum(p_n * view(d), axis=1, keepdims=True)
                if w.shape[0] == 1:
                    return dv.reshape(d.shape), group["wd_ratio"]
                return np.moveaxis(dv.reshape(np.moveaxis(d, axis, 0).shape), 0, axis), group["wd_ratio"]
        return d, 1.0

    def update(self, p, grad, state, group):
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        m, v, tmp = _moments(state, grad, beta1, beta2)
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2**t)
        tmp += group["eps"]
        d = ((beta1 * m + (1 - beta1) * grad) if group["nesterov"] else m) / tmp
        wd_factor = 1.0
        if p.data.ndim > 1:
            d, wd_factor = self._projection(p, grad, d, group)
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"] * wd_factor
        p.data -= (group["lr"] / (1 - beta1**t)) * d


#: config name -> optimizer class, sorted by increasing complexity
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": Adagrad, "adadelta": Adadelta,
    "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "nadam": NAdam, "radam": RAdam, "adamp": AdamP,
}
