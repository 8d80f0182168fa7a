"""Statistics over replicates (seeds, folds), shared by every group that has them: compare, seeds, sweeps.

``interval_columns`` gives each metric's mean, std and 95 % t-interval over the completed replicates;
``paired_test`` compares two groups on the replicates they share: the paired t-test over seeds, or Nadeau &
Bengio's corrected resampled t-test over cross-validation folds, whose training sets overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from ..stats import corrected_resampled_ttest, mean_ci, paired_difference


def interval_columns(rows: Sequence[dict[str, Any]], metrics: Iterable[str]) -> dict[str, Any]:
    """``{metric, metric_std, metric_low, metric_high}`` over the completed rows that measured each metric."""
    out: dict[str, Any] = {}
    done = [r for r in rows if r["status"] == "completed"]
    for metric in metrics:
        values = [r[metric] for r in done if r.get(metric) is not None]
        if values:
            st = mean_ci(values)
            out.update({metric: st["mean"], f"{metric}_std": st["std"], f"{metric}_low": st["low"],
                        f"{metric}_high": st["high"]})
    return out


def paired_test(mine: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]], key: str, folds: bool,
                match: Callable[[dict[str, Any]], Hashable]) -> dict[str, Any] | None:
    """The difference in ``key`` between two groups over the replicates both completed (matched by ``match``):
    mean difference, its 95 % interval and p. None with fewer than two pairs. ``folds``: the corrected test,
    with the training and held-out sizes of the first pair (rows' ``n_train`` and ``n_heldout``)."""

    def by(rows: Sequence[dict[str, Any]]) -> dict[Hashable, dict[str, Any]]:
        return {match(r): r for r in rows if r["status"] == "completed" and r.get(key) is not None}

    a, b = by(mine), by(theirs)
    shared = sorted(set(a) & set(b), key=str)
    if len(shared) < 2:
        return None
    x, y = [a[s][key] for s in shared], [b[s][key] for s in shared]
    if folds:
        test = corrected_resampled_ttest(x, y, a[shared[0]]["n_train"], a[shared[0]]["n_heldout"])
        name = "corrected resampled t over folds (Nadeau & Bengio)"
    else:
        test = paired_difference(x, y)
        name = "paired t over seeds"
    return {"test": name, "n": len(shared), "diff": test["mean_diff"], "low": test["low"], "high": test["high"],
            "p_value": test["p_value"], "distinguishable": bool(test["p_value"] < 0.05)}
