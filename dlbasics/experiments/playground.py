"""The optimizer playground: every optimizer of the course on small 2-D problems whose landscape one can see.

Each problem is a function f of a point p = (x, y) with its exact gradient, a default start, its minimum and
the bounds of the plot. :func:`run` lets one optimizer of :data:`~dlbasics.optim.optimizers.OPTIMIZERS` walk
from the start for a number of steps, exactly as it trains a network: the point is one
:class:`~dlbasics.nn.Parameter` of shape (2,), the problem writes ``p.grad`` and the optimizer's ``step()``
updates ``p.data``. What the problems teach:

- ``rosenbrock``: a curved, narrow valley. Gradient descent crosses the valley back and forth and crawls
  along its floor; momentum and the adaptive methods follow the bend.
- ``beale``: plateaus (the whole line y = 1 is flat, at f = 14.2) next to steep walls: a fixed learning rate
  is too small on the plateau and too large on the walls; the adaptive methods rescale each coordinate.
- ``saddle``: a saddle point at the origin. Started next to it, gradient descent first slides into the
  saddle and stalls there, escaping only as fast as the tiny y component grows; Adam escapes far sooner.
- ``ill_conditioned``: a quadratic with condition number 50. Plain gradient descent at a learning rate close
  to its stability limit (2 / 50 = 0.04) zig-zags across the steep direction while it crawls along the
  flat one; momentum averages the zig-zag away.
- ``regression``: the course assignment "why does momentum beat SGD?", the mean squared error of
  y = w x + b on the ``linear`` data set as a function of the weights (w, b).
- ``double_well``: two minima along x, a deep one (global, f = 0 at (-1, 0)) and a shallow one (local,
  f = 16/15 at (1, 0)) behind a barrier (the saddle (0.2, 0), f = 1.6128). Started in the shallow basin, full-
  batch gradient descent settles in the local minimum; mini-batch gradients are noisy enough to hop the barrier.
- ``camel``: the six-hump camel function, two global minima (f = -1.0316) and four local ones: a landscape of
  several basins.

The data-based problems (``regression``, ``double_well``, ``camel``) are a mean over n samples, so they also
have a mini-batch gradient (``batch_size``: stochastic gradient descent as it trains a network, an epoch being
one permutation of the samples); the others have one exact gradient only.

The optimizers' default learning rates are PyTorch's, chosen for networks; pass ``lr`` (``dlb playground
--lr``) to compare them at one learning rate (Adadelta, which has no learning rate, keeps 1 unless named), or
per optimizer (``{"sgd": 0.05, "adam": 0.1}``), e.g. 0.05 on the regression, 0.03 on ill_conditioned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config.fields import did_you_mean
from ..data.synthetic import linear
from ..nn.parameter import Parameter
from ..optim.optimizers import OPTIMIZERS

#: the optimizers the CLI compares unless told otherwise
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: a run whose point leaves this radius (or whose loss is not finite) has diverged and stops
DIVERGED_NORM = 1e6


@dataclass(frozen=True)
class Problem:
    """A 2-D test function.

    ``value(p)`` takes p of shape (2, ...) (one point, or a stacked grid ``np.stack([X, Y])`` for contours)
    and returns f of shape (...); ``grad(p)`` takes p of shape (2,) and returns df/dp of shape (2,).
    ``bounds`` is ((x_min, x_max), (y_min, y_max)) of the plot; ``log_levels``: draw contours of
    f - f_min on a log scale (valleys whose floor is much flatter than their walls); ``marks``: further
    labelled points of the plot (a saddle point, a second minimum).
    """

    name: str
    value: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, float]
    minimum: tuple[float, float]
    min_value: float
    bounds: tuple[tuple[float, float], tuple[float, float]]
    labels: tuple[str, str] = ("x", "y")
    log_levels: bool = True
    doc: str = field(default="", repr=False)
    #: other points worth marking on the plot: (label, (x, y))
    marks: tuple[tuple[str, tuple[float, float]], ...] = ()
    #: every minimum, global and local: (label, (x, y), f); a run's end is named after the nearest one
    minima: tuple[tuple[str, tuple[float, float], float], ...] = ()
    #: data-based problems: ``batch_grad(p, idx)``, the mean gradient of the samples ``idx`` at p of shape (2,),
    #: and their number ``n_samples`` (0: no data, only the exact gradient)
    batch_grad: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    n_samples: int = 0

    @property
    def stochastic(self) -> bool:
        """Whether the problem is a mean over samples (it has mini-batch gradients)."""
        return self.batch_grad is not None and self.n_samples > 0

    def nearest_minimum(self, point: np.ndarray) -> str | None:
        """The label of the minimum in :attr:`minima` nearest to ``point`` (None without minima or a point)."""
        point = np.asarray(point, dtype=float)
        if not self.minima or not np.isfinite(point).all():
            return None
        dist = [np.hypot(*(point - np.asarray(m))) for _, m, _ in self.minima]
        return self.minima[int(np.argmin(dist))][0]

    def basin(self, point: np.ndarray, lr: float = 0.005, steps: int = 4000) -> str | None:
        """The label of the minimum whose basin holds ``point``: where plain gradient descent with a small step
        (the gradient flow) from ``point`` settles. A point half-way up a wall belongs to the minimum below it, not
        to the nearest one. None without minima."""
        p = np.asarray(point, dtype=float)
        if not self.minima or not np.isfinite(p).all():
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                p = p - lr * self.grad(p)
        return self.nearest_minimum(p) if np.isfinite(p).all() else self.nearest_minimum(point)


# ---------------------------------------------------------------------------------------------- Rosenbrock
ROSENBROCK_A, ROSENBROCK_B = 1.0, 100.0


def rosenbrock_value(p: np.ndarray) -> Any:
    """f = (a - x)^2 + b (y - x^2)^2, a = 1, b = 100: minimum 0 at (a, a^2) = (1, 1)."""
    x, y = p[0], p[1]
    return (ROSENBROCK_A - x) ** 2 + ROSENBROCK_B * (y - x * x) ** 2


def rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([-2 * (ROSENBROCK_A - x) - 4 * ROSENBROCK_B * x * (y - x * x), 2 * ROSENBROCK_B * (y - x * x)])


# ---------------------------------------------------------------------------------------------- Beale
_BEALE_C = (1.5, 2.25, 2.625)


def beale_value(p: np.ndarray) -> Any:
    """f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2: minimum 0 at (3, 0.5)."""
    x, y = p[0], p[1]
    return sum((c - x + x * y ** (k + 1)) ** 2 for k, c in enumerate(_BEALE_C))


def beale_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    gx = gy = 0.0
    for k, c in enumerate(_BEALE_C):
        r = c - x + x * y ** (k + 1)
        gx += 2 * r * (y ** (k + 1) - 1)
        gy += 2 * r * x * (k + 1) * y**k
    return np.array([gx, gy])


# ---------------------------------------------------------------------------------------------- saddle
def saddle_value(p: np.ndarray) -> Any:
    """f = x^2 - y^2 + y^4 / 2: a saddle at (0, 0) (f = 0), minima -1/2 at (0, +-1).

    Near the origin it is the textbook saddle x^2 - y^2; the y^4 term bends the falling direction back up
    so that f is bounded below and a run ends in a minimum instead of diverging.
    """
    x, y = p[0], p[1]
    return x * x - y * y + 0.5 * y**4


def saddle_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([2 * x, -2 * y + 2 * y**3])


# ---------------------------------------------------------------------------------------------- ill-conditioned
ILL_CONDITION = 50.0


def ill_conditioned_value(p: np.ndarray) -> Any:
    """f = (x^2 + 50 y^2) / 2: curvatures 1 and 50 (condition number 50), minimum 0 at (0, 0)."""
    x, y = p[0], p[1]
    return 0.5 * (x * x + ILL_CONDITION * y * y)


def ill_conditioned_grad(p: np.ndarray) -> np.ndarray:
    return np.array([p[0], ILL_CONDITION * p[1]])


# ---------------------------------------------------------------------------------------------- regression
#: the regression data: ``linear(default_rng(REGRESSION_SEED), REGRESSION_N)``, noise 1, x in [0, 2]
REGRESSION_SEED, REGRESSION_N = 0, 200


class Regression:
    """The mean squared error L(w, b) = mean((w x_i + b - y_i)^2) of a line fitted to the ``linear`` data.

    The data: n = 200 points of y = 4 x - 2 + N(0, 1), x ~ U(0, 2), drawn with ``default_rng(0)``. The
    minimum is the least-squares fit (close to, not exactly, (4, -2)); the start is (w, b) = (0, 0), the
    usual zero initialisation.

    Why momentum beats SGD here: L is a quadratic whose Hessian is 2 [[mean(x^2), mean(x)], [mean(x), 1]]
    ~ 2 [[4/3, 1], [1, 1]]. Because every x is positive (in [0, 2]), raising w and lowering b change the
    predictions in nearly the same way: w and b are strongly correlated, the Hessian's eigenvalues are about
    4.7 and 0.3 (condition number ~16), and the loss valley is long, narrow and diagonal. SGD must keep its
    step below 2 / 4.7 for the steep direction and then crawls along the valley floor at a rate set by 0.3;
    momentum accumulates the small but consistent gradient along the floor and cancels the back-and-forth
    across it, so at the same learning rate it reaches the minimum in a fraction of the steps. (With x
    centred around 0 the two weights decouple and the advantage shrinks: that is why inputs are normalised.)
    """

    def __init__(self, seed: int = REGRESSION_SEED, n: int = REGRESSION_N):
        x, y = linear(np.random.default_rng(seed), n, noise=1.0, x_min=0.0, x_max=2.0)
        self.x, self.y = x[:, 0], y[:, 0]
        design = np.stack([self.x, np.ones_like(self.x)], axis=1)
        self.optimum = np.linalg.lstsq(design, self.y, rcond=None)[0]
        self.hessian = 2.0 * design.T @ design / n
        self.min_value = float(np.mean((design @ self.optimum - self.y) ** 2))

    def value(self, p: np.ndarray) -> Any:
        """L at p of shape (2, ...): the exact quadratic L* + d^T H d / 2 with d = p - p*, so that L - L*
        stays accurate near the minimum (no cancellation between two nearly equal sums)."""
        d = np.asarray(p, dtype=float) - self.optimum.reshape((2,) + (1,) * (np.ndim(p) - 1))
        h = self.hessian
        return self.min_value + 0.5 * (h[0, 0] * d[0] ** 2 + 2 * h[0, 1] * d[0] * d[1] + h[1, 1] * d[1] ** 2)

    def grad(self, p: np.ndarray) -> np.ndarray:
        """dL/dw = 2 mean(r x), dL/db = 2 mean(r), r = w x + b - y: the backward pass of MSE through a line."""
        r = p[0] * self.x + p[1] - self.y
        return np.array([2.0 * np.mean(r * self.x), 2.0 * np.mean(r)])

    def batch_grad(self, p: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The same gradient over the samples ``idx`` only: the mini-batch gradient of SGD."""
        x, y = self.x[idx], self.y[idx]
        r = p[0] * x + p[1] - y
        return np.array([2.0 * np.mean(r * x), 2.0 * np.mean(r)])


