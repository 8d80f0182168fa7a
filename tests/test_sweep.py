"""`dlb sweep`: values on the command line, points, members, the sweep folder, resume."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from conftest import TINY, dlb, dlb_process
from dlbasics.config import ConfigError, load_config, resolve_config
from dlbasics.config.values import split_override, split_values, sweep_values
from dlbasics.execution import InProcessExecutor, TaskResult
from dlbasics.experiments.sweep import expand_points, plan_sweep, run_sweep

QUICK = TINY.replace("epochs: 3", "epochs: 2")


@pytest.mark.parametrize("text,pieces", [
    ("1e-4,1e-3,1e-2", ["1e-4", "1e-3", "1e-2"]), ("[64],[128,64]", ["[64]", "[128,64]"]),
    ("{a: 1, b: 2},{a: 3}", ["{a: 1, b: 2}", "{a: 3}"]), ("'a,b',c", ["'a,b'", "c"]), ('"x,y"', ['"x,y"']),
    ("[1, 2]", ["[1, 2]"]), ("plain", ["plain"]),
])
def test_a_comma_splits_values_only_outside_brackets_and_quotes(text, pieces):
    assert split_values(text) == pieces


@pytest.mark.parametrize("text,fragment", [("[64],[128,64", "unclosed ["), ("[64]],[1]", "unbalanced ']'"),
                                           ("a,,b", "empty value"), ("'a,b", "unclosed quote")])
def test_malformed_lists_are_one_line_errors(text, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        split_values(text)


def test_values_are_read_as_yaml_and_ranges_expand():
    assert sweep_values("1e-4,1e-3") == [1e-4, 1e-3]
    assert sweep_values("[64],[128,64]") == [[64], [128, 64]]
    assert sweep_values("range(1,4)") == [1, 2, 3] and sweep_values("range(0, 10, 4)") == [0, 4, 8]
    assert sweep_values("range(0.1, 0.4, 0.1)") == [0.1, 0.2, 0.3]
    assert sweep_values("0.5") is None and split_override("model.hidden=[64,32]") == ("model.hidden", None)
    for bad in ("range(3, 1)", "range(1, 2, 0)", "range(a, b)", "range(0, 1000000)"):
        with pytest.raises(ConfigError):
            sweep_values(bad)


def test_points_are_the_grid_crossed_with_zip_and_random_draws_in_a_fixed_order():
    spec = resolve_config({"sweep": {"grid": {"model.hidden": [[8], [16]]},
                                     "zip": {"optimizer.lr": [0.1, 0.01], "optimizer.name": ["sgd", "adam"]},
                                     "random": {"n": 3, "seed": 7, "params": {
                                         "optimizer.weight_decay": {"loguniform": [1e-5, 1e-2]},
                                         "train.batch_size": {"choice": [16, 32]},
                                         "seed": {"randint": [0, 2]}}}}})["sweep"]
    keys, points = expand_points(spec, {"train.epochs": [1, 2]})
    assert keys == ["train.epochs", "model.hidden", "optimizer.lr", "optimizer.name", "optimizer.weight_decay",
                    "train.batch_size", "seed"]
    assert len(points) == 2 * 2 * 2 * 3
    assert [(p["train.epochs"], p["model.hidden"], p["optimizer.name"]) for p in points[::3]] == [
        (1, [8], "sgd"), (1, [8], "adam"), (1, [16], "sgd"), (1, [16], "adam"),
        (2, [8], "sgd"), (2, [8], "adam"), (2, [16], "sgd"), (2, [16], "adam")]
    assert points == expand_points(spec, {"train.epochs": [1, 2]})[1]  # deterministic: resumable by index
    draws = [p["optimizer.weight_decay"] for p in points]
    assert all(1e-5 <= d <= 1e-2 for d in draws) and len(set(draws)) == 3
    assert {p["train.batch_size"] for p in points} <= {16, 32} and {p["seed"] for p in points} <= {0, 1, 2}
    assert all(isinstance(math.log(d), float) for d in draws)


def test_every_member_is_resolved_before_anything_runs(write_config):
    base = load_config(write_config(QUICK))
    plan = plan_sweep(base, {"optimizer.lr": [0.1, 0.01], "model.hidden": [[8], [16, 8]]}, seeds=2, kfold=3)
    assert len(plan.points) == 4 and len(plan.members) == 4 * 2 * 3
    first = plan.members[0].config
    assert first["optimizer"]["lr"] == 0.1 and first["model"]["hidden"] == [8] and first["sweep"]["grid"] == {}
    assert [m.config["seed"] for m in plan.members[:6]] == [3, 3, 3, 4, 4, 4]
    assert [m.fold for m in plan.members[:3]] == [0, 1, 2]
    assert plan.members[0].config["data"]["fold"][0]["k"] == 3
    assert len({m.id for m in plan.members}) == len(plan.members)
    assert plan.metric == "test_acc" and plan.mode == "max"  # --kfold: chosen on the held-out folds
    assert plan_sweep(base, {"optimizer.lr": [0.1]}).metric == "val_acc"


@pytest.mark.parametrize("axes,raw,fragment", [
    ({"optimizer.lrr": [0.1, 0.2]}, {}, "sweep member lrr=0.1: optimizer.lrr: unknown key; did you mean 'lr'?"),
    ({"optimizer.lr": [0.1, -1]}, {}, "sweep member lr=-1: optimizer.lr: expected a number >= 0, got -1"),
    ({}, {}, "nothing to sweep"),
    ({}, {"sweep": {"zip": {"optimizer.lr": [0.1, 0.2], "seed": [1]}}}, "zip lists must have the same length"),
    ({}, {"sweep": {"random": {"n": 2, "params": {"optimizer.lr": {"loguniform": [0, 1]}}}}}, "bounds > 0"),
    ({}, {"sweep": {"random": {"n": 0, "params": {}}}}, "sweep.random.n"),
    ({}, {"sweep": {"grid": {"optimizer.lr": []}}}, "sweep.grid.optimizer.lr: expected at least 1"),
])
def test_a_bad_sweep_is_a_config_error_naming_the_member_and_key(write_config, axes, raw, fragment):
    with pytest.raises(ConfigError) as info:
        base = resolve_config({**load_config(write_config(QUICK)), **raw}, "exp.yaml")
        plan_sweep(base, axes)
    assert fragment in str(info.value)


class StopAfter:
    """The in-process executor, with a Ctrl-C after ``n`` members."""

    def __init__(self, n: int):
        self.n, self.inner = n, InProcessExecutor()

    def run(self, tasks, on_done=None, on_progress=None):
        results = self.inner.run(list(tasks)[:self.n], on_done, on_progress)
        assert all(r.status == "completed" for r in results)
        raise KeyboardInterrupt


def test_a_sweep_writes_its_tables_and_picks_the_best_point_with_a_paired_test(write_config, tmp_path):
    plan = plan_sweep(load_config(write_config(QUICK)), {"optimizer.lr": [0.3, 0.01]}, seeds=2)
    result = run_sweep(plan, runs_dir=tmp_path, executor=InProcessExecutor(), command=["dlb", "sweep", "x"])
    assert result.path.name.startswith("2") and "-sweep-tiny-" in result.path.name
    results = pd.read_csv(result.path / "results.csv")
    assert len(results) == 4 and set(results.status) == {"completed"} and list(results["optimizer.lr"]) == [
        0.3, 0.3, 0.01, 0.01]
    points = pd.read_csv(result.path / "points.csv")
    assert len(points) == 2 and list(points.n) == [2, 2]
    by_lr = results.groupby("optimizer.lr").val_acc.mean()
    assert points.set_index("optimizer.lr").val_acc.to_dict() == pytest.approx(by_lr.to_dict())
    summary = json.loads((result.path / "summary.json").read_text())
    best = max(points.itertuples(), key=lambda p: p.val_acc)
    assert summary["status"] == "completed" and summary["best"]["point"] == best.point
    assert summary["best_vs_runner_up"]["test"] == "paired t over seeds" and summary["best_vs_runner_up"]["n"] == 2
    for png in ("val_acc_vs_lr.png", "curves_loss.png", "curves_accuracy.png"):
        assert (result.path / png).stat().st_size > 1000
    spec = (result.path / "sweep.yaml").read_text()
    assert "dlb sweep x" in spec and "optimizer.lr" in spec


def test_an_interrupted_sweep_continues_where_it_stopped_with_the_same_numbers(write_config, tmp_path):
    base = load_config(write_config(QUICK))
    plan = plan_sweep(base, {"optimizer.lr": [0.3, 0.01]}, seeds=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, runs_dir=tmp_path / "a", executor=StopAfter(2))
    (folder,) = (tmp_path / "a").iterdir()
    assert json.loads((folder / "summary.json").read_text())["status"] == "interrupted"
    seen: list[TaskResult] = []
    resumed = run_sweep(plan, runs_dir=tmp_path / "a", executor=InProcessExecutor(), on_done=seen.append)
    assert resumed.path == folder and resumed.reused == 2 and len(seen) == 2
    whole = run_sweep(plan, runs_dir=tmp_path / "b", executor=InProcessExecutor())
    columns = ["member", "status", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc"]
    assert pd.read_csv(folder / "results.csv")[columns].equals(pd.read_csv(whole.path / "results.csv")[columns])
    wider = plan_sweep(base, {"optimizer.lr": [0.3, 0.01, 0.1]}, seeds=2)  # a value added to the grid
    more = run_sweep(wider, runs_dir=tmp_path / "a", executor=InProcessExecutor())
    assert more.path == folder and more.reused == 4 and len(more.rows) == 6
    fresh = run_sweep(wider, runs_dir=tmp_path / "a", executor=InProcessExecutor(), new=True)
    assert fresh.path != folder and fresh.reused == 0


def test_train_given_a_list_says_it_is_a_sweep(write_config):
    result = dlb("train", write_config(QUICK), "--set", "optimizer.lr=0.1,0.01")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "several values are a sweep: run `dlb sweep CONFIG --set optimizer.lr=0.1,0.01`" in result.stderr


@pytest.mark.parametrize("args,fragment", [
    (["--set", "model.hidden=[64],[128,64"], "unclosed ["),
    (["--set", "optimizer.lrr=0.1,0.2"], "sweep member lrr=0.1: optimizer.lrr: unknown key"),
    ([], "nothing to sweep"),
    (["--set", "optimizer.lr=0.1,0.2", "--executor", "dask://127.0.0.1:9"], "no Dask scheduler answered"),
    (["--set", "optimizer.lr=0.1,0.2", "--executor", "slurm"], "unknown executor 'slurm'"),
])
def test_bad_sweeps_exit_2_with_one_line_before_anything_runs(write_config, tmp_path, monkeypatch, args, fragment):
    monkeypatch.setenv("DLB_DASK_TIMEOUT", "1")
    result = dlb_process("sweep", write_config(QUICK), *args, "--runs-dir", tmp_path / "runs", timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and fragment in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_dask_executor_without_its_extra_says_how_to_install_it(write_config, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('not installed')\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(blocker)}
    result = subprocess.run([sys.executable, "-m", "dlbasics", "sweep", str(write_config(QUICK)), "--set",
                             "optimizer.lr=0.1,0.2", "--executor", "dask", "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "pip install 'dlbasics[dask]'" in result.stderr


def test_dry_run_lists_the_members(write_config, tmp_path):
    result = dlb("sweep", write_config(QUICK), "--set", "optimizer.lr=0.1,0.01", "--seeds", "2", "--dry-run",
                 "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0 and "4 members" in result.stdout and "lr=0.01" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_values_given_twice_are_one_point_and_a_set_list_may_not_fight_the_configs_zip(write_config):
    base = load_config(write_config(QUICK))
    assert len(plan_sweep(base, {"optimizer.lr": [1e-3, 0.001, 0.01]}).points) == 2
    zipped = resolve_config({**base, "sweep": {"zip": {"optimizer.lr": [0.1, 0.01], "seed": [1, 2]}}}, "x")
    with pytest.raises(ConfigError, match=re.escape("sweep.zip.optimizer.lr: optimizer.lr is swept by the config")):
        plan_sweep(zipped, {"optimizer.lr": [0.3, 0.2]})
    with pytest.raises(ConfigError, match="would train the same config"):
        plan_sweep(base, {"seed": [3, 4]}, seeds=2)  # seed 4 = seed 3's second replicate


def test_without_a_validation_split_the_best_point_is_not_chosen_on_the_test_set(write_config, tmp_path):
    base = load_config(write_config(QUICK), ["data.val_split=0"])
    with pytest.raises(ConfigError, match="no validation split to choose the best point on"):
        plan_sweep(base, {"optimizer.lr": [0.1, 0.01]})
    plan = plan_sweep(base, {"optimizer.lr": [0.1, 0.01]}, metric="test_acc")  # said out loud: allowed
    result = run_sweep(plan, runs_dir=tmp_path, executor=InProcessExecutor())
    assert result.summary["status"] == "completed" and (result.path / "curves_loss.png").is_file()


def test_resume_refuses_another_sweeps_folder_and_a_running_sweep(write_config, tmp_path):
    base = load_config(write_config(QUICK))
    plan = plan_sweep(base, {"optimizer.lr": [0.3, 0.01]})
    first = run_sweep(plan, runs_dir=tmp_path, executor=InProcessExecutor())
    other = plan_sweep(base, {"model.hidden": [[8], [4]]})
    with pytest.raises(ConfigError, match="this one is"):
        run_sweep(other, runs_dir=tmp_path, executor=InProcessExecutor(), resume=first.path)
    import fcntl

    with open(first.path / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.seek(0)
        held.truncate()
        held.write("4242")
        held.flush()
        with pytest.raises(ConfigError, match=r"is in use by another dlb sweep \(pid 4242\)"):
            run_sweep(plan, runs_dir=tmp_path, executor=InProcessExecutor())
