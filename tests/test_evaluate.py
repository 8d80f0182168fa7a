"""`dlb evaluate`: the confusion matrix and its report checked by hand (and against scikit-learn when it is
installed), then end to end on tiny runs: files, the run's own test accuracy reproduced, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO, TINY, dlb
from dlbasics import load_config, train
from dlbasics.experiments.evaluate import (
    class_probabilities,
    confident_mistakes,
    confusion_matrix,
    evaluate_run,
    most_confused,
    per_class_report,
    regression_report,
)
from dlbasics.runs.folder import RunFolder

# 3 classes, 10 samples: class 0 has 4 (3 right, 1 -> 1), class 1 has 3 (1 right, 2 -> 2), class 2 has 3 (all right)
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
CM = np.array([[3, 1, 0],
               [0, 1, 2],
               [0, 0, 3]])


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, CM)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(confusion_matrix([2, 2], [0, 0], 4)[2], [2, 0, 0, 0])  # unused classes stay 0


def test_confusion_matrix_rows_sum_to_the_class_counts_and_columns_to_the_predictions():
    rng = np.random.default_rng(0)
    y, yhat = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    cm = confusion_matrix(y, yhat, 7)
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y, minlength=7))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(yhat, minlength=7))
    assert np.trace(cm) == np.sum(y == yhat)


def test_confusion_matrix_rejects_classes_out_of_range():
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        confusion_matrix([0, 3], [0, 1], 3)


def test_per_class_precision_recall_f1_match_hand_computed_values():
    report = per_class_report(CM, ["a", "b", "c"])
    # precision = tp / predicted: 3/3, 1/2, 3/5; recall = tp / support: 3/4, 1/3, 3/3
    expected = [("a", 1.0, 3 / 4, 2 * 1.0 * 0.75 / 1.75, 4), ("b", 1 / 2, 1 / 3, 0.4, 3),
                ("c", 3 / 5, 1.0, 0.75, 3)]
    for row, (name, p, r, f1, support) in zip(report["classes"], expected):
        assert row["class"] == name and row["support"] == support
        assert row["precision"] == pytest.approx(p) and row["recall"] == pytest.approx(r)
        assert row["f1"] == pytest.approx(f1)
    assert report["accuracy"] == pytest.approx(0.7)
    assert report["macro avg"]["precision"] == pytest.approx((1 + 0.5 + 0.6) / 3)
    assert report["macro avg"]["f1"] == pytest.approx((6 / 7 + 0.4 + 0.75) / 3)
    assert report["weighted avg"]["recall"] == pytest.approx(0.7)  # weighted recall is the accuracy
    assert report["weighted avg"]["f1"] == pytest.approx((4 * 6 / 7 + 3 * 0.4 + 3 * 0.75) / 10)
    assert report["macro avg"]["support"] == 10


def test_a_class_never_predicted_nor_present_scores_zero_without_warnings():
    report = per_class_report(np.array([[2, 0, 1], [0, 0, 0], [1, 0, 2]]))
    assert report["classes"][1] == {"class": "1", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_per_class_report_agrees_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    yhat = np.where(rng.random(300) < 0.6, y, rng.integers(0, 5, 300))
    yhat[yhat == 4] = 3  # class 4 is never predicted: precision 0 (zero_division=0)
    ours = per_class_report(confusion_matrix(y, yhat, 5))
    p, r, f1, support = metrics.precision_recall_fscore_support(y, yhat, labels=range(5), zero_division=0)
    np.testing.assert_allclose([c["precision"] for c in ours["classes"]], p)
    np.testing.assert_allclose([c["recall"] for c in ours["classes"]], r)
    np.testing.assert_allclose([c["f1"] for c in ours["classes"]], f1)
    np.testing.assert_array_equal([c["support"] for c in ours["classes"]], support)
    theirs = metrics.classification_report(y, yhat, labels=range(5), zero_division=0, output_dict=True)
    for avg in ("macro avg", "weighted avg"):
        for key in ("precision", "recall", "f1"):
            assert ours[avg][key] == pytest.approx(theirs[avg][f"{key}-score" if key == "f1" else key])


def test_most_confused_pairs_are_the_largest_off_diagonal_cells_with_their_share():
    pairs = most_confused(CM, top=5, class_names=["a", "b", "c"])
    assert [(p["true_name"], p["pred_name"], p["count"]) for p in pairs] == [("b", "c", 2), ("a", "b", 1)]
    assert pairs[0]["share"] == pytest.approx(2 / 3) and pairs[1]["share"] == pytest.approx(1 / 4)
    assert most_confused(CM, top=1, class_names=["a", "b", "c"]) == pairs[:1]
    assert most_confused(np.eye(3, dtype=int) * 5) == []


def test_most_confused_breaks_count_ties_by_share():
    cm = np.array([[10, 2, 0], [0, 2, 2], [0, 0, 1]])  # two cells of 2: 2/12 of class 0, 2/4 of class 1
    assert [(p["true"], p["pred"]) for p in most_confused(cm, 2)] == [(1, 2), (0, 1)]


def test_confident_mistakes_are_wrong_and_sorted_by_predicted_class_probability():
    logits = np.array([[5.0, 0.0], [0.0, 1.0], [0.0, 9.0], [3.0, 0.0]])
    probs = class_probabilities(logits, "cross_entropy")
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    y, pred = np.array([0, 0, 0, 1]), logits.argmax(axis=1)
    np.testing.assert_array_equal(confident_mistakes(y, pred, probs), [2, 3, 1])
    binary = class_probabilities(np.array([[0.0], [2.0]]), "bce_with_logits")
    np.testing.assert_allclose(binary, [[0.5, 0.5], [1 / (1 + np.e ** 2), 1 / (1 + np.e ** -2)]])


def test_regression_report_mae_rmse_and_r2_by_hand():
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    yhat = np.array([[1.5], [2.0], [2.0], [4.5]])  # residuals -0.5, 0, 1, -0.5
    report = regression_report(y, yhat)
    assert report["mae"] == pytest.approx(2.0 / 4)
    assert report["rmse"] == pytest.approx(np.sqrt(1.5 / 4))
    assert report["r2"] == pytest.approx(1 - 1.5 / 5.0)  # SS_res 1.5, SS_tot = 2.25 + 0.25 + 0.25 + 2.25
    assert regression_report(y, y)["r2"] == 1.0
    assert np.isnan(regression_report(np.ones(3), np.zeros(3))["r2"])  # constant targets: R² undefined


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A quickstart MLP on 600 mnist-mini images, one epoch (well under a second)."""
    cfg = load_config(REPO / "configs" / "quickstart.yaml", ["train.epochs=1", "data.train_size=600",
                                                             "model.hidden=[32]"])
    return train(cfg, runs_dir=tmp_path_factory.mktemp("runs"), progress=False, plots=False).path


