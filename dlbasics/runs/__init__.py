"""Run folders: where each run's config, metrics, summary, weights and plots are written."""

from .folder import METRIC_COLUMNS, RunFolder, atomic_write, default_runs_dir

__all__ = ["METRIC_COLUMNS", "RunFolder", "atomic_write", "default_runs_dir"]
