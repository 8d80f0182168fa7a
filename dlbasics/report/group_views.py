"""Reports of group folders: a comparison (and `train --seeds`), a cross-validation, a bagging ensemble."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import read
from .model import Block, Facts, Plot, Section, Table, Text
from .parts import build_sections, config_value, files_part, interval, limited, present, relative, statuses_fact

#: the metrics a comparison with replicates aggregates (dlbasics.experiments.compare.AGGREGATED)
AGGREGATED = ("test_acc", "test_loss", "final_val_acc", "final_val_loss", "final_train_loss", "gap")
SINGLE = ["member", "status", "test_acc", "test_loss", "final_val_acc", "final_val_loss", "final_train_loss", "gap",
          "optimizer", "lr", "epochs", "best_epoch", "duration_s", "message"]


# --- compare / seeds ------------------------------------------------------------------------------------------

def compare_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    return build_sections([("Overview", compare_overview), ("Comparison", comparison),
                           ("Learning curves", compare_curves), ("Config differences", member_configs),
                           ("Members", members), ("Files", files_part)], path, summary)


def compare_overview(path: Path, s: Mapping[str, Any]) -> list[Block]:
    items: list[tuple[str, Any]] = [("status", s["status"])]
    if s.get("message"):
        items.append(("message", s["message"]))
    for label, key in (("name", "name"), ("sorted by", "sort_by"), ("baseline", "baseline")):
        if s.get(key):
            items.append((label, s[key]))
    if isinstance(s.get("members"), list):
        items.append(("members", ", ".join(map(str, s["members"]))))
    if (s.get("n_replicates") or 1) > 1:
        items.append(("replicates", f"{s['n_replicates']} {s.get('replicates', 'seeds')} per member"))
    if isinstance(s.get("reused"), Mapping):
        items.append(("reused runs", ", ".join(f"{k}: {v}" for k, v in s["reused"].items())))
    fact = statuses_fact(s)
    if fact:
        items.append(("statuses", fact[1]))
    return [Facts(items)]


def _replicated(rows: list[dict[str, Any]]) -> bool:
    return any(k.endswith("_low") for r in rows for k in r) or any((r.get("replicates") or 1) > 1 for r in rows)


def comparison(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """comparison.csv, best first: one row per member; with replicates the means, their 95 % t-intervals and
    the paired difference to the baseline."""
    rows = read.csv_rows(path / "comparison.csv")
    if not rows:
        return None
    key = str(s.get("sort_by") or "test_acc")
    if not _replicated(rows):
        columns = present(rows, ["member", "status", *([key] if key in SINGLE else []), *SINGLE[2:]])
        return [limited(rows, list(dict.fromkeys(columns)), f"sorted by {key}", "comparison.csv"),
                Text("every column is in comparison.csv", "note")]
    kind = s.get("replicates") or "seeds"
    baseline = s.get("baseline") or rows[0].get("member")
    test = "paired t over seeds" if kind == "seeds" else "corrected resampled t over folds (Nadeau & Bengio)"
    shown = []
    for r in rows:
        diff = {"d": r.get("diff_vs_baseline"), "d_low": r.get("diff_low"), "d_high": r.get("diff_high")}
        row = {"member": r.get("member"), "status": r.get("status"), "n": r.get("completed", r.get("replicates")),
               key: interval(r, key),
               f"difference in {key}": "baseline" if r.get("member") == baseline else interval(diff, "d", sign=True),
               "p": r.get("p_value")}
        for metric in AGGREGATED:
            if metric != key and any(q.get(metric) is not None for q in rows):
                row[metric] = interval(r, metric)
        shown.append(row)
    caption = f"mean [95 % t-interval] over {kind}; difference to {baseline} ({test}); sorted by {key}"
    return [limited(shown, None, caption, "comparison.csv"),
            Text("every replicate is in replicates.csv, every column in comparison.csv", "note")]


def _member_dirs(path: Path, s: Mapping[str, Any]) -> dict[str, Path]:
    """Each member's folder (a run, or the folder of its replicates), in the comparison's order."""
    rows = read.csv_rows(path / "comparison.csv") or []
    out = {}
    for r in rows:
        found = read.locate(r.get("run_dir"), path)
        if found is not None:
            out[str(r.get("member"))] = found
    order = [str(m) for m in s.get("members") or []] if isinstance(s.get("members"), list) else []
    return {m: out[m] for m in [*order, *out] if m in out}


def compare_curves(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..plots.bands import plot_bands

    groups = {m: f for m, d in _member_dirs(path, s).items() if (f := read.frames(read.run_folders(d)))}
    if not groups:
        return None
    n = max(len(f) for f in groups.values())
    what = f"mean over {n} replicates per member, 95 % t-band" if n > 1 else "one run per member"
    blocks: list[Block] = [Plot(plot_bands(groups, "loss", title=f"loss: {what}"),
                                "validation solid, training dashed")]
    if any("val_acc" in df or "train_acc" in df for f in groups.values() for df in f):
        blocks.append(Plot(plot_bands(groups, "acc", title=f"accuracy: {what}"), "validation solid, training dashed"))
    return blocks


def member_configs(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """The config keys whose values differ between the members (their first replicates)."""
    from ..config.diff import config_diff

    configs = {}
    for member, folder in _member_dirs(path, s).items():
        runs = read.run_folders(folder) or [folder]
        cfg = read.yaml_file(runs[0] / "config.yaml")
        if isinstance(cfg, dict):
            configs[member] = cfg
    if len(configs) < 2:
        return None
    diff = {k: v for k, v in config_diff(list(configs.values())).items() if k not in ("name", "seed")}
    if not diff:
        return [Text("the members' configs are the same (but for their names)")]
    rows = [{"key": k, **{m: config_value(v) for m, v in zip(configs, values)}} for k, values in diff.items()]
    return [Table(rows, ["key", *configs], caption="config keys that differ between the members")]


def members(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """Each run's status: the replicates (replicates.csv), or the members."""
    rows = read.csv_rows(path / "replicates.csv") or read.csv_rows(path / "comparison.csv")
    if not rows:
        return None
    columns = present(rows, ["member", "replicate", "status", "epochs", "test_acc", "test_loss", "final_val_acc",
                             "final_val_loss", "duration_s", "message", "run_dir"])
    rows = [{**r, "run_dir": relative(r.get("run_dir"), path)} for r in rows]
    return [limited(rows, columns, "every run of the comparison (run_dir: inside this folder unless reused)",
                    "replicates.csv")]


