"""The training loop (`fit`, `evaluate`, `predict`) and its callbacks."""

from .loop import Callback, History, evaluate, fit, predict

__all__ = ["Callback", "History", "evaluate", "fit", "predict"]
