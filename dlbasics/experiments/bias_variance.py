"""The bias-variance decomposition, measured on a regression problem whose truth is known.

The setting (the generalization lecture's): inputs x ~ U(0, 1), targets y = f(x) + eps with

    f(x) = sin(2 pi x)        (one full period: smooth, not a polynomial, amplitude 1)
    eps ~ N(0, sigma^2)       (sigma = 0.3 by default)

A learner trained on a random training set D of ``n_train`` pairs gives a prediction h_D(x). Its expected
squared error on a fresh pair, averaged over training sets, noise and x, splits exactly into three terms:

    E_x E_D E_eps[(h_D(x) - y)^2] = E_x[(hbar(x) - f(x))^2]     bias^2   (hbar(x) = E_D[h_D(x)])
                                  + E_x E_D[(h_D(x) - hbar(x))^2] variance
                                  + sigma^2                       noise (irreducible)

(the cross terms vanish because the test noise is independent of D and has mean 0). :func:`decompose`
estimates each term by simulation: ``n_datasets`` training sets drawn fresh from the true distribution,
one model per set, predictions on a fixed grid of ``n_test`` points (the midpoints of equal bins of [0, 1],
a quadrature of E_x). With the empirical mean prediction and the variance across data sets taken with
ddof = 0, bias^2 + variance equals the mean of (h_D(x) - f(x))^2 over data sets and x exactly (an identity).
The measured error is computed honestly against independent noisy targets y = f(x) + eps, ``noise_draws``
fresh targets per data set and test point, so it matches bias^2 + variance + sigma^2 up to Monte-Carlo
error of order 1 / sqrt(n_datasets * n_test * noise_draws) (0.1 % with the defaults).

Capacity is the polynomial degree (``model="poly"``: least squares in the Legendre basis on t = 2x - 1, a
well-conditioned closed form, with a tiny ridge penalty, see below) or the hidden width of a one-hidden-layer
tanh MLP trained with dlbasics' :func:`~dlbasics.train.loop.fit` (``model="mlp"``: full-batch Adam; slower
and optional). Low capacity
underfits (large bias), high capacity overfits (large variance): the total error is U-shaped.

Why the ridge: with random x, a training set now and then leaves a gap at an edge of [0, 1], and a plain
least-squares polynomial of degree >= 8 on 30 points extrapolates into it by orders of magnitude. The
expected error is then dominated by such rare data sets (one set in a hundred gives 99 % of the mean at
degree 12), so a hundred data sets do not estimate it, and the empirical bias^2 inherits the noise of the
mean prediction (it is biased upward by variance / n_datasets). A penalty ``ridge`` * sum_{k>=1} c_k^2 on the
mean squared error (the constant term is free; default 1e-4) changes the expected error of degrees <= 4 by
under 1 % (degree 5: 6 %, degree 6: 25 %, as their tails start) and tames the tail, so the classic picture
appears with numbers that are stable across seeds. ``ridge=0`` is plain least squares (try it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..rng import stream

MODELS = ("poly", "mlp")
#: the polynomial's default penalty on the non-constant Legendre coefficients (see the module docstring)
RIDGE = 1e-4
#: the MLP's training: full-batch Adam on the few training points
MLP_EPOCHS, MLP_LR = 400, 0.03


def true_function(x: np.ndarray) -> np.ndarray:
    """The known truth f(x) = sin(2 pi x) on [0, 1]."""
    return np.sin(2 * np.pi * x)


def sample(rng: np.random.Generator, n: int, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """n pairs from the true distribution: x ~ U(0, 1), y = f(x) + N(0, noise^2). Both (n,)."""
    x = rng.uniform(0.0, 1.0, n)
    return x, true_function(x) + noise * rng.standard_normal(n)


def eval_grid(n: int) -> np.ndarray:
    """The fixed test inputs: midpoints of n equal bins of [0, 1] (their mean approximates E over x ~ U(0, 1))."""
    return (np.arange(n) + 0.5) / n


def _basis(x: np.ndarray, degree: int) -> np.ndarray:
    """Legendre polynomials P_0 .. P_degree of t = 2x - 1 in [-1, 1]: (n, degree + 1), well conditioned."""
    return np.polynomial.legendre.legvander(2.0 * x - 1.0, degree)


def poly_fit_predict(degree: int, x: np.ndarray, y: np.ndarray, *evals: np.ndarray,
                     ridge: float = RIDGE) -> list[np.ndarray]:
    """Polynomial of ``degree`` fitted to (x, y) by least squares; its values at each array of ``evals``.

    Minimises mean (p(x) - y)^2 + ridge * sum_{k>=1} c_k^2 over the Legendre coefficients c (closed form:
    ``lstsq`` on the basis stacked over sqrt(n ridge) I). With ridge = 0 and fewer points than coefficients
    ``lstsq`` returns the minimum-norm interpolant.
    """
    a = _basis(x, degree)
    if ridge > 0 and degree > 0:
        a = np.vstack([a, np.sqrt(ridge * len(x)) * np.eye(degree + 1)[1:]])
        y = np.concatenate([y, np.zeros(degree)])
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    return [_basis(e, degree) @ coef for e in evals]


def mlp_fit_predict(width: int, x: np.ndarray, y: np.ndarray, *evals: np.ndarray, seed: Sequence[int] = (0,),
                    epochs: int | None = None, lr: float | None = None) -> list[np.ndarray]:
    """A 1 -> width (tanh) -> 1 dlbasics MLP trained full batch with Adam on (2x - 1, y); its values at ``evals``.

    Xavier-normal weights from ``seed``; ``epochs`` and ``lr`` default to MLP_EPOCHS and MLP_LR. At this short
    training the variance hardly grows with the width (the training length limits the capacity as much as
    the width does); train for thousands of epochs and the wider nets start to fit the noise.
    """
    from ..nn.losses import MSELoss
    from ..nn.model import Sequential
    from ..nn.registry import mlp_layers
    from ..optim.optimizers import Adam
    from ..train.loop import fit, predict

    rng = np.random.default_rng(list(seed))
    model = Sequential(mlp_layers([width], 1, "tanh", "xavier_normal", flatten=False))
    model.build((1,), rng, np.float64)
    xs = (2.0 * x - 1.0)[:, None]
    epochs = MLP_EPOCHS if epochs is None else epochs
    lr = MLP_LR if lr is None else lr
    fit(model, MSELoss(), Adam(model.parameters(), lr=lr), xs, y[:, None], epochs=epochs, batch_size=len(x),
        rng=rng)
    return [predict(model, (2.0 * e - 1.0)[:, None])[:, 0] for e in evals]


def fit_predict(model: str, capacity: int, x: np.ndarray, y: np.ndarray, *evals: np.ndarray,
                seed: Sequence[int] = (0,), ridge: float = RIDGE) -> list[np.ndarray]:
    """Train ``model`` ("poly" or "mlp") of ``capacity`` on (x, y); predictions at each array of ``evals``.

    ``ridge``: the polynomial's penalty (the MLP ignores it); ``seed``: the MLP's initial weights.
    """
    if model == "poly":
        return poly_fit_predict(capacity, x, y, *evals, ridge=ridge)
    if model == "mlp":
        return mlp_fit_predict(capacity, x, y, *evals, seed=seed)
    raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}")


def _check(capacities: Sequence[int], model: str, noise: float, n_datasets: int, ridge: float = 0.0) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}")
    if not capacities or min(capacities) < 1:
        raise ValueError("capacities must be integers >= 1")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if n_datasets < 2:
        raise ValueError(f"need at least 2 data sets for a variance, got {n_datasets}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")


def decompose(capacities: Sequence[int], n_datasets: int = 100, n_train: int = 30, n_test: int = 200,
              noise: float = 0.3, seed: int = 0, model: str = "poly",
              noise_draws: int = 50, ridge: float = RIDGE) -> list[dict[str, Any]]:
    """Estimate bias^2, variance and noise for each capacity, and the measured expected squared error.

    The same ``n_datasets`` training sets (drawn from the seed) serve every capacity, so the curves differ
    only through the capacity. Returns one row per capacity:

    - ``bias2``: mean over test x of (mean prediction - f(x))^2;
    - ``variance``: mean over test x of the variance of the predictions across data sets (ddof 0);
    - ``noise``: sigma^2 (the analytic noise variance);
    - ``total``: bias2 + variance + noise;
    - ``measured``: mean over data sets, test x and ``noise_draws`` independent noisy targets of
      (prediction - y)^2, y = f(x) + eps: agrees with ``total`` to Monte-Carlo precision;
    - ``train_error``: mean training MSE (falls with capacity while ``measured`` turns up: overfitting).

    ``noise_draws``: noisy targets per data set and test point for ``measured``; ``ridge``: the polynomial's
    penalty (module docstring).
    """
    capacities = [int(c) for c in capacities]
    _check(capacities, model, noise, n_datasets, ridge)
    data_rng = stream(seed, "bias-variance-data")
    sets = [sample(data_rng, n_train, noise) for _ in range(n_datasets)]
    x_test = eval_grid(n_test)
    f_test = true_function(x_test)
    preds = np.empty((len(capacities), n_datasets, n_test))
    train_err = np.empty(len(capacities))
    for c, cap in enumerate(capacities):
        errs = []
        for d, (x, y) in enumerate(sets):
            p_train, preds[c, d] = fit_predict(model, cap, x, y, x, x_test, seed=(seed, d, cap), ridge=ridge)
            errs.append(np.mean((p_train - y) ** 2))
        train_err[c] = np.mean(errs)
    # the measured error against independent noisy targets, accumulated one draw of targets at a time
    noise_rng = stream(seed, "bias-variance-test-noise")
    sq = np.zeros(len(capacities))
    for _ in range(noise_draws):
        y_test = f_test + noise * noise_rng.standard_normal((n_datasets, n_test))
        sq += np.mean((preds - y_test) ** 2, axis=(1, 2))
    measured = sq / noise_draws
    rows = []
    for c, cap in enumerate(capacities):
        mean_pred = preds[c].mean(axis=0)
        bias2 = float(np.mean((mean_pred - f_test) ** 2))
        variance = float(np.mean(preds[c].var(axis=0)))
        rows.append({"capacity": cap, "bias2": bias2, "variance": variance, "noise": noise**2,
                     "total": bias2 + variance + noise**2, "measured": float(measured[c]),
                     "train_error": float(train_err[c])})
    return rows


def learning_curve(sizes: Sequence[int], capacity: int, n_datasets: int = 50, n_test: int = 200,
                   noise: float = 0.3, seed: int = 0, model: str = "poly",
                   ridge: float = RIDGE) -> list[dict[str, Any]]:
    """Training and validation error against the training-set size for one capacity, averaged over data sets.

    For each size, ``n_datasets`` training sets and, for each, a fresh validation set of ``n_test`` noisy
    pairs from the same distribution. The training error rises toward the noise level as the model can no
    longer fit every point; the validation error falls toward bias^2 + noise. A large final gap means high
    variance (overfitting; more data helps), two curves meeting high above the noise mean high bias
    (underfitting; more data does not help). Rows: capacity, size, train_error, val_error, noise.
    """
    _check([capacity], model, noise, n_datasets, ridge)
    rows = []
    for size in sizes:
        rng = stream(seed, f"learning-curve-{int(size)}")
        train, val = [], []
        for d in range(n_datasets):
            x, y = sample(rng, int(size), noise)
            xv, yv = sample(rng, n_test, noise)
            p_train, p_val = fit_predict(model, capacity, x, y, x, xv, seed=(seed, d, capacity, int(size)),
                                         ridge=ridge)
            train.append(np.mean((p_train - y) ** 2))
            val.append(np.mean((p_val - yv) ** 2))
        rows.append({"capacity": capacity, "size": int(size), "train_error": float(np.mean(train)),
                     "val_error": float(np.mean(val)), "noise": noise**2})
    return rows


def best_capacity(rows: Sequence[dict[str, Any]], key: str = "total") -> int:
    """The capacity with the smallest ``key`` (the bottom of the U)."""
    return int(min(rows, key=lambda r: r[key])["capacity"])
