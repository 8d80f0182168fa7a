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

The optimizers' default learning rates are PyTorch's, chosen for networks; pass ``lr`` (``dlb playground
--lr``) to compare them at one learning rate, e.g. 0.05 on the regression, 0.03 on ill_conditioned. Adadelta
keeps lr 1 (``LR_FREE``): it has no learning rate (the course notes, Zeiler 2012), and PyTorch's lr would
scale its every step.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _regression_problem() -> Problem:
    reg = Regression()
    w, b = (float(v) for v in reg.optimum)
    return Problem("regression", reg.value, reg.grad, start=(0.0, 0.0), minimum=(w, b), min_value=reg.min_value,
                   bounds=((-1.0, 7.0), (-5.0, 3.0)), labels=("w (slope)", "b (intercept)"),
                   doc="MSE of y = w x + b on the linear data (x in [0, 2]): a long, narrow diagonal valley")


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
}


def get_problem(problem: str | Problem) -> Problem:
    """A Problem by name (ValueError naming the closest one if unknown) or the Problem itself."""
    if isinstance(problem, Problem):
        return problem
    if problem not in PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}{did_you_mean(problem, list(PROBLEMS))} "
                         f"(allowed: {', '.join(PROBLEMS)})")
    return PROBLEMS[problem]


def run(problem: str | Problem, optimizer_name: str, steps: int, lr: float | None = None,
        start: tuple[float, float] | None = None, **hyper: Any) -> dict[str, Any]:
    """Let ``optimizer_name`` walk ``steps`` steps on ``problem`` from its start (or ``start``).

    ``lr`` None keeps the optimizer's own default; ``hyper`` are further keyword arguments of the optimizer
    (``momentum=0.5``, ``betas=(0.8, 0.99)``, ...). Returns a dict: ``problem``, ``optimizer`` (the name),
    ``optimizer_repr`` (class and every hyper-parameter), ``lr`` (the one used), ``trajectory`` (steps + 1, 2)
    (row 0 the start), ``losses`` (steps + 1,) and ``diverged_step``: the step at which the point left
    radius 1e6 or the loss stopped being finite (the rows from there on are NaN), or None.
    """
    prob = get_problem(problem)
    if optimizer_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer_name!r}{did_you_mean(optimizer_name, list(OPTIMIZERS))} "
                         f"(allowed: {', '.join(OPTIMIZERS)})")
    if lr is not None:
        hyper["lr"] = lr
    p = Parameter(np.array(prob.start if start is None else start, dtype=np.float64), name="p")
    opt = OPTIMIZERS[optimizer_name]([p], **hyper)
    trajectory = np.full((steps + 1, 2), np.nan)
    losses = np.full(steps + 1, np.nan)
    trajectory[0], losses[0] = p.data, prob.value(p.data)
    diverged = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            p.grad[...] = prob.grad(p.data)
            opt.step()
            loss = float(prob.value(p.data))
            if not (np.isfinite(loss) and np.all(np.isfinite(p.data)) and np.abs(p.data).max() < DIVERGED_NORM):
                diverged = t
                break
            trajectory[t], losses[t] = p.data, loss
    return {"problem": prob.name, "optimizer": optimizer_name, "optimizer_repr": repr(opt), "lr": float(opt.lr),
            "trajectory": trajectory, "losses": losses, "diverged_step": diverged}


def steps_to_reach(losses: np.ndarray, target: float) -> int | None:
    """The first step whose loss is <= ``target``, or None if none is (NaN, after a divergence, never is)."""
    hits = np.flatnonzero(np.asarray(losses, dtype=float) <= target)
    return int(hits[0]) if hits.size else None


#: optimizers a shared ``lr`` leaves at their default: adadelta's lr 1 is its rule without a learning rate
LR_FREE = ("adadelta",)


def run_all(problems: list[str], optimizers: list[str], steps: int, lr: float | None = None,
            tolerance: float = 1e-3) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Every optimizer on every problem. Returns ``{problem: [run results]}`` and one summary row per run:
    problem, optimizer, lr, final_loss (None after a divergence), min_loss (the problem's minimum),
    steps_to_target (the first step within ``tolerance`` of the minimum, None if never) and diverged_step
    (None if it did not). ``lr`` applies to every optimizer except those in ``LR_FREE``."""
    results: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for name in problems:
        prob = get_problem(name)
        results[name] = []
        for opt in optimizers:
            res = run(prob, opt, steps, None if opt in LR_FREE else lr)
            results[name].append(res)
            reached = steps_to_reach(res["losses"], prob.min_value + tolerance)
            rows.append({"problem": name, "optimizer": opt, "lr": res["lr"],
                         "final_loss": None if res["diverged_step"] else float(res["losses"][-1]),
                         "min_loss": prob.min_value,
                         "steps_to_target": reached, "diverged_step": res["diverged_step"]})
    return results, rows


def write_playground(folder: Any, results: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]) -> list[str]:
    """Write ``<problem>_trajectories.png``, ``<problem>_loss.png`` and ``playground.csv`` into a RunFolder."""
    import csv
    import io

    from ..plots.playground import plot_losses, plot_trajectories
    from ..runs.folder import atomic_write

    written = []
    for name, res in results.items():
        prob = get_problem(name)
        folder.save_figure(plot_trajectories(prob, res, run=folder.run_id), f"{name}_trajectories.png")
        folder.save_figure(plot_losses(res, prob.min_value, title=f"{folder.run_id}\n{name}: loss - minimum"),
                           f"{name}_loss.png")
        written += [f"{name}_trajectories.png", f"{name}_loss.png"]
    buf = io.StringIO()
    columns = ["problem", "optimizer", "lr", "final_loss", "min_loss", "steps_to_target", "diverged_step"]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                         for c in columns])
    atomic_write(folder.path / "playground.csv", buf.getvalue().encode())
    return [*written, "playground.csv"]
