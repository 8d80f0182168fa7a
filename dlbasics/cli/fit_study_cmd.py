"""`dlb fit-study`: under-, good and over-fitting by polynomial degree (registered in main.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors
from .tables import Col, FitTable, num


def fit_study(
    degrees: Annotated[str, typer.Option(help="Comma-separated polynomial degrees to draw (integers 0 .. 100).")]
    = "1,3,12",
    n_train: Annotated[int, typer.Option(help="Training points (2 .. 100,000).")] = 15,
    n_val: Annotated[int, typer.Option(help="Validation points (drawn independently; at most 100,000).")] = 100,
    noise: Annotated[float, typer.Option(help="Noise std sigma of y = sin(2 pi x) + N(0, sigma^2).")] = 0.3,
    max_degree: Annotated[int | None, typer.Option(
        help="Last degree of the error curve, at most 100 (default: the largest of --degrees, at least 12).",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the samples.")] = 0,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Under-, good and over-fitting: polynomials of degree 1, 3 and 12 fitted by exact least squares to a few
    noisy samples of sin(2 pi x), with training and validation error.

    Writes fits.png (the fits side by side), error_vs_degree.png (training and validation MSE for degrees
    0 .. --max-degree) and fit_study.csv into runs/<stamp>-fit-study-<hex6>/. A degree is a "good fit" when its
    validation error is within 25 % of the lowest; below the best degree it under-fits, above it over-fits.
    """
    from ..experiments.fit_study import MAX_DEGREE, MAX_POINTS, check
    from ..experiments.fit_study import fit_study as run_study

    out = Output(quiet, json_)
    try:
        chosen = sorted({int(t) for t in degrees.split(",") if t.strip()})
    except ValueError:
        raise fail(f"--degrees {degrees!r}: expected integers such as 1,3,12", EXIT_USAGE) from None
    if not chosen or chosen[0] < 0:
        raise fail(f"--degrees {degrees!r}: give one or more integers >= 0, such as 1,3,12", EXIT_USAGE)
    if chosen[-1] > MAX_DEGREE:
        raise fail(f"--degrees {degrees!r}: degrees up to {MAX_DEGREE}", EXIT_USAGE)
    if max_degree is not None and not 0 <= max_degree <= MAX_DEGREE:
        raise fail(f"--max-degree {max_degree}: must be in 0 .. {MAX_DEGREE}", EXIT_USAGE)
    for option, value, low in (("--n-train", n_train, 2), ("--n-val", n_val, 1)):
        if not low <= value <= MAX_POINTS:
            raise fail(f"{option} {value}: must be in {low} .. {MAX_POINTS:,}", EXIT_USAGE)
    try:
        check(chosen, n_train, n_val, noise, max_degree)
    except ValueError as err:
        raise fail(f"--{err}" if str(err).startswith("noise") else str(err), EXIT_USAGE) from None
    with user_errors():
        import pandas as pd

        from ..plots.fit_study import plot_error_curve, plot_fits
        from ..runs.folder import RunFolder, atomic_write

        study = run_study(chosen, n_train, n_val, noise, seed, max_degree)
        folder = RunFolder.create(runs_dir, "fit-study")
        rows = [{**r, "verdict": study.verdict(r["degree"])} for r in study.rows]
        atomic_write(folder.path / "fit_study.csv", pd.DataFrame(rows).to_csv(index=False).encode())
        data = f"{n_train} training / {n_val} validation points, noise {noise:g}, seed {seed}"
        folder.save_figure(plot_fits(study, f"{folder.run_id}\npolynomial fits to y = sin(2$\\pi$x) + noise "
                                            f"({data})"), "fits.png")
        folder.save_figure(plot_error_curve(study, f"{folder.run_id}\ntraining and validation error against "
                                                   f"degree ({data})"), "error_vs_degree.png")
        files = ["fit_study.csv", "fits.png", "error_vs_degree.png"]
        folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "fit-study", "degrees": chosen,
                              "n_train": n_train, "n_val": n_val, "noise": noise, "seed": seed,
                              "best_degree": study.best, "rows": rows, "files": files})
    out.show(fit_table([r for r in rows if r["chosen"]], study.best, data),
             f"lowest validation error: degree {study.best} "
             f"(MSE {study.rows[study.best]['val_mse']:.4g}; the noise variance is {noise ** 2:.4g})",
             f"run folder: {folder.path}")
    out.folder(folder.path)


def fit_table(rows: list[dict[str, Any]], best: int, caption: str) -> FitTable:
    """Per chosen degree: training and validation MSE, and the verdict."""
    colors = {"under-fitting": "blue", "good fit": "green", "over-fitting": "red"}

    def verdict(r: dict[str, Any]) -> Text:
        return Text(r["verdict"], style=colors[r["verdict"]])

    g4 = num(".4g")
    return FitTable([Col("degree", "degree"), Col("train MSE", "train_mse", fmt=g4), Col("validation MSE", "val_mse",
                                                                                          fmt=g4),
                     Col("", verdict, "id")], rows, title="polynomial fits: training vs validation error",
                    caption=caption)