def _regression_problem() -> Problem:
    reg = Regression()
    w, b = (float(v) for v in reg.optimum)
    return Problem("regression", reg.value, reg.grad, start=(0.0, 0.0), minimum=(w, b), min_value=reg.min_value,
                   bounds=((-1.0, 7.0), (-5.0, 3.0)), labels=("w (slope)", "b (intercept)"),
                   doc="MSE of y = w x + b on the linear data (x in [0, 2]): a long, narrow diagonal valley",
                   batch_grad=reg.batch_grad, n_samples=REGRESSION_N)


# ---------------------------------------------------------------------------------------------- surfaces as data
class Tilted:
    """A surface F seen through n samples: sample i's loss is F(p) + a_i . p, with a_i ~ N(0, noise^2 I) centred
    so that mean(a_i) = 0 exactly (to rounding).

    The full-batch loss is F itself, so its minima are F's; a mini-batch B sees F tilted by the batch mean
    of a_i, a tilt whose spread shrinks like noise / sqrt(|B|) and averages out over an epoch. That is the
    textbook model of SGD's gradient noise: unbiased, and largest for the smallest batches. A tilt of the
    size of the barrier's slope wipes the shallow basin out for that step, and the point can leave it.
    """

    def __init__(self, value: Callable[[np.ndarray], Any], grad: Callable[[np.ndarray], np.ndarray],
                 n: int, noise: float, seed: int):
        tilts = np.random.default_rng(seed).normal(0.0, noise, size=(n, 2))
        self.tilts = tilts - tilts.mean(axis=0)
        self.value, self.grad = value, grad

    def batch_grad(self, p: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """grad F(p) + mean of a_i over ``idx``."""
        return self.grad(p) + self.tilts[idx].mean(axis=0)


#: samples and tilt spread of the surfaces' data (seed 0)
TILT_N, TILT_SEED = 200, 0
DOUBLE_WELL_NOISE, CAMEL_NOISE = 8.0, 8.0


def double_well_value(p: np.ndarray) -> Any:
    """f = x^4 - 4x^3/15 - 2x^2 + 4x/5 + 23/15 + y^2, i.e. df/dx = 4 (x + 1)(x - 0.2)(x - 1).

    Minima: global f = 0 at (-1, 0), local f = 16/15 at (1, 0); the saddle between them is (0.2, 0),
    f = 1.6128 (barriers: 0.546 from the local side, 1.613 from the global side).
    """
    x, y = p[0], p[1]
    return x**4 - 4 * x**3 / 15 - 2 * x * x + 0.8 * x + 23 / 15 + y * y


def double_well_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([4 * (x + 1) * (x - 0.2) * (x - 1), 2 * y])


def camel_value(p: np.ndarray) -> Any:
    """The six-hump camel: f = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (-4 + 4 y^2) y^2.

    Minima (as published, to 4 decimals; :data:`CAMEL_MINIMA` holds them to machine precision): global
    f = -1.0316 at (0.0898, -0.7126) and (-0.0898, 0.7126) (y = -0.712656..., truncated in the literature);
    local f = -0.2155 at (-1.7036, 0.7961) and (1.7036, -0.7961); local f = 2.1043 at (1.6071, 0.5687) and
    (-1.6071, -0.5687).
    """
    x, y = p[0], p[1]
    return (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y


def camel_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3])


