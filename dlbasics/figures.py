"""`make figures`: regenerate every teaching figure of the course into docs/figures/ and index them in docs/gallery.md.

Each :class:`Figure` is made by the `dlb` commands a user would type (shown beside it in the gallery), run as
real processes from the repository root on offline data (mnist-mini and the synthetic sets), each into a
temporary runs folder; the PNG the command wrote is copied to ``docs/figures/<name>.png``. A command may use
``{run}``: the folder of the previous command's run (read from its ``--json`` result). Each figure is meant to
take under ``BUDGET_S`` (a minute on 2 idle cores): its wall and CPU seconds are printed and one over budget is
flagged; ``--limit`` (default ``LIMIT_S``) stops a hung command. A figure that fails is reported, the others
still run, and the exit code says so. The gallery groups the figures by course topic, in the order of ../SYLLABUS.md.

    python -m dlbasics.figures [--only NAME[,NAME...]] [--out docs] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BUDGET_S = 60.0
LIMIT_S = 600.0


@dataclass(frozen=True)
class Figure:
    """One gallery entry: ``commands`` (as typed, starting with ``dlb``) make ``png`` (a file name or glob
    inside the last command's run folder, searched recursively); it is kept as docs/figures/<name>.png."""

    name: str
    topic: str
    title: str
    caption: str
    commands: tuple[str, ...]
    png: str


TOPICS = (
    "Generalization: under- and overfitting",
    "Splits and cross-validation",
    "Bias-variance, bootstrap, bagging and boosting",
    "Gradient descent and batch size",
    "Optimizers",
    "Learning-rate schedules",
    "Losses",
    "Regularization and augmentation",
    "Weight initialisation and vanishing gradients",
    "Convolutional networks",
    "Evaluating a model",
)

G, CV, BV, GD, OPT, LR, LOSS, REG, INIT, CNN, EVAL = TOPICS

FIGURES: tuple[Figure, ...] = (
    Figure("train-curves", G, "Training and validation curves of one run",
           "The quickstart MLP on mnist-mini: loss per epoch for the training and validation splits; the gap "
           "between them is the generalization gap.",
           ("dlb train configs/quickstart.yaml",), "loss.png"),
    Figure("regularization-compare", REG, "Regularization against an overfitting baseline",
           "1,000 training images, a wide MLP, 30 epochs (the configs' 60 halved to stay under a minute): each "
           "config of configs/regularization/ changes one thing "
           "(L2, dropout, early stopping, augmentation, label smoothing, mixup) against the baseline that "
           "reaches 100 % training accuracy.",
           ("dlb compare configs/regularization/none.yaml configs/regularization/l2.yaml "
            "configs/regularization/dropout.yaml configs/regularization/early_stopping.yaml "
            "configs/regularization/augmentation.yaml configs/regularization/label_smoothing.yaml "
            "configs/regularization/mixup.yaml --set train.epochs=30 --no-report",), "loss_vs_epoch.png"),
    Figure("bias-variance", BV, "Bias-variance decomposition against polynomial degree",
           "bias^2 + variance + noise measured on y = sin(2 pi x) + noise over 100 training sets per degree: "
           "the U-shaped expected error.",
           ("dlb bias-variance",), "bias_variance.png"),
    Figure("learning-curve", G, "Learning curves against training-set size",
           "Training and test error of the lowest, best and highest capacity as the training set grows.",
           ("dlb bias-variance",), "learning_curve.png"),
    Figure("cv-folds", CV, "Five-fold cross-validation: per-fold results",
           "The quickstart config cross-validated in 5 folds (3 epochs each): each fold's held-out accuracy, "
           "the mean and its 95 % t-interval.",
           ("dlb cv configs/quickstart.yaml --kfold 5 --set train.epochs=3 --no-report",), "folds.png"),
    Figure("boosting", BV, "AdaBoost vs bagged stumps vs one stump",
           "Accuracy against the number of estimators on two moons: boosting lowers the bias of a stump, "
           "bagging only its variance.",
           ("dlb boosting",), "boosting.png"),
    Figure("boosting-regions", BV, "Decision regions of boosting and bagging",
           "The decision regions of one stump, 100 bagged stumps and AdaBoost with 100 stumps.",
           ("dlb boosting",), "boosting_regions.png"),
    Figure("optimizers-rosenbrock", OPT, "Optimizers on the Rosenbrock valley",
           "SGD, momentum, Nesterov, Adagrad, RMSprop and Adam from the same start, over the contours.",
           ("dlb playground rosenbrock",), "rosenbrock_trajectories.png"),
    Figure("optimizers-ill-conditioned", OPT, "Optimizers on an ill-conditioned quadratic",
           "Why momentum helps: SGD zig-zags across the narrow valley, momentum and the adaptive methods do not.",
           ("dlb playground ill_conditioned",), "ill_conditioned_trajectories.png"),
    Figure("optimizers-saddle", OPT, "Optimizers at a saddle point",
           "Which optimizers leave the saddle, and how fast.",
           ("dlb playground saddle",), "saddle_trajectories.png"),
    Figure("optimizers-linear-regression", OPT, "The assignment: linear regression in (w, b) space",
           "y = 4x - 2 + noise: each optimizer's path in the (w, b) plane over the MSE contours.",
           ("dlb playground regression",), "regression_trajectories.png"),
    Figure("optimizers-mnist", OPT, "Seven optimizers on mnist-mini",
           "Validation loss per epoch of the same network, the same initial weights and the same batches "
           "under each optimizer with its default learning rate.",
           ("dlb compare configs/quickstart.yaml --optimizers sgd,momentum,nesterov,adagrad,adadelta,rmsprop,adam "
            "--set train.epochs=3 --no-report",), "loss_vs_epoch.png"),
    Figure("schedule-onecycle", LR, "The 1cycle schedule",
           "Learning rate and momentum over a run under 1cycle (Smith): warm-up, annealing and the inverse "
           "momentum cycle.",
           ("dlb schedule configs/quickstart.yaml --set schedule.name=onecycle",), "schedule.png"),
    Figure("schedule-exponential", LR, "Exponential decay",
           "lr_t = lr_0 * gamma^t, stepped per epoch.",
           ("dlb schedule configs/quickstart.yaml --set schedule.name=exponential --set schedule.gamma=0.7",),
           "schedule.png"),
    Figure("schedule-cosine-restarts", LR, "Cosine annealing with warm restarts",
           "SGDR: cosine cycles that restart at the initial learning rate.",
           ("dlb schedule configs/quickstart.yaml --set schedule.name=cosine_restarts",), "schedule.png"),
    Figure("init-activations", INIT, "Activations by layer under each initialisation",
           "Standard deviation of each layer's activations for zeros, uniform, normal(1), normal(0.01), "
           "Xavier and He, with sigmoid, tanh and ReLU: what collapses and what saturates.",
           ("dlb init-study",), "activation_std_by_layer.png"),
    Figure("init-gradients", INIT, "Gradients by layer under each initialisation",
           "Spread of the backpropagated gradient per layer: vanishing under sigmoid, kept by He with ReLU.",
           ("dlb init-study",), "gradient_std_by_layer.png"),
    Figure("init-sigmoid-histograms", INIT, "Sigmoid activations saturating",
           "Histograms of the activations of each layer of a sigmoid network per initialisation.",
           ("dlb init-study",), "activations_sigmoid.png"),
    Figure("fit-study-fits", G, "Under-, good and over-fitting: polynomial degree 1, 3 and 12",
           "Exact least-squares polynomials fitted to 15 noisy samples of sin(2 pi x), scored on 100 fresh "
           "validation samples: degree 1 cannot bend, degree 3 follows the sine, degree 12 threads the training "
           "points and swings between them.",
           ("dlb fit-study",), "fits.png"),
    Figure("fit-study-error-curve", G, "Training and validation error against degree",
           "Training error falls with every degree; validation error is U-shaped, lowest near the noise variance.",
           ("dlb fit-study",), "error_vs_degree.png"),
    Figure("cv-fold-map-kfold", CV, "Which samples train, validate and are held out: stratified k-fold",
           "Five stratified folds of mnist-mini's 10,000 training images, a row per fold: each fold's held-out "
           "fifth is scattered over the set, and its validation split is cut from its own training part.",
           ("dlb cv configs/quickstart.yaml --kfold 5 --plot-folds",), "fold_map.png"),
    Figure("cv-fold-map-timeseries", CV, "Time-series cross-validation with a gap",
           "Forward chaining on the sine series: each fold trains on the past, validates on its last stretch, "
           "drops a gap of 25 samples and is tested on the next block; later blocks are unused.",
           ("dlb cv configs/quickstart.yaml --plot-folds --set data.name=sine --set loss.name=mse "
            "--set cv.strategy=timeseries --set cv.k=4 --set cv.gap=25",), "fold_map.png"),
    Figure("batch-size-interpolation", GD, "Sharp and flat minima: between a small- and a large-batch solution",
           "Keskar et al.'s figure on mnist-mini (2,000 training images): training and test loss and accuracy "
           "along (1 - a) theta(batch 16) + a theta(batch 1024), a from -0.5 to 1.5, from the same initial "
           "weights; the loss rises faster beyond the large-batch solution.",
           ("dlb batch-study configs/quickstart.yaml --batch-sizes 16,1024 --seeds 1 --epochs-for 1024=40 "
            "--set data.train_size=2000 --sharpness-samples 1000 --no-report",), "interpolation.png"),
    Figure("batch-size-sharpness", GD, "Sharpness against batch size",
           "The largest Hessian eigenvalue (power iteration on Hessian-vector products) and Keskar's "
           "epsilon-sharpness of the training loss at each batch size's solution.",
           ("dlb batch-study configs/quickstart.yaml --batch-sizes 16,1024 --seeds 1 --epochs-for 1024=40 "
            "--set data.train_size=2000 --sharpness-samples 1000 --no-report",), "sharpness.png"),
    Figure("sgd-noise-double-well", GD, "Mini-batch noise escaping a local minimum",
           "A double well whose 200 samples each tilt it: from the same start, full-batch gradient descent "
           "settles in the shallow minimum, SGD with batches of 4 hops the barrier into the deep one.",
           ("dlb playground double_well --optimizers sgd,momentum,adam --lr sgd=0.05,momentum=0.01,adam=0.05 "
            "--batch-size 4",), "double_well_minibatch.png"),
    Figure("sgd-batch-sizes-double-well", GD, "Batch, mini-batch and stochastic gradient descent",
           "SGD at lr 0.05 from the same start with the full batch (black) and batches of 32, 4 and 1 of the "
           "double well's 200 samples: the full batch and 32 settle in the shallow minimum, 4 hops into the deep "
           "one, 1 wanders over both.",
           ("dlb playground double_well --optimizers sgd --lr 0.05 --batch-size 1,4,32",),
           "double_well_minibatch.png"),
    Figure("sgd-noise-camel", GD, "Mini-batch against full-batch paths on the six-hump camel",
           "Two global and four local minima: full-batch SGD and Adam stop in the shallow basin they start in "
           "(f = 2.104), momentum's speed carries it to a global minimum; SGD with batches of 4 crosses basins "
           "and ends in a global one.",
           ("dlb playground camel --optimizers sgd,momentum,adam --lr sgd=0.05,momentum=0.01,adam=0.05 "
            "--batch-size 4",), "camel_minibatch.png"),
    Figure("lr-find", LR, "The learning-rate range test",
           "The lr grows exponentially from 1e-7 to 10 over at most 100 batches of the quickstart config; the "
           "smoothed loss against lr with the valley, steepest-descent and minimum / 10 readings: the valley "
           "is 1cycle's max_lr.",
           ("dlb lr-find configs/quickstart.yaml",), "lr_find.png"),
    Figure("robust-regression-mse", LOSS, "MSE pulled by outliers",
           "y = 4x - 2 + noise with 20 % of the training targets shifted by +20: the MSE fit's test residuals "
           "sit about fraction x magnitude = 4 below zero (configs/robust_regression/).",
           ("dlb compare configs/robust_regression/huber.yaml configs/robust_regression/mae.yaml "
            "configs/robust_regression/mse.yaml configs/robust_regression/power.yaml --no-report",),
           "*mse/evaluation/residuals.png"),
    Figure("robust-regression-mae", LOSS, "MAE robust to the same outliers",
           "The same data under MAE: the median is not moved by a fifth of the targets, the residuals centre "
           "on zero.",
           ("dlb compare configs/robust_regression/huber.yaml configs/robust_regression/mae.yaml "
            "configs/robust_regression/mse.yaml configs/robust_regression/power.yaml --no-report",),
           "*mae/evaluation/residuals.png"),
    Figure("diagnostics-deep-sigmoid", INIT, "Vanishing gradients during training: a deep sigmoid net",
           "train.diagnostics on 10 sigmoid layers: per layer and epoch the activation mean and std, gradient "
           "norm and update-to-weight ratio; the first layer's gradient stays about 1e5 times below the last's.",
           ("dlb train configs/diagnostics/deep_sigmoid.yaml",), "diagnostics.png"),
    Figure("diagnostics-deep-relu", INIT, "The same depth with ReLU and He initialisation",
           "The same diagnostics for ReLU layers with He initialisation: gradient norms within a factor of "
           "about 8 across depth, dead-unit fractions small.",
           ("dlb train configs/diagnostics/deep_relu.yaml",), "diagnostics.png"),
    Figure("cnn-kernels", CNN, "The first convolution's learned kernels",
           "The 32 3x3 kernels of configs/mnist_cnn.yaml's first layer after one epoch on mnist-mini (red "
           "positive, blue negative): edge and stroke detectors.",
           ("dlb train configs/mnist_cnn.yaml --set data.name=mnist-mini --set train.epochs=1",
            "dlb features {run} --kernels blur,sobel_x,sobel_y,sharpen"), "kernels.png"),
    Figure("cnn-feature-maps", CNN, "Feature maps of the first convolution for one digit",
           "The 32 maps of the first conv layer for one test digit: each highlights one edge direction or stroke.",
           ("dlb train configs/mnist_cnn.yaml --set data.name=mnist-mini --set train.epochs=1",
            "dlb features {run} --kernels blur,sobel_x,sobel_y,sharpen"), "maps_0.png"),
    Figure("cnn-classic-filters", CNN, "Convolution as a filter: blur, Sobel and sharpen",
           "Fixed 3x3 kernels applied to the same digit as a 'valid' convolution (28x28 -> 26x26).",
           ("dlb train configs/mnist_cnn.yaml --set data.name=mnist-mini --set train.epochs=1",
            "dlb features {run} --kernels blur,sobel_x,sobel_y,sharpen"), "filters.png"),
    Figure("confusion-matrix", EVAL, "Confusion matrix of a trained model",
           "The quickstart MLP's test-set confusion matrix (rows: true digit, columns: predicted).",
           ("dlb train configs/quickstart.yaml", "dlb evaluate {run}"), "confusion*.png"),
)


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def by_name() -> dict[str, Figure]:
    return {f.name: f for f in FIGURES}


def _run(command: str, runs_dir: Path, previous: str | None, cwd: Path, deadline: float) -> dict:
    """Run one `dlb` command line as a real process with --json into ``runs_dir``; return its JSON result."""
    args = shlex.split(command.replace("{run}", previous or "{run}"))
    if args[0] != "dlb":
        raise ValueError(f"figure commands start with 'dlb', got {command!r}")
    argv = [sys.executable, "-m", "dlbasics", *args[1:], "--runs-dir", str(runs_dir), "--json"]
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "100"}
    env.pop("DLB_RUNS_DIR", None)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=max(1.0, deadline - time.monotonic()))
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"`{command}` exited {proc.returncode}: {last[0]}")
    return json.loads(proc.stdout)


