"""Every table the CLI prints is readable at 80 columns (a pipe, a CI log): no line is longer, nothing is cut with
"…", and every number and id (run ids, member names, paths) appears whole; columns left out are named."""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
from pathlib import Path

from rich.console import Console

from conftest import TINY, dlb
from dlbasics import load_config
from dlbasics.cli.evaluate_cmd import _pairs_table, _per_class_table
from dlbasics.cli.experiments import bagging_table, comparison_table, folds_table, replicates_table
from dlbasics.cli.generalization_cmd import bias_variance_table, boosting_table
from dlbasics.cli.live import Board
from dlbasics.cli.main import (
    _model_table,
    data_sets_table,
    gradcheck_table,
    init_study_table,
    playground_table,
)
from dlbasics.cli.stats_cmd import bootstrap_table
from dlbasics.cli.sweep_cmd import points_table
from dlbasics.cli.tables import Col, FitTable, Framed, KeyValues
from dlbasics.execution import Task

WIDTH = 80
#: seven members, three of them 40 characters long
MEMBERS = ["adam", "sgd-momentum-nesterov-warmup-cosine-0.9x", "rmsprop-centered-with-weight-decay-1e-4xx",
           "adagrad", "momentum-0.9-with-a-step-schedule-every5", "adadelta", "nadam"]
LONG = MEMBERS[1]
assert len(LONG) == 40


