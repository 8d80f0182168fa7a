"""Every `dlb` command that prints results takes --json (exactly one JSON document on stdout, nothing else) and,
where printing nothing makes sense, -q / --quiet (nothing but errors, the same exit code); both at once is a
one-line usage error; the options have the same names and help texts in every command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import typer
from matplotlib.figure import Figure

import dlbasics.execution
import dlbasics.plots.init_study
import dlbasics.report.html
from conftest import TINY, dlb
from dlbasics.execution import InProcessExecutor
from dlbasics.runs.folder import RunFolder

ONE_EPOCH = ("--set", "train.epochs=1")


class _HereExecutor(InProcessExecutor):
    jobs = 1


@pytest.fixture(scope="module", autouse=True)
def _cheap():
    """What these tests pin is what goes to stdout and stderr, not the figures or the worker processes (other
    tests check those): members train in this process, PNGs are written as empty files, a report's figures are
    empty SVGs and the init study's histogram grids are not drawn, which keeps the whole file to a few seconds
    of CPU."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dlbasics.execution, "make_executor", lambda spec, jobs, collect: _HereExecutor())
        mp.setattr(RunFolder, "save_figure", lambda self, fig, name: (self.path / name).write_bytes(b""))
        mp.setattr(dlbasics.report.html, "figure_svg", lambda fig, prefix="f": "<svg></svg>")
        mp.setattr(dlbasics.plots.init_study, "plot_histograms", lambda *args, **kwargs: Figure())
        yield


@dataclass
class Scratch:
    tmp: Path
    runs: Path
    config: Path
    other: Path  # a second config (another name), for compare
    run: Path  # finished one-epoch runs of TINY (seeds 3 and 4)
    run2: Path
    inputs: Path  # spirals-shaped inputs and labels for predict
    labels: Path
    data_dir: Path  # holds a (fake) mnist/, so that `data download mnist` finds it and fetches nothing
    copies: int = 0

    def copy_of_run(self, status: str = "completed") -> Path:
        """A fresh copy of a finished run in the runs dir, for rm and prune to delete."""
        self.copies += 1
        copy = self.runs / f"{self.run.name}-copy{self.copies}"
        shutil.copytree(self.run, copy)
        summary = json.loads((copy / "summary.json").read_text())
        (copy / "summary.json").write_text(json.dumps({**summary, "status": status, "run_id": copy.name}))
        return copy


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Scratch:
    tmp = tmp_path_factory.mktemp("quiet-json")
    runs = tmp / "runs"
    config, other = tmp / "tiny.yaml", tmp / "tiny_b.yaml"
    config.write_text(TINY)
    other.write_text(TINY.replace("name: tiny", "name: tiny_b"))
    trained = [dlb("train", config, *ONE_EPOCH, "--set", f"seed={seed}", "--runs-dir", runs, "--json")
               for seed in (3, 4)]
    assert all(t.returncode == 0 for t in trained), trained[0].stderr
    run, run2 = (Path(json.loads(t.stdout)["path"]) for t in trained)
    np.save(tmp / "x.npy", np.random.default_rng(0).normal(size=(6, 2)))
    np.save(tmp / "y.npy", np.arange(6) % 2)
    mnist = tmp / "data" / "mnist"
    mnist.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (mnist / name).write_bytes(b"")
    return Scratch(tmp, runs, config, other, run, run2, tmp / "x.npy", tmp / "y.npy", tmp / "data")


def _prune_a_failed_copy(s: Scratch) -> list:
    s.copy_of_run("failed")
    return ["runs", "prune", "--status", "failed", "--yes", "--runs-dir", s.runs]


@dataclass
class Case:
    """A command line (made afresh for every call: rm and prune need something new to delete), the keys its JSON
    document has (an empty set: the document is a list), and whether it takes --quiet."""

    name: str
    args: Callable[[Scratch], list]
    keys: set[str]
    quiet: bool = True


