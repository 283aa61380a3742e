"""ONNX exports run without MXNet: a client that imports onnxruntime alone gets the Gluon
network's outputs for any batch size, each operator conversion gives MXNet's values, and what
has no conversion is refused by name."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_caps import ops
from gluon_caps.errors import ConfigError
from gluon_caps.inference import export_onnx, onnx_session
from gluon_caps.inference.onnx_ops import CONVERTERS
from gluon_caps.model_zoo import get_model
from gluon_caps.nn import DenseCaps, DynamicRouting, PrimaryCaps, capsule_length

from tests.helpers import require_onnx, symbol_operators

BATCHES = (1, 3, 64)


def drawn(net, scale=1.0):
    """Initialize ``net`` and draw every parameter from N(0, scale) (running variances from
    U(0.5, 1.5)), so that its capsule lengths spread over (0, 1) instead of sitting at the
    square root of squash's epsilon as with the small default initialization."""
    net.initialize()
    for name, param in net.collect_params().items():
        if name.endswith("running_var"):
            param.set_data(mx.nd.random.uniform(0.5, 1.5, param.shape))
        else:
            param.set_data(mx.nd.random.normal(0, scale, param.shape))
    net.hybridize()
    return net


class SmallCapsNet(gluon.HybridBlock):
    """A network of gluon_caps.nn blocks and Gluon layers: 14x14 images -> conv, batch norm, max
    pooling, dropout -> 64 primary capsules -> 3 class capsules routed twice; outputs the
    lengths and a dense layer over the coupling coefficients."""

    input_shape = (1, 14, 14)

    def __init__(self, **kwargs):
        super(SmallCapsNet, self).__init__(**kwargs)
        with self.name_scope():
            self.features = gluon.nn.HybridSequential()
            self.features.add(gluon.nn.Conv2D(8, 3, activation="relu", in_channels=1),
                              gluon.nn.BatchNorm(in_channels=8), gluon.nn.MaxPool2D(2),
                              gluon.nn.Dropout(0.5))
            self.primary = PrimaryCaps(4, 4, 3, 1, in_channels=8)
            self.caps = DenseCaps(64, 4, 3, 6, routing=DynamicRouting(2, return_coupling=True))
            self.head = gluon.nn.Dense(5, in_units=64 * 3)

    def hybrid_forward(self, F, x):
        v, coupling = self.caps(self.primary(self.features(x)))
        return capsule_length(F, v), self.head(coupling)


# name -> (network, names of its outputs, scale of its parameters)
NETWORKS = {
    "capsnet_mnist": (lambda: get_model("capsnet_mnist"), ["lengths", "reconstruction"], 0.05),
    "custom": (SmallCapsNet, ["lengths", "head"], 0.2),
}

# A client with onnxruntime and the exported model, which never imports MXNet or gluon-caps.
CLIENT = r"""
import sys

import numpy as np
import onnxruntime

model, inputs, outputs = sys.argv[1:4]
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
given = np.load(inputs)
np.savez(outputs, **{"%s-%s" % (batch, index): output for batch in given.files
                     for index, output in enumerate(session.run(None, {"data": given[batch]}))})
assert not {"mxnet", "gluon_caps"} & set(sys.modules), "the client imported mxnet or gluon_caps"
"""


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_a_client_without_mxnet_gets_the_networks_outputs_for_any_batch_size(tmp_path,
                                                                             network):
    require_onnx()
    import onnx
    build, names, scale = NETWORKS[network]
    net = drawn(build(), scale)
    images = {str(batch): np.random.RandomState(batch).uniform(
        size=(batch,) + tuple(net.input_shape)).astype(np.float32) for batch in BATCHES}
    expected = {batch: [output.asnumpy() for output in net(mx.nd.array(x))]
                for batch, x in images.items()}
    assert expected["64"][0].std() > 0.01         # lengths that a wrong graph would not match
    path = export_onnx(net, str(tmp_path / "model.onnx"), output_names=names)
    np.savez(str(tmp_path / "inputs.npz"), **images)
    client = subprocess.run([sys.executable, "-I", "-c", CLIENT, path, str(tmp_path / "inputs.npz"),
                             str(tmp_path / "outputs.npz")], cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=600)
    assert client.returncode == 0, client.stderr
    got = np.load(str(tmp_path / "outputs.npz"))
    for batch, outputs in expected.items():
        for index, want in enumerate(outputs):
            np.testing.assert_allclose(got["%s-%d" % (batch, index)], want, rtol=0, atol=1e-5,
                                       err_msg=(batch, index))
    model = onnx.load(path)
    assert [(opset.domain, opset.version) for opset in model.opset_import] == [("", 13)]
    assert [output.name for output in model.graph.output] == names
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in dims] == ["batch"] + list(net.input_shape)


