"""`dlb bias-variance` and `dlb boosting`: the generalization lecture's experiments (registered in main.py)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors
from .tables import Col, FitTable, num

#: training-set sizes of the learning curves
LEARNING_CURVE_SIZES = (5, 10, 15, 20, 30, 50, 100, 200, 500)


def parse_capacities(text: str) -> list[int]:
    """ "1,2,3" -> [1, 2, 3]: positive integers, each once, sorted; anything else is a one-line usage error."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise fail(f"--capacities {text!r}: give a comma-separated list of integers such as 1,2,3,5,8", EXIT_USAGE)
    try:
        values = [int(t) for t in items]
    except ValueError:
        raise fail(f"--capacities {text!r}: expected integers such as 1,2,3,5,8", EXIT_USAGE) from None
    if min(values) < 1:
        raise fail(f"--capacities {text!r}: every capacity must be >= 1", EXIT_USAGE)
    return sorted(set(values))


def bias_variance(
    model: Annotated[str, typer.Option(help="poly (least-squares polynomial, capacity = degree) or mlp "
                                            "(1-hidden-layer tanh net trained with Adam, capacity = width; "
                                            "slower).")] = "poly",
    capacities: Annotated[str, typer.Option(help="Comma-separated capacities (integers >= 1).")]
    = "1,2,3,4,5,6,8,10,12",
    datasets: Annotated[int, typer.Option(help="Training sets drawn per capacity (>= 2).")] = 100,
    n_train: Annotated[int, typer.Option(help="Points per training set.")] = 30,
    noise: Annotated[float, typer.Option(help="Noise std sigma of y = sin(2 pi x) + N(0, sigma^2).")] = 0.3,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the training sets and the noise.")] = 0,
    ridge: Annotated[float, typer.Option(help="poly only: penalty on the coefficients that keeps high degrees "
                                             "from rare wild extrapolations; 0 = plain least squares.")] = 1e-4,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Bias-variance decomposition on y = sin(2 pi x) + noise, x ~ U(0, 1), against model capacity.

    For each capacity, one model per freshly drawn training set; bias^2, variance and noise sigma^2 are
    measured on a test grid and their sum is checked against the measured expected squared error. Writes
    bias_variance.csv/png and learning_curve.csv/png (lowest, best and highest capacity) into a run folder.
    """
    from ..experiments.bias_variance import MODELS, best_capacity, decompose, learning_curve

    out = Output(quiet, json_)
    if model not in MODELS:
        raise fail(f"--model {model!r}: one of {', '.join(MODELS)}", EXIT_USAGE)
    caps = parse_capacities(capacities)
    if datasets < 2:
        raise fail(f"--datasets {datasets}: need at least 2 training sets for a variance", EXIT_USAGE)
    if n_train < 2:
        raise fail(f"--n-train {n_train}: need at least 2 points per training set", EXIT_USAGE)
    if not 0 <= noise < math.inf:
        raise fail(f"--noise {noise}: the noise std must be a finite number >= 0", EXIT_USAGE)
    if not 0 <= ridge < math.inf:
        raise fail(f"--ridge {ridge}: the penalty must be a finite number >= 0", EXIT_USAGE)
    with user_errors():
        console = Console(stderr=True, quiet=not out.human)
        console.print(f"bias-variance: {model}, capacities {caps}, {datasets} training sets of {n_train} ...")
        rows = decompose(caps, n_datasets=datasets, n_train=n_train, noise=noise, seed=seed, model=model,
                         ridge=ridge)
        best = best_capacity(rows)
        lc_caps = list(dict.fromkeys([caps[0], best, caps[-1]]))
        lc_rows = []
        for cap in lc_caps:
            lc_rows += learning_curve(LEARNING_CURVE_SIZES, cap,
                                      n_datasets=min(datasets, 50 if model == "poly" else 10), noise=noise,
                                      seed=seed, model=model, ridge=ridge)
        files = write_bias_variance(rows, lc_rows, model, runs_dir, {
            "model": model, "capacities": caps, "datasets": datasets, "n_train": n_train, "noise": noise,
            "seed": seed, "ridge": ridge if model == "poly" else None, "best_capacity": best,
            "learning_curve_capacities": lc_caps})
    worst = max(abs(r["measured"] - r["total"]) / r["total"] for r in rows if r["total"] > 0) if noise > 0 else 0.0
    out.show(bias_variance_table(rows, best),
             f"bias^2 + variance + noise vs measured: largest relative difference {worst:.2%}", f"run folder: {files}")
    out.folder(files)


def write_bias_variance(rows: list[dict[str, Any]], lc_rows: list[dict[str, Any]], model: str,
                        runs_dir: Any, summary: dict[str, Any]) -> Any:
    """bias_variance.csv/png, learning_curve.csv/png and summary.json in a new run folder; returns its path."""
    import pandas as pd

    from ..plots.generalization import plot_bias_variance, plot_learning_curve
    from ..runs.folder import RunFolder, atomic_write

    folder = RunFolder.create(runs_dir, f"bias-variance-{model}")
    atomic_write(folder.path / "bias_variance.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    atomic_write(folder.path / "learning_curve.csv", pd.DataFrame(lc_rows).to_csv(index=False).encode())
    what = "polynomial degree" if model == "poly" else "hidden width"
    folder.save_figure(plot_bias_variance(rows, f"{folder.run_id}\nbias-variance decomposition ({model}: "
                                                f"capacity = {what}, y = sin(2$\\pi$x) + noise)"), "bias_variance.png")
    folder.save_figure(plot_learning_curve(lc_rows, f"{folder.run_id}\nlearning curves ({model}: "
                                                    f"capacity = {what})"),
                       "learning_curve.png")
    files = ["bias_variance.csv", "bias_variance.png", "learning_curve.csv", "learning_curve.png"]
    folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "bias-variance", **summary,
                          "rows": rows, "files": files})
    return folder.path


def bias_variance_table(rows: list[dict[str, Any]], best: int) -> FitTable:
    """Per capacity: bias², variance, noise, their total, the measured error and the training error; the best
    capacity in bold green."""
    def capacity(r: dict[str, Any]) -> Text:
        return Text(str(r["capacity"]), style="bold green" if r["capacity"] == best else "")

    g4 = num(".4g")
    return FitTable([Col("capacity", capacity), *(Col(header, key, fmt=g4) for header, key in (
        ("bias^2", "bias2"), ("variance", "variance"), ("noise", "noise"), ("total", "total"),
        ("measured", "measured"), ("train error", "train_error")))], rows,
        title="bias-variance decomposition (expected squared error on the test grid)")


def boosting(
    data: Annotated[str, typer.Option(help="Data set: moons or spirals.")] = "moons",
    estimators: Annotated[int, typer.Option(help="Boosting rounds = stumps bagged.")] = 100,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data and the bootstrap resamples.")] = 0,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """AdaBoost (SAMME) with decision stumps vs bagged stumps vs one stump on a 2-D synthetic set.

    Boosting fits stumps one after another to reweighted data (bias falls); bagging averages stumps fitted
    to bootstrap resamples (variance falls, the bias of a stump stays). Writes boosting.csv (accuracy after
    each estimator), boosting.png and boosting_regions.png (decision regions) into a run folder.
    """
    from ..experiments.boosting import DATA, DATA_PARAMS, predict, run_demo

    out = Output(quiet, json_)
    if data not in DATA:
        raise fail(f"--data {data!r}: one of {', '.join(DATA)}", EXIT_USAGE)
    if estimators < 1:
        raise fail(f"--estimators {estimators}: need at least 1", EXIT_USAGE)
    with user_errors():
        import pandas as pd

        from ..plots.generalization import plot_boosting, plot_decision_regions
        from ..runs.folder import RunFolder, atomic_write

        demo = run_demo(data, estimators, seed)
        folder = RunFolder.create(runs_dir, f"boosting-{data}")
        atomic_write(folder.path / "boosting.csv", pd.DataFrame(demo.rows).to_csv(index=False).encode())
        col = {k: [r[k] for r in demo.rows] for k in demo.rows[0]}
        folder.save_figure(plot_boosting(col["adaboost_train"], col["adaboost_test"], col["bagging_test"],
                                         stump_acc=demo.final["stump"]["test"], bagging_train=col["bagging_train"],
                                         title=f"{folder.run_id}\nAdaBoost vs bagging, decision stumps on {data}"),
                           "boosting.png")
        names = {"one stump": "stump", f"bagged stumps ({estimators})": "bagging",
                 f"AdaBoost ({len(demo.models['adaboost'])} stumps)": "adaboost"}
        predictors = {label: (lambda x, m=demo.models[key]: predict(m, x)) for label, key in names.items()}
        folder.save_figure(plot_decision_regions(predictors, demo.x_train, demo.y_train,
                                                 title=f"{folder.run_id}: decision regions on {data} "
                                                       "(training points)"),
                           "boosting_regions.png")
        files = ["boosting.csv", "boosting.png", "boosting_regions.png"]
        folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "boosting", "data": data,
                              "data_params": DATA_PARAMS[data], "estimators": estimators, "seed": seed,
                              "n_train": len(demo.y_train), "n_test": len(demo.y_test), "final": demo.final,
                              "files": files})
    out.show(boosting_table(demo.final, f"{data}: accuracy ({len(demo.y_train)} train / {len(demo.y_test)} test "
                                        "points)"), f"run folder: {folder.path}")
    out.folder(folder.path)


def boosting_table(final: dict[str, dict[str, Any]], title: str) -> FitTable:
    """AdaBoost, bagged stumps and one stump: estimators, training and test accuracy."""
    rows = [{"model": label, **final[key]} for label, key in (("AdaBoost (SAMME)", "adaboost"),
                                                              ("bagged stumps", "bagging"), ("one stump", "stump"))]
    f3 = num(".3f")
    return FitTable([Col("model", "model", "id"), Col("estimators", "estimators"),
                     Col("train acc", "train", fmt=f3), Col("test acc", "test", fmt=f3)], rows, title=title)
