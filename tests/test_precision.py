"""bfloat16 networks (:mod:`gluon_caps.precision`): bfloat16 convolutions in the graph that runs,
float32 everywhere else (the fused operators, weights, gradients, outputs), outputs within
bfloat16's precision of float32's, training that learns, and a clear refusal where the CPU has
no bfloat16 instructions."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.contrib.amp import amp, lists

from gluon_caps import amx, ops, precision
from gluon_caps.errors import ConfigError
from gluon_caps.loss import CapsuleLoss
from gluon_caps.model_zoo import CapsNet

from tests.helpers import require_fused_ops

BF16 = amx.bfloat16_kernels() is not None
needs_bf16 = pytest.mark.skipif(not BF16, reason="this CPU has no bfloat16 instructions")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# bfloat16 keeps 8 bits of mantissa: a relative error of 2^-8 per rounding
RTOL, ATOL = 3e-2, 3e-3


def tiny(fused=None, **kwargs):
    """A CapsNet of 12x12 images: conv1 3x3 to 8 channels, 2 types of 4-D primary capsules on a
    4x4 grid, 3 classes of 4-D capsules, decoder 12 -> 16 -> 144; hybridized."""
    net = CapsNet(input_shape=(1, 12, 12), num_classes=3, conv_channels=8, conv_kernel=3,
                  primary_channels=2, primary_dim=4, class_dim=4, decoder_units=(16,),
                  fused=fused, **kwargs)
    net.initialize(mx.init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def graph_nodes(net):
    """The nodes of ``net``'s cached graph, its casts included."""
    return json.loads(net._cached_graph[1].tojson(remove_amp_cast=False))["nodes"]


def entry_dtypes(net, **inputs):
    """The dtype of every node output of ``net``'s cached graph, by node name, for float32
    ``inputs``."""
    internals = net._cached_graph[1].get_internals()
    _, types, _ = internals.infer_type(**{name: np.float32 for name in inputs})
    names = [name[:-len("_output")] if name.endswith("_output") else name
             for name in internals.list_outputs()]
    return dict(zip(names, [np.dtype(t) if t is not None else None for t in types]))


def input_dtypes(net, op, **inputs):
    """``[(node name, [dtype of each input])]`` of the nodes of operator ``op``."""
    nodes, dtypes = graph_nodes(net), entry_dtypes(net, **inputs)
    return [(node["name"], [dtypes[nodes[entry[0]]["name"]] for entry in node["inputs"]])
            for node in nodes if node["op"] == op]


def is_bf16(dtype):
    """Whether a dtype of :func:`entry_dtypes` is MXNet's bfloat16 (a NumPy structured type)."""
    return dtype is not None and dtype == amp.bfloat16


def copy_parameters(source, target):
    for got, given in zip(target.collect_params().values(), source.collect_params().values()):
        got.set_data(given.data())


@needs_bf16
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "batch_dot"])
def test_bfloat16_inference_agrees_with_float32_and_casts_only_the_convolutions(fused):
    if fused:
        require_fused_ops()
    net = tiny(fused)
    x = mx.nd.random.uniform(shape=(6, 1, 12, 12))
    expected = [out.asnumpy() for out in net(x)]
    assert precision.set_compute_dtype(net, "bfloat16") == "bfloat16"
    got = net(x)
    assert [out.dtype for out in got] == [np.float32, np.float32]
    for out, want in zip(got, expected):
        assert not np.array_equal(out.asnumpy(), want)          # it computed otherwise...
        np.testing.assert_allclose(out.asnumpy(), want, rtol=RTOL, atol=ATOL)   # ...closely
    convolutions = input_dtypes(net, "Convolution", data=None)
    assert len(convolutions) == 2
    for name, dtypes in convolutions:                             # data, weight, bias
        assert all(is_bf16(dtype) for dtype in dtypes), (name, dtypes)
    for name, dtypes in input_dtypes(net, "FullyConnected", data=None):
        assert dtypes == ["float32"] * 3, (name, dtypes)            # the decoder stays float32
    fused_nodes = [item for op in ops.FUSED_OPERATORS
                   for item in input_dtypes(net, op, data=None)]
    assert bool(fused_nodes) == fused
    for name, dtypes in fused_nodes:
        assert dtypes == ["float32"] * len(dtypes), (name, dtypes)
    routing = input_dtypes(net, "softmax", data=None) + input_dtypes(net, "sqrt", data=None)
    for name, dtypes in routing:
        assert dtypes == ["float32"], (name, dtypes)               # routing, squash, lengths
    for param in net.collect_params().values():
        assert param.data().dtype == np.float32


