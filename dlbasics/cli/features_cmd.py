"""`dlb features RUN`: a trained CNN's kernels and feature maps, and classic filters on a digit (registered on the
main app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors, wrap


def features(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder, its id or a unique prefix of it.",
                                        show_default=False)],
    index: Annotated[int, typer.Option("--index", "-i", help="Which test sample to draw the feature maps of.")] = 0,
    kernels: Annotated[str | None, typer.Option(
        "--kernels", metavar="NAMES", show_default=False,
        help="Also apply fixed 3x3 filters to the sample, comma-separated: identity, blur, gaussian, sobel_x, "
             "sobel_y, laplacian, sharpen (e.g. blur,sobel_x,sobel_y,sharpen).")] = None,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Draw what a trained CNN computes: the first conv layer's kernels (kernels.png) and every conv layer's
    feature maps for one test sample (maps_<layer>.png; layers inside residual blocks too, e.g. maps_3_0.png).

    --kernels applies classic filters to the same image through a conv2d layer with fixed weights (valid
    cross-correlation, 28x28 -> 26x26), the course's convolution-as-filter: blur averages, Sobel finds vertical
    (sobel_x) and horizontal (sobel_y) edges, sharpen adds the negative Laplacian (filters.png). Files go to
    RUN/features/ with features.json; summary.json lists them.
    """
    from ..experiments.features import features_run, kernel_names
    from ..runs.find import resolve_run

    out = Output(quiet, json_)
    with user_errors(run):
        try:
            names = kernel_names(kernels) if kernels is not None else None
            run = resolve_run(run, runs_dir)  # RunNotFound is a ValueError
            result = features_run(run, index=index, kernels=names,
                                  progress=out.human and Console(stderr=True).is_terminal)
        except ValueError as err:
            raise fail(str(err), EXIT_USAGE) from None
    out.result({**result, "path": str(run)})
    if out.human:
        print(wrap(f"{result['run_id']}: {result['about']}; conv layers: "
                   f"{', '.join(c['name'] for c in result['conv_layers']) or 'none'}"))
        for name in result["files"]:
            print(f"wrote {run / name}")
