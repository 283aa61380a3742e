"""Pretrained weights: verified by sha256, one clear error when missing or damaged, and parameter
names and shapes pinned so a change cannot silently break shipped weights."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon_caps.checkpoint import record_validation, save_checkpoint
from gluon_caps.data.base import to_float
from gluon_caps.errors import CheckpointError, ConfigError
from gluon_caps.model_zoo import get_model, get_model_list, pretrained
from gluon_caps.model_zoo.pretrained import pretrained_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The parameters of every zoo model, as ``save_parameters`` names them, with their shapes.
PINNED = {
    "capsnet_mnist": {
        "conv1.weight": (256, 1, 9, 9), "conv1.bias": (256,),
        "primary_caps.conv.weight": (256, 256, 9, 9), "primary_caps.conv.bias": (256,),
        "digit_caps.predictions.weight": (1152, 10, 16, 8),
        "decoder.layers.0.weight": (512, 160), "decoder.layers.0.bias": (512,),
        "decoder.layers.1.weight": (1024, 512), "decoder.layers.1.bias": (1024,),
        "decoder.layers.2.weight": (784, 1024), "decoder.layers.2.bias": (784,)},
    "capsnet_multimnist": {
        "conv1.weight": (256, 1, 9, 9), "conv1.bias": (256,),
        "primary_caps.conv.weight": (256, 256, 9, 9), "primary_caps.conv.bias": (256,),
        "digit_caps.predictions.weight": (3200, 10, 16, 8),
        "decoder.layers.0.weight": (512, 160), "decoder.layers.0.bias": (512,),
        "decoder.layers.1.weight": (1024, 512), "decoder.layers.1.bias": (1024,),
        "decoder.layers.2.weight": (1296, 1024), "decoder.layers.2.bias": (1296,)},
    "capsnet_smallnorb": {
        "conv1.weight": (256, 2, 9, 9), "conv1.bias": (256,),
        "primary_caps.conv.weight": (256, 256, 9, 9), "primary_caps.conv.bias": (256,),
        "digit_caps.predictions.weight": (2048, 5, 16, 8),
        "decoder.layers.0.weight": (512, 80), "decoder.layers.0.bias": (512,),
        "decoder.layers.1.weight": (1024, 512), "decoder.layers.1.bias": (1024,),
        "decoder.layers.2.weight": (2048, 1024), "decoder.layers.2.bias": (2048,)},
}


@pytest.mark.parametrize("name", get_model_list())
def test_parameter_names_and_shapes_are_pinned(name):
    net = get_model(name)
    net.initialize()
    net(mx.nd.zeros((1,) + net.input_shape))
    got = {key: param.shape for key, param in net._collect_params_with_prefix().items()}
    assert got == PINNED[name]


def trained_checkpoint(run_dir, net, model="capsnet_mnist", **config_fields):
    """A checkpoint of ``net`` as the training loop writes it, validated."""
    trainer = mx.gluon.Trainer(net.collect_params(), "adam", kvstore=None)
    config = dict({"model": model, "dataset": "mnist", "output": str(run_dir),
                   "data_root": "/data"}, **config_fields)
    path = save_checkpoint(str(run_dir), net, trainer, {"epoch": 3, "step": 30, "config": config})
    record_validation(path, 0.25, [])
    return path


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """A weights directory holding an initialized capsnet_mnist, published as pretrained
    weights from a checkpoint."""
    net = get_model("capsnet_mnist")
    net.initialize(mx.init.Uniform(0.1))
    net(mx.nd.zeros((1, 1, 28, 28)))
    directory = tmp_path / "weights"
    made_by = {"commands": ["python launch/train.py"], "commits": ["abc"], "log": "log.jsonl"}
    pretrained.publish(trained_checkpoint(tmp_path / "run", net), "capsnet_mnist", 0.125,
                       made_by, weights_dir=str(directory))
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", str(directory))
    return directory, net


def test_published_weights_describe_their_checkpoint_without_machine_paths(weights_dir):
    info = pretrained.pretrained_info("capsnet_mnist")
    assert info["file"] == "capsnet_mnist.params"
    assert (info["epoch"], info["step"], info["val_error"], info["test_error"]) == (3, 30, 0.25,
                                                                                    0.125)
    assert info["config"] == {"model": "capsnet_mnist", "dataset": "mnist"}
    assert info["made_by"]["commits"] == ["abc"]


def test_weights_trained_from_other_weights_are_published_with_them(weights_dir, tmp_path):
    """A run started from the pretrained weights (``--initial-params pretrained``) replaces
    them with a description that holds theirs; one started from a file names it and its
    sha256, without the machine's path."""
    directory, net = weights_dir
    before = pretrained.pretrained_info("capsnet_mnist")
    checkpoint = trained_checkpoint(tmp_path / "tuned", net, initial_params="pretrained")
    after = pretrained.publish(checkpoint, "capsnet_mnist", 0.0625, {}, str(directory))
    assert after["started_from"] == before
    assert pretrained.pretrained_info("capsnet_mnist") == after
    own = str(directory / "capsnet_mnist.params")
    checkpoint = trained_checkpoint(tmp_path / "from-file", net, initial_params=own)
    info = pretrained.publish(checkpoint, "capsnet_mnist", 0.0625, {}, str(tmp_path / "other"))
    assert info["started_from"] == {"file": "capsnet_mnist.params", "sha256": after["sha256"]}
    assert "initial_params" not in info["config"]


