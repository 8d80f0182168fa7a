"""Which samples train, validate and are held out in each fold of a config's cross-validation, without training.

The indices come from the very function the fold runs split their data with
(:func:`~dlbasics.data.datasets.split_indices`, on each fold's own config as :func:`~dlbasics.experiments.cv.plan`
makes it), so the map is what `dlb cv` trains on, sample by sample. Each sample of the training set (the official
test set takes no part in cross-validation) gets one role per fold:

- ``train``: the fold's training split; ``validation``: its validation split (``data.val_split``, cut from the
  fold's training part: early stopping and plateau schedules look at it);
- ``held out``: the fold's test data (the scores of `dlb cv`);
- ``gap``: time series only, the ``cv.gap`` samples dropped between the training part and the held-out block
  (no look-ahead across the boundary);
- ``unused``: in none of these (a time series' blocks after the held-out one, samples before a rolling window,
  samples left out by ``data.train_size``).

Nested CV is drawn at its outer level (the inner folds split each outer training part again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: role codes of :attr:`FoldMap.roles`, in legend order
ROLES = ("unused", "train", "validation", "held out", "gap")
UNUSED, TRAIN, VALIDATION, HELD_OUT, GAP = range(len(ROLES))


@dataclass
class FoldMap:
    """``roles``: (folds, n) role codes (see :data:`ROLES`) of the training set's n samples in each fold;
    ``strategy`` as resolved (auto -> stratified / kfold / timeseries); ``ordered``: a time series (x is time);
    ``note``: a caveat to print (or "")."""

    name: str
    strategy: str
    roles: np.ndarray
    ordered: bool
    gap: int
    nested: bool = False
    note: str = ""

    def counts(self) -> list[dict[str, Any]]:
        """Per fold: its index and the number of samples in each role (keys as :data:`ROLES`, spaces as _)."""
        return [{"fold": i, **{role.replace(" ", "_"): int(np.count_nonzero(row == code))
                               for code, role in enumerate(ROLES)}} for i, row in enumerate(self.roles)]


def fold_map(cfg: dict[str, Any], progress: bool = False) -> FoldMap:
    """The role of every training sample in every fold of ``cfg``'s cross-validation (its ``cv`` section)."""
    from ..config import ConfigError
    from ..data.datasets import DATASETS, local_idx_facts, split_indices
    from ..runner import _data_facts, _split_args, _split_error
    from .cv import _level, _member, resolve_strategy

    cv = cfg["cv"]
    strategy = resolve_strategy(cfg, cv["strategy"])
    nested = strategy == "nested"
    if nested:
        strategy = resolve_strategy(cfg, "auto")
    k = 1 if strategy == "holdout" else cv["k"]
    labels, n, _, _, ordered, _ = _data_facts(cfg, progress)
    note = ""
    entry = DATASETS[cfg["data"]["name"]]
    if entry.meta is not None and local_idx_facts(cfg["data"]["name"], cfg["data"].get("root")) is None:
        note = (f"{cfg['data']['name']} is not on disk: sizes are exact, but positions are drawn from the published "
                "class counts, not the real order of the labels")
    roles = np.full((k, n), UNUSED, dtype=np.int8)
    for i in range(k):
        member = _member(cfg, f"{cfg['name']}-fold-{i}", [_level(cv, strategy, k, i)])
        try:
            tr, va, held = split_indices(n, labels, ordered, **_split_args(member))
        except ValueError as err:
            error = _split_error(err, member)  # data.train_size / val_split stay; a fold: its key as cv.check names it
            key = error.path if not error.path.startswith("data.fold") else "cv.gap" if "gap" in error.message \
                else "cv.window" if "window" in error.message else "cv.k"
            raise ConfigError(error.message, key) from None
        roles[i, tr], roles[i, va] = TRAIN, VALIDATION
        if held is not None:
            roles[i, held] = HELD_OUT
        if strategy in ("timeseries", "rolling") and held is not None and len(held):
            used = np.concatenate([tr, va])
            between = np.arange(used.max() + 1 if used.size else 0, held.min())
            roles[i, between[roles[i, between] == UNUSED]] = GAP
    return FoldMap(cfg["name"], strategy, roles, ordered, cv["gap"], nested, note)
