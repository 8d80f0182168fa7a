"""Looking inside a trained CNN: its first layer's kernels, every conv layer's feature maps for one test input,
and classic fixed filters (blur, Sobel, sharpen) applied to the same digit.

    kernels = first_kernels(model)                    # (C_out, C_in, kh, kw) of the first conv layer
    maps = feature_maps(model, x[None])               # [("0", Conv2D(...), (1, 32, 28, 28)), ("4", ...), ...]
    filtered = apply_filters(digit, ["blur", "sobel_x"])   # {"blur": (26, 26), ...}, valid cross-correlation
    features_run("runs/<id>", index=0, kernels=["blur", "sobel_x"])   # writes RUN/features/

The course notes read convolution as a filter: a kernel slid over the signal amplifies or damps it locally,
extracting or filtering information (blur, edges), and a CNN computes cross-correlation, called convolution by
custom. The classic filters run through the library's own Conv2D layer (its weight set to the fixed kernel,
no padding: 28x28 -> 26x26, H - h + 1), so the figure shows exactly what a learned 3x3 kernel could do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config.fields import did_you_mean
from ..nn.conv import Conv1D, Conv2D
from ..nn.layers import Layer
from ..runs.folder import RunFolder, atomic_write, json_safe

#: fixed 3x3 kernels, as image-processing texts give them (cross-correlation: applied as written, not flipped)
CLASSIC_KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "blur": np.full((3, 3), 1 / 9),                                                       # box blur: the mean
    "gaussian": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16,       # smoother blur
    "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),         # vertical edges
    "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),         # horizontal edges
    "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),         # edges in any direction
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),        # identity + -laplacian
}


def kernel_names(text: str) -> list[str]:
    """"blur,sobel_x" -> ["blur", "sobel_x"]; ValueError naming an unknown one, with the allowed names."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ValueError(f"--kernels is empty; give a comma-separated list of {', '.join(CLASSIC_KERNELS)}")
    for name in names:
        if name not in CLASSIC_KERNELS:
            raise ValueError(f"--kernels: unknown kernel {name!r}{did_you_mean(name, list(CLASSIC_KERNELS))} "
                             f"(allowed: {', '.join(CLASSIC_KERNELS)})")
    return names


