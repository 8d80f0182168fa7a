"""Boosting vs bagging with decision stumps on the 2-D synthetic sets (moons, spirals).

A decision stump is the weakest useful classifier: one feature, one threshold, one class on each side.
Alone it cannot draw the curved boundary of the moons. Two ways of combining many of them:

- **Boosting** (AdaBoost; here SAMME, Zhu, Zou, Rosset & Hastie 2009, the multi-class version): *sequential*.
  Each stump is fitted to a reweighted training set in which the samples the previous stumps got wrong
  weigh more. With weights w (summing to 1) and the stump's weighted error err, its vote weight is

      alpha = log((1 - err) / err) + log(K - 1)

  (positive whenever err < 1 - 1/K, i.e. better than guessing among K classes; for K = 2 this is
  AdaBoost.M1), and every misclassified sample's weight is multiplied by exp(alpha) before renormalising.
  The ensemble predicts argmax_k sum_m alpha_m [h_m(x) = k]. Boosting reduces *bias*: the weighted sum of
  stumps draws boundaries no single stump can.
- **Bagging** (bootstrap aggregating, Breiman 1996): *parallel*. Each stump is fitted to a bootstrap resample
  (n draws with replacement) and the ensemble takes the majority vote. Averaging reduces *variance*, not
  bias: every stump sees nearly the same data and picks nearly the same split, so bagged stumps stay about
  as weak as one stump. (Bagging shines with high-variance learners such as deep trees.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..rng import stream

DATA = ("moons", "spirals")
#: generator parameters of the demo's data sets (noisier than the defaults, so nothing is perfectly separable)
DATA_PARAMS: dict[str, dict[str, Any]] = {"moons": {"noise": 0.25}, "spirals": {"noise": 0.2}}


@dataclass
class Stumps:
    """An ensemble of decision stumps with vote weights.

    Stump m predicts ``left[m]`` where ``x[:, feature[m]] <= threshold[m]``, else ``right[m]``. The ensemble
    predicts argmax_k sum_m alpha[m] [stump m predicts k]. ``errors[m]``: the weighted training error of
    stump m under the sample weights it was fitted to (for bagging: on its bootstrap resample).
    """

    n_classes: int
    kind: str = "adaboost"  # adaboost | bagging | stump
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    alpha: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.alpha)

    def add(self, stump: tuple[int, float, int, int], alpha: float, error: float) -> None:
        j, t, lft, rgt = stump
        self.feature.append(j)
        self.threshold.append(t)
        self.left.append(lft)
        self.right.append(rgt)
        self.alpha.append(float(alpha))
        self.errors.append(float(error))


def fit_stump(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int) -> tuple[int, float, int, int]:
    """The stump (feature, threshold, left class, right class) with the smallest weighted error sum w [wrong].

    Vectorised: for every feature the samples are sorted once; cumulative class weights give, for a split
    after each sorted position, the weight of every class on the left and on the right; each side predicts its
    heaviest class. Thresholds are midpoints between consecutive distinct values. If no split beats predicting
    the heaviest class everywhere, that constant (threshold +inf) is returned.
    """
    n = len(y)
    class_w = np.zeros((n, n_classes))
    class_w[np.arange(n), y] = w
    total = class_w.sum(axis=0)
    order = np.argsort(x, axis=0, kind="stable")  # (n, features)
    xs = np.take_along_axis(x, order, axis=0)
    cum = np.cumsum(class_w[order], axis=0)[:-1]  # (n - 1, features, K): weight per class left of each split
    right = total - cum
    correct = cum.max(axis=-1) + right.max(axis=-1)
    correct = np.where(xs[1:] > xs[:-1], correct, -np.inf)  # only between distinct values
    best = int(np.argmax(correct))
    i, j = np.unravel_index(best, correct.shape)
    const = int(np.argmax(total))
    if not np.isfinite(correct[i, j]) or correct[i, j] <= total[const]:
        return 0, float("inf"), const, const
    return (int(j), float((xs[i, j] + xs[i + 1, j]) / 2), int(np.argmax(cum[i, j])), int(np.argmax(right[i, j])))


def stump_predict(stump: tuple[int, float, int, int], x: np.ndarray) -> np.ndarray:
    j, t, lft, rgt = stump
    return np.where(x[:, j] <= t, lft, rgt)


def _stump_outputs(model: Stumps, x: np.ndarray) -> np.ndarray:
    """(n_stumps, N) class predicted by each stump."""
    feats = np.asarray(model.feature, dtype=int)
    below = np.less_equal(x[:, feats].T, np.asarray(model.threshold)[:, None])
    return np.where(below, np.asarray(model.left)[:, None], np.asarray(model.right)[:, None])


def _n_classes(y: np.ndarray, n_classes: int | None) -> int:
    return int(y.max()) + 1 if n_classes is None else n_classes


def adaboost(x: np.ndarray, y: np.ndarray, n_estimators: int, rng: np.random.Generator | None = None,
             n_classes: int | None = None) -> Stumps:
    """SAMME (multi-class AdaBoost) with decision stumps: ``n_estimators`` rounds of reweighting.

    Weights start at 1/n. Each round: fit the stump of least weighted error err; alpha = log((1 - err) / err)
    + log(K - 1); multiply the weights of the samples it gets wrong by exp(alpha); renormalise. Stops early if a
    stump is no better than chance (err >= 1 - 1/K: its alpha would be <= 0) or perfect (err = 0: it is kept
    with err clipped to 1e-10). The fit is deterministic; ``rng`` is accepted for a uniform interface.
    """
    del rng
    k = _n_classes(y, n_classes)
    n = len(y)
    w = np.full(n, 1.0 / n)
    model = Stumps(k, "adaboost")
    for _ in range(n_estimators):
        stump = fit_stump(x, y, w, k)
        miss = stump_predict(stump, x) != y
        err = float(w[miss].sum() / w.sum())
        if err >= 1.0 - 1.0 / k:
            break
        err_c = max(err, 1e-10)
        alpha = np.log((1.0 - err_c) / err_c) + np.log(k - 1)
        model.add(stump, alpha, err)
        if err == 0:
            break
        w = w * np.exp(alpha * miss)
        w /= w.sum()
    return model


def bagging_stumps(x: np.ndarray, y: np.ndarray, n_estimators: int, rng: np.random.Generator,
                   n_classes: int | None = None) -> Stumps:
    """Bagged stumps: each fitted to a bootstrap resample (n draws with replacement); equal votes (alpha = 1).

    A resample is the same as integer sample weights (how often each sample was drawn), which is how it is fitted.
    """
    k = _n_classes(y, n_classes)
    n = len(y)
    model = Stumps(k, "bagging")
    for _ in range(n_estimators):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        stump = fit_stump(x, y, counts, k)
        miss = stump_predict(stump, x) != y
        model.add(stump, 1.0, float(counts[miss].sum() / n))
    return model


def single_stump(x: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> Stumps:
    """One stump fitted with equal weights (the weak learner alone)."""
    k = _n_classes(y, n_classes)
    w = np.full(len(y), 1.0 / len(y))
    stump = fit_stump(x, y, w, k)
    model = Stumps(k, "stump")
    model.add(stump, 1.0, float(np.mean(stump_predict(stump, x) != y)))
    return model


def _staged_votes(model: Stumps, x: np.ndarray) -> np.ndarray:
    """(n_stumps, N, K): the weighted votes after each stump."""
    outputs = _stump_outputs(model, x)
    onehot = outputs[..., None] == np.arange(model.n_classes)
    return np.cumsum(np.asarray(model.alpha)[:, None, None] * onehot, axis=0)


def predict(model: Stumps, x: np.ndarray) -> np.ndarray:
    """Class predictions (N,) of the whole ensemble: argmax of the alpha-weighted votes (ties: lowest class)."""
    outputs = _stump_outputs(model, x)
    votes = np.zeros((len(x), model.n_classes))
    for m, alpha in enumerate(model.alpha):
        votes[np.arange(len(x)), outputs[m]] += alpha
    return votes.argmax(axis=1)


def staged_accuracy(model: Stumps, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Accuracy of the ensemble of the first m stumps, for m = 1 .. len(model): shape (len(model),)."""
    return (_staged_votes(model, x).argmax(axis=2) == y).mean(axis=1)


