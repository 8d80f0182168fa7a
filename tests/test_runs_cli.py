"""Runs you can find and reuse: ids and prefixes, `dlb runs list/show/compare/rm/prune`, `dlb compare` of old runs."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.cli import runs_cmd
from dlbasics.runs.find import RunNotFound, list_runs, resolve_run

DAY = 86400.0


def _stamp(days_ago: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() - days_ago * DAY))


def _folder(root: Path, name: str, summary: object, files: dict[str, str] | None = None) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    for file, text in (files or {}).items():
        (path / file).write_text(text)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A runs dir with three tiny runs (trained now) and hand-written folders of every other kind, days old."""
    root = tmp_path_factory.mktemp("made") / "runs"
    config = root.parent / "tiny.yaml"
    config.write_text(TINY)
    runs = {key: train(load_config(config, overrides), runs_dir=root, progress=False).path
            for key, overrides in (("a", []), ("b", ["optimizer.lr=0.05", "train.epochs=2"]),
                                   ("c", ["optimizer.name=sgd", "optimizer.lr=0.1"]))}
    old = {"status": "completed", "kind": "train", "name": "old", "epochs_planned": 3, "epochs_completed": 3}
    group = _folder(root, f"{_stamp(2)}-compare-ab-aaaaaa",
                    {"status": "completed", "kind": "compare", "name": "ab", "sort_by": "test_acc",
                     "members": ["x", "y"], "statuses": {"x": "completed", "y": "completed"}},
                    {"comparison.csv": "member,status,test_acc\nx,completed,0.7\ny,completed,0.9\n"})
    _folder(group, "00-x", {**old, "final": {"test_acc": 0.7}})
    _folder(group, "01-y", {**old, "final": {"test_acc": 0.9}})
    fake = {
        "seeds": (2.1, "compare-seeds-tiny-bbbbbb", {"status": "completed", "kind": "compare", "sort_by": "test_acc"},
                  {"comparison.csv": "member,status,test_acc\ntiny,completed,0.55\n"}),
        "cv": (2.2, "cv-tiny-cccccc", {"status": "completed", "kind": "cv",
                                       "metrics": {"test_acc": {"mean": 0.61, "n": 3}}}, None),
        "sweep": (2.3, "sweep-tiny-dddddd", {"status": "partial", "kind": "sweep", "metric": "val_acc",
                                             "best": {"mean": 0.8, "label": "lr=0.1"}}, None),
        "bagging": (2.4, "bagging-tiny-eeeeee", {"status": "completed", "kind": "bagging",
                                                 "final": {"test_acc": 0.66, "test_loss": 0.7}}, None),
        "failed": (9, "broken-ffffff", {**old, "status": "failed", "message": "boom", "final": None}, None),
        "interrupted": (1, "halted-111111", {**old, "status": "interrupted", "epochs_completed": 1}, None),
        "corrupt": (3, "bad-222222", "[1, 2]", None),
    }
    for key, (days, name, summary, files) in fake.items():
        runs[key] = _folder(root, f"{_stamp(days)}-{name}", summary, {"config.yaml": "name: old\n", **(files or {})})
    return root, runs


@pytest.fixture
def scratch(made, tmp_path):
    """The made runs dir, copied for a test that adds or deletes folders."""
    root, runs = made
    shutil.copytree(root, tmp_path / "runs")
    return tmp_path / "runs", {k: tmp_path / "runs" / v.name for k, v in runs.items()}


def test_a_run_is_found_by_id_unique_prefix_path_and_group_member(made):
    root, runs = made
    a = runs["a"]
    assert resolve_run(a.name, root) == a
    assert resolve_run(runs["bagging"].name[:20], root) == runs["bagging"]  # the stamp's seconds make it unique
    assert resolve_run(a, root) == a and resolve_run(f"{root}/{a.name}", None) == Path(f"{root}/{a.name}")
    group = next(root.glob("*-compare-ab-*"))
    assert resolve_run(f"{group.name}/01-y", root) == group / "01-y"
    assert resolve_run(f"{group.name[:-3]}/00", root) == group / "00-x"  # prefixes at both levels