def render(renderable: object, width: int = WIDTH) -> str:
    console = Console(width=width, file=io.StringIO(), force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()


def assert_readable(text: str, whole: tuple[str, ...] | list[str] = (), plain: tuple[str, ...] = ()) -> None:
    """No line longer than 80 (but plain lines that start with one of ``plain``, such as "run folder: <path>"), no
    "…", every string of ``whole`` in the text."""
    lines = [line for line in text.splitlines() if not line.startswith(plain or ("\0",))]
    assert max(len(line) for line in lines) <= WIDTH, text
    assert "…" not in text, text
    for token in whole:
        assert token in text, f"{token!r} is not whole in\n{text}"


def assert_fits(table: FitTable, whole: tuple[str, ...] | list[str] = ()) -> str:
    """Render ``table`` at 80 columns; every number and id cell of a shown column whole (and every word of a text
    cell); the columns left out named in the caption; ``whole`` too."""
    text = render(table)
    assert_readable(text, whole)
    plan = table.plan(WIDTH)
    shown = range(len(table.columns)) if plan is None else plan[0]
    flat = " ".join(text.split())
    for i, col in enumerate(table.columns):
        if i not in shown:
            assert re.search(rf"left out to fit 80 columns: [^;)]*\b{re.escape(col.header)}\b", flat), (col, text)
            continue
        for row in table.rows:
            if row is None:
                continue
            cell = col.cell(row).plain
            for token in cell.split() if col.kind == "text" else [cell]:
                assert token in text, f"{col.header}: {token!r} is cut in\n{text}"
    return text


def comparison_rows(acc: bool = True) -> list[dict]:
    rows = []
    for i, m in enumerate(MEMBERS):
        row = {"member": m, "status": "diverged" if i == 2 else "completed", "optimizer": "adam",
               "lr": 0.000123456789 * (i + 1), "epochs": 120 + i, "final_train_loss": 0.0123456789 + i,
               "final_val_loss": 0.234567891 + i, "gap": -0.0123456789, "test_loss": 0.3456789123 + i,
               "duration_s": 1234.56789 + i}
        if acc:
            row.update(final_val_acc=0.912345678 - i / 100, test_acc=0.918765432 - i / 100)
        rows.append(row)
    return rows


def test_the_comparison_table_leaves_out_low_priority_columns_and_names_them():
    text = assert_fits(comparison_table(comparison_rows(), "test_acc"), [LONG, "0.9188", "0.8588", "diverged"])
    assert "all in comparison.csv" in " ".join(text.split())
    assert "left out" not in render(comparison_table(comparison_rows()[:1], "test_acc"), 200)
    regression = assert_fits(comparison_table(comparison_rows(acc=False), "test_loss"), [LONG, "6.3457"])
    assert "acc" not in regression.replace("comparison.csv", "")


def test_the_replicates_table_shows_mean_plus_minus_half_width():
    rows = [{"member": m, "status": "2/3 completed" if i == 3 else "completed", "replicates": 3,
             "test_acc": 0.91234567, "test_acc_low": 0.90123456, "test_acc_high": 0.92345678,
             **({} if i == 0 else {"diff_vs_baseline": -0.01234567, "diff_low": -0.02345678,
                                   "diff_high": -0.00123456, "p_value": 0.0123456789})}
            for i, m in enumerate(MEMBERS)]
    for kind in ("seeds", "folds"):
        text = assert_fits(replicates_table(rows, "test_acc", "adam", kind), [LONG, "0.9123 ± 0.0111"])
        assert "[low, high] of every interval in comparison.csv" in text
    short = [dict(r, member=f"m{i}") for i, r in enumerate(rows)]
    text = assert_fits(replicates_table(short, "test_acc", "m0", "seeds"), ["-0.0123 ± 0.0111", "baseline", "0.0123"])
    assert "left out" not in text


def test_the_folds_table_with_and_without_nested_choices():
    rows = [{"fold": i, "status": "completed", "n_train": 48000, "n_heldout": 12000, "epochs": 30,
             "val_loss": 0.345678912, "test_loss": 0.456789123, "test_acc": 0.876543219} for i in range(10)]
    summary = {"strategy": "stratified", "name": "a-config-name-of-forty-characters-long-x", "metrics": {
        "val_loss": {"mean": 0.3456789}, "test_loss": {"mean": 0.4567891}, "test_acc": {"mean": 0.8765432}}}
    assert_fits(folds_table(rows, summary), ["0.8765", "48000", "mean", summary["name"]])
    nested = [dict(r, choice=json.dumps({"optimizer.lr": 0.001, "model.hidden": [128, 64]})) for r in rows]
    assert_fits(folds_table(nested, {**summary, "strategy": "nested"}), ["0.4568"])


def test_the_points_table_keeps_point_labels_whole():
    points = [{"label": f"lr=0.00{i} hidden=[128, 64] weight_decay=0.0001", "n": 3, "members": 3,
               "val_acc": 0.9123456 + i / 1000, "val_acc_low": 0.9012345, "val_acc_high": 0.9234567,
               "test_acc": 0.9, "test_acc_low": 0.89, "test_acc_high": 0.91} for i in range(8)]
    assert_fits(points_table(points, "val_acc", "max"), [points[0]["label"], "0.9183 ± 0.0111", "3/3"])


def test_the_bagging_table():
    rows = [{"model": f"{LONG} {i}", "status": "completed", "n_train": 48000, "test_loss": 0.123456789,
             "test_acc": 0.987654321} for i in range(7)] + [{"model": "ensemble of 7", "status": "completed",
                                                              "test_loss": 0.1, "test_acc": 0.99}]
    assert_fits(bagging_table(rows, "bagging tiny: 7 members"), [f"{LONG} 6", "0.9877"])


def test_the_model_table(write_config):
    cfg = load_config(write_config(TINY), ["model.hidden=[4096,2048,1024,512,256,128,64]"])
    assert_fits(_model_table(cfg), ["8,390,656", "(N, 4096)", "memory to train (estimate)"])


def test_data_list_shows_a_long_path_whole():
    path = "/home/someone/.cache/dlbasics/mnist-with-a-much-longer-folder-name"
    rows = [{"name": "mnist", "task": "classification", "description": "MNIST handwritten digits, 60,000 train / "
             "10,000 test, 28x28 grey (CC BY-SA 3.0)", "location": path},
            {"name": "fashion-mnist", "task": "classification", "description": "Zalando's Fashion-MNIST",
             "location": "not found (downloaded on first use)"}]
    assert_fits(data_sets_table(rows), [path, "60,000", "fashion-mnist"])
    assert_fits(data_sets_table(rows[1:]), ["fashion-mnist"])
    # a path too long for a column but not for a line (tmp_path may be longer than a line)
    with tempfile.TemporaryDirectory(prefix="dlb-data-list-at-80-columns-with-a-long-name-") as short:
        found = Path(short) / "mnist"
        found.mkdir()
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            (found / stem).write_bytes(b"")
        result = dlb("data", "list", columns=WIDTH, env={"DLB_DATA_DIR": short})
    assert result.returncode == 0, result.stderr
    assert_readable(result.stdout, [str(found), "fashion-mnist", "images"])


def test_the_gradcheck_table():
    rows = [{"name": f"conv2d layer {i} of {LONG}", "tensor": "weight", "shape": (32, 16, 3, 3),
             "error": 1.23456789e-9 * (i + 1), "tolerance": 1e-7, "passed": i != 3} for i in range(7)]
    text = assert_fits(gradcheck_table(rows, "tiny: model gradients on 8 samples (float64, training mode)"),
                       ["weight (32, 16, 3, 3)", "7.4e-09", "1e-07", "FAIL"])
    assert text.count("pass") == 6


def test_the_init_study_table():
    from dlbasics.experiments.init_study import STUDY_ACTIVATIONS, STUDY_INITS, run_study

    rows, _ = run_study(STUDY_INITS, STUDY_ACTIVATIONS, 3, 16, 40, 0)
    assert_fits(init_study_table(rows, 3), ["small normal(std 0.01)", "saturated", "grad std", "std 1 -> last"])


def test_the_playground_table():
    from dlbasics.experiments.playground import run_all
    from dlbasics.optim.optimizers import OPTIMIZERS

    _, rows = run_all(["ill_conditioned", "rosenbrock"], list(OPTIMIZERS), 30, 0.5)
    assert any(r["diverged_step"] for r in rows)
    assert_fits(playground_table(rows, 30), ["ill_conditioned", "steps to"])


def test_the_bootstrap_table_keeps_the_run_id_of_its_title_whole():
    run_id = f"20260101-120000-{LONG}-3f9a2c"
    result = {"run_id": run_id, "n_test": 10000, "B": 2000, "metrics": {
        "test_acc": {"estimate": 0.981234, "low": 0.9784567, "high": 0.98456789, "method": "bca"},
        "test_loss": {"estimate": 0.0612345, "low": None, "high": None, "method": "percentile"}}}
    assert_fits(bootstrap_table(result, 0.95), [run_id, "0.9812", "0.9785", "undefined"])


def test_the_bias_variance_and_boosting_tables():
    rows = [{"capacity": c, "bias2": 0.123456789, "variance": 0.000123456789, "noise": 0.09, "total": 0.21358,
             "measured": 0.2123456, "train_error": 0.0812345} for c in (1, 2, 3, 4, 5, 6, 8, 10, 12)]
    assert_fits(bias_variance_table(rows, 3), ["0.0001235", "train error"])
    final = {"adaboost": {"estimators": 100, "train": 0.98765, "test": 0.95123},
             "bagging": {"estimators": 100, "train": 0.85, "test": 0.84}, "stump": {"estimators": 1, "train": 0.8,
                                                                                    "test": 0.79}}
    assert_fits(boosting_table(final, "spirals: accuracy (300 train / 200 test points)"), ["AdaBoost (SAMME)"])


def test_the_evaluate_tables_keep_long_class_names_whole():
    names = ["T-shirt/top", LONG, "Ankle boot", *MEMBERS]
    report = {"classes": [{"class": n, "precision": 0.912345, "recall": 0.876543, "f1": 0.891234, "support": 1000}
                          for n in names],
              "macro avg": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10000},
              "weighted avg": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10000}}
    assert_fits(_per_class_table(report), ["macro avg", "0.8765"])
    pairs = [{"true_name": n, "pred_name": LONG, "count": 123, "share": 0.1234} for n in names[:5]]
    assert_fits(_pairs_table(pairs), ["12.3%", "share"])