def run_commands(commands: tuple[str, ...], runs: Path, root: Path, limit: float = LIMIT_S) -> Path:
    """Run a figure's commands in order into ``runs``; return the last run's folder (``runs`` if none is named)."""
    t0, previous, result = time.monotonic(), None, {}
    for command in commands:
        result = _run(command, runs, previous, root, t0 + limit)
        previous = result.get("path") or previous
    return Path(result.get("path") or runs)


def copy_png(figure: Figure, folder: Path, out_dir: Path) -> Path:
    """Copy the figure's PNG from ``folder`` to ``out_dir/<name>.png`` (atomically); return the new path."""
    found = sorted(folder.rglob(figure.png))
    if not found:
        raise RuntimeError(f"no {figure.png} in {folder.name} after `{figure.commands[-1]}`")
    out_dir.mkdir(parents=True, exist_ok=True)
    part, target = out_dir / f".{figure.name}.png.part", out_dir / f"{figure.name}.png"
    shutil.copyfile(found[0], part)
    os.replace(part, target)
    return target


def gallery(figures: tuple[Figure, ...] = FIGURES) -> str:
    """docs/gallery.md: the figures grouped by course topic, each with the commands that make it."""
    lines = ["# Gallery: the course's figures, each with the command that makes it", "",
             "Regenerate them all with `make figures` (each under a minute on 2 cores, on offline data). Run the "
             "commands from the repository root: each writes a run folder under runs/ that holds the PNG.", ""]
    for topic in TOPICS:
        members = [f for f in figures if f.topic == topic]
        if not members:
            continue
        lines += [f"## {topic}", ""]
        for f in members:
            lines += [f"### {f.title}", "", f.caption, "", "```sh", *f.commands, "```", "",
                      f"![{f.title}](figures/{f.name}.png)", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated figure names (default: all)")
    parser.add_argument("--out", default="docs", help="folder of gallery.md; figures go to OUT/figures")
    parser.add_argument("--list", action="store_true", help="list the figures and their commands; make nothing")
    parser.add_argument("--limit", type=float, default=LIMIT_S,
                        help="seconds after which a figure's commands are stopped")
    args = parser.parse_args(argv)
    figures = FIGURES
    if args.only:
        known, wanted = by_name(), [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            print(f"--only: unknown figure {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
            return 2
        figures = tuple(known[n] for n in wanted)
    if args.list:
        for f in figures:
            print(f"{f.name:<30} {' && '.join(f.commands)}")
        return 0
    root, out = Path.cwd(), Path(args.out)
    failed, t_all = [], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlb-figures-") as tmp:
        made: dict[tuple[str, ...], tuple[Path, float]] = {}  # figures made by the same commands share one run
        for f in figures:
            try:
                if f.commands not in made:
                    t0, cpu0 = time.monotonic(), _children_cpu()
                    folder = run_commands(f.commands, Path(tmp) / f"runs{len(made)}", root, args.limit)
                    made[f.commands] = folder, time.monotonic() - t0, _children_cpu() - cpu0
                folder, wall, cpu = made[f.commands]
                target = copy_png(f, folder, out / "figures")
                flag = f"  (over {BUDGET_S:.0f} s)" if wall > BUDGET_S else ""
                print(f"  {f.name:<32} {wall:5.1f} s wall {cpu:5.1f} s cpu  {target}{flag}", flush=True)
            except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                reason = f"over {args.limit:.0f} s" if isinstance(exc, subprocess.TimeoutExpired) else str(exc)
                failed.append(f.name)
                print(f"  {f.name:<32} FAILED: {reason}", flush=True)
    summary = f"{len(figures) - len(failed)} of {len(figures)} figures in {time.monotonic() - t_all:.0f} s"
    if not args.only:
        part = out / ".gallery.md.part"
        part.write_text(gallery(FIGURES), encoding="utf-8")
        os.replace(part, out / "gallery.md")
        summary += f"; index {out / 'gallery.md'}"
    print(summary + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