def accuracy(model: Stumps, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(model, x) == y))


@dataclass
class BoostingDemo:
    """What :func:`run_demo` returns: per-round rows, the three models and the data they saw."""

    rows: list[dict[str, Any]]
    models: dict[str, Stumps]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    final: dict[str, dict[str, float]]


def run_demo(data: str = "moons", n_estimators: int = 100, seed: int = 0, n_train: int = 500,
             n_test: int = 1000) -> BoostingDemo:
    """AdaBoost vs bagged stumps vs one stump on ``data`` ("moons" or "spirals"; parameters in DATA_PARAMS).

    Rows (one per number of estimators m = 1 .. n_estimators): n_estimators, adaboost_train, adaboost_test,
    bagging_train, bagging_test (AdaBoost may stop early; its last accuracy is carried forward).
    ``final``: train and test accuracy of each model with all its estimators.
    """
    from ..data import load_dataset

    if data not in DATA:
        raise ValueError(f"unknown data set {data!r}; one of {', '.join(DATA)}")
    ds = load_dataset(data, stream(seed, "boosting-data"), progress=False, n_train=n_train, n_test=n_test,
                      **DATA_PARAMS[data])
    xtr, ytr, xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    k = ds.n_classes
    models = {"adaboost": adaboost(xtr, ytr, n_estimators, n_classes=k),
              "bagging": bagging_stumps(xtr, ytr, n_estimators, stream(seed, "boosting-bootstrap"), n_classes=k),
              "stump": single_stump(xtr, ytr, n_classes=k)}

    def staged(model: Stumps, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        acc = staged_accuracy(model, x, y)
        return np.concatenate([acc, np.full(n_estimators - len(acc), acc[-1])])

    cols = {f"{name}_{split}": staged(models[name], x, y) for name in ("adaboost", "bagging")
            for split, x, y in (("train", xtr, ytr), ("test", xte, yte))}
    rows = [{"n_estimators": m + 1, **{c: float(v[m]) for c, v in cols.items()}} for m in range(n_estimators)]
    final = {name: {"train": accuracy(model, xtr, ytr), "test": accuracy(model, xte, yte),
                    "estimators": len(model)} for name, model in models.items()}
    return BoostingDemo(rows, models, xtr, ytr, xte, yte, final)
