"""``gluon-caps export`` and ``predict``: the export classifies as the checkpoint does, images
are prepared as the training data, and bad input is one line."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from PIL import Image

from gluon_caps import ops
from gluon_caps.inference import load_checkpoint

from tests.cli.helpers import (assert_input_error, assert_ok, invoke, net_outputs,
                               write_checkpoint)
from tests.helpers import require_fused_ops, symbol_operators

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_run):
    prefix = str(tmp_path_factory.mktemp("export") / "models" / "capsnet")
    written = assert_ok(invoke("export", trained_run, prefix)).split()
    assert written == ["wrote", prefix + "-symbol.json", "wrote", prefix + "-0000.params",
                       "wrote", prefix + "-meta.json"]
    return prefix


def predict_json(*args):
    return json.loads(assert_ok(invoke("predict", *args, "--json", "--ctx", "cpu")))


def test_export_loads_for_any_batch_size(exported, trained_run, test_digits):
    with open(exported + "-meta.json") as handle:
        meta = json.load(handle)
    assert meta["model"] == "capsnet_mnist" and meta["input_shape"] == [1, 28, 28]
    assert meta["class_names"] == [str(digit) for digit in range(10)]
    assert meta["preprocessing"]["scale"] == [0.0, 1.0] and meta["preprocessing"]["grayscale"]
    assert meta["preprocessing"]["foreground"] == "light"
    block = gluon.SymbolBlock.imports(exported + "-symbol.json", ["data"],
                                      exported + "-0000.params", ctx=mx.cpu())
    images = test_digits[0][:, None] / np.float32(255.0)
    expected = net_outputs(trained_run, images)
    for count in (1, 5):
        lengths, reconstruction = block(mx.nd.array(images[:count]))
        assert reconstruction.shape == (count, 784)
        np.testing.assert_allclose(lengths.asnumpy(), expected[:count], rtol=1e-4, atol=1e-5)


def test_export_uses_standard_operators_only(exported):
    operators = symbol_operators(exported)
    assert "batch_dot" in operators and not operators & set(ops.FUSED_OPERATORS)


def test_export_with_fused_operators_predicts_or_says_why_not(tmp_path, exported, trained_run,
                                                              digit_pngs, test_digits,
                                                              monkeypatch):
    require_fused_ops()
    net = load_checkpoint(trained_run).net
    net.hybridize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    prefix = str(tmp_path / "fused")
    net.export(prefix, epoch=0, fused=True)
    assert "caps_routed_step" in symbol_operators(prefix)        # routing without predictions
    with open(exported + "-meta.json") as source, open(prefix + "-meta.json", "w") as target:
        target.write(source.read())
    expected = net_outputs(trained_run, test_digits[0][:, None] / np.float32(255.0))
    report = predict_json(prefix, *digit_pngs)
    assert [row["class"] for row in report["predictions"]] == expected.argmax(axis=1).tolist()

    def cannot_load():
        raise ops.OpsBuildError("no C++ compiler 'g++' on PATH")
    monkeypatch.setattr(ops, "load", cannot_load)
    assert_input_error(invoke("predict", prefix, digit_pngs[0]), prefix + "-symbol.json",
                       "fused routing operators", "no C++ compiler", "gluon-caps export")


def test_checkpoint_and_export_predict_the_networks_classes(exported, trained_run, digit_pngs,
                                                            test_digits):
    expected = net_outputs(trained_run, test_digits[0][:, None] / np.float32(255.0))
    for model in (trained_run, exported, exported + "-symbol.json", exported + "-meta.json"):
        report = predict_json(model, *digit_pngs)
        assert [row["image"] for row in report["predictions"]] == digit_pngs
        assert [row["class"] for row in report["predictions"]] == \
            expected.argmax(axis=1).tolist()
        np.testing.assert_allclose([row["lengths"] for row in report["predictions"]], expected,
                                   rtol=1e-4, atol=1e-5)
        assert all(row["notes"] == [] for row in report["predictions"])


def test_table_output(trained_run, digit_pngs):
    lines = assert_ok(invoke("predict", trained_run, *digit_pngs[:3])).splitlines()
    classes = [row["class"] for row in predict_json(trained_run, *digit_pngs[:3])["predictions"]]
    assert lines[0].split()[:2] == ["image", "class"] and len(lines) == 4
    for line, path, digit in zip(lines[1:], digit_pngs, classes):
        assert line.split()[:2] == [path, str(digit)] and len(line.split(": ")) == 11


def test_arrays_inverted_and_resized_images(tmp_path, trained_run, test_digits):
    digit = test_digits[0][0]
    np.save(str(tmp_path / "flat.npy"), digit / np.float32(255.0))
    np.save(str(tmp_path / "chw.npy"), digit[None] / 255.0)
    Image.fromarray(255 - digit).save(str(tmp_path / "dark.png"))
    Image.fromarray(np.kron(digit, np.ones((3, 2), np.uint8))).save(str(tmp_path / "wide.png"))
    expected = net_outputs(trained_run, digit[None, None] / np.float32(255.0))[0]
    as_is = predict_json(trained_run, tmp_path / "flat.npy", tmp_path / "chw.npy")
    inverted = predict_json(trained_run, tmp_path / "dark.png", "--invert")
    for row in as_is["predictions"] + inverted["predictions"]:
        np.testing.assert_allclose(row["lengths"], expected, rtol=1e-4, atol=1e-5)
    result = invoke("predict", trained_run, tmp_path / "wide.png", tmp_path / "dark.png")
    assert_ok(result)
    assert "wide.png: padded from 84x56 to 84x84 with black" in result.stderr
    assert "wide.png: resized from 84x84 to 28x28" in result.stderr
    assert "dark.png: mostly light" in result.stderr and "--invert" in result.stderr


def test_two_channel_models_take_arrays(tmp_path, digit_pngs):
    run = tmp_path / "run"
    write_checkpoint(run, model="capsnet_smallnorb", dataset="smallnorb")
    np.save(str(tmp_path / "pair.npy"), np.random.RandomState(0).randn(2, 32, 32))
    report = predict_json(run, tmp_path / "pair.npy")
    assert report["class_names"] == ["animal", "human", "airplane", "truck", "car"]
    assert len(report["predictions"][0]["lengths"]) == 5
    assert_input_error(invoke("predict", run, digit_pngs[0]), digit_pngs[0], "2-channel",
                       ".npy")


def test_decompression_bombs_are_refused(tmp_path, trained_run, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    for side in (12, 64):        # over the limit (Pillow warns), over twice the limit (error)
        path = str(tmp_path / ("bomb-%d.png" % side))
        Image.fromarray(np.zeros((side, side), np.uint8)).save(path)
        assert_input_error(invoke("predict", trained_run, path), path, "too large")


def test_bad_images(tmp_path, trained_run, digit_pngs):
    (tmp_path / "text.png").write_text("not an image")
    np.save(str(tmp_path / "small.npy"), np.zeros((5, 5)))
    np.save(str(tmp_path / "objects.npy"), np.array([{"a": 1}], dtype=object))
    np.savez(str(tmp_path / "archive.npz"), np.zeros((28, 28)))
    os.rename(str(tmp_path / "archive.npz"), str(tmp_path / "archive.npy"))
    for name, fragments in [("text.png", ["not an image"]), ("missing.png", ["cannot read"]),
                            ("small.npy", ["shape (5, 5)", "(1, 28, 28)"]),
                            ("objects.npy", ["not a .npy array of numbers"]),
                            ("archive.npy", ["not a .npy array"])]:
        assert_input_error(invoke("predict", trained_run, digit_pngs[0], tmp_path / name),
                           str(tmp_path / name), *fragments)


def test_bad_models(tmp_path, exported, digit_pngs):
    assert_input_error(invoke("predict", tmp_path / "nothing", digit_pngs[0]),
                       "nothing", "neither a checkpoint nor an export")
    broken = str(tmp_path / "broken")
    with open(exported + "-meta.json") as source, open(broken + "-meta.json", "w") as target:
        target.write(source.read())
    with open(broken + "-symbol.json", "w") as handle:
        handle.write("{}")
    assert_input_error(invoke("predict", broken, digit_pngs[0]), broken + "-symbol.json",
                       "cannot load")
    os.remove(broken + "-meta.json")
    assert_input_error(invoke("predict", broken, digit_pngs[0]), broken + "-meta.json")
    assert_input_error(invoke("predict", exported), "Missing argument 'IMAGES...'")
    assert_input_error(invoke("export", tmp_path / "nothing", tmp_path / "x"), "does not exist")
    assert not (tmp_path / "x-symbol.json").exists()


def poisoned(path):
    arrays = mx.nd.load(path)
    arrays[sorted(arrays)[0]][:] = float("nan")
    mx.nd.save(path, arrays)
    return path


def test_non_finite_weights_are_refused_by_every_command(tmp_path, exported, digit_pngs,
                                                         mnist_root):
    run = tmp_path / "run"
    params = poisoned(os.path.join(write_checkpoint(run, data_root=mnist_root), "model.params"))
    for command in (["evaluate", run], ["predict", run, digit_pngs[0]],
                    ["export", run, tmp_path / "out"]):
        assert_input_error(invoke(*command), params, "NaN or infinite values")
    assert not (tmp_path / "out-symbol.json").exists()
    copy = tmp_path / "copy"
    for suffix in ("-symbol.json", "-0000.params", "-meta.json"):
        with open(exported + suffix, "rb") as source, open(str(copy) + suffix, "wb") as target:
            target.write(source.read())
    poisoned(str(copy) + "-0000.params")
    assert_input_error(invoke("predict", copy, digit_pngs[0]), "copy-0000.params",
                       "NaN or infinite values")
