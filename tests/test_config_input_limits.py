"""Config input that cannot be a real config is refused early, in one line: alias bombs, deep nesting, huge files,
empty files; error messages never render a huge value."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml

from conftest import REPO, TINY, dlb_process
from dlbasics.config import ConfigError, load_config, resolve_config, yaml_io
from dlbasics.config.fields import show

LOADERS = ["libyaml", "pure"] if yaml_io.FastLoader is not None else ["pure"]


@pytest.fixture(params=LOADERS)
def loader(request, monkeypatch):
    """Run the test with libyaml (when PyYAML has it) and with the pure-Python loader."""
    if request.param == "pure":
        monkeypatch.setattr(yaml_io, "FastLoader", None)
    return request.param


def laughs(levels: int = 9, width: int = 10) -> str:
    """A "billion laughs" list: each level an anchored list of ``width`` aliases to the level below."""
    items = ["&l0 [" + ", ".join(['"lol"'] * width) + "]"]
    items += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


BOMB = f"name: bomb\noptimizer: {{name: sgd, lr: {laughs()}}}\n"  # 10**9 strings from under 1 KB


def error_of(text: str, source: str = "exp.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        yaml_io.loads(text, source)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message
    return message


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_an_alias_bomb_is_refused_before_it_expands(loader):
    assert len(BOMB) < 1000
    tracemalloc.start()
    try:
        message = error_of(BOMB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("exp.yaml: line 2, column ")
    assert message.endswith(": YAML aliases expand to more than 100000 values (an alias bomb?)")
    assert peak < 5_000_000


def test_aliases_may_expand_to_100000_values():
    defaults = "[" + ", ".join(["1"] * 999) + "]"  # 1000 values: the list and its items
    fits = yaml_io.loads(f"a: &d {defaults}\nb: [" + ", ".join(["*d"] * 100) + "]\n")
    assert len(fits["b"]) == 100 and fits["b"][0] is fits["a"]
    assert "more than 100000 values" in error_of(f"a: &d {defaults}\nb: [" + ", ".join(["*d"] * 101) + "]\n")


def test_shared_settings_through_anchors_still_work():
    cfg = yaml_io.loads("base: &opt {name: sgd, lr: 0.1}\nother: *opt\n")
    assert cfg["other"] == {"name": "sgd", "lr": 0.1}


def test_a_value_that_contains_itself_is_refused(loader):
    assert error_of("model: &m {hidden: [*m]}\n") == (
        "exp.yaml: line 1, column 21: the YAML alias *m is inside the value it names (a loop)")


@pytest.mark.parametrize("shape", ["lists", "mappings"])
def test_nesting_deeper_than_64_levels_is_refused_without_recursion(loader, shape):
    def nested(depth: int) -> str:
        return "[" * depth + "]" * depth if shape == "lists" else "{a: " * depth + "1" + "}" * depth

    assert error_of(nested(100_000)).endswith(": nested more than 64 levels deep")
    assert error_of(f"model: {nested(64)}\n").startswith("exp.yaml: line 1, column ")
    assert yaml_io.loads(nested(64)) is not None


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(5_200_000)  # NUL bytes: reading them would be a different error
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: 5.2 MB is too large for a config file (limit 1 MB)"


def test_a_file_of_exactly_1_mb_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("#" * (yaml_io.MAX_BYTES - 1) + "\n")
    assert yaml_io.load_file(path) is None
    path.write_text("#" * yaml_io.MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: 1,000,001 bytes is too large for a config file"):
        yaml_io.load_file(path)


def test_an_oversized_set_value_is_refused_and_named_in_short(write_config):
    text = "model.hidden=[" + "16, " * 300_000 + "16]"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(TINY), [text])
    message = str(info.value)
    assert message.startswith("--set model.hidden=[16, 16, ")
    assert message.endswith("...: 1.2 MB is too large for a --set value (limit 1 MB)") and len(message) < 200


@pytest.mark.parametrize("text", ["", "\n  \n", "# nothing yet\n", "---\n", "~\n"])
def test_an_empty_config_file_is_an_error(write_config, text):
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: is empty; write at least one setting (e.g. `name: my_run`), "
                               "or `{}` for all the defaults")


def test_braces_ask_for_all_the_defaults(write_config):
    assert load_config(write_config("{}\n", "defaults.yaml")) == resolve_config({}, name="defaults")


def test_show_renders_small_values_as_written():
    assert [show(v) for v in ("fast", None, True, 3, 1e-3, [1, None, "a"], {"b": 1, "a": (2,)}, set())] == [
        "'fast'", "null", "true", "3", "0.001", "[1, None, 'a']", "{'b': 1, 'a': (2,)}", "set()"]


def test_show_cuts_a_huge_value_without_rendering_it():
    bomb = ["lol"] * 10
    for _ in range(8):
        bomb = [bomb] * 10  # 10**9 strings, shared
    loop: list = []
    loop.append(loop)
    for value in (bomb, loop, "x" * 10**6, {"k" * 500: 1}, 10**5000):
        shown = show(value)
        assert len(shown) <= 80, shown
    assert show(bomb).startswith("[[[[[[[[['lol', 'lol'") and show(bomb).endswith("...")


def test_a_huge_value_under_a_typed_key_gives_a_short_error():
    fits = yaml_io.loads("lr: &a [" + ", ".join(['"x"'] * 300) + "]\nb: [" + ", ".join(["*a"] * 300) + "]\n")
    with pytest.raises(ConfigError) as info:
        resolve_config({"optimizer": {"name": "sgd", "lr": fits["b"]}}, "exp.yaml")
    assert str(info.value).startswith("exp.yaml: optimizer.lr: expected a number >= 0, got [['x', 'x',")
    assert len(str(info.value)) < 150


def test_a_value_python_cannot_hold_is_a_yaml_error(loader):
    assert error_of("seed: 1" + "0" * 5000 + "\n").startswith("exp.yaml: line 1, column 7: invalid YAML: cannot "
                                                              "read '100000")
    assert error_of("date: 2001-13-45\n") == (
        "exp.yaml: line 1, column 7: invalid YAML: cannot read '2001-13-45' (month must be in 1..12)")


@pytest.mark.skipif(yaml_io.FastLoader is None, reason="PyYAML without libyaml")
def test_libyaml_and_pure_python_read_the_same():
    texts = [path.read_text() for path in sorted((REPO / "configs").rglob("*.yaml"))]
    texts += ["lr: 1e-3\nb: [5E+2, .5, 1_000, 0x1F, 0o17, ~, yes, off, 2001-12-14]\nc: 'it''s'\nd: |\n  two\n  lines\n"]
    for text in texts:
        assert yaml.load(text, Loader=yaml_io.FastLoader) == yaml.load(text, Loader=yaml_io.Loader), text


@pytest.mark.parametrize("text", ["train:\n  epochs: [1, 2\n", "a: b: c\n", "a:\n\t- 1\n", "a: 1\na: 2\n",
                                  "x: !!python/object/apply:os.system [ls]\n", "--- 1\n--- 2\n"])
def test_yaml_errors_read_the_same_with_either_loader(monkeypatch, text):
    fast = error_of(text)
    monkeypatch.setattr(yaml_io, "FastLoader", None)
    assert error_of(text) == fast


def test_the_cli_refuses_bad_input_in_one_line(write_config, tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as file:
        file.truncate(5_200_000)
    cases = [
        (write_config(BOMB, "bomb.yaml"), "YAML aliases expand to more than 100000 values (an alias bomb?)"),
        (write_config("model: {hidden: " + "[" * 100_000 + "]" * 100_000 + "}\n", "deep.yaml"),
         "line 1, column 79: nested more than 64 levels deep"),
        (huge, "huge.yaml: 5.2 MB is too large for a config file (limit 1 MB)"),
        (write_config("# to do\n", "empty.yaml"), "empty.yaml: is empty; write at least one setting"),
    ]
    for path, fragment in cases:
        assert_one_line_error(dlb_process("train", path, timeout=60), f"error: {path}", fragment)


def test_the_cli_refuses_an_alias_bomb_in_a_set_value(write_config):
    assert_one_line_error(dlb_process("config", write_config(TINY), "--set", f"optimizer.lr={laughs()}", timeout=60),
                          "error: --set optimizer.lr=[&l0 [", "...: line 1, column ", "(an alias bomb?)")