# --- cross-validation -----------------------------------------------------------------------------------------

def cv_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    return build_sections([("Overview", cv_overview), ("Estimates", estimates), ("Folds", folds),
                           ("Learning curves", fold_curves), ("Files", files_part)], path, summary)


def cv_overview(path: Path, s: Mapping[str, Any]) -> list[Block]:
    items: list[tuple[str, Any]] = [("status", s["status"])]
    for label, key in (("message", "message"), ("name", "name"), ("strategy", "strategy"), ("folds", "k"),
                       ("seed", "seed")):
        if s.get(key) not in (None, ""):
            items.append((label, s[key]))
    return [Facts(items), Text("test_* columns are measured on each fold's held-out part of the training set; the "
                               "official test set is not used", "note")]


def estimates(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    stats = s.get("metrics")
    if not isinstance(stats, Mapping) or not stats:
        return None
    rows = []
    for metric, st in stats.items():
        if isinstance(st, Mapping):
            half = st.get("half_width")
            rows.append({"metric": metric.replace("test_", "held-out "), "n": st.get("n"), "mean": st.get("mean"),
                         "± half-width": half, "95 % interval": interval({"m": st.get("mean"), "m_low": st.get("low"),
                                                                          "m_high": st.get("high")}, "m"),
                         "std": st.get("std")})
    return [Table(rows, caption="mean and 95 % t-interval over the completed folds")]


def folds(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..plots.cv import plot_folds

    rows = read.csv_rows(path / "folds.csv")
    if not rows:
        return None
    columns = present(rows, ["fold", "choice", "status", "n_train", "n_val", "n_heldout", "epochs", "val_loss",
                             "val_acc", "test_loss", "test_acc", "message"])
    blocks: list[Block] = [limited(rows, columns, "one row per fold (test_*: the held-out fold)", "folds.csv")]
    stats = s.get("metrics") if isinstance(s.get("metrics"), Mapping) else {}
    metric = next((m for m in ("test_acc", "test_loss") if isinstance(stats.get(m), Mapping)), None)
    if metric is not None and stats[metric].get("mean") is not None:
        blocks.append(Plot(plot_folds(rows, metric, dict(stats[metric])), "each fold, the mean and its interval"))
    if isinstance(s.get("choices"), list) and s["choices"]:
        blocks.append(Table([{"fold": c.get("fold"), "choice": c.get("choice"), "inner mean": c.get("inner_mean")}
                             for c in s["choices"] if isinstance(c, Mapping)],
                            caption="nested CV: the grid point each outer fold chose on its inner folds"))
    return blocks


def fold_curves(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..plots.bands import plot_bands

    rows = read.csv_rows(path / "folds.csv") or []
    dirs = [d for r in rows if (d := read.locate(r.get("run_dir"), path)) is not None]
    frames = read.frames(dirs or sorted(path.glob("fold-*")))
    if not frames:
        return None
    label = f"{len(frames)} folds"
    blocks: list[Block] = [Plot(plot_bands({label: frames}, "loss", title="loss: mean over the folds, 95 % t-band"))]
    if any("val_acc" in df for df in frames):
        blocks.append(Plot(plot_bands({label: frames}, "acc", title="accuracy: mean over the folds, 95 % t-band")))
    return blocks


# --- bagging --------------------------------------------------------------------------------------------------

def bagging_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    return build_sections([("Overview", bagging_overview), ("Ensemble", ensemble), ("Files", files_part)],
                          path, summary)


def bagging_overview(path: Path, s: Mapping[str, Any]) -> list[Block]:
    items: list[tuple[str, Any]] = [("status", s["status"])]
    for label, key in (("message", "message"), ("name", "name"), ("members", "n_estimators"),
                       ("bootstrap sample size", "max_samples")):
        if s.get(key) not in (None, ""):
            items.append((label, s[key]))
    for label, key in (("ensemble", "final"), ("members' mean", "members_mean")):
        if isinstance(s.get(key), Mapping) and s[key]:
            items.append((label, "  ".join(f"{k} {v:.4f}" for k, v in s[key].items() if isinstance(v, float))))
    return [Facts(items)]


def ensemble(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    rows = read.csv_rows(path / "ensemble.csv")
    return [Table(rows, caption="each member's test metrics, and the ensemble of their averaged probabilities")] \
        if rows else None
