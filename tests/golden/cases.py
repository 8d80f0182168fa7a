"""The golden cases: every optimizer and schedule with non-default flags, shared by the generator and the tests.

A case is (id, our config name, our kwargs, torch class name, torch kwargs). The problem is deterministic and
written twice, in NumPy (tests) and torch (generator), with the same float64 arithmetic.
"""

from __future__ import annotations

import numpy as np

STEPS = 60
RECORDED = (1, 2, 3, 5, 10, 20, 30, 40, 50, 60)  # steps whose parameters are stored and compared
SHAPE = (4, 3, 2)  # a conv-kernel-like tensor: output channels first (AdamP's per-channel view)


def problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(initial parameters, matrix M, offset C) of the gradient field g(p) = p M + C + 0.3 sin(3 p)."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(SHAPE)
    m = rng.standard_normal((SHAPE[-1], SHAPE[-1])) * 0.5 + np.eye(SHAPE[-1])
    c = rng.standard_normal(SHAPE) * 0.5
    return p0, m, c


def gradient(p: np.ndarray, m: np.ndarray, c: np.ndarray, radial_free: bool = False) -> np.ndarray:
    """g(p) = p M + C + 0.3 sin(3 p); with ``radial_free`` the component along each output channel of p is
    removed, as for weights followed by batch norm (scale-invariant: the gradient is orthogonal to them)."""
    g = p @ m + c + 0.3 * np.sin(3 * p)
    if radial_free:
        rows, grows = p.reshape(p.shape[0], -1), g.reshape(p.shape[0], -1)
        coef = np.sum(rows * grows, axis=1, keepdims=True) / np.sum(rows * rows, axis=1, keepdims=True)
        g = (grows - coef * rows).reshape(p.shape)
    return g