def test_publishing_where_nothing_can_be_written_is_one_clear_error(tmp_path):
    net = get_model("capsnet_mnist")
    net.initialize(mx.init.Uniform(0.1))
    net(mx.nd.zeros((1, 1, 28, 28)))
    path = trained_checkpoint(tmp_path / "run", net)
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(CheckpointError, match="cannot publish .* as the weights of capsnet_mnist "
                                              "in .*a-file/weights"):
        pretrained.publish(path, "capsnet_mnist", 0.1, {},
                           weights_dir=str(tmp_path / "a-file" / "weights"))


def test_publishing_a_checkpoint_of_another_model_is_refused(tmp_path):
    net = mx.gluon.nn.Dense(2, in_units=2)
    net.initialize()
    path = trained_checkpoint(tmp_path / "run", net, model="capsnet_smallnorb")
    with pytest.raises(ConfigError, match="holds a capsnet_smallnorb, not a capsnet_mnist"):
        pretrained.publish(path, "capsnet_mnist", 0.1, {}, weights_dir=str(tmp_path / "w"))
    assert not (tmp_path / "w").exists()


def test_pretrained_weights_are_loaded(weights_dir):
    _, saved = weights_dir
    net = get_model("capsnet_mnist", pretrained=True)
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    np.testing.assert_array_equal(net(x)[0].asnumpy(), saved(x)[0].asnumpy())
    assert pretrained.pretrained_models() == ["capsnet_mnist"]


def test_damaged_or_missing_weights_are_one_clear_error(weights_dir):
    directory, _ = weights_dir
    path = directory / "capsnet_mnist.params"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xff
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="capsnet_mnist.params are damaged .*"
                                              "reinstall gluon-caps"):
        get_model("capsnet_mnist", pretrained=True)
    path.unlink()
    with pytest.raises(CheckpointError, match="capsnet_mnist.params cannot be read"):
        pretrained_file("capsnet_mnist")


def test_models_without_weights_say_so(weights_dir):
    with pytest.raises(ConfigError, match="capsnet_smallnorb has no pretrained weights yet "
                                          r"\(pretrained=True works for: capsnet_mnist\)"):
        get_model("capsnet_smallnorb", pretrained=True)
    with pytest.raises(CheckpointError, match="do not fit capsnet_mnist"):
        get_model("capsnet_mnist", pretrained=True, with_decoder=False)


