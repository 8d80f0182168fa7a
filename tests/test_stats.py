"""dlbasics.stats (t distribution, t intervals and tests, bootstrap), bootstrap_run and the `bootstrap` command.

SciPy is optional: the tests that compare with it skip without it; the package itself never imports it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import dlbasics
from conftest import dlb
from dlbasics import stats
from dlbasics.experiments.bootstrap import bootstrap_run, per_sample_metrics
from dlbasics.nn.losses import LOSSES

# ---------------------------------------------------------------------------------------------------------------
# (a) Student-t quantiles
# ---------------------------------------------------------------------------------------------------------------

# printed t tables (q, df, t_{q, df})
T_TABLE = [(0.975, 1, 12.706204736), (0.975, 4, 2.776445105), (0.975, 9, 2.262157163),
           (0.995, 30, 2.749995654), (0.975, 1e12, 1.959963985), (0.975, math.inf, 1.959963985)]


@pytest.mark.parametrize(("q", "df", "expected"), T_TABLE)
def test_t_ppf_matches_table(q, df, expected):
    assert stats.t_ppf(q, df) == pytest.approx(expected, rel=1e-8, abs=1e-9)
    assert stats.t_ppf(1 - q, df) == pytest.approx(-expected, rel=1e-8, abs=1e-9)  # symmetry


QS = [0.5000001, 0.51, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9995, 0.9999]


def test_t_ppf_closed_forms_df_1_2():
    """df = 1 (Cauchy): t = tan(pi (q - 1/2)); df = 2: t = (2q - 1) / sqrt(2 q (1 - q)). Both exact."""
    for q in QS:
        assert stats.t_ppf(q, 1) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-12)
        assert stats.t_ppf(q, 2) == pytest.approx((2 * q - 1) / math.sqrt(2 * q * (1 - q)), rel=1e-12)


def test_t_cdf_closed_form_df_4_and_round_trip():
    """df = 4: P(|T| < t) = sin th (1 + cos^2 th / 2), th = atan(t / 2) (A&S 26.7.3); cdf(ppf(q)) = q."""
    for t in (0.1, 0.5, 1.0, 8 / 3, 5.0, 30.0):
        th = math.atan(t / 2)
        central = math.sin(th) * (1 + 0.5 * math.cos(th) ** 2)
        assert stats.t_sf(t, 4) == pytest.approx((1 - central) / 2, rel=1e-12)
        assert stats.t_cdf(-t, 4) == pytest.approx((1 - central) / 2, rel=1e-12)
        assert stats.t_cdf(t, 4) == pytest.approx((1 + central) / 2, rel=1e-14)
    for df in (1, 3, 7, 30, 1000, 1e7):
        for q in QS:
            assert stats.t_cdf(stats.t_ppf(q, df), df) == pytest.approx(q, rel=1e-13)


def test_t_against_scipy():
    sp = pytest.importorskip("scipy.stats")
    for df in (1, 1.5, 2, 3, 4, 5, 9, 10, 29, 30, 99, 100, 101, 1e3, 1e5, 1e8):
        for q in QS[1:]:  # (SciPy itself loses digits at q = 0.5000001; the closed forms check it above)
            assert stats.t_ppf(q, df) == pytest.approx(sp.t.ppf(q, df), rel=1e-10)
        for t in (-40.0, -2.0, -0.3, 0.0, 0.7, 1.7, 2.5, 6.0, 40.0):
            assert stats.t_cdf(t, df) == pytest.approx(sp.t.cdf(t, df), rel=1e-9)
            assert stats.t_sf(t, df) == pytest.approx(sp.t.sf(t, df), rel=1e-9)


def test_betainc_edges_and_symmetry():
    assert stats.betainc(2.0, 3.0, 0.0) == 0.0 and stats.betainc(2.0, 3.0, 1.0) == 1.0
    # I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(a, b) = 1 - I_{1-x}(b, a)
    assert stats.betainc(1.0, 1.0, 0.3) == pytest.approx(0.3, rel=1e-14)
    assert stats.betainc(2.5, 1.0, 0.4) == pytest.approx(0.4 ** 2.5, rel=1e-13)
    assert stats.betainc(3.0, 7.0, 0.2) == pytest.approx(1 - stats.betainc(7.0, 3.0, 0.8), rel=1e-13)
    with pytest.raises(ValueError):
        stats.t_ppf(1.0, 3)
    with pytest.raises(ValueError):
        stats.t_ppf(0.9, 0)


# ---------------------------------------------------------------------------------------------------------------
# (b) mean_ci, (c) paired and corrected t-tests
# ---------------------------------------------------------------------------------------------------------------

def test_mean_ci_hand_computed():
    # test accuracy of 5 seeds: mean = 4.55 / 5 = 0.91
    # deviations -0.01, 0.01, 0, 0.02, -0.02 -> squares sum 1e-4 + 1e-4 + 0 + 4e-4 + 4e-4 = 1e-3
    # s^2 = 1e-3 / (5 - 1) = 2.5e-4, s = 0.0158113883, s / sqrt(5) = sqrt(5e-5) = 0.00707106781
    # half width = t_{0.975, 4} * 0.00707106781 = 2.776445105 * 0.00707106781 = 0.0196324316
    ci = stats.mean_ci([0.90, 0.92, 0.91, 0.93, 0.89])
    assert ci["n"] == 5
    assert ci["mean"] == pytest.approx(0.91, rel=1e-14)
    assert ci["std"] == pytest.approx(math.sqrt(2.5e-4), rel=1e-12)
    assert ci["half_width"] == pytest.approx(2.776445105197799 * math.sqrt(5e-5), rel=1e-12)
    assert ci["half_width"] == pytest.approx(0.0196324316, abs=1e-10)
    assert (ci["low"], ci["high"]) == pytest.approx((0.91 - 0.0196324316, 0.91 + 0.0196324316), abs=1e-10)


def test_mean_ci_single_value_and_bad_input():
    ci = stats.mean_ci([0.9])
    assert ci == {"mean": 0.9, "std": None, "n": 1, "low": None, "high": None, "half_width": None}
    for bad in ([], [0.9, float("nan")]):
        with pytest.raises(ValueError):
            stats.mean_ci(bad)
    with pytest.raises(ValueError):
        stats.mean_ci([1.0, 2.0], confidence=1.0)


A5 = [0.91, 0.89, 0.93, 0.90, 0.92]
B5 = [0.90, 0.88, 0.90, 0.90, 0.89]


def test_paired_difference_hand_computed():
    # d = a - b = 0.01, 0.01, 0.03, 0.00, 0.03: mean 0.08 / 5 = 0.016
    # deviations -0.006, -0.006, 0.014, -0.016, 0.014; squares 3.6e-5 * 2 + 1.96e-4 * 2 + 2.56e-4 = 7.2e-4
    # s^2 = 7.2e-4 / 4 = 1.8e-4, se = sqrt(1.8e-4 / 5) = sqrt(3.6e-5) = 0.006, t = 0.016 / 0.006 = 8/3
    # p (df 4): th = atan(t / 2) = atan(4/3): sin 4/5, cos 3/5; P(|T| < t) = 0.8 (1 + 0.36 / 2) = 0.944 -> p 0.056
    # interval 0.016 +- 2.776445105 * 0.006 = 0.016 +- 0.0166586706
    r = stats.paired_difference(A5, B5)
    assert r["n"] == 5 and r["df"] == 4
    assert r["mean_diff"] == pytest.approx(0.016, rel=1e-12)
    assert r["se"] == pytest.approx(0.006, rel=1e-12)
    assert r["t"] == pytest.approx(8 / 3, rel=1e-12)
    assert r["p_value"] == pytest.approx(0.056, rel=1e-12)
    assert (r["low"], r["high"]) == pytest.approx((0.016 - 0.0166586706, 0.016 + 0.0166586706), abs=1e-10)


def test_corrected_resampled_ttest_hand_computed():
    # the same 5 differences as 5-fold CV of 1000 samples: n_train 800, n_test 200
    # correction 1/k + n_test/n_train = 1/5 + 200/800 = 0.45; var of the mean = 0.45 * 1.8e-4 = 8.1e-5
    # se = 0.009 (plain paired: 0.006), t = 0.016 / 0.009 = 16/9
    # p (df 4): th = atan(8/9): sin 8/sqrt(145), cos^2 81/145; P(|T| < t) = 8/sqrt(145) (1 + 81/290)
    #   = 2968 / (290 sqrt(145)) = 0.8499275 -> p = 0.1500725 (plain paired test: 0.056)
    # interval 0.016 +- 2.776445105 * 0.009 = 0.016 +- 0.0249880059
    r = stats.corrected_resampled_ttest(A5, B5, n_train=800, n_test=200)
    assert r["correction"] == pytest.approx(0.45, rel=1e-14)
    assert r["se"] == pytest.approx(0.009, rel=1e-12)
    assert r["t"] == pytest.approx(16 / 9, rel=1e-12)
    assert r["p_value"] == pytest.approx(1 - 2968 / (290 * math.sqrt(145)), rel=1e-12)
    assert r["p_value"] == pytest.approx(0.1500725, abs=1e-7)
    assert (r["low"], r["high"]) == pytest.approx((0.016 - 0.0249880059, 0.016 + 0.0249880059), abs=1e-10)
    assert r["p_value"] > stats.paired_difference(A5, B5)["p_value"]  # the correction is more cautious


def test_t_tests_degenerate_and_bad_input():
    same = stats.paired_difference([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (same["t"], same["p_value"], same["low"], same["high"]) == (0.0, 1.0, 0.0, 0.0)
    shifted = stats.paired_difference([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert shifted["t"] == math.inf and shifted["p_value"] == 0.0
    with pytest.raises(ValueError, match="paired"):
        stats.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        stats.paired_difference([1.0], [2.0])
    with pytest.raises(ValueError):
        stats.corrected_resampled_ttest(A5, B5, n_train=0, n_test=200)


def test_t_tests_against_scipy():
    sp = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for k in (3, 5, 10, 30):
        a, b = rng.normal(0.8, 0.02, k), rng.normal(0.79, 0.02, k)
        ref = sp.ttest_rel(a, b)
        r = stats.paired_difference(a, b)
        assert r["t"] == pytest.approx(ref.statistic, rel=1e-12)
        assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
        c = stats.corrected_resampled_ttest(a, b, n_train=900, n_test=100)
        se = math.sqrt((1 / k + 100 / 900) * np.var(a - b, ddof=1))
        assert c["t"] == pytest.approx(np.mean(a - b) / se, rel=1e-12)
        assert c["p_value"] == pytest.approx(2 * sp.t.sf(abs(c["t"]), k - 1), rel=1e-10)
        ci = stats.mean_ci(a, confidence=0.9)
        lo, hi = sp.t.interval(0.9, k - 1, loc=np.mean(a), scale=sp.sem(a))
        assert (ci["low"], ci["high"]) == pytest.approx((lo, hi), rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# (d) bootstrap, (e) the normal distribution
# ---------------------------------------------------------------------------------------------------------------

def test_bootstrap_coverage_bernoulli():
    """400 test sets of 300 Bernoulli(0.8) flags: the 90% intervals must cover 0.8 about 90% of the time.

    With 400 trials the coverage estimate has a standard error of 0.015, so [0.84, 0.95] is a safe band.
    Measured with this seed: percentile 0.88, BCa 0.8825.
    """
    rng = np.random.default_rng(0)
    data = (rng.random((400, 300)) < 0.8).astype(np.float64)
    covered = {"percentile": 0, "bca": 0}
    for i, flags in enumerate(data):
        for method in covered:
            ci = stats.bootstrap_mean_ci(flags, B=500, rng=np.random.default_rng([0, i]), confidence=0.9,
                                         method=method)
            covered[method] += ci["low"] <= 0.8 <= ci["high"]
    for method, hits in covered.items():
        assert 0.84 <= hits / 400 <= 0.95, (method, hits / 400)


def test_bootstrap_ci_generic_matches_mean_shortcut():
    """The O(n^2) generic jackknife and the (sum - v_i) / (n - 1) shortcut give the same BCa interval."""
    x = np.random.default_rng(1).exponential(size=50) ** 2
    fast = stats.bootstrap_mean_ci(x, B=1000, rng=7, method="bca")
    slow = stats.bootstrap_ci(lambda idx: x[idx].mean(axis=-1), len(x), 1000, np.random.default_rng(7),
                              method="bca")
    assert fast["estimate"] == pytest.approx(x.mean(), rel=1e-14)
    for key in ("low", "high", "z0", "acceleration"):
        assert fast[key] == pytest.approx(slow[key], rel=1e-10, abs=1e-14)
    assert fast["acceleration"] > 0  # a right-skewed statistic
    perc = stats.bootstrap_mean_ci(x, B=1000, rng=7, method="percentile")
    assert perc["low"] < fast["low"] and perc["high"] < fast["high"]  # BCa shifts right for right skew
    # a statistic with no spread: every resample equals the estimate
    const = stats.bootstrap_mean_ci(np.ones(20), B=200, method="bca")
    assert const["low"] == const["high"] == const["estimate"] == 1.0
    with pytest.raises(ValueError):
        stats.bootstrap_mean_ci(x, method="normal")


def test_bootstrap_against_scipy():
    sp = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(3).exponential(size=60) ** 2
    for method, name in (("percentile", "percentile"), ("bca", "BCa")):
        mine = stats.bootstrap_mean_ci(x, B=40000, rng=1, method=method, confidence=0.9)
        ref = sp.bootstrap((x,), np.mean, n_resamples=40000, method=name, confidence_level=0.9,
                           rng=np.random.default_rng(2)).confidence_interval
        assert (mine["low"], mine["high"]) == pytest.approx((ref.low, ref.high), rel=0.02)  # Monte Carlo error


def test_norm_ppf_accuracy():
    assert stats.norm_ppf(0.5) == 0.0
    assert stats.norm_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-14)
    assert stats.norm_ppf(0.995) == pytest.approx(2.5758293035489004, rel=1e-14)
    # x -> p = Phi(x) = erfc(-x / sqrt 2) / 2 with math.erfc -> back: the lower tail (and the middle) is
    # exactly representable in relative terms, so the inverse must return x to 1e-12
    for x in np.concatenate([np.linspace(-37.0, -0.01, 400), np.linspace(0.01, 3.0, 50)]):
        p = 0.5 * math.erfc(-x / math.sqrt(2))
        assert stats.norm_ppf(p) == pytest.approx(x, rel=1e-12)
        assert stats.norm_cdf(x) == p
    for p in (2.0 ** -40, 2.0 ** -20, 0.02425, 0.3, 0.4375):  # the upper half mirrors it (1 - p exact here)
        assert stats.norm_ppf(1 - p) == pytest.approx(-stats.norm_ppf(p), rel=1e-13)
    assert stats.norm_sf(3.0) == pytest.approx(0.0013498980316300946, rel=1e-14)


def test_package_never_imports_scipy():
    code = ("import sys, dlbasics.stats, dlbasics.experiments.bootstrap, dlbasics.cli.stats_cmd; "
            "sys.exit('scipy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------------------------------------------------------
# (f) a run end to end: per-sample metrics, bootstrap_run, the command
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "params"), [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                                              ("bce_with_logits", {}), ("mse", {}), ("mae", {}),
                                              ("huber", {"delta": 0.5})])
def test_per_sample_metrics_average_to_the_loss(name, params):
    rng = np.random.default_rng(0)
    loss = LOSSES[name](**params)
    if loss.task == "classification":
        k = 1 if name == "bce_with_logits" else 4
        out, y = rng.normal(0, 3, (50, k)), rng.integers(0, max(k, 2), 50)
    else:
        out, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    correct, losses = per_sample_metrics(name, params, out, y)
    assert losses.shape == (50,)
    assert losses.mean() == pytest.approx(loss.forward(out, y), rel=1e-12)
    if loss.task == "classification":
        assert correct.sum() == loss.n_correct(out, y)
    else:
        assert correct is None


@pytest.fixture
def run_dir(tmp_path):
    cfg = dlbasics.resolve_config({"name": "boot", "seed": 2,
                                   "data": {"name": "spirals", "n_train": 300, "n_test": 200},
                                   "model": {"type": "mlp", "hidden": [16]}, "train": {"epochs": 3}}, "x")
    return dlbasics.train(cfg, runs_dir=tmp_path / "runs", progress=False).path


def test_bootstrap_run_end_to_end(run_dir):
    final = dlbasics.Run(run_dir).summary["final"]
    result = bootstrap_run(run_dir, B=500)
    assert set(result["metrics"]) == {"test_acc", "test_loss"}
    assert result["n_test"] == 200 and result["B"] == 500 and result["method"] == "bca"
    for name, m in result["metrics"].items():
        assert m["estimate"] == pytest.approx(final[name], rel=1e-6)
        for method in ("percentile", "bca"):
            assert m[method]["low"] <= m["estimate"] <= m[method]["high"]
        assert (m["low"], m["high"]) == (m["bca"]["low"], m["bca"]["high"])
    assert json.loads((run_dir / "bootstrap.json").read_text()) == result
    assert bootstrap_run(run_dir, B=500) == result  # the same seed: the same intervals
    width = result["metrics"]["test_acc"]["high"] - result["metrics"]["test_acc"]["low"]
    assert 0.05 < width < 0.2  # about 4 sqrt(p (1 - p) / 200) for 200 test samples


def test_bootstrap_run_refuses_runs_without_predictions(run_dir, tmp_path):
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["final"]["test_acc"] += 0.01
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(ValueError, match="do not belong to this run"):
        bootstrap_run(run_dir, B=200)
    (run_dir / "test_predictions.npz").unlink()
    with pytest.raises(ValueError, match="predates"):
        bootstrap_run(run_dir, B=200)
    summary["status"] = "diverged"
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(ValueError, match="diverged"):
        bootstrap_run(run_dir, B=200)
    with pytest.raises(ValueError, match="not a run folder"):
        bootstrap_run(tmp_path / "nowhere", B=200)
    assert not (run_dir / "bootstrap.json").exists()


def test_bootstrap_command(run_dir):
    result = dlb("bootstrap", run_dir, "-B", "300", "--method", "percentile")
    assert result.returncode == 0, result.stderr
    assert "test_acc" in result.stdout and "test_loss" in result.stdout and "percentile" in result.stdout
    assert f"bootstrap.json: {run_dir / 'bootstrap.json'}" in result.stdout
    saved = json.loads((run_dir / "bootstrap.json").read_text())
    assert saved["B"] == 300 and saved["method"] == "percentile"


def test_bootstrap_command_bad_input(run_dir, tmp_path):
    (run_dir / "test_predictions.npz").unlink()
    for args in ([run_dir], [tmp_path], [run_dir, "--confidence", "1.5"],
                 [run_dir, "-B", "10"]):  # (below the minimum of 100: click's usage error, one line from main())
        result = dlb("bootstrap", *args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
