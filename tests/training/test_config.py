import glob
import os

import pytest

from gluon_caps.errors import ConfigError
from gluon_caps.training import default_config, resolve_config

from launch.train import parse_args


def test_defaults_are_the_papers_mnist_settings():
    config = resolve_config()
    assert config["lr"] == 0.001 and config["lr_decay"] == 0.96
    assert config["lr_decay_steps"] == 2000 and config["batch_size"] == 128
    assert config["reconstruction_weight"] == 0.0005 and config["num_routing"] == 3
    assert config["augment"] is True


@pytest.mark.parametrize("path", sorted(glob.glob(
    os.path.join(os.path.dirname(__file__), "..", "..", "launch", "configs", "*.yaml"))))
def test_every_shipped_config_resolves(path):
    config = resolve_config(path)
    assert config["output"].startswith("runs/")


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nlr: 0.01\naugment: true\n")
    args = parse_args(["--config", str(path), "--epochs", "2", "--no-augment",
                       "--input-shape", "1", "40", "40"])
    config = resolve_config(args.config, {k: v for k, v in vars(args).items()
                                          if k not in ("config", "resume", "seeds")})
    assert (config["epochs"], config["lr"], config["augment"]) == (2, 0.01, False)
    assert config["input_shape"] == [1, 40, 40]


def test_checkpoint_config_is_the_base_of_a_resume():
    config = resolve_config(None, {"epochs": 9}, base=dict(default_config(), lr=0.5, epochs=3))
    assert (config["lr"], config["epochs"]) == (0.5, 9)


@pytest.mark.parametrize("text, message", [
    ("epochs: 0\n", "epochs (c.yaml) must be >= 1"),
    ("epochs: two\n", "epochs (c.yaml) must be an integer"),
    ("lr_scaling: cubic\n", "lr_scaling (c.yaml) must be one of none, linear, sqrt"),
    ("epoch: 3\n", "unknown field(s) epoch"),
    ("model: resnet\n", "unknown model 'resnet'; valid models: capsnet_mnist"),
    ("dataset: cifar\n", "dataset (c.yaml) must be one of mnist"),
    ("input_shape: [1, 28]\n", "input_shape (c.yaml) must be three positive integers"),
    ("- a list\n", "must hold a mapping"),
    ("epochs: [\n", "is not valid YAML"),
])
def test_bad_config_values_name_the_field_and_file(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve_config(str(path))
    assert message in str(info.value)


def test_bad_flag_value_names_the_flag():
    with pytest.raises(ConfigError, match=r"batch_size \(--batch-size\) must be >= 1"):
        resolve_config(None, {"batch_size": 0})


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yaml"):
        resolve_config(str(tmp_path / "nope.yaml"))


def test_data_root_is_stored_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config(None, {"data_root": "data"})["data_root"] == str(tmp_path / "data")
    assert resolve_config()["data_root"] is None
