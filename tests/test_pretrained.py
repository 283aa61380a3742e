"""Pretrained weights: verified by sha256, one clear error when missing or damaged, and parameter
names and shapes pinned so a change cannot silently break shipped weights."""
import hashlib
import json

import mxnet as mx
import numpy as np
import pytest

from gluon_caps.errors import CheckpointError, ConfigError
from gluon_caps.model_zoo import get_model, get_model_list, pretrained
from gluon_caps.model_zoo.pretrained import pretrained_file

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


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """A weights directory holding an initialized capsnet_mnist as pretrained weights."""
    net = get_model("capsnet_mnist")
    net.initialize(mx.init.Uniform(0.1))
    net(mx.nd.zeros((1, 1, 28, 28)))
    path = tmp_path / "capsnet_mnist-test.params"
    net.save_parameters(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "capsnet_mnist.json").write_text(json.dumps(
        {"file": path.name, "sha256": digest, "config": {"dataset": "mnist"}}))
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", str(tmp_path))
    return tmp_path, net


def test_pretrained_weights_are_loaded(weights_dir):
    _, saved = weights_dir
    net = get_model("capsnet_mnist", pretrained=True)
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    np.testing.assert_array_equal(net(x)[0].asnumpy(), saved(x)[0].asnumpy())
    assert pretrained.pretrained_models() == ["capsnet_mnist"]


def test_damaged_or_missing_weights_are_one_clear_error(weights_dir):
    directory, _ = weights_dir
    path = directory / "capsnet_mnist-test.params"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xff
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="capsnet_mnist-test.params are damaged .*"
                                              "reinstall gluon-caps"):
        get_model("capsnet_mnist", pretrained=True)
    path.unlink()
    with pytest.raises(CheckpointError, match="capsnet_mnist-test.params cannot be read"):
        pretrained_file("capsnet_mnist")


def test_models_without_weights_say_so(weights_dir):
    with pytest.raises(ConfigError, match="capsnet_smallnorb has no pretrained weights yet "
                                          r"\(pretrained=True works for: capsnet_mnist\)"):
        get_model("capsnet_smallnorb", pretrained=True)
    with pytest.raises(CheckpointError, match="do not fit capsnet_mnist"):
        get_model("capsnet_mnist", pretrained=True, with_decoder=False)