CASES = [
    Case("train", lambda s: ["train", s.config, *ONE_EPOCH, "--runs-dir", s.runs], {"status", "final", "path"}),
    Case("train --seeds", lambda s: ["train", s.config, *ONE_EPOCH, "--seeds", "2", "--runs-dir", s.runs],
         {"status", "means", "path"}),
    Case("config", lambda s: ["config", s.config], {"model", "optimizer", "train"}, quiet=False),
    Case("version", lambda s: ["version"], {"dlbasics", "python", "numpy"}, quiet=False),
    Case("model", lambda s: ["model", s.config], {"layers", "parameters", "memory_bytes"}),
    Case("gradcheck", lambda s: ["gradcheck", s.config, "--batch", "2", "--coords", "2"],
         {"rows", "passed", "failed", "worst"}),
    Case("init-study", lambda s: ["init-study", "--layers", "1", "--width", "4", "--samples", "4", "--runs-dir",
                                  s.runs], {"kind", "files", "rows", "path"}),
    Case("playground", lambda s: ["playground", "beale", "--optimizers", "sgd", "--steps", "5", "--runs-dir",
                                  s.runs], {"kind", "files", "rows", "path"}),
    Case("compare", lambda s: ["compare", s.config, s.other, *ONE_EPOCH, "--runs-dir", s.runs, "--no-report"],
         {"status", "members", "rows", "path"}),
    Case("schedule", lambda s: ["schedule", s.config, "--runs-dir", s.runs], {"schedule", "unit", "path"}),
    Case("cv", lambda s: ["cv", s.config, *ONE_EPOCH, "--kfold", "2", "--runs-dir", s.runs, "--no-report"],
         {"status", "metrics", "rows", "path"}),
    Case("sweep", lambda s: ["sweep", s.config, *ONE_EPOCH, "--set", "optimizer.lr=0.01,0.02", "--runs-dir", s.runs,
                             "--no-report"], {"status", "best", "points", "path"}),
    Case("report", lambda s: ["report", s.run], {"path", "bytes"}),
    Case("predict", lambda s: ["predict", s.run, s.inputs, "--labels", s.labels, "-o", s.tmp / "predictions.csv"],
         {"path", "rows", "accuracy"}),
    Case("bias-variance", lambda s: ["bias-variance", "--capacities", "1,2", "--datasets", "2", "--n-train", "5",
                                     "--runs-dir", s.runs], {"rows", "best_capacity", "path"}),
    Case("boosting", lambda s: ["boosting", "--estimators", "3", "--runs-dir", s.runs], {"final", "path"}),
    Case("bootstrap", lambda s: ["bootstrap", s.run, "--samples", "100"], {"metrics", "path"}),
    Case("evaluate", lambda s: ["evaluate", s.run], {"metrics", "files", "path"}),
    Case("runs show", lambda s: ["runs", "show", s.run], {"run_id", "status"}, quiet=False),
    Case("runs list", lambda s: ["runs", "list", "--runs-dir", s.runs], set(), quiet=False),
    Case("runs compare", lambda s: ["runs", "compare", s.run, s.run2, "--runs-dir", s.runs],
         {"rows", "figures", "path"}),
    Case("runs rm", lambda s: ["runs", "rm", s.copy_of_run(), "--yes", "--runs-dir", s.runs], {"deleted", "bytes"}),
    Case("runs prune", lambda s: _prune_a_failed_copy(s), {"deleted", "bytes"}),
    Case("data list", lambda s: ["data", "list"], set(), quiet=False),
    Case("data download", lambda s: ["data", "download", "mnist"], {"name", "path", "already_present"}),
    Case("batch-study", lambda s: ["batch-study", s.config, *ONE_EPOCH, "--batch-sizes", "64,full", "--power-iters",
                                   "1", "--ascent-steps", "1", "--alphas", "2", "--sharpness-samples", "20",
                                   "--runs-dir", s.runs, "--no-report"], {"status", "rows", "runs", "path"}),
]


@pytest.fixture
def data_env(scratch, monkeypatch):
    monkeypatch.setenv("DLB_DATA_DIR", str(scratch.data_dir))
    monkeypatch.setenv("DLB_MIRRORS_MNIST", "http://127.0.0.1:9/")  # nothing listens: a download would fail


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_json_is_the_only_output_and_quiet_prints_nothing_with_the_same_exit_code(case, scratch, data_env):
    plain = dlb(*case.args(scratch))
    assert plain.returncode == 0 and (plain.stdout + plain.stderr).strip(), plain.stderr

    as_json = dlb(*case.args(scratch), "--json")
    assert as_json.returncode == plain.returncode, as_json.stderr
    document = json.loads(as_json.stdout)  # the whole of stdout is one JSON document
    assert as_json.stderr == ""  # no progress, no "comparing ..." line, no live board
    if case.keys:
        assert case.keys <= set(document), sorted(document)
    else:
        assert isinstance(document, list) and document and all(isinstance(row, dict) for row in document)

    if case.quiet:
        quiet = dlb(*case.args(scratch), "-q")
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (plain.returncode, "", "")


