"""``gluon-caps models``, ``--version`` and ``python -m gluon_caps``."""
import json
import subprocess
import sys

from gluon_caps import __version__

from tests.cli.helpers import assert_ok, invoke
from tests.helpers import without_compiler
from tests.training.helpers import REPO, environment

COMMANDS = ["bench", "curve", "evaluate", "export", "models", "perturb", "predict", "reconstruct",
            "routing"]


def test_models_json_and_table():
    rows = json.loads(assert_ok(invoke("models", "--json")))
    by_name = {row["name"]: row for row in rows}
    assert sorted(by_name) == ["capsnet_mnist", "capsnet_multimnist", "capsnet_smallnorb"]
    assert by_name["capsnet_mnist"]["parameters"] == 8215568
    assert by_name["capsnet_multimnist"]["input_shape"] == [1, 36, 36]
    table = assert_ok(invoke("models")).splitlines()
    assert table[1].split()[:5] == ["capsnet_mnist", "1x28x28", "10", "1152", "8,215,568"]
    for line, row in zip(table[1:], rows):
        assert line.split()[5] == ("pretrained:" + row["name"] if row["pretrained"] else "-")


def test_models_builds_nothing_and_warns_nothing_without_a_compiler(monkeypatch, tmp_path):
    attempts = without_compiler(monkeypatch, tmp_path / "cache")
    result = invoke("models")
    assert_ok(result)
    assert result.stderr == "" and attempts == [] and not (tmp_path / "cache").exists()


def test_version_and_commands():
    assert assert_ok(invoke("--version")).strip() == "gluon-caps, version %s" % __version__
    listed = assert_ok(invoke("--help")).split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in listed] == COMMANDS


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "gluon_caps", "--help"], cwd=REPO,
                            env=environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: gluon-caps [OPTIONS] COMMAND")
