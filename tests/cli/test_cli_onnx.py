"""``gluon-caps export --format onnx`` and ``predict`` with the ``.onnx`` file: onnxruntime
classifies as the checkpoint does, with the MXNet export's description, and a bad file, a
missing onnxruntime or an option ONNX models do not take is one line."""
import json
import shutil
import sys

import numpy as np
import pytest

from tests.cli.helpers import assert_input_error, assert_ok, invoke, net_outputs
from tests.helpers import require_onnx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_run):
    """The trained run exported as ONNX (``PREFIX.onnx``) and as MXNet (``MXNET_PREFIX``)."""
    require_onnx()
    directory = tmp_path_factory.mktemp("onnx")
    prefix, mxnet_prefix = str(directory / "models" / "capsnet"), str(directory / "mxnet")
    written = assert_ok(invoke("export", trained_run, prefix, "--format", "onnx")).split()
    assert written == ["wrote", prefix + ".onnx", "wrote", prefix + "-meta.json"]
    assert_ok(invoke("export", trained_run, mxnet_prefix))
    return prefix, mxnet_prefix


def predict_json(*args):
    return json.loads(assert_ok(invoke("predict", *args, "--json", "--ctx", "cpu")))


def copy_export(prefix, target):
    """Copy the ONNX export ``prefix`` to ``target``; return ``target``."""
    for suffix in (".onnx", "-meta.json"):
        shutil.copyfile(prefix + suffix, str(target) + suffix)
    return str(target)


def test_the_onnx_export_is_described_as_the_mxnet_export(exported):
    descriptions = []
    for prefix in exported:
        with open(prefix + "-meta.json") as handle:
            descriptions.append(json.load(handle))
    assert descriptions[0] == descriptions[1]
    assert descriptions[0]["outputs"] == ["lengths", "reconstruction"]


def test_predict_with_the_onnx_file_gives_the_checkpoints_lengths(exported, trained_run,
                                                                  digit_pngs, test_digits):
    prefix = exported[0]
    expected = net_outputs(trained_run, test_digits[0][:, None] / np.float32(255.0))
    for model in (prefix + ".onnx", prefix, prefix + "-meta.json"):
        report = predict_json(model, *digit_pngs, "--batch-size", 3)
        assert report["model"] == prefix + ".onnx"
        assert [row["class"] for row in report["predictions"]] == \
            expected.argmax(axis=1).tolist()
        np.testing.assert_allclose([row["lengths"] for row in report["predictions"]], expected,
                                   rtol=0, atol=1e-5)


def test_a_prefix_names_its_mxnet_export_where_it_has_both(tmp_path, exported, digit_pngs):
    prefix, mxnet_prefix = exported
    both = copy_export(prefix, tmp_path / "both")
    for suffix in ("-symbol.json", "-0000.params"):
        shutil.copyfile(mxnet_prefix + suffix, both + suffix)
    assert predict_json(both, digit_pngs[0])["model"] == both + "-symbol.json"
    assert predict_json(both + ".onnx", digit_pngs[0])["model"] == both + ".onnx"


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def test_bad_onnx_files_are_one_line(tmp_path, exported, digit_pngs):
    import onnx
    prefix = exported[0]
    with open(prefix + ".onnx", "rb") as handle:
        model_bytes = handle.read()
    cases = {"text": (b"not an ONNX model", "not a valid ONNX model"),
             "truncated": (model_bytes[:len(model_bytes) // 2], "not a valid ONNX model")}
    model = onnx.load(prefix + ".onnx")
    weight = next(tensor for tensor in model.graph.initializer if tensor.name.endswith("weight"))
    poisoned = np.full(onnx.numpy_helper.to_array(weight).shape, np.nan, np.float32)
    weight.CopyFrom(onnx.numpy_helper.from_array(poisoned, weight.name))
    cases["nan"] = (model.SerializeToString(), "NaN or infinite values (in %s)" % weight.name)
    for name, (data, fragment) in cases.items():
        bad = copy_export(prefix, tmp_path / name)
        _write(bad + ".onnx", data)
        assert_input_error(invoke("predict", bad + ".onnx", digit_pngs[0]), bad + ".onnx",
                           fragment)
    other = copy_export(prefix, tmp_path / "other")
    with open(other + "-meta.json") as handle:
        meta = json.load(handle)
    with open(other + "-meta.json", "w") as handle:
        json.dump(dict(meta, input_shape=[2, 32, 32]), handle)
    assert_input_error(invoke("predict", other + ".onnx", digit_pngs[0]), other + ".onnx",
                       "does not fit its description", other + "-meta.json")
    lonely = tmp_path / "lonely.onnx"
    shutil.copyfile(prefix + ".onnx", str(lonely))
    assert_input_error(invoke("predict", lonely, digit_pngs[0]), "lonely-meta.json")


def test_a_missing_onnxruntime_or_onnx_is_one_line(tmp_path, monkeypatch, exported,
                                                   trained_run, digit_pngs):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)           # import onnxruntime fails
    assert_input_error(invoke("predict", exported[0] + ".onnx", digit_pngs[0]),
                       exported[0] + ".onnx", "needs onnxruntime", "gluon-caps[onnx]",
                       "--no-deps onnxruntime")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert_input_error(invoke("export", trained_run, tmp_path / "x", "--format", "onnx"),
                       "--format onnx needs onnx", "gluon-caps[onnx]")
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "x-meta.json").exists()


def test_options_onnx_models_do_not_take_are_refused(tmp_path, exported, trained_run,
                                                     digit_pngs):
    model = exported[0] + ".onnx"
    assert_input_error(invoke("predict", model, digit_pngs[0], "--ctx", "gpu"), "--ctx",
                       "onnxruntime on the CPU")
    assert_input_error(invoke("predict", model, digit_pngs[0], "--dtype", "bfloat16"),
                       "--dtype bfloat16", model, "computes in float32")
    assert_input_error(invoke("export", trained_run, tmp_path / "x", "--format", "onnx",
                              "--dtype", "bfloat16"),
                       "--dtype bfloat16", "ONNX exports compute in float32")
    assert not (tmp_path / "x.onnx").exists()
