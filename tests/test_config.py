"""Config loading: validation with one-line errors, overrides, defaults, safe YAML."""

from __future__ import annotations

import pytest

from dlbasics.config import ConfigError, apply_overrides, config_hash, load_config, resolve_config


def error_of(raw, overrides=(), source="exp.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        resolve_config(raw, source, overrides)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_empty_config_resolves_to_full_defaults():
    cfg = resolve_config({}, "x.yaml", name="x")
    assert cfg["name"] == "x" and cfg["seed"] == 0
    assert cfg["data"] == {"name": "mnist-mini", "val_split": 0.1, "normalize": "none", "train_size": None,
                           "fold": None, "bootstrap": None,
                           "augment": {"shift": 0, "rotation": 0.0, "crop_padding": 0, "hflip": False,
                                       "vflip": False, "scale": 0.0, "shear": 0.0, "elastic": None}}
    assert cfg["optimizer"] == {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8,
                                "weight_decay": 0.0, "amsgrad": False, "maximize": False, "eps_mode": "outside",
                                "param_groups": [], "no_weight_decay": ["bias", "norm"]}
    assert cfg["loss"] == {"name": "cross_entropy", "label_smoothing": 0.0}
    assert cfg["train"]["dtype"] == "float32" and cfg["train"]["threads"] == 1


def test_sgd_defaults_are_pytorchs():
    cfg = resolve_config({"optimizer": {"name": "sgd"}}, "x.yaml")
    assert cfg["optimizer"] == {"name": "sgd", "lr": 1e-3, "momentum": 0.0, "dampening": 0.0,
                                "weight_decay": 0.0, "nesterov": False, "maximize": False,
                                "momentum_form": "pytorch", "param_groups": [], "no_weight_decay": ["bias", "norm"]}


def test_unknown_top_level_key_suggests_the_close_one():
    msg = error_of({"optimiser": {"name": "adam"}})
    assert msg.startswith("exp.yaml: optimiser: unknown key; did you mean 'optimizer'?")


def test_unknown_nested_key_names_the_dotted_path():
    assert "exp.yaml: optimizer.betta: unknown key; did you mean 'betas'?" in error_of({"optimizer": {"betta": 1}})


def test_wrong_type_names_key_value_and_expectation():
    assert error_of({"optimizer": {"lr": "fast"}}) == "exp.yaml: optimizer.lr: expected a number >= 0, got 'fast'"


def test_negative_lr_is_rejected():
    assert error_of({"optimizer": {"lr": -0.1}}) == "exp.yaml: optimizer.lr: expected a number >= 0, got -0.1"


def test_unknown_registry_name_lists_the_allowed_ones():
    msg = error_of({"data": {"name": "mnsit"}})
    assert "data.name: unknown value 'mnsit'; did you mean 'mnist'?" in msg and "fashion-mnist" in msg


def test_cross_field_rule_of_the_optimizer_is_a_config_error():
    assert "nesterov momentum requires momentum > 0" in error_of({"optimizer": {"name": "sgd", "nesterov": True}})


def test_betas_must_lie_in_unit_interval():
    assert "optimizer.betas.1: expected a number >= 0 and < 1, got 1.2" in error_of(
        {"optimizer": {"betas": [0.9, 1.2]}})


def test_bool_is_not_a_number_and_float_is_not_an_integer():
    assert "train.epochs: expected an integer >= 1, got true" in error_of({"train": {"epochs": True}})
    assert "train.epochs: expected an integer >= 1, got 2.5" in error_of({"train": {"epochs": 2.5}})


def test_loss_must_fit_the_task():
    assert "loss.name: 'mse' is a regression loss" in error_of({"loss": {"name": "mse"}})
    assert resolve_config({"data": {"name": "linear"}}, "x")["loss"]["name"] == "mse"


def test_layers_form_validates_each_layer_by_index():
    assert "model.layers.1.units: missing required key" in error_of(
        {"model": {"layers": [{"type": "flatten"}, {"type": "dense"}]}})
    assert "model.layers.0.type: unknown value 'dens'; did you mean 'dense'?" in error_of(
        {"model": {"layers": [{"type": "dens", "units": 3}]}})


def test_batch_size_takes_an_integer_or_full():
    assert resolve_config({"train": {"batch_size": "full"}}, "x")["train"]["batch_size"] == "full"
    assert "train.batch_size: expected an integer >= 1 or 'full', got 0" in error_of({"train": {"batch_size": 0}})


def test_overrides_parse_yaml_scalars_and_name_the_override_in_errors():
    cfg = resolve_config({}, "x", ["optimizer.lr=1e-2", "model.hidden=[32, 16]", "train.epochs=2"])
    assert cfg["optimizer"]["lr"] == 0.01 and cfg["model"]["hidden"] == [32, 16] and cfg["train"]["epochs"] == 2
    assert error_of({}, ["optimizer.lr=fast"]) == (
        "--set optimizer.lr=fast: optimizer.lr: expected a number >= 0, got 'fast'")
    assert error_of({}, ["nonsense"]).startswith("--set nonsense: expected KEY=VALUE")


def test_override_can_switch_a_registry_and_index_a_list():
    cfg = resolve_config({"optimizer": "adam"}, "x", ["optimizer.name=sgd", "optimizer.momentum=0.9"])
    assert cfg["optimizer"]["name"] == "sgd" and cfg["optimizer"]["momentum"] == 0.9
    raw = {"model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]}}
    new, origins = apply_overrides(raw, ["model.layers.1.units=32"])
    assert new["model"]["layers"][1]["units"] == 32 and raw["model"]["layers"][1]["units"] == 10
    assert origins == {"model.layers.1.units": "model.layers.1.units=32"}


def test_yaml_reads_1e_minus_3_as_a_number(write_config):
    cfg = load_config(write_config("optimizer: {name: adam, lr: 1e-3}\n"))
    assert cfg["optimizer"]["lr"] == 0.001


def test_python_tags_are_refused(write_config):
    path = write_config("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: line 1, column 7: the YAML tag !!python/object/apply:os.system")


def test_missing_file_and_syntax_errors_name_the_file(write_config, tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: invalid YAML: expected"):
        load_config(write_config("train:\n  epochs: [1, 2\n", "bad.yaml"))


def test_run_name_defaults_to_the_file_stem(write_config):
    assert load_config(write_config("seed: 1\n", "my_exp.yaml"))["name"] == "my_exp"


def test_config_hash_ignores_key_order():
    a = resolve_config({"seed": 1, "train": {"epochs": 2}}, "x")
    b = resolve_config({"train": {"epochs": 2}, "seed": 1}, "x")
    assert config_hash(a) == config_hash(b) != config_hash(resolve_config({"seed": 2}, "x"))


def test_cosine_t_max_null_means_the_whole_run():
    from dlbasics.runner import build

    cfg = resolve_config({"data": {"name": "moons", "n_train": 20, "n_test": 5}, "schedule": "cosine",
                          "train": {"epochs": 7}}, "x")
    assert cfg["schedule"] == {"name": "cosine", "interval": None, "warmup": 0, "warmup_start_factor": 1 / 3,
                               "T_max": None, "eta_min": 0.0}
    assert build(cfg).schedule.T_max == 7


def test_a_key_given_twice_is_an_error(write_config):
    with pytest.raises(ConfigError, match=r"line 3, column 1: duplicate key 'train' \(first on line 1\)"):
        load_config(write_config("train:\n  epochs: 2\ntrain:\n  epochs: 3\n"))


def test_odd_section_values_are_config_errors():
    assert "data: expected a mapping" in error_of({"data": [1, 2]})
    assert "data.name: unknown value" in error_of({"data": {"name": "x"}})


def test_indexing_a_list_that_is_not_in_the_file_says_to_set_the_whole_list():
    assert "model.hidden is not in the config file" in error_of({}, ["model.hidden.0=32"])


def test_plateau_on_accuracy_waits_for_accuracy_to_stop_rising():
    cfg = resolve_config({"schedule": {"name": "plateau", "monitor": "val_acc"}}, "x")
    from dlbasics.runner import build

    sched = build({**cfg, "data": {**cfg["data"], "train_size": 100}}).schedule
    assert sched.mode == "max"


@pytest.mark.parametrize("raw,fragment", [
    ({"data": {"val_split": 0.0}, "regularization": {"early_stopping": {}}}, "never measured with data.val_split 0"),
    ({"data": {"name": "linear"}, "schedule": {"name": "plateau", "monitor": "val_acc"}}, "regression data set"),
])
def test_watching_a_metric_that_is_never_measured_is_an_error(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_config(raw, "x")
