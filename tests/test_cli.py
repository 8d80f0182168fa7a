"""The `dlb` command as a user runs it: exit codes, one-line errors, --json, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import TINY, dlb


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("text,fragments", [
    ("optimiser: {name: adam}\n", ["optimiser: unknown key; did you mean 'optimizer'?"]),
    ("optimizer: {name: adam, lr: fast}\n", ["optimizer.lr: expected a number >= 0, got 'fast'"]),
    ("optimizer: {name: sgd, lr: -0.1}\n", ["optimizer.lr", "got -0.1"]),
    ("data: {name: mnsit}\n", ["data.name: unknown value 'mnsit'; did you mean 'mnist'?"]),
    ("name: !!python/object:os.system x\n", ["the YAML tag !!python/object:os.system is not allowed"]),
    ("model: {layers: [{type: dense, units: 10}]}\n", ["model.layers.0", "put {type: flatten} before it"]),
    ("model: {layers: [{type: flatten}, {type: conv2d, out_channels: 4, kernel_size: 3}]}\n",
     ["model.layers.1: conv2d expects (C, H, W) input, got (784,); remove the flatten before it"]),
    ("model: {layers: [{type: maxpool2d, kernel_size: 40}, {type: flatten}, {type: dense, units: 10}]}\n",
     ["model.layers.0: pool 40x40 is larger than the padded input 28x28"]),
    ("model: {layers: [{type: flatten}, {type: dense, units: 7}]}\n", ["model.layers", "(7,)", "needs (10,)"]),
])
def test_bad_configs_exit_2_with_one_line_naming_file_and_key(write_config, text, fragments):
    path = write_config(text)
    assert_one_line_error(dlb("train", path), str(path), *fragments)


def test_missing_config_file(tmp_path):
    assert_one_line_error(dlb("train", tmp_path / "nope.yaml"), "nope.yaml: no such config file")


def test_bad_override_names_the_override(write_config):
    assert_one_line_error(dlb("train", write_config(TINY), "--set", "optimizer.lr=fast"),
                          "--set optimizer.lr=fast: optimizer.lr: expected a number")


def test_json_prints_only_the_summary(write_config, tmp_path):
    result = dlb("train", write_config(TINY), "--set", "optimizer.lr=0.02", "--json", "--runs-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and isinstance(summary["final"]["test_acc"], float)
    run_dir = tmp_path / "r" / summary["run_id"]
    assert (run_dir / "metrics.csv").read_text().count("\n") == 1 + 3


def test_plain_output_has_one_line_per_epoch_and_the_result(write_config, tmp_path):
    result = dlb("train", write_config(TINY), "--runs-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "train", "acc", "val", "loss", "val", "acc", "lr", "time"]
    assert [ln.split()[0] for ln in lines[1:4]] == ["1/3", "2/3", "3/3"]
    assert all(len(ln) <= 70 for ln in lines[:4])  # 80 columns never wrap them
    assert lines[4].startswith("completed: 3 epochs") and "test_acc" in lines[4]
    assert dlb("train", write_config(TINY), "--runs-dir", tmp_path, "--quiet").stdout == ""


def test_epoch_lines_leave_out_what_is_not_measured_and_blank_unvalidated_epochs(write_config, tmp_path):
    result = dlb("train", write_config(TINY), "--set", "data.name=linear", "--set", "data.val_split=0",
                 "--runs-dir", tmp_path)
    assert result.stdout.splitlines()[0].split() == ["epoch", "train", "loss", "lr", "time"]
    result = dlb("train", write_config(TINY), "--set", "train.eval_every=2", "--runs-dir", tmp_path)
    header, first, second = result.stdout.splitlines()[:3]
    assert len(header.split()) == 11
    assert len(first.split()) == 6  # epoch, train loss, train acc, lr, "0.00 s": the validation cells blank
    assert len(second.split()) == 8 and first[:36] != second[:36]


def test_a_closed_output_pipe_interrupts_the_run_which_keeps_its_epochs(write_config, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "dlbasics", "train", str(write_config(TINY)), "--set",
                             "train.epochs=400", "--runs-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()  # the header: training has begun
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "closed output pipe" in summary["message"]
    assert 1 <= summary["epochs_completed"] < 400


def test_divergence_exits_4(write_config, tmp_path):
    result = dlb("train", write_config(TINY), "--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e6",
                 "--set", "model.hidden=[64, 64]", "--set", "train.epochs=30", "--runs-dir", tmp_path)
    assert result.returncode == 4
    assert "run diverged: loss" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_marks_the_run_interrupted_and_exits_130(write_config, tmp_path):
    path = write_config(TINY.replace("epochs: 3", "epochs: 100000"))
    proc = subprocess.Popen([sys.executable, "-m", "dlbasics", "train", str(path), "--runs-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    summary = None
    while time.time() < deadline:
        found = list(tmp_path.glob("*/summary.json"))
        if found:
            summary = json.loads(found[0].read_text())
            if summary.get("epochs_completed", 0) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    summary = json.loads(found[0].read_text())
    assert summary["status"] == "interrupted" and summary["epochs_completed"] >= 2
    assert "interrupted" in err and "Traceback" not in err


def test_model_command_prints_the_shape_table(write_config):
    result = dlb("model", write_config(TINY.replace("[16]", "[16, 8]")))
    assert result.returncode == 0, result.stderr
    assert "(N, 16)" in result.stdout and "(N, 3)" in result.stdout and "total" in result.stdout
    assert "211" in result.stdout  # (2*16+16) + (16*8+8) + (8*3+3)


def test_runs_list_and_show(write_config, tmp_path):
    dlb("train", write_config(TINY), "--runs-dir", tmp_path / "runs", "-q")
    listed = dlb("runs", "list", "--runs-dir", tmp_path / "runs")
    assert listed.returncode == 0 and "completed" in listed.stdout
    (run,) = (tmp_path / "runs").iterdir()
    shown = dlb("runs", "show", run, "--json")
    assert json.loads(shown.stdout)["run_id"] == run.name
    readable = dlb("runs", "show", run.name, "--runs-dir", tmp_path / "runs")  # a bare id, a readable panel
    assert readable.returncode == 0 and "what differs from the defaults" in readable.stdout


def test_schedule_plot_counts_the_runs_real_steps(write_config, tmp_path):
    out = dlb("schedule", write_config(TINY), "--set", "schedule.name=onecycle", "--set", "data.train_size=80",
              "-o", tmp_path / "s.png")
    assert out.returncode == 0, out.stderr
    assert "over 9 steps" in out.stdout  # 80 training samples (20 more validate): 3 batches of 32 x 3 epochs
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_schedule_writes_into_a_run_folder_never_into_the_current_directory(write_config, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = dlb("schedule", write_config(TINY), "--set", "schedule.name=cosine", "--runs-dir", tmp_path / "runs",
              cwd=work)
    assert out.returncode == 0, out.stderr
    assert list(work.iterdir()) == []
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.split("-", 2)[2].startswith("schedule-tiny-")
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "schedule.csv", "schedule.png",
                                                        "summary.json"]
    rows = (folder / "schedule.csv").read_text().splitlines()
    assert rows[0] == "epoch,lr,momentum" and len(rows) == 1 + 3  # one row per epoch of the 3
    assert float(rows[1].split(",")[1]) == 0.01  # the config's lr at the first epoch
    assert json.loads((folder / "summary.json").read_text())["kind"] == "schedule"


@pytest.mark.parametrize("args", [["init-study", "--seed", "-1"], ["bias-variance", "--noise", "inf"],
                                  ["boosting", "--seed", "-1"]])
def test_odd_numbers_are_one_line_errors(args, tmp_path):
    result = dlb(*args, "--runs-dir", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
