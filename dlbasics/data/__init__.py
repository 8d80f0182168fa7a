"""Data sets (MNIST, Fashion-MNIST, the bundled mnist-mini, synthetic sets), IDX files, downloads and splits."""

from .datasets import (
           DATASETS,
           DataError,
           Dataset,
           Splits,
           cache_dir,
           find_idx_dataset,
           load_dataset,
           make_splits,
)
from .splits import train_val_split

__all__ = ["DATASETS", "DataError", "Dataset", "Splits", "cache_dir", "find_idx_dataset", "load_dataset",
           "make_splits", "train_val_split"]