def _camel_hessian(p: np.ndarray) -> np.ndarray:
    x, y = p
    return np.array([[8 - 25.2 * x * x + 10 * x**4, 1.0], [1.0, -8 + 48 * y * y]])


def _newton(grad: Callable[[np.ndarray], np.ndarray], hessian: Callable[[np.ndarray], np.ndarray],
            guess: tuple[float, float], steps: int = 30) -> tuple[float, float]:
    """A stationary point refined from ``guess`` by Newton's method (quadratic convergence: 30 steps is ample)."""
    p = np.array(guess, dtype=float)
    for _ in range(steps):
        p = p - np.linalg.solve(hessian(p), grad(p))
    return float(p[0]), float(p[1])


#: the camel's six minima to machine precision, refined by Newton's method from the published 4-decimal values
CAMEL_MINIMA: tuple[tuple[str, tuple[float, float], float], ...] = tuple(
    (label, pt, float(camel_value(np.array(pt)))) for label, pt in (
        (label, _newton(camel_grad, _camel_hessian, guess)) for label, guess in (
            ("global f=-1.032", (0.0898, -0.7126)), ("global f=-1.032", (-0.0898, 0.7126)),
            ("local f=-0.215", (-1.7036, 0.7961)), ("local f=-0.215", (1.7036, -0.7961)),
            ("local f=2.104", (1.6071, 0.5687)), ("local f=2.104", (-1.6071, -0.5687)))))