@pytest.fixture(scope="module")
def spirals_run(tmp_path_factory):
    cfg = load_config(_write(tmp_path_factory.mktemp("cfg") / "tiny.yaml", TINY))
    return train(cfg, runs_dir=tmp_path_factory.mktemp("runs"), progress=False, plots=False).path


def _write(path, text):
    path.write_text(text)
    return path


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_evaluate_an_image_run_writes_every_file_and_reproduces_its_test_accuracy(image_run):
    result = dlb("evaluate", image_run, "--top", "3")
    assert result.returncode == 0, result.stderr
    out = image_run / "evaluation"
    for name in ("evaluation.json", "confusion_matrix.csv", "confusion_matrix.png", "per_class.csv",
                 "confident_mistakes.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((image_run / "summary.json").read_text())
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["metrics"]["accuracy"] == summary["final"]["test_acc"]  # exactly: the same model, the same test set
    assert ev["metrics"]["loss"] == pytest.approx(summary["final"]["test_loss"], rel=1e-6)
    assert ev["reported"]["matches"] is True and "official test set of mnist-mini" in ev["description"]
    cm = np.array(ev["confusion_matrix"])
    assert cm.sum() == ev["n"] == summary["data"]["n_test"] and len(ev["most_confused"]) == 3
    assert len(ev["confident_mistakes"]) == 16
    assert summary["evaluation"]["test"]["file"] == "evaluation/evaluation.json"
    assert summary["evaluation"]["test"]["accuracy"] == summary["final"]["test_acc"]
    rows = (out / "confusion_matrix.csv").read_text().splitlines()
    assert len(rows) == 11 and [int(c) for c in rows[1].split(",")[1:]] == cm[0].tolist()
    assert (out / "per_class.csv").read_text().splitlines()[-1].startswith("weighted avg,")
    assert "most confused pairs" in result.stdout and "macro avg" in result.stdout


def test_evaluate_val_split_reproduces_the_last_epochs_val_accuracy_and_keeps_the_test_entry(spirals_run):
    folder = RunFolder(spirals_run)
    folder.write_summary({**folder.read_summary(), "evaluation": {"test": {"file": "evaluation/evaluation.json"}}})
    result = dlb("evaluate", spirals_run, "--split", "val")
    assert result.returncode == 0, result.stderr
    assert "validation split" in result.stdout
    ev = json.loads((spirals_run / "evaluation" / "evaluation_val.json").read_text())
    summary = json.loads((spirals_run / "summary.json").read_text())
    assert ev["metrics"]["accuracy"] == summary["final"]["val_acc"]
    assert set(summary["evaluation"]) == {"test", "val"}
    assert summary["evaluation"]["val"]["file"] == "evaluation/evaluation_val.json"
    assert not (spirals_run / "evaluation" / "confident_mistakes.png").exists()  # points, not images
    assert (spirals_run / "evaluation" / "confusion_matrix_val.png").stat().st_size > 0


def test_evaluate_a_regression_run_reports_mae_rmse_r2_and_draws_residuals(write_config, tmp_path):
    path = write_config("name: lin\ndata: {name: linear, n_train: 200, n_test: 50}\nmodel: {type: mlp, hidden: []}\n"
                        "loss: {name: mse}\noptimizer: {name: adam, lr: 0.1}\ntrain: {epochs: 5, batch_size: 32}\n")
    run = train(load_config(path), runs_dir=tmp_path / "runs", progress=False, plots=False).path
    result = dlb("evaluate", run)
    assert result.returncode == 0, result.stderr
    assert "R²" in result.stdout
    ev = json.loads((run / "evaluation" / "evaluation.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert ev["task"] == "regression" and ev["metrics"]["loss"] == pytest.approx(summary["final"]["test_loss"])
    assert ev["metrics"]["r2"] > 0.5 and ev["metrics"]["rmse"] >= ev["metrics"]["mae"] > 0
    assert (run / "evaluation" / "residuals.png").stat().st_size > 0
    assert set(summary["evaluation"]["test"]) == {"file", "n", "loss", "mae", "rmse", "r2"}


def test_an_early_stopped_fold_run_is_evaluated_on_its_held_out_fold_with_its_restored_best_weights(tmp_path):
    cfg = load_config(_write(tmp_path / "tiny.yaml", TINY),
                      ["data.fold=[{strategy: stratified, k: 3, index: 1}]", "train.epochs=12", "optimizer.lr=0.3",
                       "regularization.early_stopping={patience: 1}"])
    run = train(cfg, runs_dir=tmp_path / "runs", progress=False, plots=False)
    assert run.summary["early_stopping"]["restored"]  # model.npz holds an earlier epoch's weights than the last
    ev = evaluate_run(run.path)
    assert "held-out fold 2 of 3" in ev["description"] and "not the official test set" in ev["description"]
    assert ev["n"] == run.summary["data"]["n_test"] == 100  # a third of the 300 training samples
    assert ev["metrics"]["accuracy"] == run.summary["final"]["test_acc"]


def test_evaluate_on_a_data_set_with_other_classes_is_one_line_exit_2(spirals_run):
    assert_one_line_error(dlb("evaluate", spirals_run, "--data", "moons"),
                          "--data moons: 2 classes, but the run's model was trained on 3 (spirals)")


def test_evaluate_on_a_data_set_with_other_inputs_or_task_says_why(spirals_run):
    with pytest.raises(ValueError, match=r"samples of shape \(1, 28, 28\), but the run's model takes \(2,\)"):
        evaluate_run(spirals_run, data="mnist-mini")
    with pytest.raises(ValueError, match="a regression data set, but the run's model does classification"):
        evaluate_run(spirals_run, data="linear")
    with pytest.raises(ValueError, match="did you mean 'moons'"):
        evaluate_run(spirals_run, data="moon")
    with pytest.raises(ValueError, match="--split val cannot go with it"):
        evaluate_run(spirals_run, split="val", data="moons")


def test_evaluate_a_missing_or_damaged_run_folder_is_one_line_exit_2(tmp_path):
    assert_one_line_error(dlb("evaluate", tmp_path / "nope"), "no run folder", "nope")
    with pytest.raises(ValueError, match="nope: no such run folder"):
        evaluate_run(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"summary\.json: not valid JSON"):
        evaluate_run(tmp_path / "bad")
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "summary.json").write_text('{"status": "completed", "kind": "compare"}')
    with pytest.raises(ValueError, match="a compare folder, not a single run"):
        evaluate_run(tmp_path / "group")


def test_train_evaluate_true_writes_the_evaluation_at_the_end(write_config, tmp_path):
    from conftest import TINY
    from dlbasics import load_config, train

    run = train(load_config(write_config(TINY), ["train.evaluate=true"]), runs_dir=tmp_path, progress=False)
    assert (run.path / "evaluation" / "confusion_matrix.csv").is_file()
    assert run.summary["evaluation"]["test"]["accuracy"] == run.summary["final"]["test_acc"]
