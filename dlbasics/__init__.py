"""dlbasics: deep-learning basics in NumPy, and the `dlb` experiment runner.

    from dlbasics import load_config, train
    run = train(load_config("configs/quickstart.yaml"))
    run.summary["final"]["test_acc"]
"""

from ._version import __version__
from .config import ConfigError, load_config, resolve_config
from .runner import Run, build, train

__all__ = ["ConfigError", "Run", "__version__", "build", "load_config", "resolve_config", "train"]
