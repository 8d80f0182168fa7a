"""Run-folder names: user names never escape the runs dir, stay short and safe, and members never merge."""

from __future__ import annotations

import os

import pytest

from conftest import TINY, dlb
from dlbasics.config import load_config
from dlbasics.execution import InProcessExecutor
from dlbasics.experiments.compare import compare, config_members
from dlbasics.runs.paths import MAX_NAME, RunPathError, folder_name, run_path


@pytest.mark.parametrize("name,expected", [
    ("x/../../../ESCAPED", "x-ESCAPED"), ("..", "run"), (".", "run"), ("", "run"), ("/etc/passwd", "etc-passwd"),
    ("a b/c", "a-b-c"), ("ok.name_1-2", "ok.name_1-2"), ("é" * 10, "run"), ("-..-", "run"), ("a..b", "a-b"),
])
def test_a_name_becomes_one_safe_path_component(name, expected):
    assert folder_name(name) == expected
    assert folder_name(name, index=3) == f"03-{expected}"


def test_a_long_name_is_cut_to_the_bounded_length():
    assert len(folder_name("n" * 300)) == MAX_NAME
    assert len(run_path("runs", "n" * 300, stamp=True).name) < 100


def test_a_folder_that_would_resolve_outside_its_parent_is_refused(tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    os.symlink(tmp_path / "elsewhere", parent / "01-a")
    with pytest.raises(RunPathError, match="outside"):
        run_path(parent, "a", index=1)
    assert run_path(parent, "a", index=2) == parent.resolve() / "02-a"


def test_names_that_climb_out_stay_inside_the_runs_dir(write_config, tmp_path):
    cfg = load_config(write_config(TINY.replace("name: tiny", 'name: "x/../../../ESCAPED"').replace("epochs: 3",
                                                                                                  "epochs: 1")))
    runs = tmp_path / "a" / "b" / "runs"
    result = compare([(cfg["name"], cfg)], name=f"seeds-{cfg['name']}", runs_dir=runs, seeds=2,
                     executor=InProcessExecutor())
    assert result.rows[0]["status"] == "completed" and result.rows[0]["replicates"] == 2
    assert {p.name for p in tmp_path.iterdir()} <= {"exp.yaml", "a", "cache"}
    assert {p.name for p in (tmp_path / "a" / "b").iterdir()} == {"runs"}
    assert sorted(p.name for p in (result.path / "00-x-ESCAPED").iterdir()) == ["seed-0", "seed-1"]


def test_members_named_alike_are_kept_apart_with_their_own_replicates(write_config, tmp_path):
    a = load_config(write_config(TINY.replace("name: tiny", "name: a").replace("epochs: 3", "epochs: 1")))
    a2 = {**a, "name": "a-2", "seed": 7}
    members = config_members([("a.yaml", a), ("a.yaml", a), ("b.yaml", a2)])
    result = compare(members, name="dups", runs_dir=tmp_path, seeds=2, executor=InProcessExecutor())
    by_member = {r["member"]: r for r in result.rows}
    assert {m: (r["replicates"], r["completed"]) for m, r in by_member.items()} == {
        "00-a": (2, 2), "01-a": (2, 2), "02-a-2": (2, 2)}
    assert by_member["00-a"]["test_acc"] == by_member["01-a"]["test_acc"]  # same config, same seeds
    assert sorted(p.name for p in result.path.iterdir() if p.is_dir()) == ["00-a", "01-a", "02-a-2"]


def test_an_optimizer_given_twice_is_two_members(write_config, tmp_path):
    from dlbasics.experiments.compare import optimizer_members

    members = optimizer_members(load_config(write_config(TINY)), ["sgd", "sgd"])
    assert [m for m, _ in members] == ["00-sgd", "01-sgd"]


def test_a_runs_dir_that_is_a_file_is_one_line(write_config, tmp_path):
    (tmp_path / "afile").write_text("")
    result = dlb("train", write_config(TINY), "--runs-dir", tmp_path / "afile")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "afile: the runs dir is a file, not a folder" in result.stderr


def test_every_run_folder_path_in_the_package_is_built_by_run_path():
    """The grep-able guarantee, checked: every Task's folder is a run_path(...) (or a helper that returns one), an
    earlier task's own folder, a worker's scratch copy of it, or an existing run reused as it is; RunFolder.create
    goes through run_path itself."""
    import ast
    from pathlib import Path

    builders = {"run_path", "member_path", "member_dir"}
    root = Path(__file__).resolve().parents[1] / "dlbasics"
    seen = 0
    for source in root.rglob("*.py"):
        tree = ast.parse(source.read_text())
        assigned = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                assigned[node.targets[0].id] = node.value
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = getattr(node.func, "id", None)
            keyword = next((k.value for k in node.keywords if k.arg == "run_dir"), None)
            if func == "Task":
                meta = node.args[3] if len(node.args) > 3 else None
                if isinstance(meta, ast.Dict) and any(getattr(k, "value", None) == "reused" for k in meta.keys):
                    seen += 1  # an existing run folder, reused as it is (dlb compare RUN_FOLDER ...)
                    continue
                arg = node.args[2] if len(node.args) > 2 else keyword
            elif func == "replace" and keyword is not None:  # dataclasses.replace(task, run_dir=...)
                arg = keyword
            else:
                continue
            if isinstance(arg, ast.Name):
                arg = assigned.get(arg.id, arg)
            names = {getattr(n, "id", None) or getattr(n, "attr", None) for n in ast.walk(arg)
                     if isinstance(n, (ast.Name, ast.Attribute))}
            called = isinstance(arg, ast.Call) and getattr(arg.func, "id", None) in builders
            assert called or "run_dir" in names, f"{source.name}:{node.lineno} builds a run folder path by hand"
            seen += 1
    assert seen >= 9
    helpers = (root / "experiments" / "compare.py").read_text() + (root / "experiments" / "sweep.py").read_text()
    assert "return run_path(" in helpers.split("def member_path")[1].split("def ")[0]
    assert "return run_path(" in helpers.split("def member_dir")[1].split("def ")[0]
    assert "run_path(runs_dir" in (root / "runs" / "folder.py").read_text()