def test_a_table_whose_ids_do_not_fit_prints_one_block_per_row():
    ids = [f"{LONG}-{LONG[:25]}-{i}" for i in range(3)]  # 68 characters: a line, not a table column, holds one
    table = FitTable([Col("run", "run", "id"), Col("note", "note", "text"), Col("value", "value")],
                     [{"run": r, "note": "a note that wraps between words " * 3, "value": 0.123456789} for r in ids],
                     title="blocks")
    assert table.plan(WIDTH) is None
    text = assert_fits(table, ids)
    assert text.count("value  0.123456789") == 3


def test_a_panel_gives_up_its_border_for_a_path_that_would_not_fit_inside_it():
    path = f"/home/me/runs/20260101-120000-{LONG}-3f9a2c"
    assert len(path) == 77  # a line holds it, the inside of a panel (76) does not
    panel = Framed(KeyValues([("status", "completed", "text"), ("folder", path, "id")]), Path(path).name,
                   whole=[path])
    assert "╭" in render(panel, 100) and path in render(panel, 100)
    text = render(panel)
    assert "╭" not in text
    assert_readable(text, [path, Path(path).name])


def test_the_live_board_keeps_long_member_names_whole(tmp_path):
    tasks = [Task(f"{m} seed {i}", {}, tmp_path / f"m{i}") for i, m in enumerate(MEMBERS)]
    board = Board([], Console(file=io.StringIO(), width=WIDTH), jobs=7)
    board.on_start(tasks)
    for t in tasks:
        board.on_progress(t, {"epoch": 12, "epochs": 100, "val_acc": 0.912345678, "elapsed_s": 3.0})
    assert_readable(render(board._render()), [t.name for t in tasks] + ["12/100", "val_acc 0.9123"])


