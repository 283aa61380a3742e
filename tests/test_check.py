import os
import subprocess
import sys

import pytest

from gluon_caps.check import environment_problem

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_supported_environment_has_no_problem():
    assert environment_problem("1.23.5", True) is None


@pytest.mark.parametrize("version", ["1.24.0", "1.26.4", "2.0.1"])
def test_numpy_too_new_gives_pin_hint(version):
    problem = environment_problem(version, True)
    assert "numpy<1.24" in problem and version in problem


def test_missing_mxnet_gives_install_hint():
    problem = environment_problem("1.23.5", False)
    assert "gluon-caps[cpu]" in problem and "gluon-caps[gpu]" in problem


def test_import_fails_with_one_line_hint_when_numpy_is_too_new(tmp_path):
    fake = tmp_path / "numpy"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '1.26.4'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), REPO]))
    result = subprocess.run([sys.executable, "-c", "import gluon_caps"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: gluon-caps needs numpy<1.24 (MXNet 1.9.1 breaks on numpy 1.26.4): "
        "pip install 'numpy<1.24'")
