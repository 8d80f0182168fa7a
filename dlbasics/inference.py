"""Using a trained model on new data: the model plus the preprocessing it was trained with.

    from dlbasics import Run
    pred = Run("runs/<id>").predict(x_raw)      # x_raw as the data set gives it: uint8 pixels, raw features
    pred.labels, pred.probabilities, pred.to_frame()

Training scales pixels (uint8 / 255) and, with ``data.normalize: standardize``, subtracts the training split's
mean and divides by its std; a run saves both in summary.json (``data.preprocessing``), so the same numbers
reach the model at prediction time. Feeding raw 0..255 pixels to the network (what ``load_model()`` alone would
invite) gives logits 255 times too large: :meth:`Predictor.prepare` never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data.preprocess import Preprocessing
from .errors import InputError

__all__ = ["InputError", "Prediction", "Predictor"]


@dataclass
class Prediction:
    """Model outputs for N inputs: logits (or regression outputs), class probabilities, labels, class names."""

    outputs: np.ndarray
    probabilities: np.ndarray | None
    labels: np.ndarray | None
    classes: list[str] | None

    def to_frame(self) -> Any:
        """A pandas DataFrame: id, predicted (class name or index) and one probability column per class; or
        id and output_<j> for regression."""
        import pandas as pd

        n = len(self.outputs)
        columns: dict[str, Any] = {"id": np.arange(n)}
        if self.labels is None:
            for j in range(self.outputs.shape[1]):
                columns[f"output_{j}"] = self.outputs[:, j]
            return pd.DataFrame(columns)
        names = self.classes or [str(k) for k in range(self.probabilities.shape[1])]
        columns["predicted"] = [names[k] for k in self.labels] if self.classes else self.labels
        for k, name in enumerate(names):
            columns[f"p_{name}"] = self.probabilities[:, k]
        return pd.DataFrame(columns)


@dataclass
class Predictor:
    """A trained model and what turns raw inputs into its inputs."""

    model: Any
    input_shape: tuple[int, ...]
    preprocessing: dict[str, Any]
    task: str
    loss: str
    classes: list[str] | None = None
    batch_size: int = 500
    threads: int = 1  # BLAS threads, as in training: other counts sum in another order (last-bit differences)

    @classmethod
    def from_run(cls, path: str | Path) -> Predictor:
        from .runner import Run

        run = Run(path)
        summary, config = run.summary, run.config
        data = summary.get("data") or {}
        if "preprocessing" not in data:
            raise InputError(f"{run.path}: the run predates saved preprocessing; train it again to predict with it")
        return cls(run.load_model(), tuple(data["input_shape"]), data["preprocessing"], data["task"],
                   config["loss"]["name"], data.get("classes"), config["train"]["eval_batch_size"],
                   config["train"]["threads"])

    def prepare(self, x: Any) -> np.ndarray:
        """Raw inputs (N, *input_shape), or (N, H, W) for one-channel images, or one sample without N (or, grey,
        (H, W)), as the
        model's float array: scaled and standardised as in training. InputError for a shape or values that do
        not fit (float pixels above 255, NaN)."""
        x = np.asarray(x)
        shape = self.input_shape
        if x.shape == shape:
            x = x[None]
        elif len(shape) == 3 and shape[0] == 1 and x.shape == shape[1:]:
            x = x[None, None]  # one grey image, (H, W)
        elif len(shape) == 3 and shape[0] == 1 and x.shape[1:] == shape[1:]:
            x = x[:, None]
        if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
            want = ", ".join(map(str, shape))
            raise InputError(f"inputs of shape {tuple(x.shape)}; the model takes (N, {want}) (one sample: ({want}))")
        if x.dtype.kind not in "uif":
            raise InputError(f"inputs of type {x.dtype}; expected numbers")
        pre = Preprocessing.from_dict(self.preprocessing)
        if pre.scale is not None:  # trained on uint8 pixels scaled by 1/255
            finite = x[np.isfinite(x)] if x.dtype.kind == "f" else x
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
            if x.dtype.kind == "f" and high <= 1.0:
                out = pre.standardize(x.astype(np.dtype(pre.dtype)))  # already in [0, 1]: a PNG read as floats
            elif low >= 0 and high <= 255:
                out = pre.apply(x)
            else:
                raise InputError(f"pixel values from {low:g} to {high:g}; the model was trained on 0..255 (uint8) "
                                 "or 0..1 images")
        else:
            out = pre.apply(x)
        if not np.all(np.isfinite(out)):
            raise InputError("inputs hold NaN or infinite values")
        return out

    def outputs(self, x: Any) -> np.ndarray:
        """The model's outputs (logits for classification) for raw inputs ``x``."""
        from threadpoolctl import threadpool_limits

        from .train.loop import predict

        x = self.prepare(x)
        with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(limits=self.threads, user_api="blas"):
            return predict(self.model, x, self.batch_size)

    def predict(self, x: Any) -> Prediction:
        """Outputs, and for classification the probabilities (softmax, or the sigmoid of one logit) and labels."""
        out = self.outputs(x)
        if self.task != "classification":
            return Prediction(out, None, None, None)
        from .nn.losses import probabilities

        probs = probabilities(out, self.loss)
        return Prediction(out, probs, probs.argmax(axis=1), self.classes)
