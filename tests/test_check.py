import os
import subprocess
import sys

import pytest

from gluon_caps.check import environment_problem

from tests.helpers import require_onnx

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


# onnxruntime, installed without its numpy>=1.24.2 requirement, imported first, then MXNet and
# gluon-caps (whose import checks numpy), each computing the same ReLU.
ALONGSIDE = r"""
import numpy as np
import onnx
import onnxruntime
import mxnet as mx
import gluon_caps

helper = onnx.helper
graph = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["y"])], "relu",
    [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
session = onnxruntime.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
x = np.array([-1.0, 2.0], np.float32)
assert session.run(None, {"x": x})[0].tolist() == mx.nd.relu(mx.nd.array(x)).asnumpy().tolist()
print(np.__version__, onnxruntime.__version__, mx.__version__)
"""


def test_onnxruntime_runs_beside_mxnet_and_numpy_below_1_24():
    require_onnx()
    result = subprocess.run([sys.executable, "-c", ALONGSIDE], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr
    numpy_version, _, mxnet_version = result.stdout.split()
    assert tuple(int(part) for part in numpy_version.split(".")[:2]) < (1, 24)
    assert mxnet_version == "1.9.1"
