"""`dlb fit-study`: exact least-squares polynomials of degree 1 / 3 / 12 under-fit, fit and over-fit, with training
error falling with degree and validation error U-shaped."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import dlb
from dlbasics.experiments.fit_study import fit_study


def test_degree_1_underfits_3_fits_and_12_overfits():
    study = fit_study()
    assert [study.verdict(d) for d in (1, 3, 12)] == ["under-fitting", "good fit", "over-fitting"]
    train = np.array([r["train_mse"] for r in study.rows])
    assert len(train) == 13 and (np.diff(train) <= 1e-12).all()  # nested least squares: never worse on training
    val = {r["degree"]: r["val_mse"] for r in study.rows}
    assert val[12] > 10 * val[3] and val[1] > 2 * val[3] and train[12] < train[3] / 5
    assert study.best == min(val, key=val.get)


def test_settings_beyond_reach_are_refused_before_any_work():
    from dlbasics.experiments.fit_study import MAX_DEGREE, MAX_POINTS

    for kwargs in ({"max_degree": MAX_DEGREE + 1}, {"degrees": (MAX_DEGREE + 1,)}, {"n_train": MAX_POINTS + 1},
                   {"n_val": MAX_POINTS + 1}, {"max_degree": -1}):
        with pytest.raises(ValueError):
            fit_study(**kwargs)


def test_the_fits_are_exact_least_squares():
    study = fit_study(degrees=(2, 5), n_train=12, noise=0.2, seed=4)
    grid = np.linspace(0, 1, 9)
    for d in (2, 5):
        reference = np.polynomial.Polynomial.fit(study.x_train, study.y_train, d)
        np.testing.assert_allclose(study.predict(d, grid), reference(grid), rtol=1e-8, atol=1e-10)
        assert study.rows[d]["train_mse"] == pytest.approx(np.mean((reference(study.x_train) - study.y_train) ** 2),
                                                           rel=1e-8)
    assert len(study.rows) == 13 and [r["degree"] for r in study.rows if r["chosen"]] == [2, 5]


def test_cli_writes_the_fits_the_curve_and_the_table(tmp_path):
    runs = tmp_path / "r"
    result = dlb("fit-study", "--degrees", "1,8", "--max-degree", "8", "--json", "--runs-dir", runs)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "fit-study" and summary["degrees"] == [1, 8]
    folder = runs / summary["run_id"]
    for png in ("fits.png", "error_vs_degree.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    with open(folder / "fit_study.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["degree"]) for r in rows] == list(range(9))
    assert {r["verdict"] for r in rows} <= {"under-fitting", "good fit", "over-fitting"}


@pytest.mark.parametrize("args,fragment", [
    (["--degrees", "1,x"], "expected integers"), (["--degrees", "-1"], "integers >= 0"),
    (["--n-train", "1"], "--n-train 1: must be in 2 .."), (["--noise", "-1"], "--noise -1.0: the noise std"),
    (["--max-degree", "100000000"], "--max-degree 100000000: must be in 0 .. 100"),
    (["--degrees", "1,101"], "degrees up to 100"), (["--n-val", "10000000000"], "--n-val 10000000000: must be in 1 .."),
])
def test_cli_mistakes_are_one_line_errors(tmp_path, args, fragment):
    result = dlb("fit-study", *args, "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
