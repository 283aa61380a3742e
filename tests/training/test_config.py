import glob
import os

import pytest

from gluon_caps.errors import ConfigError
from gluon_caps.training import default_config, resolve_config
from gluon_caps.training.config import check_output

from gluon_caps.training.launcher import parse_args


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


def test_a_resume_continues_the_checkpoints_config_and_may_extend_it(tmp_path):
    saved = dict(default_config(), lr=0.5, epochs=3, output="elsewhere", batch_size=16)
    config = resolve_config(None, {"epochs": 9}, resumed=saved, resume_dir=str(tmp_path))
    assert (config["lr"], config["epochs"], config["batch_size"]) == (0.5, 9, 16)
    assert config["output"] == str(tmp_path)


@pytest.mark.parametrize("flags, text, fragment", [
    ({"lr": 0.1}, None, "--lr cannot change on --resume (the checkpoint has 0.001, --lr asks 0.1)"),
    ({}, "dataset: affnist\n", "--dataset cannot change on --resume (the checkpoint has 'mnist', "
                               "other.yaml asks 'affnist')"),
    ({}, "batch_size: 64\n", "--batch-size cannot change on --resume"),
    ({"seed": 4}, None, "--seed cannot change"),
    ({"augment": False}, None, "--augment cannot change"),
    ({"output": "runs/b"}, None, "--output runs/b differs from --resume"),
])
def test_a_resume_refuses_what_would_change_the_run(tmp_path, flags, text, fragment):
    path = None
    if text:
        path = tmp_path / "other.yaml"
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve_config(path and str(path), flags, resumed=default_config(),
                       resume_dir=str(tmp_path / "a"))
    assert fragment in str(info.value)


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
    ("lr: .nan\n", "lr (c.yaml) must be a finite number, got nan"),
    ("lr: 0\n", "lr (c.yaml) must be > 0.0"),
    ("lr_decay: 1.5\n", "lr_decay (c.yaml) must be <= 1.0, got 1.5"),
    ("lr_decay: .inf\n", "lr_decay (c.yaml) must be a finite number"),
    ("reconstruction_weight: .nan\n", "reconstruction_weight (c.yaml) must be a finite number"),
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


def test_a_config_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"epochs: 3 # \xff\xfe\n")
    with pytest.raises(ConfigError, match="config file .*c.yaml is not UTF-8 text"):
        resolve_config(str(path))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_flags_are_refused(value):
    with pytest.raises(ConfigError, match=r"lr \(--lr\) must be a finite number"):
        resolve_config(None, {"lr": float(value)})


def test_output_checks_name_the_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="--output .*file/run cannot be written"):
        check_output(str(tmp_path / "file" / "run"), resuming=False)
    with pytest.raises(ConfigError, match="--output /proc/gluon-caps-run cannot be written"):
        check_output("/proc/gluon-caps-run", resuming=False)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "log.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="holds another run's log"):
        check_output(str(tmp_path / "old"), resuming=False)
    check_output(str(tmp_path / "old"), resuming=True)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yaml"):
        resolve_config(str(tmp_path / "nope.yaml"))


def test_data_root_is_stored_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config(None, {"data_root": "data"})["data_root"] == str(tmp_path / "data")
    assert resolve_config()["data_root"] is None