@needs_bf16
def test_dense_layers_in_bfloat16_on_request_and_float32_undoes_it():
    net = tiny(False)
    x = mx.nd.random.uniform(shape=(3, 1, 12, 12))
    expected = [out.asnumpy() for out in net(x)]
    precision.set_compute_dtype(net, "bfloat16", dense=True)
    got = net(x)
    for name, dtypes in input_dtypes(net, "FullyConnected", data=None):
        assert all(is_bf16(dtype) for dtype in dtypes), (name, dtypes)
    np.testing.assert_allclose(got[1].asnumpy(), expected[1], rtol=RTOL, atol=ATOL)
    assert precision.set_compute_dtype(net, "float32") == "float32"
    for out, want in zip(net(x), expected):
        np.testing.assert_array_equal(out.asnumpy(), want)
    assert "amp_cast" not in {node["op"] for node in graph_nodes(net)}


def test_the_fused_operators_are_registered_as_float32_from_what_ops_holds(monkeypatch):
    monkeypatch.setattr(lists.symbol_bf16, "FP32_FUNCS", list(lists.symbol_bf16.FP32_FUNCS))
    monkeypatch.setattr(lists.symbol_fp16, "FP32_FUNCS", list(lists.symbol_fp16.FP32_FUNCS))
    for name in ops.FUSED_OPERATORS:
        for float32_ops in (lists.symbol_bf16.FP32_FUNCS, lists.symbol_fp16.FP32_FUNCS):
            if name in float32_ops:
                float32_ops.remove(name)
    monkeypatch.setattr(ops, "FUSED_OPERATORS", ops.FUSED_OPERATORS + ("caps_future_op",))
    assert precision.register_float32_operators() == list(ops.FUSED_OPERATORS)
    assert precision.register_float32_operators() == []              # once
    for name in ops.FUSED_OPERATORS:
        assert lists.symbol_bf16.FP32_FUNCS.count(name) == 1
        assert lists.symbol_fp16.FP32_FUNCS.count(name) == 1


@needs_bf16
def test_a_bfloat16_result_is_cast_to_float32_before_a_fused_operator():
    require_fused_ops()
    weights = mx.sym.FullyConnected(mx.sym.var("data0"), num_hidden=5, name="fc")   # (M, n)
    summed = mx.sym.caps_weighted_sum(weights, mx.sym.var("data1"), name="sum")     # (M, D)
    converted = precision.convert_symbol(summed, ["data0", "data1"], "bfloat16", dense=True)
    nodes = json.loads(converted.tojson(remove_amp_cast=False))["nodes"]
    fused = [node for node in nodes if node["op"] == "caps_weighted_sum"][0]
    cast = nodes[fused["inputs"][0][0]]
    assert cast["op"] == "amp_cast" and cast["attrs"]["dtype"] == "float32"
    assert nodes[cast["inputs"][0][0]]["op"] == "FullyConnected"
    executor = converted.simple_bind(mx.cpu(), data0=(3, 4), data1=(3, 5, 2))
    for name, array in executor.arg_dict.items():
        array[:] = np.random.uniform(size=array.shape)
    assert executor.forward()[0].dtype == np.float32


@needs_bf16
def test_bfloat16_training_learns_with_float32_master_weights():
    net = tiny(None)
    x = mx.nd.random.uniform(shape=(8, 1, 12, 12))
    mask = mx.nd.one_hot(mx.nd.arange(8) % 3, 3)
    reference = tiny(None)
    copy_parameters(net, reference)
    compute = precision.set_compute_dtype(net, "bfloat16")
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    run = precision.TrainingPrecision(trainer, compute)
    assert not run.scales_loss and run.loss_scale == 1.0
    loss_function = CapsuleLoss()

    def loss_of(block):
        with autograd.record():
            lengths, reconstruction = block(x, mask)
            loss = loss_function(lengths, mask, reconstruction, x)
        return loss

    expected = loss_of(reference)
    expected.backward()
    losses = []
    for step in range(8):
        loss = loss_of(net)
        run.backward(loss)
        if step == 0:                     # the bfloat16 gradients are float32's, roughly
            np.testing.assert_allclose(loss.asnumpy(), expected.asnumpy(), rtol=RTOL)
            for (name, param), plain in zip(net.collect_params().items(),
                                            reference.collect_params().values()):
                got, want = param.grad().asnumpy(), plain.grad().asnumpy()
                assert np.linalg.norm(got - want) <= 0.1 * np.linalg.norm(want) + 1e-6, name
        trainer.step(8)
        losses.append(float(loss.mean().asscalar()))
    print("losses:", losses)
    assert losses[-1] < 0.8 * losses[0]
    for param in net.collect_params().values():
        assert param.data().dtype == np.float32 and param.grad().dtype == np.float32