def test_publish_weights_ships_the_checkpoint_a_finished_run_scored(tmp_path):
    net = get_model("capsnet_mnist")
    net.initialize(mx.init.Uniform(0.1))
    net(mx.nd.zeros((1, 1, 28, 28)))
    run = tmp_path / "run"
    chosen = trained_checkpoint(run, net)
    script = [sys.executable, os.path.join(REPO, "launch", "publish_weights.py"), str(run),
              "--log", "docs/log.jsonl", "--command", "train", "--commit", "abc",
              "--weights-dir", str(tmp_path / "weights")]
    (run / "log.jsonl").write_text(json.dumps(
        {"epoch": 3, "step": 30, "train_loss": 0.5, "val_error": 0.25}) + "\n")
    unfinished = subprocess.run(script, capture_output=True, text=True)
    assert unfinished.returncode == 2 and unfinished.stderr.count("\n") == 1
    assert "has no final record naming a checkpoint" in unfinished.stderr
    with open(run / "log.jsonl", "a") as log:
        log.write(json.dumps({"final": True, "test_error": 0.5, "model": "capsnet_mnist",
                              "checkpoint": os.path.relpath(chosen, run)}) + "\n")
    published = subprocess.run(script, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["test_error"] == 0.5
    loaded = get_model("capsnet_mnist")
    loaded.load_parameters(str(tmp_path / "weights" / "capsnet_mnist.params"))
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    np.testing.assert_array_equal(loaded(x)[0].asnumpy(), net(x)[0].asnumpy())


shipped_mnist = pytest.mark.skipif("capsnet_mnist" not in pretrained.pretrained_models(),
                                   reason="no shipped capsnet_mnist weights")


def official_test_images(shared_mnist_dir):
    """The official 10,000 test images as MXNet's own MNIST reader gives them, scaled to [0, 1]
    ``(10000, 1, 28, 28)``, and their labels."""
    from mxnet.gluon.data.vision import MNIST
    test_set = MNIST(root=shared_mnist_dir, train=False)
    images = np.stack([to_float(image[:, :, 0]) for image in test_set._data.asnumpy()])
    assert images.shape == (10000, 1, 28, 28)
    return images, test_set._label


def wrong_images(classify, images, labels, batch=500):
    """Indices of the images whose class ``classify(batch of images)`` gets wrong."""
    classes = np.concatenate([classify(images[begin:begin + batch])
                              for begin in range(0, len(labels), batch)])
    return np.flatnonzero(classes != labels)


def mxnet_classes(net):
    net.hybridize(static_alloc=True, static_shape=True)
    return lambda x: net(mx.nd.array(x))[0].argmax(axis=1).asnumpy()


@pytest.mark.slow
@shipped_mnist
def test_shipped_capsnet_mnist_scores_its_published_test_error(shared_mnist_dir):
    """The shipped weights, on the official 10,000 test images as MXNet's own reader gives
    them, score the test error their description (and the docs) publish."""
    images, labels = official_test_images(shared_mnist_dir)
    wrong = wrong_images(mxnet_classes(get_model("capsnet_mnist", pretrained=True)), images,
                         labels)
    assert len(wrong) / 10000.0 == pretrained.pretrained_info("capsnet_mnist")["test_error"]


@pytest.mark.slow
@shipped_mnist
def test_the_shipped_model_makes_the_same_mistakes_in_onnxruntime(shared_mnist_dir, tmp_path):
    """Exported to ONNX, the shipped model makes exactly the mistakes MXNet makes on the
    official test set."""
    from gluon_caps.inference import export_onnx, onnx_session
    from tests.helpers import require_onnx
    require_onnx()
    images, labels = official_test_images(shared_mnist_dir)
    net = get_model("capsnet_mnist", pretrained=True)
    classify = mxnet_classes(net)
    mxnet_wrong = wrong_images(classify, images, labels)
    session = onnx_session(export_onnx(net, str(tmp_path / "capsnet.onnx"),
                                       output_names=["lengths", "reconstruction"]))
    onnx_wrong = wrong_images(
        lambda x: session.run(["lengths"], {"data": x})[0].argmax(axis=1), images, labels)
    assert onnx_wrong.tolist() == mxnet_wrong.tolist() and len(mxnet_wrong) > 0
    published = pretrained.pretrained_info("capsnet_mnist")["test_error"]
    assert len(onnx_wrong) / 10000.0 == published