def test_an_ambiguous_or_missing_run_is_one_line_naming_candidates_or_the_runs_dir(made):
    root, runs = made
    with pytest.raises(RunNotFound) as info:
        resolve_run(runs["a"].name[:4], root)  # the year: every folder
    text = str(info.value)
    assert "ambiguous" in text and "\n" not in text and text.count(", ") >= 4 and "in all" in text
    with pytest.raises(RunNotFound, match=f"no run 'nope' in {root}"):
        resolve_run("nope", root)
    with pytest.raises(RunNotFound, match="does not exist"):
        resolve_run("nope", root / "missing")
    group = next(root.glob("*-compare-ab-*"))
    with pytest.raises(RunNotFound, match="no run"):
        resolve_run(f"{group.name}/02", root)
    result = dlb("runs", "show", "nope", "--runs-dir", root)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and str(root) in result.stderr


def test_every_kind_has_its_headline_metric(made):
    root, runs = made
    infos = {r.path: r for r in list_runs(root)}
    assert len(infos) == 3 + 8
    a = infos[runs["a"]]
    assert (a.kind, a.status, a.metric, a.epochs) == ("train", "completed", "test_acc", "3/3") and 0 <= a.value <= 1
    compare = next(r for r in infos.values() if r.id.endswith("compare-ab-aaaaaa"))
    assert (compare.kind, compare.metric, compare.value, compare.detail) == ("compare", "test_acc", 0.9, "y")
    assert (infos[runs["seeds"]].kind, infos[runs["seeds"]].value) == ("seeds", 0.55)
    assert (infos[runs["cv"]].metric, infos[runs["cv"]].value) == ("test_acc", 0.61)
    assert (infos[runs["sweep"]].metric, infos[runs["sweep"]].value, infos[runs["sweep"]].detail) == (
        "val_acc", 0.8, "lr=0.1")
    assert infos[runs["bagging"]].value == 0.66
    bad = infos[runs["corrupt"]]
    assert bad.status == "corrupt" and "expected a JSON object" in bad.error
    assert {r.path for r in list(infos.values())[-3:]} == {runs[k] for k in "abc"}  # oldest first


def _ids(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [r["id"] for r in json.loads(result.stdout)]


def test_runs_list_filters_and_sorts(made):
    root, runs = made
    name = {k: p.name for k, p in runs.items()}
    listed = _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--status", "failed,interrupted"))
    assert listed == [name["failed"], name["interrupted"]]  # oldest first
    assert _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--kind", "cv,seeds")) == [name["cv"],
                                                                                              name["seeds"]]
    assert _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--name", "*-sweep-*")) == [name["sweep"]]
    assert _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--name", "bagging")) == [name["bagging"]]
    assert sorted(_ids(dlb("runs", "list", "--runs-dir", root, "--json", "--since", "12h"))) == sorted(
        name[k] for k in "abc")
    since = time.strftime("%Y-%m-%d", time.localtime(time.time() - 5 * DAY))
    assert name["failed"] not in _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--since", since))
    newest = _ids(dlb("runs", "list", "--runs-dir", root, "--json", "--last", "2"))
    assert len(newest) == 2 and set(newest) <= {name[k] for k in "abc"}  # (a, b and c may share a second)
    by_acc = json.loads(dlb("runs", "list", "--runs-dir", root, "--json", "--sort", "test_acc", "--last", "0").stdout)
    values = [r["metrics"]["test_acc"] for r in by_acc if "test_acc" in r["metrics"]]
    assert values == sorted(values) and values[-1] == 0.9  # best last
    assert not any("test_acc" in r["metrics"] for r in by_acc[:len(by_acc) - len(values)])  # runs without first
    for bad in (["--status", "finished"], ["--kind", "swep"], ["--since", "yesterday"], ["--sort", "nope"]):
        result = dlb("runs", "list", "--runs-dir", root, *bad)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_runs_list_at_80_columns_shows_every_id_whole_and_warns_of_the_corrupt_folder(made):
    root, runs = made
    result = dlb("runs", "list", "--runs-dir", root, columns=80)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for path in runs.values():
        assert any(path.name in line.split() for line in lines), path.name
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert result.stdout.count("corrupt") == 1 and "metric" in lines[1]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"warning: {runs['corrupt']}")
    wide = dlb("runs", "list", "--runs-dir", root, columns=200).stdout
    assert all(col in wide for col in ("kind", "epochs", "duration", "started")) and "seeds" in wide
    assert "val_acc 0.8000" in wide and "test_acc 0.9000" in wide