# the commands themselves, at COLUMNS=80 (in-process: conftest's dlb)

def _run_folder(root: Path, name: str, days: float, lr: float, acc: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() - days * 86400))
    path = root / f"{stamp}-{name}-{abs(hash(name)) % 16**6:06x}"
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps({
        "status": "completed", "kind": "train", "name": name, "epochs_planned": 30, "epochs_completed": 30,
        "duration_s": 754.321, "best": {"epoch": 27, "val_loss": 0.2345678, "val_acc": acc - 0.01},
        "final": {"train_loss": 0.123456, "val_loss": 0.2456789, "val_acc": acc - 0.02, "test_loss": 0.26789,
                  "test_acc": acc}}))
    (path / "config.yaml").write_text(f"name: {name}\noptimizer: {{name: adam, lr: {lr}}}\n"
                                      f"model: {{hidden: [128, 64]}}\n")
    return path


def test_runs_list_show_and_compare_at_80_columns(tmp_path):
    root = tmp_path / "runs"
    paths = [_run_folder(root, m, 1 + i / 10, 0.001 * (i + 1), 0.9123456 - i / 100) for i, m in enumerate(MEMBERS)]
    listed = dlb("runs", "list", "--runs-dir", root, columns=WIDTH)
    assert listed.returncode == 0, listed.stderr
    assert_readable(listed.stdout, [p.name for p in paths])
    shown = dlb("runs", "show", paths[1].name, "--runs-dir", root, columns=WIDTH)
    assert shown.returncode == 0, shown.stderr
    assert_readable(shown.stdout, [str(paths[1]) if len(str(paths[1])) <= WIDTH - 2 else paths[1].name,
                                   "test_acc 0.9023", "optimizer.lr: 0.001 -> 0.002", "summary.json"])
    compared = dlb("runs", "compare", *paths[:3], "--runs-dir", root, columns=WIDTH)
    assert compared.returncode == 0, compared.stderr
    assert_readable(compared.stdout, [*MEMBERS[:3], "0.9123", "0.8923", "12m34s", "optimizer.lr", "0.003"],
                    plain=("comparison folder: ", "figures: ", *(f"{m} = /" for m in MEMBERS)))
    assert "run 3: " + MEMBERS[2] in compared.stdout  # the runs' labels are too long to head three columns


def test_sweep_dry_run_at_80_columns(write_config):
    from dlbasics.experiments.sweep import plan_sweep

    config = write_config(TINY)
    dry = dlb("sweep", config, "--set", "optimizer.lr=0.000123456,0.00123456,0.0123456",
              "--set", "model.hidden=[128,64],[256,128,64]", "--seeds", "2", "--dry-run", columns=WIDTH)
    assert dry.returncode == 0, dry.stderr
    plan = plan_sweep(load_config(config), {"optimizer.lr": [0.000123456, 0.00123456, 0.0123456],
                                            "model.hidden": [[128, 64], [256, 128, 64]]}, seeds=2)
    assert_readable(dry.stdout, ["12 members", "lr=0.0001235", "[256, 128, 64]", *(m.id for m in plan.members)])