@pytest.mark.parametrize("case", [c for c in CASES if c.quiet], ids=[c.name for c in CASES if c.quiet])
def test_quiet_and_json_together_is_a_one_line_usage_error_before_any_work(case, scratch, data_env):
    args = case.args(scratch)
    before = sorted(scratch.runs.iterdir())
    result = dlb(*args, "--quiet", "--json")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: --quiet prints nothing and --json prints the result: give one of them\n"
    assert sorted(scratch.runs.iterdir()) == before  # nothing trained, written or deleted


@pytest.mark.parametrize("command", [["runs", "rm", "RUN"], ["runs", "prune", "--status", "failed"]],
                         ids=["rm", "prune"])
@pytest.mark.parametrize("option", ["--json", "-q"])
def test_rm_and_prune_ask_nothing_so_quiet_and_json_need_yes(command, option, scratch):
    copy = scratch.copy_of_run("failed")
    args = [copy if a == "RUN" else a for a in command]
    result = dlb(*args, option, "--runs-dir", scratch.runs)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: ") and "add --yes" in result.stderr and result.stderr.count("\n") == 1
    assert copy.is_dir()
    dry = dlb("runs", "prune", "--status", "failed", "--dry-run", "--json", "--runs-dir", scratch.runs)
    assert str(copy) in json.loads(dry.stdout)["would_delete"]
    shutil.rmtree(copy)


@pytest.mark.parametrize("option", ["--json", "-q"])
def test_predict_quiet_or_json_needs_a_file_for_the_predictions(option, scratch):
    result = dlb("predict", scratch.run, scratch.inputs, option)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: ") and "-o FILE" in result.stderr


def test_group_report_is_still_written_under_json_and_quiet_but_not_announced(scratch):
    """Comparing finished runs trains nothing; without --no-report the comparison folder gets report.html."""
    as_json = dlb("compare", scratch.run, scratch.run2, "--runs-dir", scratch.runs, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert (Path(json.loads(as_json.stdout)["path"]) / "report.html").is_file()
    quiet = dlb("compare", scratch.run, scratch.run2, "--runs-dir", scratch.runs, "-q", "--name", "quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    (folder,) = scratch.runs.glob("*-compare-quiet-*")
    assert (folder / "report.html").is_file()


def _options():
    """(command path, option) for every option of every `dlb` command."""
    from dlbasics.cli.main import app

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            for param in command.params:
                if param.param_type_name == "option":
                    yield " ".join(path), param

    return list(walk(typer.main.get_command(app), []))


def test_shared_options_have_the_same_names_and_help_in_every_command():
    by_name: dict[str, dict[tuple[str, ...], set[str]]] = {}
    for command, option in _options():
        long = max(option.opts, key=len)
        by_name.setdefault(long, {}).setdefault(tuple(sorted(option.opts)), set()).add(command)
        if long in ("--quiet", "--json", "--set", "--runs-dir"):
            by_name.setdefault(f"{long} help", {}).setdefault((option.help,), set()).add(command)
    for name in ("--quiet", "--json", "--set", "--runs-dir", "--out", "--quiet help", "--json help", "--set help",
                 "--runs-dir help", "--seed", "--seeds", "--jobs", "--name", "--kfold", "--yes"):
        assert len(by_name[name]) == 1, f"{name}: {by_name[name]}"
    assert set(by_name["--quiet"]) == {("--quiet", "-q")} and set(by_name["--out"]) == {("--out", "-o")}
    json_commands = {command for command, option in _options() if "--json" in option.opts}
    assert json_commands == {
        "train", "config", "model", "gradcheck", "init-study", "playground", "version", "compare", "schedule", "cv",
        "sweep", "report", "predict", "bias-variance", "boosting", "bootstrap", "evaluate", "features", "lr-find",
        "fit-study", "batch-study", "runs list", "runs show", "runs compare", "runs rm", "runs prune", "data list",
        "data download"}
