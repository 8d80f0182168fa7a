"""`dlb cv CONFIG --plot-folds`: the cross-validation diagram of a config, drawn without training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import Output
from .tables import Col, FitTable


def plot_folds(cfg: dict[str, Any], runs_dir: Path | None, out: Output) -> None:
    """Write fold_map.png and fold_map.csv (samples per role and fold) into runs/<stamp>-folds-<name>-<hex6>/ and
    print the counts; nothing trains. Call inside ``user_errors``."""
    import pandas as pd

    from ..experiments.fold_map import fold_map
    from ..plots.fold_map import plot_fold_map
    from ..runs.folder import RunFolder, atomic_write

    fmap = fold_map(cfg, progress=out.human)
    folder = RunFolder.create(runs_dir, f"folds-{cfg['name']}")
    folder.write_config(cfg)
    rows = fmap.counts()
    atomic_write(folder.path / "fold_map.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    folder.save_figure(plot_fold_map(fmap, f"{folder.run_id}\n{cfg['name']}: {fmap.strategy} cross-validation, "
                                           f"{len(rows)} fold{'s' if len(rows) > 1 else ''}"), "fold_map.png")
    folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "folds", "name": cfg["name"],
                          "strategy": fmap.strategy, "k": len(rows), "gap": fmap.gap, "nested": fmap.nested,
                          "n": int(fmap.roles.shape[1]), "note": fmap.note,
                          "files": ["config.yaml", "fold_map.csv", "fold_map.png"]})
    cols = [Col("fold", "fold"), Col("train", "train"), Col("validation", "validation"),
            Col("held out", "held_out")]
    if any(r["gap"] for r in rows):
        cols.append(Col("gap", "gap"))
    if any(r["unused"] for r in rows):
        cols.append(Col("unused", "unused"))
    out.show(FitTable(cols, rows, title=f"{cfg['name']}: {fmap.strategy} folds of {fmap.roles.shape[1]:,} training "
                                        "samples (nothing trained)"))
    if fmap.note:
        out.show(f"note: {fmap.note}")
    out.show(f"fold map: {folder.path / 'fold_map.png'}", f"run folder: {folder.path}")
    out.folder(folder.path, rows=rows)