def _arithmetic(F, x):
    """Elementwise and shape operators a custom block might use, on ``(B, 2, 3, 4)``."""
    y = F.broadcast_add(x, F.sum(x, axis=1, keepdims=True))
    y = F.broadcast_sub(y, F.broadcast_div(x, F.sum(x, axis=(2, 3), exclude=True, keepdims=True)))
    y = F.elemwise_sub(F.elemwise_mul(y, y), F.exp(x)) + F.log(x + 1) - F.sqrt(x)
    y = F.broadcast_add(3 - (y * 2 - 1) / 4 + 1 / (x + 1), F.sum(x) / 100)
    top = F.one_hot(F.argmax(F.reshape(y, shape=(0, -1)), axis=1), 24, on_value=2, off_value=-1)
    corner = F.slice(y, begin=(None, 1, None, 0), end=(None, None, 2, None), step=(1, 1, 1, 2))
    halves = F.add_n(F.slice_axis(y, axis=3, begin=0, end=2),
                     F.slice_axis(y, axis=3, begin=2, end=None))                  # (B, 2, 3, 2)
    return F.concat(F.reshape(F.transpose(corner), shape=(-1, 4)), F.softmax(F.reshape(
        top, shape=(-1, 4)), axis=0), F.reshape(halves, shape=(-1, 4)), dim=0)


def _pooling(F, x):
    """Average (with and without the padding), max and global poolings of ``(B, C, 5, 5)``."""
    window = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    grid = F.slice(x, begin=(None, None, 0, 0), end=(None, None, 3, 3))           # (B, C, 3, 3)
    return F.concat(F.Pooling(x, pool_type="avg", **window),
                    F.Pooling(x, pool_type="avg", count_include_pad=False, **window),
                    F.Pooling(x, pool_type="max", **window),
                    *[F.broadcast_like(F.Pooling(x, kernel=(1, 1), global_pool=True,
                                                 pool_type=kind), grid,
                                       lhs_axes=(2, 3), rhs_axes=(2, 3))
                      for kind in ("avg", "max")])


class TwoDense(gluon.HybridBlock):
    """A dense layer over the flattened input beside one over its last axis (no bias)."""

    def __init__(self, **kwargs):
        super(TwoDense, self).__init__(**kwargs)
        with self.name_scope():
            self.whole = gluon.nn.Dense(4, in_units=12)
            self.last_axis = gluon.nn.Dense(3, flatten=False, use_bias=False, in_units=3)

    def hybrid_forward(self, F, x):
        return F.concat(self.whole(x), F.Flatten(self.last_axis(x)))


LAYERS = {
    "activations": (lambda: gluon.nn.HybridLambda(lambda F, x: F.concat(*[
        F.Activation(x, act_type=kind) for kind in ("relu", "sigmoid", "tanh", "softrelu",
                                                    "softsign")])), (2, 3, 3)),
    "arithmetic": (lambda: gluon.nn.HybridLambda(_arithmetic), (2, 3, 4)),
    "pooling": (lambda: gluon.nn.HybridLambda(_pooling), (2, 5, 5)),
    "batch norm without scale": (lambda: gluon.nn.BatchNorm(scale=False, in_channels=3),
                                 (3, 2, 2)),
    "dense": (TwoDense, (4, 3)),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_conversion_gives_mxnets_values(tmp_path, layer):
    require_onnx()
    build, shape = LAYERS[layer]
    block = drawn(build())
    x = np.random.RandomState(0).uniform(0.1, 2, size=(3,) + shape).astype(np.float32)
    want = block(mx.nd.array(x)).asnumpy()
    session = onnx_session(export_onnx(block, str(tmp_path / "layer.onnx"), shape))
    np.testing.assert_allclose(session.run(None, {"data": x})[0], want, rtol=1e-5, atol=1e-5)


def test_every_conversion_is_checked_by_a_test_above(tmp_path):
    networks = [build() for build, _, _ in NETWORKS.values()]
    blocks = [(drawn(net), net.input_shape) for net in networks]
    blocks += [(drawn(build()), shape) for build, shape in LAYERS.values()]
    tested = set()
    for index, (block, shape) in enumerate(blocks):
        block(mx.nd.zeros((1,) + tuple(shape)))
        ops.export_portable(block, str(tmp_path / str(index)))
        tested |= symbol_operators(str(tmp_path / str(index))) - {"null"}
    assert tested == set(CONVERTERS)


@pytest.mark.parametrize("function, fragments", [
    (lambda F, x: F.sin(x), ["operator sin (node ", "no ONNX conversion", "Convolution"]),
    (lambda F, x: F.softmax(x, temperature=2.0),
     ["operator softmax (node ", "with a temperature or use_length"]),
])
def test_what_has_no_conversion_is_refused_by_name(tmp_path, function, fragments):
    require_onnx()
    block = gluon.nn.HybridLambda(function)
    block.hybridize()
    block(mx.nd.ones((1, 3)))
    with pytest.raises(ConfigError) as error:
        export_onnx(block, str(tmp_path / "x.onnx"), (3,))
    for fragment in fragments:
        assert fragment in str(error.value)
    assert not os.path.exists(str(tmp_path / "x.onnx"))


def test_a_graph_of_several_inputs_is_refused(tmp_path):
    require_onnx()
    net = drawn(get_model("capsnet_mnist", num_routing=1, decoder_units=(8,)))
    net(mx.nd.zeros((1, 1, 28, 28)), mx.nd.one_hot(mx.nd.array([3]), 10))    # with a mask
    with pytest.raises(ConfigError, match="one input, the images; this one takes data0, data1"):
        export_onnx(net, str(tmp_path / "masked.onnx"))
