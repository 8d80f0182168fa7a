"""`dlb report`: every kind of run folder as one self-contained HTML page that fetches nothing."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.execution import InProcessExecutor
from dlbasics.report import report_html, write_report
from dlbasics.report.build import build_page
from dlbasics.report.views import TITLES

KINDS = ("run", "compare", "cv", "sweep", "bagging")
SECTIONS = {
    "run": ["Overview", "Metrics", "Learning curves", "Evaluation", "Config", "Environment", "Files"],
    "compare": ["Overview", "Comparison", "Learning curves", "Config differences", "Members", "Files"],
    "cv": ["Overview", "Estimates", "Folds", "Learning curves", "Files"],
    "sweep": ["Overview", "Best point", "Points", "Metric against the swept keys", "Learning curves",
              "Spec and commands", "Files"],
    "bagging": ["Overview", "Ensemble", "Files"],
}


def make_folders(root: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, Path]:
    """Tiny finished folders of each kind in ``root/runs`` (2-3 epochs of the TINY spirals config, in this
    process, without their PNGs): a run (with `dlb evaluate`'s files), a comparison of two optimizers over two
    seeds, a 3-fold cross-validation, a 2 x 2 sweep over two seeds, a bagging ensemble of two."""
    config, runs = root / "tiny.yaml", root / "runs"
    config.write_text(TINY)
    cfg, ex = load_config(config), InProcessExecutor()
    out = {}
    with pytest.MonkeyPatch.context() as patch:  # the PNGs beside the numbers: slow to draw, not in a report
        patch.setattr("dlbasics.runs.folder.RunFolder.save_figure", lambda self, fig, name: None)
        _make(out, kinds, config, runs, cfg, ex)
    return out


def _make(out, kinds, config, runs, cfg, ex):
    from dlbasics.experiments.bagging import bag
    from dlbasics.experiments.compare import compare, optimizer_members
    from dlbasics.experiments.cv import cross_validate
    from dlbasics.experiments.evaluate import evaluate_run
    from dlbasics.experiments.sweep import plan_sweep, run_sweep

    if "run" in kinds:
        out["run"] = train(cfg, runs_dir=runs, progress=False).path
        evaluate_run(out["run"])
    if "compare" in kinds:
        out["compare"] = compare(optimizer_members(cfg, ["sgd", "adam"]), name="opt", runs_dir=runs, executor=ex,
                                 seeds=2).path
    if "cv" in kinds:
        out["cv"] = cross_validate(load_config(config, ["cv.k=3"]), runs_dir=runs, executor=ex).path
    if "sweep" in kinds:
        plan = plan_sweep(load_config(config, ["train.epochs=2"]),
                          {"optimizer.lr": [0.01, 0.1], "model.hidden": [[8], [16]]}, seeds=2)
        out["sweep"] = run_sweep(plan, runs_dir=runs, executor=ex).path
    if "bagging" in kinds:
        out["bagging"] = bag(load_config(config, ["ensemble.method=bagging", "ensemble.n_estimators=2",
                                                  "train.epochs=2"]), runs_dir=runs, executor=ex).path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_folders(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def pages(folders):
    """Each folder's report.html: figures drawn for the run (a confusion matrix: an embedded image) and the sweep
    (a heat map); as empty SVGs for the comparison and the cross-validation, whose figures the browser test draws
    (drawing is most of a report's time)."""
    out = {kind: write_report([folders[kind]]).read_text() for kind in ("run", "sweep", "bagging")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dlbasics.report.html.figure_svg", lambda fig, prefix="f": "<svg></svg>")
        out.update({kind: write_report([folders[kind]]).read_text() for kind in ("compare", "cv")})
    return out


@pytest.fixture
def quick(monkeypatch):
    """Figures as empty SVGs and no PNGs: for tests about everything but drawing (the pages above, and the
    browser test, draw them)."""
    monkeypatch.setattr("dlbasics.report.html.figure_svg", lambda fig, prefix="f": "<svg></svg>")
    monkeypatch.setattr("dlbasics.runs.folder.RunFolder.save_figure", lambda self, fig, name: None)


class _Parsed(HTMLParser):
    """Headings, tags, attribute values and the contents of <style> and <script> of a page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.headings: dict[str, list[str]] = {}
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.code: list[str] = []
        self._open: list[str] = []
        self._text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, k, v or "") for k, v in attrs]
        if tag in ("h1", "h2", "h3", "style", "script"):
            self._open.append(tag)
            self._text = []

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()
            text = "".join(self._text)
            if tag in ("style", "script"):
                self.code.append(text)
            else:
                self.headings.setdefault(tag, []).append(" ".join(text.split()))

    def handle_data(self, data):
        if self._open:
            self._text.append(data)


def _h2(text: str) -> list[str]:
    return _Parsed(text).headings.get("h2", [])


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_its_sections_in_one_page(pages, folders, kind):
    text = pages[kind]
    parsed = _Parsed(text)
    assert parsed.headings["h1"] == [f"{TITLES[kind]}: {folders[kind].name}"]
    assert _h2(text) == SECTIONS[kind]
    assert "could not be shown" not in text
    assert parsed.tags.count("table") >= 2 and parsed.tags.count("script") == 1
    figures = {"run": 3, "compare": 2, "cv": 3, "sweep": 5, "bagging": 0}[kind]  # curves, confusion, folds, ...
    assert parsed.tags.count("svg") == figures
    assert text.startswith("<!DOCTYPE html>") and "<?xml" not in text and "<!DOCTYPE svg" not in text


def test_the_report_holds_the_numbers_of_the_folder(pages, folders):
    summary = json.loads((folders["run"] / "summary.json").read_text())
    assert f"{summary['final']['test_acc']:.4f}" in pages["run"]
    assert "optimizer.lr" in pages["run"] and "0.01" in pages["run"]  # what differs from the defaults
    assert "macro avg" in pages["run"]  # per-class metrics of the evaluation
    assert "difference in test_acc" in pages["compare"] and "paired t over seeds" in pages["compare"]
    cv = json.loads((folders["cv"] / "summary.json").read_text())["metrics"]["test_acc"]
    assert f"{cv['mean']:.4f} [{cv['low']:.4f}, {cv['high']:.4f}]" in pages["cv"]
    best = json.loads((folders["sweep"] / "summary.json").read_text())["best"]
    assert best["label"] in pages["sweep"] and "paired t over seeds" in pages["sweep"]
    assert "ensemble of 2" in pages["bagging"]


def _urls(text: str) -> list[str]:
    """Everything in a page that could make a browser fetch: attribute values that are not fragments or data:
    URLs, url(...) and @import in CSS, URLs in the script."""
    parsed = _Parsed(text)
    found = [f"{tag} {key}={value}" for tag, key, value in parsed.attributes
             if key in ("src", "href", "xlink:href", "srcset", "action", "poster", "data", "background")
             and not value.startswith(("#", "data:"))]
    found += [f"{tag} {key}={value}" for tag, key, value in parsed.attributes
              if re.search(r"(https?:)?//", value) and key != "content" and not value.startswith("data:")]
    for code in parsed.code:
        found += re.findall(r"url\((?!#)[^)]*\)|@import|https?://|[\"'(]//", code)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_a_report_refers_to_nothing_outside_itself(pages, kind):
    text = pages[kind]
    assert _urls(text) == []
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src 'none'" in csp and "img-src data:" in csp  # the browser itself refuses any request
    assert "xmlns" not in text and "<metadata>" not in text
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids))  # figures never share an id


def test_names_from_the_folder_are_escaped(quick, tmp_path):
    from dlbasics.experiments.compare import compare

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    cfg = load_config(config, ["train.epochs=1"])
    evil = "<script>alert(1)</script>"
    result = compare([(evil, cfg), ("b&<i>", load_config(config, ["train.epochs=1", "optimizer.lr=0.1"]))],
                     name="evil", runs_dir=tmp_path / "runs", executor=InProcessExecutor())
    text = report_html([result.path])
    assert evil not in text and "<i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "b&amp;&lt;i&gt;" in text
    assert _Parsed(text).tags.count("script") == 1 and _urls(text) == []


def test_names_that_look_like_math_are_drawn_as_written(tmp_path):
    from dlbasics.experiments.compare import compare

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    odd = "cost $x^$ b"  # matplotlib would parse $...$ as math and fail on the unbalanced one
    members = [(odd, load_config(config, ["train.epochs=2"])),
               ("plain", load_config(config, ["train.epochs=2", "optimizer.lr=0.1"]))]
    result = compare(members, name="odd", runs_dir=tmp_path / "runs", executor=InProcessExecutor())
    assert (result.path / "loss_vs_epoch.png").stat().st_size > 0  # the group's figures were drawn
    text = report_html([result.path])  # with real SVG figures
    assert "could not be drawn" not in text and "could not be shown" not in text
    assert "cost $x^$ b" in text  # the legend's text, as written (SVG text is text)


def test_a_figure_that_cannot_be_drawn_is_a_note(folders, monkeypatch):
    def broken(fig, prefix="f"):
        raise ValueError("no renderer")

    monkeypatch.setattr("dlbasics.report.html.figure_svg", broken)
    text = report_html([folders["run"]])
    assert "this figure could not be drawn: ValueError: no renderer" in text and "Metrics" in text


def test_missing_files_leave_their_sections_out(quick, folders, tmp_path):
    run = shutil.copytree(folders["run"], tmp_path / "run")
    for name in ("metrics.csv", "config.yaml"):
        (run / name).unlink()
    shutil.rmtree(run / "evaluation")
    text = report_html([run])
    assert _h2(text) == ["Overview", "Metrics", "Evaluation", "Environment", "Files"]  # (summary's index)
    group = shutil.copytree(folders["compare"], tmp_path / "compare")
    for name in ("comparison.csv", "replicates.csv"):
        (group / name).unlink()
    assert _h2(report_html([group])) == ["Overview", "Files"]
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "summary.json").write_text('{"status": "failed", "message": "killed before it began"}')
    text = report_html([bare])
    assert _h2(text) == ["Overview", "Files"] and "killed before it began" in text
    sweep = shutil.copytree(folders["sweep"], tmp_path / "sweep")
    (sweep / "sweep.yaml").write_text("[not, a, mapping")
    assert _h2(report_html([sweep])) == ["Overview", "Best point", "Points", "Learning curves", "Files"]


def test_a_moved_group_finds_its_own_members_and_reused_runs_where_they_are(quick, folders, tmp_path):
    from dlbasics.report.read import locate

    moved = tmp_path / "elsewhere" / folders["cv"].name
    shutil.copytree(folders["cv"], moved)
    assert "Learning curves" in _h2(report_html([moved]))
    recorded = str(folders["cv"] / "fold-1")  # what folds.csv says: the folder before the copy
    assert locate(recorded, moved) == moved / "fold-1"
    assert locate(str(folders["run"]), moved) == folders["run"]  # a reused run: not inside the group
    assert locate(str(tmp_path / "gone"), moved) is None and locate(None, moved) is None


def test_a_part_that_fails_is_a_note_and_the_rest_is_shown(quick, folders, monkeypatch):
    from dlbasics.report import run_view

    def broken(path, summary):
        raise KeyError("epoch")

    monkeypatch.setattr(run_view, "curves", broken)
    text = report_html([folders["run"]])
    assert "this part could not be shown: KeyError: &#x27;epoch&#x27;" in text
    assert _h2(text) == SECTIONS["run"]


def test_several_runs_are_also_shown_side_by_side(quick, folders, tmp_path):
    other = train(load_config(folders["run"] / "config.yaml", ["optimizer.lr=0.05"]), runs_dir=tmp_path,
                  progress=False).path
    page = build_page([folders["run"], other, folders["run"]])  # a folder given twice counts once
    assert page.title == "Report of 2 folders"
    assert [s.title.split(" ")[0] for s in page.sections] == ["2", "Run", "Run"]
    side = page.sections[0]
    assert [c.title for c in side.children] == ["Learning curves", "Metrics", "Config differences"]
    differences = side.children[2].blocks[0]
    assert [r["key"] for r in differences.rows] == ["optimizer.lr"]
    mixed = build_page([folders["run"], folders["cv"], folders["sweep"]])
    assert [s.title.split(" ")[0] for s in mixed.sections] == ["Run", "Cross-validation", "Sweep"]
    assert [s.status for s in mixed.sections] == ["completed"] * 3


def test_dlb_report_writes_into_the_folder_or_where_it_is_told(quick, folders, tmp_path):
    run = shutil.copytree(folders["run"], tmp_path / "runs" / folders["run"].name)
    result = dlb("report", run.name[:15], "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"report: {run / 'report.html'} (") and (run / "report.html").is_file()
    result = dlb("report", run, folders["cv"], "-o", tmp_path / "both.html")
    assert result.returncode == 0 and (tmp_path / "both.html").stat().st_size > 10_000
    out = tmp_path / "out"
    out.mkdir()
    assert dlb("report", run, "-o", out).returncode == 0 and (out / "report.html").is_file()


def test_dlb_report_errors_are_one_line_with_exit_code_2(folders, tmp_path):
    damaged = tmp_path / "runs" / "20261130-101500-damaged-aaaaaa"
    damaged.mkdir(parents=True)
    (damaged / "summary.json").write_text('{"status": "completed", "duration_s": "long"}')
    (tmp_path / "runs" / "notes.txt").write_text("a file")
    for args, fragment in (
        ((folders["run"], folders["cv"]), "needs a file to go to: add -o"),
        (("nope", "--runs-dir", tmp_path / "runs"), "no run 'nope'"),
        ((damaged,), "duration_s should be a number"),
        (("20261130-1015", "--runs-dir", tmp_path / "runs"), "duration_s should be a number"),
        ((tmp_path / "runs" / "notes.txt",), "not a run folder"),
    ):
        result = dlb("report", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and fragment in result.stderr
    assert not (damaged / "report.html").exists()


def test_a_run_report_shows_its_bootstrap_intervals_and_the_command_that_made_it(quick, write_config, tmp_path):
    trained = dlb("train", write_config(TINY), "--runs-dir", tmp_path / "runs", "-q")
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    booted = dlb("bootstrap", run, "-B", "200", "-q")
    assert booted.returncode == 0, booted.stderr
    assert (run / "bootstrap.json").is_file()
    text = report_html([run])
    assert "bootstrap intervals" in text  # the Metrics section's table of bootstrap.json
    assert "dlb train" in text  # summary.json's "command", recorded by the CLI, in the Environment section

def test_compare_writes_its_report_unless_told_not_to(quick, folders, tmp_path):
    members = [f"{folders['compare']}/00-sgd/seed-0", f"{folders['compare']}/01-adam/seed-0"]
    quiet = dlb("compare", *members, "--no-report", "--runs-dir", tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    folder = Path(re.search(r"comparison folder: (\S+)", quiet.stdout).group(1))
    assert not (folder / "report.html").exists() and "report:" not in quiet.stdout
    loud = dlb("compare", *members, "--runs-dir", tmp_path)
    assert loud.returncode == 0, loud.stderr
    folder = Path(re.search(r"comparison folder: (\S+)", loud.stdout).group(1))
    assert loud.stdout.rstrip().endswith(f"comparison folder: {folder}\nreport: {folder / 'report.html'}")
    assert _h2((folder / "report.html").read_text())[:3] == ["Overview", "Comparison", "Learning curves"]