def apply_filters(image: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each named classic kernel slid over a grey image (H, W): valid cross-correlation, (H - 2, W - 2) each.

    Computed by a Conv2D layer (no padding, no bias) whose weight holds the kernels, one output channel each.
    """
    image = np.asarray(image, dtype=np.float64)
    conv = Conv2D(len(names), kernel_size=3, padding="valid", bias=False)
    conv.build((1, *image.shape), np.random.default_rng(0), np.float64)
    conv.W.data[:, 0] = np.stack([CLASSIC_KERNELS[n] for n in names])
    out = conv.forward(image[None, None])[0]
    return {name: out[k] for k, name in enumerate(names)}


def _walk(layer: Layer, name: str) -> list[tuple[str, Layer]]:
    """(name, layer) for ``layer`` and, in a container, the layers inside it ("3.layers.0", "3.shortcut")."""
    body = getattr(layer, "body", None)
    if body is None:
        return [(name, layer)]
    inner = [(f"{name}.layers.{j}", child) for j, child in enumerate(body)]
    shortcut = getattr(layer, "shortcut", None)
    inner += [(f"{name}.shortcut", shortcut)] if shortcut is not None else []
    return [(name, layer)] + [pair for child_name, child in inner for pair in _walk(child, child_name)]


def conv_layers(model: Any) -> list[tuple[str, Layer]]:
    """Every convolution of a model, inside residual blocks too, in order: (name, layer), the name as model.npz
    prefixes its weights ("3.layers.0" for `dlb model`'s row 3.0, "3.shortcut" for its row 3.s)."""
    return [(name, layer) for i, top in enumerate(model.layers) for name, layer in _walk(top, str(i))
            if isinstance(layer, (Conv1D, Conv2D))]


def first_kernels(model: Any) -> tuple[str, np.ndarray]:
    """(name, weight) of the model's first conv layer; ValueError when it has none."""
    convs = conv_layers(model)
    if not convs:
        raise ValueError("the model has no conv layers")
    name, layer = convs[0]
    return name, layer.W.data


def feature_maps(model: Any, x: np.ndarray) -> list[tuple[str, Layer, np.ndarray]]:
    """Forward ``x`` (N, *input_shape) in eval mode and return every conv layer's output: (name, layer, output).

    Each conv layer's ``forward`` is wrapped for the one pass (an instance attribute shadowing the method) and
    restored after, so the model is left as it was.
    """
    found: list[tuple[str, Layer, np.ndarray]] = []
    convs = conv_layers(model)

    def recording(name: str, layer: Layer):
        method = type(layer).forward

        def forward(inputs: np.ndarray, training: bool = False) -> np.ndarray:
            out = method(layer, inputs, training)
            found.append((name, layer, out.copy()))
            return out

        return forward

    try:
        for name, layer in convs:
            layer.forward = recording(name, layer)  # type: ignore[method-assign]
        model.forward(x, training=False)
    finally:
        for _, layer in convs:
            layer.__dict__.pop("forward", None)
    return found


def unstandardized(sample: np.ndarray, pre: Any) -> np.ndarray:
    """A model input (C, H, W) in the data's own units again: standardisation undone, pixels left in [0, 1].

    The test split's sample itself, not ``dataset.x_test[index]``: under cross-validation the test split is a
    held-out fold of the training set, and ``index`` counts its samples.
    """
    image = np.asarray(sample, dtype=np.float64)
    if pre is not None and pre.normalize == "standardize" and pre.mean is not None:
        shape = (-1,) + (1,) * (image.ndim - 1) if pre.axes == "channel" else image.shape
        image = image * np.reshape(pre.std, shape) + np.reshape(pre.mean, shape)
    return image


def _filename(name: str) -> str:
    return name.replace(".layers.", ".").replace(".", "_")


def features_run(run_dir: str | Path, index: int = 0, kernels: Sequence[str] | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """Draw a finished run's first conv layer's kernels and every conv layer's feature maps for test input
    ``index``, and (``kernels``) classic filters applied to that input; write them into ``RUN/features/``.

    Files: kernels.png, maps_<layer>.png per conv layer (e.g. maps_0.png, maps_3_0.png for the first conv
    inside block 3), filters.png, and features.json listing them with the input's index, label and the model's
    prediction; summary.json gets ``"features": [files]``. Returns the contents of features.json.

    ValueError (one line) for a folder that is not a finished run, an index outside the test split, a model
    without conv layers (unless only ``kernels`` are asked for, which need images), classic filters on
    non-image inputs.
    """
    from threadpoolctl import threadpool_limits

    from ..plots.features import plot_feature_maps, plot_filtered, plot_kernels
    from ..runner import build
    from .evaluate import _load_model, _load_run, class_labels

    run_dir = Path(run_dir)
    summary, cfg = _load_run(run_dir)
    with threadpool_limits(limits=cfg["train"]["threads"], user_api="blas"):
        model = _load_model(run_dir)
        convs = conv_layers(model)
        if not convs and not kernels:
            layers = ", ".join(dict.fromkeys(type(layer).__name__.lower() for layer in model.layers))
            raise ValueError(f"{run_dir}: the model has no conv layers ({layers}); dlb features draws conv kernels "
                             "and feature maps (--kernels alone applies classic filters to a test image)")
        exp = build(cfg, progress=progress)
        s = exp.splits
        n = len(s.x_test)
        if not 0 <= index < n:
            raise ValueError(f"--index {index}: the test split has {n} samples (0 to {n - 1})")
        x = s.x_test[index:index + 1]
        if kernels and x.ndim != 4:
            raise ValueError(f"--kernels: classic filters are 2-D image filters, but {cfg['data']['name']!r} has "
                             f"samples of shape {x.shape[1:]}")
        with np.errstate(over="ignore", invalid="ignore"):
            maps = feature_maps(model, x) if convs else []
            outputs = model.forward(x, training=False)
    name = summary.get("name") or run_dir.name
    folder = RunFolder(run_dir / "features")
    folder.path.mkdir(exist_ok=True)
    files: list[str] = []

    def save(fig: Any, filename: str) -> None:
        folder.save_figure(fig, filename)
        files.append(f"features/{filename}")

    classification = exp.loss.task == "classification"
    names = class_labels(s.dataset.n_classes, s.dataset.classes) if classification else None
    if classification:
        label = names[int(s.y_test[index])]
        predicted = names[int(np.argmax(outputs[0]))] if outputs.shape[1] > 1 else names[int(outputs[0, 0] > 0)]
        about = f"test sample {index} (label {label}, predicted {predicted})"
    else:
        label, predicted = float(np.ravel(s.y_test[index])[0]), float(outputs[0, 0])
        about = f"test sample {index} (target {label:.4g}, predicted {predicted:.4g})"
    if convs:
        first, weight = first_kernels(model)
        save(plot_kernels(weight, title=f"{name}: kernels of conv layer {first} (learned)"), "kernels.png")
        for layer_name, _layer, out in maps:
            save(plot_feature_maps(x[0], out[0], title=f"{name}: conv layer {layer_name} "
                                                       f"{'x'.join(map(str, out.shape[1:]))}, {about}"),
                 f"maps_{_filename(layer_name)}.png")
    if kernels:
        digit = unstandardized(x[0], s.preprocessing)[0]  # the test sample the maps show (a cv fold's too)
        filtered = apply_filters(digit, kernels)
        save(plot_filtered(digit, {k: CLASSIC_KERNELS[k] for k in kernels}, filtered,
                           title=f"{name}: classic 3x3 filters on {about}"), "filters.png")
    result = {"run_id": run_dir.name, "index": index, "label": label, "predicted": predicted, "about": about,
              "conv_layers": [{"name": ln, "layer": repr(layer), "output_shape": list(out.shape[1:])}
                              for ln, layer, out in maps],
              "kernels": list(kernels or []), "files": ["features/features.json", *files]}
    atomic_write(folder.path / "features.json", (json.dumps(json_safe(result), indent=2) + "\n").encode())
    run_folder = RunFolder(run_dir)
    summary = run_folder.read_summary()
    summary["features"] = result["files"]
    run_folder.write_summary(summary)
    return result