OPTIMIZER_CASES: list[tuple[str, str, dict, str, dict]] = [
    ("sgd", "sgd", {"lr": 0.05}, "SGD", {"lr": 0.05}),
    ("sgd-momentum-dampening-wd", "sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
     "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd-nesterov-maximize", "sgd", {"lr": 0.02, "momentum": 0.8, "nesterov": True, "maximize": True},
     "SGD", {"lr": 0.02, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("momentum-alias", "momentum", {"lr": 0.03}, "SGD", {"lr": 0.03, "momentum": 0.9}),
    ("nesterov-alias", "nesterov", {"lr": 0.03}, "SGD", {"lr": 0.03, "momentum": 0.9, "nesterov": True}),
    ("adagrad", "adagrad", {}, "Adagrad", {}),
    ("adagrad-decay-init-wd", "adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1,
                                          "weight_decay": 0.02, "eps": 1e-6},
     "Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.02, "eps": 1e-6}),
    ("adadelta", "adadelta", {}, "Adadelta", {}),
    ("adadelta-rho-wd-maximize", "adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.05,
                                              "maximize": True},
     "Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.05, "maximize": True}),
    ("rmsprop", "rmsprop", {}, "RMSprop", {}),
    ("rmsprop-centered-momentum-wd", "rmsprop", {"lr": 0.005, "alpha": 0.9, "centered": True, "momentum": 0.7,
                                                 "weight_decay": 0.01, "eps": 1e-5},
     "RMSprop", {"lr": 0.005, "alpha": 0.9, "centered": True, "momentum": 0.7, "weight_decay": 0.01, "eps": 1e-5}),
    ("adam", "adam", {}, "Adam", {}),
    ("adam-amsgrad-wd-betas", "adam", {"lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6, "weight_decay": 0.1,
                                       "amsgrad": True},
     "Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True}),
    ("adam-maximize", "adam", {"lr": 0.01, "maximize": True}, "Adam", {"lr": 0.01, "maximize": True}),
    ("adamw", "adamw", {}, "AdamW", {}),
    ("adamw-amsgrad", "adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
     "AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("nadam", "nadam", {}, "NAdam", {}),
    ("nadam-decoupled-wd", "nadam", {"lr": 0.01, "weight_decay": 0.05, "momentum_decay": 0.01,
                                     "decoupled_weight_decay": True},
     "NAdam", {"lr": 0.01, "weight_decay": 0.05, "momentum_decay": 0.01, "decoupled_weight_decay": True}),
    ("nadam-coupled-wd", "nadam", {"lr": 0.01, "weight_decay": 0.05}, "NAdam", {"lr": 0.01, "weight_decay": 0.05}),
    ("radam", "radam", {"lr": 0.01}, "RAdam", {"lr": 0.01}),
    ("radam-decoupled-wd", "radam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True,
                                     "betas": [0.9, 0.9]},
     "RAdam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True, "betas": (0.9, 0.9)}),
    ("adamp", "adamp", {"lr": 0.01, "weight_decay": 0.01}, "AdamP", {"lr": 0.01, "weight_decay": 0.01}),
    ("adamp-scale-invariant-nesterov", "adamp", {"lr": 0.01, "weight_decay": 0.1, "nesterov": True},
     "AdamP", {"lr": 0.01, "weight_decay": 0.1, "nesterov": True}),
]

#: cases whose gradient has no radial component (AdamP's projection path is taken)
RADIAL_FREE = {"adamp-scale-invariant-nesterov"}

#: a validation-loss sequence with plateaus, for reduce-on-plateau (mode min) and its negation (mode max)
PLATEAU_METRIC = [1.0, 0.8, 0.79, 0.795, 0.792, 0.6, 0.6, 0.61, 0.6, 0.599, 0.5, 0.52, 0.51, 0.53, 0.5, 0.49,
                  0.495, 0.5, 0.51, 0.52, 0.3, 0.31, 0.32, 0.33, 0.34]

#: (id, our name, our kwargs, units, optimizer ("sgd" lr 0.1 momentum 0.9 | "adam" lr 0.01), torch spec)
#: torch spec: (class name, kwargs) or ("chain", [specs]) or ("lambda", kind, params)
SCHEDULE_CASES: list[tuple[str, str, dict, int, str, tuple]] = [
    ("step", "step", {"step_size": 3, "gamma": 0.5}, 12, "sgd", ("StepLR", {"step_size": 3, "gamma": 0.5})),
    ("multistep", "multistep", {"milestones": [2, 5, 9], "gamma": 0.3}, 12, "sgd",
     ("MultiStepLR", {"milestones": [2, 5, 9], "gamma": 0.3})),
    ("exponential", "exponential", {"gamma": 0.8}, 15, "adam", ("ExponentialLR", {"gamma": 0.8})),
    ("power", "power", {"s": 4.0, "c": 1.5}, 20, "sgd", ("lambda", "power", {"s": 4.0, "c": 1.5})),
    ("piecewise", "piecewise", {"boundaries": [3, 7], "factors": [1.0, 0.2, 0.05]}, 10, "sgd",
     ("lambda", "piecewise", {"boundaries": [3, 7], "factors": [1.0, 0.2, 0.05]})),
    ("linear", "linear", {"start_factor": 0.2, "end_factor": 0.7, "total_iters": 6}, 10, "sgd",
     ("LinearLR", {"start_factor": 0.2, "end_factor": 0.7, "total_iters": 6})),
    ("cosine-past-t-max", "cosine", {"T_max": 10, "eta_min": 0.001}, 25, "sgd",
     ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001})),
    ("cosine-warmup", "cosine", {"T_max": 20, "warmup": 4, "warmup_start_factor": 0.1}, 20, "adam",
     ("chain", [("LinearLR", {"start_factor": 0.1, "total_iters": 4}), ("CosineAnnealingLR", {"T_max": 20})])),
    ("step-warmup", "step", {"step_size": 4, "gamma": 0.5, "warmup": 3, "warmup_start_factor": 0.25}, 12, "sgd",
     ("chain", [("LinearLR", {"start_factor": 0.25, "total_iters": 3}), ("StepLR", {"step_size": 4, "gamma": 0.5})])),
    ("cosine-restarts-tmult2", "cosine_restarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.01}, 30, "sgd",
     ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.01})),
    ("cosine-restarts-tmult1", "cosine_restarts", {"T_0": 5}, 17, "sgd", ("CosineAnnealingWarmRestarts", {"T_0": 5})),
    ("onecycle-sgd", "onecycle", {"max_lr": 0.1}, 50, "sgd", ("OneCycleLR", {"max_lr": 0.1, "total_steps": 50})),
    ("onecycle-adam-three-phase-linear", "onecycle",
     {"max_lr": 0.01, "three_phase": True, "anneal_strategy": "linear", "pct_start": 0.25, "div_factor": 10.0,
      "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9}, 40, "adam",
     ("OneCycleLR", {"max_lr": 0.01, "total_steps": 40, "three_phase": True, "anneal_strategy": "linear",
                     "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8,
                     "max_momentum": 0.9})),
    ("plateau", "plateau", {"factor": 0.5, "patience": 2, "threshold": 0.01, "cooldown": 1, "min_lr": 0.002},
     len(PLATEAU_METRIC), "sgd",
     ("ReduceLROnPlateau", {"factor": 0.5, "patience": 2, "threshold": 0.01, "cooldown": 1, "min_lr": 0.002})),
    ("plateau-max-abs", "plateau", {"mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.005,
                                    "threshold_mode": "abs"}, len(PLATEAU_METRIC), "adam",
     ("ReduceLROnPlateau", {"mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.005,
                            "threshold_mode": "abs"})),
]


def plateau_metric(case_id: str) -> list[float]:
    """The metric fed to a plateau case (negated for mode max)."""
    return [-v for v in PLATEAU_METRIC] if "max" in case_id else list(PLATEAU_METRIC)