def _surface_problem(name: str, value: Callable, grad: Callable, noise: float, **kwargs: Any) -> Problem:
    tilted = Tilted(value, grad, TILT_N, noise, TILT_SEED)
    return Problem(name, value, grad, batch_grad=tilted.batch_grad, n_samples=TILT_N, **kwargs)


#: problem name -> Problem
PROBLEMS: dict[str, Problem] = {
    "rosenbrock": Problem("rosenbrock", rosenbrock_value, rosenbrock_grad, start=(-1.5, 2.0), minimum=(1.0, 1.0),
                          min_value=0.0, bounds=((-2.0, 2.0), (-1.0, 3.0)),
                          doc="Rosenbrock (a=1, b=100): a curved, narrow valley"),
    "beale": Problem("beale", beale_value, beale_grad, start=(1.0, 1.5), minimum=(3.0, 0.5), min_value=0.0,
                     bounds=((-1.0, 4.5), (-1.5, 2.0)), doc="Beale: flat plateaus and steep walls"),
    "saddle": Problem("saddle", saddle_value, saddle_grad, start=(1.5, 1e-3), minimum=(0.0, 1.0), min_value=-0.5,
                      bounds=((-2.0, 2.0), (-1.6, 1.6)), log_levels=False,
                      doc="x^2 - y^2 + y^4/2: escaping the saddle point at the origin",
                      marks=(("saddle point (0, 0), f = 0", (0.0, 0.0)), ("the other minimum (0, -1)", (0.0, -1.0)))),
    "ill_conditioned": Problem("ill_conditioned", ill_conditioned_value, ill_conditioned_grad, start=(-4.0, 1.0),
                               minimum=(0.0, 0.0), min_value=0.0, bounds=((-4.5, 1.5), (-1.5, 1.5)),
                               doc="(x^2 + 50 y^2)/2: condition number 50, gradient descent zig-zags"),
    "regression": _regression_problem(),
    "double_well": _surface_problem(
        "double_well", double_well_value, double_well_grad, DOUBLE_WELL_NOISE, start=(1.6, 1.2), minimum=(-1.0, 0.0),
        min_value=0.0, bounds=((-1.8, 1.8), (-1.4, 1.4)), log_levels=False,
        doc="a deep and a shallow well (x^4 - 4x^3/15 - 2x^2 + 4x/5 + 23/15 + y^2); each sample tilts it",
        marks=(("local minimum (1, 0), f = 16/15", (1.0, 0.0)), ("saddle (0.2, 0), f = 1.6128", (0.2, 0.0))),
        minima=(("global (-1, 0)", (-1.0, 0.0), 0.0), ("local (1, 0)", (1.0, 0.0), 16 / 15))),
    "camel": _surface_problem(
        "camel", camel_value, camel_grad, CAMEL_NOISE, start=(1.9, 1.1), minimum=CAMEL_MINIMA[0][1],
        min_value=CAMEL_MINIMA[0][2], bounds=((-2.2, 2.2), (-1.25, 1.25)), log_levels=False,
        doc="six-hump camel: two global and four local minima; each sample tilts it",
        marks=tuple((f"{'global' if f < -1 else 'local'} minimum ({pt[0]:.4f}, {pt[1]:.4f}), f = {f:.4f}", pt)
                    for _, pt, f in CAMEL_MINIMA[1:]),
        minima=CAMEL_MINIMA),
}
#: the problems that are a mean over samples (they take ``batch_size``)
STOCHASTIC = tuple(name for name, prob in PROBLEMS.items() if prob.stochastic)