def test_runs_show_prints_what_differs_from_the_defaults(made):
    root, runs = made
    result = dlb("runs", "show", runs["b"].name[:-2], "--runs-dir", root)  # a unique prefix
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "optimizer.lr: 0.001 -> 0.05" in out and "train.epochs: 10 -> 2" in out and "seed: 0 -> 3" in out
    assert "optimizer.betas" not in out  # Adam's default betas are defaults, not differences
    assert "completed" in out and "model.npz" in out and "metrics.csv" in out and "best (epoch" in out
    sgd = dlb("runs", "show", runs["c"], "--runs-dir", root).stdout
    assert "optimizer.lr: 0.001 -> 0.1" in sgd and "optimizer.momentum" not in sgd  # against SGD's own defaults
    raw = dlb("runs", "show", runs["b"].name, "--json", "--runs-dir", root)
    assert json.loads(raw.stdout) == json.loads((runs["b"] / "summary.json").read_text())


def test_runs_compare_of_three_runs_trains_nothing(scratch):
    root, runs = scratch
    before = {p.name for p in root.iterdir()}
    metrics = {k: (runs[k] / "metrics.csv").read_bytes() for k in "abc"}
    result = dlb("runs", "compare", runs["a"].name, runs["b"].name[:-1], runs["c"], "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    (new,) = {p.name for p in root.iterdir()} - before
    assert "-runs-compare-" in new and str(root / new) in result.stdout
    out = root / new
    assert {"comparison.csv", "loss_vs_epoch.png", "accuracy_vs_epoch.png", "summary.json"} <= {
        p.name for p in out.iterdir()}
    df = pd.read_csv(out / "comparison.csv")
    assert list(df.run_id) == [runs[k].name for k in "abc"]
    assert list(df["config.optimizer.lr"]) == [0.01, 0.05, 0.1] and "config.seed" not in df
    assert "optimizer.lr" in result.stdout and "test acc" in result.stdout and "train.epochs" in result.stdout
    assert {k: (runs[k] / "metrics.csv").read_bytes() for k in "abc"} == metrics
    assert json.loads((out / "summary.json").read_text())["kind"] == "runs-compare"
    elsewhere = root.parent / "elsewhere"
    result = dlb("runs", "compare", runs["a"], runs["b"], "-o", elsewhere, "--metric", "loss", "--time",
                 "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["comparison.csv", "loss_vs_epoch.png", "loss_vs_time.png"]
    result = dlb("runs", "compare", runs["a"], runs["cv"], "--runs-dir", root)
    assert result.returncode == 2 and "cv folder, not a run" in result.stderr


def test_runs_rm_asks_refuses_in_a_pipe_and_stays_in_the_runs_dir(scratch, monkeypatch, tmp_path):
    root, runs = scratch
    refused = dlb("runs", "rm", runs["a"].name, "--runs-dir", root)
    assert refused.returncode == 2 and "--yes" in refused.stderr and refused.stderr.count("\n") == 1
    assert runs["a"].is_dir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "summary.json").write_text("{}")
    (root / "stray").mkdir()
    for target, fragment in ((outside, "not inside the runs dir"), (root / "stray", "not a run folder"),
                             (root, "not inside the runs dir")):
        result = dlb("runs", "rm", target, "--yes", "--runs-dir", root)
        assert result.returncode == 2 and fragment in result.stderr and result.stderr.count("\n") == 1
        assert target.exists()
    result = dlb("runs", "rm", runs["a"].name, runs["b"].name[:-2], "--yes", "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    assert not runs["a"].exists() and not runs["b"].exists() and runs["c"].exists()
    assert f"deleted {runs['a'].name}" in result.stdout and "freed" in result.stdout
    monkeypatch.setattr(runs_cmd, "_interactive", lambda: True)
    no = dlb("runs", "rm", runs["c"].name, "--runs-dir", root, input="n\n")
    assert no.returncode == 0 and f"delete 1 folder ({runs['c'].name})? [y/N]" in no.stdout and runs["c"].exists()
    yes = dlb("runs", "rm", runs["c"].name, "--runs-dir", root, input="y\n")
    assert yes.returncode == 0 and not runs["c"].exists()


def test_runs_prune_dry_run_then_yes(scratch):
    root, runs = scratch
    dry = dlb("runs", "prune", "--status", "failed,interrupted", "--dry-run", "--runs-dir", root)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {runs['failed'].name}" in dry.stdout and "would free" in dry.stdout
    assert runs["failed"].exists() and runs["interrupted"].exists()
    assert dlb("runs", "prune", "--status", "failed", "--runs-dir", root).returncode == 2  # a pipe, no --yes
    older = dlb("runs", "prune", "--status", "failed,interrupted", "--older-than", "5d", "--yes", "--runs-dir", root)
    assert older.returncode == 0 and not runs["failed"].exists() and runs["interrupted"].exists()
    pruned = dlb("runs", "prune", "--status", "interrupted,corrupt", "--kind", "train", "--yes", "--runs-dir", root)
    assert pruned.returncode == 0 and not runs["interrupted"].exists() and runs["corrupt"].exists()
    assert "freed" in pruned.stdout
    assert all(runs[k].exists() for k in ("a", "b", "c", "cv", "sweep", "bagging", "seeds"))
    assert "nothing to prune" in dlb("runs", "prune", "--status", "failed", "--runs-dir", root).stdout


def test_dlb_compare_reuses_a_finished_run_without_training_it(scratch, tmp_path):
    root, runs = scratch
    a = runs["a"]
    metrics, stamp = (a / "metrics.csv").read_bytes(), (a / "metrics.csv").stat().st_mtime_ns
    folder_stamp = a.stat().st_mtime_ns
    config = tmp_path / "other.yaml"
    config.write_text(TINY.replace("name: tiny", "name: other").replace("[16]", "[8]"))
    result = dlb("compare", config, a.name[:-1], "--jobs", "1", "--no-report", "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    (group,) = root.glob("*-compare-other-tiny-*")
    df = pd.read_csv(group / "comparison.csv")
    assert set(df.member) == {"other", "tiny"} and set(df.status) == {"completed"}
    assert df.set_index("member").run_dir["tiny"] == str(a.absolute())
    assert (a / "metrics.csv").read_bytes() == metrics and (a / "metrics.csv").stat().st_mtime_ns == stamp
    assert a.stat().st_mtime_ns == folder_stamp
    assert sorted(p.name for p in group.iterdir() if p.is_dir()) == ["00-other"]  # only the config trained
    assert (group / "loss_vs_epoch.png").is_file()
    assert json.loads((group / "summary.json").read_text())["reused"] == {"tiny": str(a.absolute())}


def test_dlb_compare_of_finished_runs_only_trains_nothing(scratch):
    root, runs = scratch
    result = dlb("compare", runs["a"], runs["c"].name, "--no-report", "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    (group,) = [p for p in root.glob("*-compare-*") if "-ab-" not in p.name and "-seeds-" not in p.name]
    assert not [p for p in group.iterdir() if p.is_dir()]
    assert len(pd.read_csv(group / "comparison.csv")) == 2
    for args, fragment in (([runs["a"], "nope"], "no such config file"), ([runs["a"], runs["cv"]], "cv folder"),
                           ([runs["a"], runs["b"], "--seeds", "2"], "reused only as single runs")):
        result = dlb("compare", *args, "--runs-dir", root)
        assert result.returncode == 2 and fragment in result.stderr and result.stderr.count("\n") == 1


def test_bootstrap_takes_a_run_id(made):
    root, runs = made
    result = dlb("bootstrap", runs["a"].name[:-2], "-B", "100", "--runs-dir", root)
    assert result.returncode == 0, result.stderr
    assert str(runs["a"] / "bootstrap.json") in result.stdout
    (runs["a"] / "bootstrap.json").unlink()