def test_float16_loss_scaling_unscales_and_skips_overflows():
    # The GPU form of --dtype bfloat16, on a float32 CPU network: the scale must cancel exactly
    # (a power of 2), and an overflowing step must be skipped and halve the scale.
    nets = [tiny(False) for _ in range(2)]
    copy_parameters(nets[0], nets[1])
    x = mx.nd.random.uniform(shape=(4, 1, 12, 12))
    mask = mx.nd.one_hot(mx.nd.arange(4) % 3, 3)
    trainers = [gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
                for net in nets]
    runs = [precision.TrainingPrecision(trainers[0], "float32"),
            precision.TrainingPrecision(trainers[1], "float16")]
    assert runs[1].scales_loss and runs[1].loss_scale == 2.0 ** 16
    for net, trainer, run in zip(nets, trainers, runs):
        with autograd.record():
            lengths, reconstruction = net(x, mask)
            loss = CapsuleLoss()(lengths, mask, reconstruction, x)
        run.backward(loss)
        trainer.step(4)
    for (name, plain), scaled in zip(nets[0].collect_params().items(),
                                     nets[1].collect_params().values()):
        np.testing.assert_allclose(scaled.data().asnumpy(), plain.data().asnumpy(), rtol=1e-5,
                                   atol=1e-7, err_msg=name)

    def step(overflow=False):
        before = {name: param.data().asnumpy()
                  for name, param in nets[1].collect_params().items()}
        with autograd.record():
            lengths, reconstruction = nets[1](x, mask)
            loss = CapsuleLoss()(lengths, mask, reconstruction, x)
        runs[1].backward(loss)
        if overflow:
            nets[1].conv1.weight.grad()[:] = np.inf
        trainers[1].step(4)
        return [np.array_equal(param.data().asnumpy(), before[name])
                for name, param in nets[1].collect_params().items()]

    assert all(step(overflow=True))                      # skipped: nothing changed
    assert not step()[0]                                 # the next updates conv1's weight...
    assert runs[1].loss_scale == 2.0 ** 15               # ...at half the scale (from now on)


def test_bfloat16_is_refused_where_the_cpu_has_no_bfloat16(monkeypatch):
    monkeypatch.setattr(amx, "bfloat16_kernels", lambda flags=None: None)
    with pytest.raises(ConfigError, match=r"^--dtype bfloat16: this CPU has neither AMX nor "
                                          r"AVX-512 BF16.*use --dtype float32$"):
        precision.compute_dtype("bfloat16")
    net = tiny(False)
    with pytest.raises(ConfigError, match="--dtype bfloat16"):
        precision.set_compute_dtype(net, "bfloat16")
    assert precision.compute_dtype("float32") == "float32"
    assert precision.compute_dtype("bfloat16", mx.gpu(0)) == "float16"    # no CPU kernels asked


def test_bad_dtypes_and_imperative_networks_are_refused():
    with pytest.raises(ConfigError, match=r"--dtype must be one of float32, bfloat16, got "
                                          r"'float16'"):
        precision.compute_dtype("float16")
    net = CapsNet(input_shape=(1, 12, 12), num_classes=3, conv_channels=8, conv_kernel=3,
                  primary_channels=2, primary_dim=4, class_dim=4, decoder_units=(16,))
    net.initialize()
    if BF16:
        with pytest.raises(ConfigError, match="needs a hybridized network"):
            precision.set_compute_dtype(net, "bfloat16")
    block = gluon.SymbolBlock(mx.sym.relu(mx.sym.var("data")), [mx.sym.var("data")])
    with pytest.raises(TypeError, match="SymbolBlock"):
        precision.set_compute_dtype(block, "float32")


# Run by a fresh process with oneDNN's log on: the kernels the bfloat16 network really runs.
VERBOSE_RUN = r"""
import mxnet as mx
import gluon_caps
from gluon_caps import precision
from gluon_caps.model_zoo import CapsNet
net = CapsNet(input_shape=(1, 14, 14), num_classes=3, conv_channels=32, conv_kernel=3,
              primary_channels=4, primary_dim=8, class_dim=4, decoder_units=(16,))
net.initialize()
net.hybridize()
precision.set_compute_dtype(net, "bfloat16")
x = mx.nd.random.uniform(shape=(2, 1, 14, 14))
with mx.autograd.record():
    lengths, reconstruction = net(x, mx.nd.one_hot(mx.nd.array([0, 1]), 3))
lengths.backward()
print("lengths", net(x)[0].asnumpy().sum())
"""


@needs_bf16
def test_the_convolutions_run_bfloat16_kernels_forward_and_backward():
    env = dict(os.environ, DNNL_VERBOSE="1", PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", VERBOSE_RUN], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    convolutions = [line.split(",") for line in result.stdout.splitlines()
                    if line.startswith("dnnl_verbose,exec,cpu,convolution")]
    kinds = {fields[5] for fields in convolutions}
    assert {"forward_training", "backward_data", "backward_weights"} <= kinds, kinds
    assert all("src_bf16" in fields[6] for fields in convolutions), convolutions
    if amx.bfloat16_kernels() == "amx":             # conv 32 -> 32 channels: an AMX kernel
        assert any("amx" in fields[4] for fields in convolutions), convolutions
