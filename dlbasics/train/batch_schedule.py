"""A batch-size schedule (``train.batch_schedule``): grow the mini-batch instead of decaying the learning rate.

Smith, Kindermans, Ying & Le (2018), "Don't decay the learning rate, increase the batch size" (ICLR): the noise
scale of SGD is about lr * N / B, so multiplying the batch size B by k at the epochs where a step schedule would
divide the lr by k anneals the noise the same way, with k times fewer optimizer steps. The schedule is stepwise in
epochs, as MultiStepLR: after ``milestones[i]`` completed epochs the batch size becomes ``batch_sizes[i]``, or
``train.batch_size * factor^(i + 1)``; never above ``max_batch_size`` (nor the training split). The batch size of
each epoch is recorded in metrics.csv (``batch_size``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchSchedule:
    """Epoch (1-based) -> batch size: ``base`` for epochs 1..milestones[0], then the next size after each milestone.

    ``sizes``: the batch size after each milestone (one per milestone); or ``factor``: base * factor^k after k
    milestones (rounded, at least 1). ``max_batch_size`` caps them.
    """

    base: int
    milestones: Sequence[int]
    sizes: Sequence[int] | None = None
    factor: float | None = None
    max_batch_size: int | None = None

    def __post_init__(self):
        if list(self.milestones) != sorted(set(self.milestones)) or not self.milestones:
            raise ValueError(f"milestones must be increasing epochs, got {list(self.milestones)}")
        if (self.sizes is None) == (self.factor is None):
            raise ValueError("give either batch_sizes (one per milestone) or factor")
        if self.sizes is not None and len(self.sizes) != len(self.milestones):
            raise ValueError(f"{len(self.sizes)} batch_sizes for {len(self.milestones)} milestones; give one per "
                             "milestone")

    def __call__(self, epoch: int) -> int:
        k = bisect.bisect_left(self.milestones, epoch)  # milestones m < epoch: m epochs completed before it
        if k == 0:
            size = self.base
        elif self.sizes is not None:
            size = self.sizes[k - 1]
        else:
            size = max(1, round(self.base * self.factor**k))
        return size if self.max_batch_size is None else min(size, self.max_batch_size)


def from_config(train: dict) -> BatchSchedule | None:
    """The schedule of a validated ``train`` section (None when ``batch_schedule`` is null)."""
    spec = train.get("batch_schedule")
    if spec is None:
        return None
    return BatchSchedule(train["batch_size"], spec["milestones"], spec["batch_sizes"], spec["factor"],
                         spec["max_batch_size"])