def get_problem(problem: str | Problem) -> Problem:
    """A Problem by name (ValueError naming the closest one if unknown) or the Problem itself."""
    if isinstance(problem, Problem):
        return problem
    if problem not in PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}{did_you_mean(problem, list(PROBLEMS))} "
                         f"(allowed: {', '.join(PROBLEMS)})")
    return PROBLEMS[problem]


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's mini-batches of ``n`` samples, as the training loop cuts them: a permutation from ``rng`` in
    slices of ``batch_size``, the last one smaller (a last batch of one sample joins the one before it)."""
    from ..train.loop import batches_per_epoch

    batch_size = min(batch_size, n)
    count = batches_per_epoch(n, batch_size)
    order = rng.permutation(n)
    return [order[b * batch_size:(b + 1) * batch_size if b < count - 1 else n] for b in range(count)]


def default_lr(optimizer_name: str) -> float:
    """The optimizer's own default learning rate (PyTorch's)."""
    return float(OPTIMIZERS[optimizer_name]([Parameter(np.zeros(2))]).lr)


def lr_for(optimizer_name: str, lr: float | dict[str, float] | None) -> float | None:
    """The learning rate a run takes from ``lr`` (None: the optimizer's own default): a number is every
    optimizer's but Adadelta's, which has no learning rate (its step is the ratio of two RMS values) and keeps 1
    unless named; a dict names optimizers, its ``"*"`` standing for every other one but Adadelta."""
    if lr is None:
        return None
    if not isinstance(lr, dict):
        lr = {"*": lr}
    if optimizer_name in lr:
        return float(lr[optimizer_name])
    return None if optimizer_name == "adadelta" or "*" not in lr else float(lr["*"])


def parse_lr(text: str | None) -> float | dict[str, float] | None:
    """``--lr``: "0.05" (every optimizer but Adadelta), "sgd=0.05,adam=0.1" (those; the others their defaults)
    or both ("0.05,adam=0.1"). ValueError, one line, for anything else."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    common: list[float] = []
    named: dict[str, float] = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--lr {text}: expected a number or name=number pairs such as sgd=0.05,adam=0.1") \
                from None
        if not 0 < number < float("inf"):
            raise ValueError(f"--lr must be a positive number, got {value}")
        if not sep:
            common.append(number)
            continue
        name = name.strip()
        if name not in OPTIMIZERS:
            raise ValueError(f"--lr: unknown optimizer {name!r}{did_you_mean(name, list(OPTIMIZERS))} "
                             f"(allowed: {', '.join(OPTIMIZERS)})")
        named[name] = number
    if not items or len(common) > 1:
        raise ValueError(f"--lr {text!r}: give one number (every optimizer but adadelta) and/or name=number pairs")
    if not named:
        return common[0]
    return {**({"*": common[0]} if common else {}), **named}


def run(problem: str | Problem, optimizer_name: str, steps: int, lr: float | None = None,
        start: tuple[float, float] | None = None, batch_size: int | None = None, seed: int = 0,
        **hyper: Any) -> dict[str, Any]:
    """Let ``optimizer_name`` walk ``steps`` steps on ``problem`` from its start (or ``start``).

    ``lr`` None keeps the optimizer's own default; ``hyper`` are further keyword arguments of the optimizer
    (``momentum=0.5``, ``betas=(0.8, 0.99)``, ...). ``batch_size`` (data-based problems only; None or >= the
    samples: the exact full-batch gradient): each step uses the mean gradient of one mini-batch, the batches of
    an epoch being one permutation of the samples drawn from ``seed`` (the same seed, the same batches for every
    optimizer). Returns a dict: ``problem``, ``optimizer`` (the name), ``optimizer_repr`` (class and every
    hyper-parameter), ``lr`` (the one used), ``batch_size`` (None: full batch), ``trajectory`` (steps + 1, 2)
    (row 0 the start), ``losses`` (steps + 1,) (the full loss f at each point) and ``diverged_step``: the step at
    which the point left radius 1e6 or the loss stopped being finite (the rows from there on are NaN), or None.
    """
    prob = get_problem(problem)
    if optimizer_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer_name!r}{did_you_mean(optimizer_name, list(OPTIMIZERS))} "
                         f"(allowed: {', '.join(OPTIMIZERS)})")
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size}: must be at least 1")
        if not prob.stochastic:
            raise ValueError(f"problem {prob.name!r} has no data, only its exact gradient; mini-batches need one of "
                             f"{', '.join(STOCHASTIC)}")
        if batch_size >= prob.n_samples:
            batch_size = None
    if lr is not None:
        hyper["lr"] = lr
    p = Parameter(np.array(prob.start if start is None else start, dtype=np.float64), name="p")
    opt = OPTIMIZERS[optimizer_name]([p], **hyper)
    trajectory = np.full((steps + 1, 2), np.nan)
    losses = np.full(steps + 1, np.nan)
    trajectory[0], losses[0] = p.data, prob.value(p.data)
    diverged = None
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            if batch_size is None:
                p.grad[...] = prob.grad(p.data)
            else:
                if not batches:
                    batches = epoch_batches(prob.n_samples, batch_size, rng)[::-1]
                p.grad[...] = prob.batch_grad(p.data, batches.pop())
            opt.step()
            loss = float(prob.value(p.data))
            if not (np.isfinite(loss) and np.all(np.isfinite(p.data)) and np.abs(p.data).max() < DIVERGED_NORM):
                diverged = t
                break
            trajectory[t], losses[t] = p.data, loss
    return {"problem": prob.name, "optimizer": optimizer_name, "optimizer_repr": repr(opt), "lr": float(opt.lr),
            "batch_size": batch_size, "trajectory": trajectory, "losses": losses, "diverged_step": diverged}


