"""Exports load in any MXNet: ``export`` of gluon-caps' networks writes standard operators unless
asked for the fused ones, leaves the network's own graph alone, and
:func:`gluon_caps.ops.export_portable` does the same for a Gluon container of capsule layers."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_caps import ops
from gluon_caps.loss import CapsuleLoss
from gluon_caps.model_zoo import CapsNet, get_model
from gluon_caps.nn import DenseCaps, PrimaryCaps

from tests.helpers import ROUTED_OPERATORS, graph_operators, require_fused_ops, symbol_operators

FUSED = set(ops.FUSED_OPERATORS)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_same_outputs(got, expected, rtol=1e-5, atol=1e-6):
    for got_array, expected_array in zip(got, expected):
        np.testing.assert_allclose(got_array.asnumpy(), expected_array.asnumpy(), rtol=rtol,
                                   atol=atol)


def test_export_writes_standard_operators_and_leaves_the_network_as_it_was(tmp_path):
    require_fused_ops()
    net = CapsNet(input_shape=(1, 12, 12), num_classes=3, conv_channels=8, conv_kernel=3,
                  primary_channels=2, primary_dim=4, class_dim=4, decoder_units=(16, 32),
                  fused=True)
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(shape=(4, 1, 12, 12))
    mask = mx.nd.one_hot(mx.nd.array([0, 1, 2, 0]), 3)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})

    def train_step():
        with autograd.record():
            lengths, recon = net(x, mask)
            loss = CapsuleLoss()(lengths, mask, recon, x)
        loss.backward()
        trainer.step(4)

    train_step()
    masked = net(x, mask)
    net.export(str(tmp_path / "masked"))              # the graph of the last call: with a mask
    imported = gluon.SymbolBlock.imports(str(tmp_path / "masked-symbol.json"), ["data0", "data1"],
                                         str(tmp_path / "masked-0000.params"))
    assert_same_outputs(imported(x, mask), masked)
    expected = net(x)
    net.export(str(tmp_path / "portable"))
    net.export(str(tmp_path / "fused"), fused=True)
    assert not symbol_operators(str(tmp_path / "portable")) & FUSED
    assert "batch_dot" in symbol_operators(str(tmp_path / "portable"))
    assert symbol_operators(str(tmp_path / "fused")) & FUSED == ROUTED_OPERATORS
    imported = gluon.SymbolBlock.imports(str(tmp_path / "portable-symbol.json"), ["data"],
                                         str(tmp_path / "portable-0000.params"))
    assert_same_outputs(imported(x), expected)
    assert graph_operators(net) & FUSED == ROUTED_OPERATORS     # its own graph, still fused
    assert_same_outputs(net(x), expected)
    train_step()                                      # and it trains on
    assert graph_operators(net) & FUSED == ROUTED_OPERATORS


def test_export_portable_writes_a_container_of_capsule_layers(tmp_path):
    require_fused_ops()
    net = gluon.nn.HybridSequential()
    net.add(PrimaryCaps(2, 4, kernel_size=3, strides=2, in_channels=1),
            DenseCaps(2 * 4 * 4, 4, 3, 5, fused=True))
    net.initialize()
    net.hybridize()
    x = mx.nd.random.uniform(shape=(2, 1, 9, 9))
    expected = net(x)
    net.export(str(tmp_path / "as-built"))            # Gluon's export: the graph as built
    ops.export_portable(net, str(tmp_path / "caps"))
    assert symbol_operators(str(tmp_path / "as-built")) & FUSED == ROUTED_OPERATORS
    assert not symbol_operators(str(tmp_path / "caps")) & FUSED
    imported = gluon.SymbolBlock.imports(str(tmp_path / "caps-symbol.json"), ["data"],
                                         str(tmp_path / "caps-0000.params"))
    np.testing.assert_allclose(imported(x).asnumpy(), expected.asnumpy(), rtol=1e-5, atol=1e-6)
    assert graph_operators(net) & FUSED == ROUTED_OPERATORS


def test_export_needs_a_hybridized_call(tmp_path):
    net = DenseCaps(6, 2, 3, 4)
    net.initialize()
    with pytest.raises(RuntimeError, match="call DenseCaps.hybridize\\(\\) and run it once"):
        net.export(str(tmp_path / "caps"))


# A client that has MXNet and the exported files, and never imports gluon-caps.
CLIENT = r"""
import os
import sys

import mxnet as mx
import numpy as np

prefix, repo = sys.argv[1], sys.argv[2]
assert os.path.realpath(repo) not in [os.path.realpath(path or ".") for path in sys.path]
outputs = {}
try:
    mx.gluon.SymbolBlock.imports(prefix + "-fused-symbol.json", ["data"],
                                 prefix + "-fused-0000.params")
except mx.base.MXNetError as error:
    outputs["fused_error"] = np.array(str(error))
block = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, 0)
for batch in (1, 7):
    x = mx.nd.array(np.load("%s-input-%d.npy" % (prefix, batch)))
    for index, output in enumerate(block(x)):
        outputs["gluon-%d-%d" % (batch, index)] = output.asnumpy()
    module = mx.mod.Module(symbol, data_names=["data"], label_names=None, context=mx.cpu())
    module.bind(data_shapes=[("data", x.shape)], for_training=False)
    module.set_params(arg_params, aux_params)
    module.forward(mx.io.DataBatch([x]), is_train=False)
    for index, output in enumerate(module.get_outputs()):
        outputs["module-%d-%d" % (batch, index)] = output.asnumpy()
assert "gluon_caps" not in sys.modules, "the client imported gluon_caps"
np.savez(prefix + "-client.npz", **outputs)
"""


@pytest.mark.slow
def test_an_export_loads_in_plain_mxnet(tmp_path):
    require_fused_ops()
    net = get_model("capsnet_mnist", fused=True)
    net.initialize(mx.init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    prefix = str(tmp_path / "capsnet")
    expected = {}
    for batch in (1, 7):
        x = np.random.RandomState(batch).uniform(size=(batch, 1, 28, 28)).astype(np.float32)
        np.save("%s-input-%d.npy" % (prefix, batch), x)
        expected[batch] = [output.asnumpy() for output in net(mx.nd.array(x))]
    assert graph_operators(net) & FUSED == ROUTED_OPERATORS
    net.export(prefix)
    net.export(prefix + "-fused", fused=True)
    client = subprocess.run([sys.executable, "-I", "-c", CLIENT, prefix, REPO],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert client.returncode == 0, client.stderr
    got = np.load(prefix + "-client.npz")
    assert "Operator caps_" in str(got["fused_error"])     # this MXNet lacks the fused operators
    for api in ("gluon", "module"):
        for batch in (1, 7):
            for index, want in enumerate(expected[batch]):      # lengths, reconstruction
                np.testing.assert_allclose(got["%s-%d-%d" % (api, batch, index)], want,
                                           rtol=1e-4, atol=1e-5, err_msg=(api, batch, index))