def steps_to_reach(losses: np.ndarray, target: float) -> int | None:
    """The first step whose loss is <= ``target``, or None if none is (NaN, after a divergence, never is)."""
    hits = np.flatnonzero(np.asarray(losses, dtype=float) <= target)
    return int(hits[0]) if hits.size else None


def run_all(problems: list[str], optimizers: list[str], steps: int, lr: float | dict[str, float] | None = None,
            tolerance: float = 1e-3, batch_size: int | Sequence[int] | None = None,
            seed: int = 0) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Every optimizer on every problem. Returns ``{problem: [run results]}`` and one summary row per run.

    ``lr``: see :func:`lr_for` (a number, a dict by optimizer name, or None for the defaults). With
    ``batch_size`` (one size or several, e.g. ``[1, 16]``), every optimizer on a data-based problem walks from the
    same start with the full-batch gradient and then with mini-batches of each size (smaller than the data;
    batches from ``seed``, the same for every optimizer); problems without data walk once, with their exact
    gradient. A row: problem, optimizer, lr, batch_size (None: full batch), final_loss (None after a divergence),
    min_loss (the problem's minimum), steps_to_target (the first step within ``tolerance`` of the minimum, None if
    never), diverged_step (None if it did not), final_x, final_y and end (the minimum whose basin the run ended
    in, where the problem lists them, e.g. "local (1, 0)")."""
    results: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for name in problems:
        prob = get_problem(name)
        results[name] = []
        wanted = [] if batch_size is None else [batch_size] if isinstance(batch_size, int) else list(batch_size)
        sizes = [None, *dict.fromkeys(b for b in wanted if prob.stochastic and b < prob.n_samples)]
        for size in sizes:
            for opt in optimizers:
                res = run(prob, opt, steps, lr_for(opt, lr), batch_size=size, seed=seed)
                results[name].append(res)
                reached = steps_to_reach(res["losses"], prob.min_value + tolerance)
                end = None if res["diverged_step"] else res["trajectory"][-1]
                rows.append({"problem": name, "optimizer": opt, "lr": res["lr"], "batch_size": size,
                             "final_loss": None if res["diverged_step"] else float(res["losses"][-1]),
                             "min_loss": prob.min_value,
                             "steps_to_target": reached, "diverged_step": res["diverged_step"],
                             "final_x": None if end is None else float(end[0]),
                             "final_y": None if end is None else float(end[1]),
                             "end": None if end is None else prob.basin(end)})
    return results, rows


def write_playground(folder: Any, results: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]) -> list[str]:
    """Write ``<problem>_trajectories.png`` (the full-batch paths), ``<problem>_loss.png``, for a problem run with
    mini-batches ``<problem>_minibatch.png`` (mini-batch vs full-batch path of each optimizer from the same start)
    and ``playground.csv`` into a RunFolder."""
    import csv
    import io

    from ..plots.playground import plot_losses, plot_minibatch, plot_trajectories
    from ..runs.folder import atomic_write

    written = []
    for name, res in results.items():
        prob = get_problem(name)
        full = [r for r in res if r.get("batch_size") is None]
        folder.save_figure(plot_trajectories(prob, full, run=folder.run_id), f"{name}_trajectories.png")
        folder.save_figure(plot_losses(res, prob.min_value, title=f"{folder.run_id}\n{name}: loss - minimum"),
                           f"{name}_loss.png")
        written += [f"{name}_trajectories.png", f"{name}_loss.png"]
        if len(full) < len(res):
            folder.save_figure(plot_minibatch(prob, res, run=folder.run_id), f"{name}_minibatch.png")
            written.append(f"{name}_minibatch.png")
    buf = io.StringIO()
    columns = ["problem", "optimizer", "lr", "final_loss", "min_loss", "steps_to_target", "diverged_step",
               "batch_size", "final_x", "final_y", "end"]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        row = {**row, "batch_size": row.get("batch_size") or "full"}
        writer.writerow(["" if row.get(c) is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                         for c in columns])
    atomic_write(folder.path / "playground.csv", buf.getvalue().encode())
    return [*written, "playground.csv"]
