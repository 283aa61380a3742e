"""The fused routing operators of gluon_caps.ops: values and gradients against NumPy, routing
with them against routing with batch_dot, and when routing uses them (build, cache, fallback,
nothing built before a graph needs them)."""
import os
import shutil
import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_caps import ops
from gluon_caps.errors import ConfigError
from gluon_caps.nn import CapsulePredictions, DenseCaps, DynamicRouting
from gluon_caps.ops import build

from tests.helpers import (ROUTED_OPERATORS, graph_operators, numerical_gradient,
                           require_fused_ops, symbol_operators, unload_fused_ops,
                           without_compiler)


def test_routing_uses_the_fused_operators_on_this_cpu():
    require_fused_ops()
    assert ops.fused_routing()
    assert os.path.isfile(ops.load())
    assert ops.load().startswith(build.cache_dir())


class FusedPair(gluon.HybridBlock):
    def hybrid_forward(self, F, c, u, v):
        return F.caps_weighted_sum(c, u), F.caps_agreement(u, v)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("shape", [(1, 3, 1), (4, 70, 5), (3, 130, 16)])
def test_fused_operators_match_numpy_values_and_gradients(shape, dtype, tolerance, hybridize):
    require_fused_ops()
    rows, num_in, dim = shape
    rng = np.random.RandomState(rows + num_in)
    c, u, v = rng.rand(rows, num_in), rng.randn(rows, num_in, dim), rng.randn(rows, dim)
    grad_s, grad_a = rng.randn(rows, dim), rng.randn(rows, num_in)
    block = FusedPair()
    if hybridize:
        block.hybridize()
    inputs = [mx.nd.array(x, dtype=dtype) for x in (c, u, v)]
    for x in inputs:
        x.attach_grad()
    with autograd.record():
        s, a = block(*inputs)
    autograd.backward([s, a], [mx.nd.array(grad_s, dtype=dtype), mx.nd.array(grad_a, dtype=dtype)])
    expected = {
        "s": np.einsum("mi,mid->md", c, u),
        "a": np.einsum("mid,md->mi", u, v),
        "grad c": np.einsum("mid,md->mi", u, grad_s),
        "grad u": np.einsum("mi,md->mid", c, grad_s) + np.einsum("mi,md->mid", grad_a, v),
        "grad v": np.einsum("mi,mid->md", grad_a, u)}
    actual = {"s": s, "a": a, "grad c": inputs[0].grad, "grad u": inputs[1].grad,
              "grad v": inputs[2].grad}
    for name, value in actual.items():
        assert value.dtype == np.dtype(dtype), name
        np.testing.assert_allclose(value.asnumpy(), expected[name], rtol=tolerance,
                                   atol=tolerance, err_msg=name)


class FusedPredictions(gluon.HybridBlock):
    def hybrid_forward(self, F, u, weight):
        return F.caps_predictions(u, weight)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (3, 5, 2, 3, 4), (2, 37, 10, 16, 8)])
def test_fused_predictions_match_numpy_values_and_gradients(shape, dtype, tolerance, hybridize):
    require_fused_ops()
    batch, num_in, num_out, dim_out, dim_in = shape
    rng = np.random.RandomState(num_in)
    u, weight = rng.randn(batch, num_in, dim_in), rng.randn(num_in, num_out, dim_out, dim_in)
    head = rng.randn(batch, num_out, num_in, dim_out)
    block = FusedPredictions()
    if hybridize:
        block.hybridize()
    inputs = [mx.nd.array(x, dtype=dtype) for x in (u, weight)]
    for x in inputs:
        x.attach_grad()
    with autograd.record():
        u_hat = block(*inputs)
    u_hat.backward(mx.nd.array(head, dtype=dtype))
    expected = {"u_hat": np.einsum("ijke,bie->bjik", weight, u),
                "grad u": np.einsum("bjik,ijke->bie", head, weight),
                "grad W": np.einsum("bjik,bie->ijke", head, u)}
    actual = {"u_hat": u_hat, "grad u": inputs[0].grad, "grad W": inputs[1].grad}
    for name, value in actual.items():
        assert value.dtype == np.dtype(dtype), name
        np.testing.assert_allclose(value.asnumpy(), expected[name], rtol=tolerance,
                                   atol=tolerance, err_msg=name)


class RoutedPair(gluon.HybridBlock):
    def hybrid_forward(self, F, c, u, weight, v):
        return F.caps_routed_sum(c, u, weight), F.caps_routed_agreement(u, weight, v)


def _routed_inputs(shape, dtype=None):
    """Couplings, capsules, transforms, output capsules and the heads of the two outputs of
    :class:`RoutedPair` for ``shape = (B, n, J, D, d)``."""
    batch, num_in, num_out, dim_out, dim_in = shape
    rng = np.random.RandomState(num_in + dim_out)
    arrays = [rng.rand(batch, num_in, num_out), rng.randn(batch, num_in, dim_in),
              rng.randn(num_in, num_out, dim_out, dim_in), rng.randn(batch, num_out, dim_out),
              rng.randn(batch, num_out, dim_out), rng.randn(batch, num_in, num_out)]
    return arrays if dtype is None else [mx.nd.array(x, dtype=dtype) for x in arrays]


def _routed_numpy(c, u, weight, v):
    """The two routed operators through the predictions, as NumPy computes them."""
    u_hat = np.einsum("ijke,bie->bijk", weight, u)                       # (B, n, J, D)
    return np.einsum("bij,bijk->bjk", c, u_hat), np.einsum("bijk,bjk->bij", u_hat, v)


def _run_routed(inputs, hybridize):
    """Values of :class:`RoutedPair` and the gradients of ``sum(head_s * s + head_a * a)``."""
    block = RoutedPair()
    if hybridize:
        block.hybridize()
    arguments, heads = inputs[:4], inputs[4:]
    for x in arguments:
        x.attach_grad()
    with autograd.record():
        s, a = block(*arguments)
    autograd.backward([s, a], heads)
    return [s, a] + [x.grad for x in arguments]


ROUTED_NAMES = ["s", "a", "grad c", "grad u", "grad W", "grad v"]


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
# J * D outputs per capsule: 1, 21 (one register block of 16 and a rest), and CapsNet's 10 x 16
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (2, 17, 3, 7, 4), (3, 37, 10, 16, 8)])
def test_routed_operators_match_numpy_values_and_gradients(shape, dtype, tolerance, hybridize):
    require_fused_ops()
    c, u, weight, v, head_s, head_a = _routed_inputs(shape)
    u_hat = np.einsum("ijke,bie->bijk", weight, u)                       # (B, n, J, D)
    s, a = _routed_numpy(c, u, weight, v)
    expected = [s, a, np.einsum("bijk,bjk->bij", u_hat, head_s),
                np.einsum("ijke,bij,bjk->bie", weight, c, head_s)
                + np.einsum("ijke,bij,bjk->bie", weight, head_a, v),
                np.einsum("bij,bjk,bie->ijke", c, head_s, u)
                + np.einsum("bij,bjk,bie->ijke", head_a, v, u),
                np.einsum("bij,bijk->bjk", head_a, u_hat)]
    actual = _run_routed(_routed_inputs(shape, dtype), hybridize)
    for name, value, want in zip(ROUTED_NAMES, actual, expected):
        assert value.dtype == np.dtype(dtype), name
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(value.asnumpy(), want, rtol=tolerance,
                                   atol=tolerance * scale, err_msg=name)


def test_routed_operator_gradients_match_central_differences():
    require_fused_ops()
    shape = (2, 19, 3, 5, 3)                        # 19 capsules: one block of 16 and a rest
    arrays = _routed_inputs(shape)
    heads = arrays[4:]

    def loss(*arguments):
        return sum((head * out).sum() for head, out in zip(heads, _routed_numpy(*arguments)))
    actual = _run_routed(_routed_inputs(shape, "float64"), hybridize=False)
    for index, name in enumerate(ROUTED_NAMES[2:]):
        numeric = numerical_gradient(lambda: loss(*arrays[:4]), arrays[index])
        np.testing.assert_allclose(actual[index + 2].asnumpy(), numeric, rtol=1e-6, atol=1e-7,
                                   err_msg=name)


def test_detached_routed_operators_give_the_same_values_and_no_gradients(hybridize):
    require_fused_ops()
    c, u, weight, v = _routed_inputs((2, 19, 3, 5, 4), "float32")[:4]

    class Detached(gluon.HybridBlock):
        def hybrid_forward(self, F, c, u, weight, v):
            return (F.stop_gradient(F.caps_routed_sum_detached(c, u, weight)),
                    F.stop_gradient(F.caps_routed_agreement_detached(u, weight, v)))
    block = Detached()
    if hybridize:
        block.hybridize()
    u.attach_grad()
    weight.attach_grad()
    with autograd.record():
        s, a = block(c, u, weight, v)
    autograd.backward([s, a])
    np.testing.assert_allclose(s.asnumpy(), mx.nd.caps_routed_sum(c, u, weight).asnumpy())
    np.testing.assert_allclose(a.asnumpy(), mx.nd.caps_routed_agreement(u, weight, v).asnumpy())
    assert not u.grad.asnumpy().any() and not weight.grad.asnumpy().any()


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (2, 17, 3, 7, 4), (3, 37, 10, 16, 8)])
def test_routed_step_is_one_iteration_of_procedure_1_with_its_agreement_detached(
        shape, dtype, tolerance, hybridize):
    """b' = b + u_hat . v, c = softmax(b'), s = sum_i c u_hat; gradients reach u and W
    through s alone (c constant), and b and v get none."""
    require_fused_ops()
    logits, u, weight, v, head_s = _routed_inputs(shape)[:5]
    logits = logits * 4 - 2
    u_hat = np.einsum("ijke,bie->bijk", weight, u)                       # (B, n, J, D)
    new_logits = logits + np.einsum("bijk,bjk->bij", u_hat, v)
    coupling = _softmax(new_logits)
    expected = [new_logits, coupling, np.einsum("bij,bijk->bjk", coupling, u_hat),
                np.zeros_like(logits), np.einsum("ijke,bij,bjk->bie", weight, coupling, head_s),
                np.einsum("bij,bjk,bie->ijke", coupling, head_s, u), np.zeros_like(v)]

    class Step(gluon.HybridBlock):
        def hybrid_forward(self, F, logits, u, weight, v):
            return F.caps_routed_step(logits, u, weight, v)
    block = Step()
    if hybridize:
        block.hybridize()
    arguments = [mx.nd.array(x, dtype=dtype) for x in (logits, u, weight, v)]
    for x in arguments:
        x.attach_grad()
    with autograd.record():
        outputs = block(*arguments)
    outputs[2].backward(mx.nd.array(head_s, dtype=dtype))
    actual = list(outputs) + [x.grad for x in arguments]
    names = ["b'", "c", "s", "grad b", "grad u", "grad W", "grad v"]
    for name, value, want in zip(names, actual, expected):
        assert value.dtype == np.dtype(dtype), name
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(value.asnumpy(), want, rtol=tolerance, atol=tolerance * scale,
                                   err_msg=name)
    detached = mx.nd.caps_routed_step_detached(*[mx.nd.array(x, dtype=dtype)
                                                 for x in (logits, u, weight, v)])
    for name, value, want in zip(["b'", "s"], detached, [expected[0], expected[2]]):
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(value.asnumpy(), want, rtol=tolerance, atol=tolerance * scale,
                                   err_msg="detached " + name)


def test_fused_operators_reject_mismatched_inputs():
    require_fused_ops()
    with pytest.raises(mx.base.MXNetError, match="caps_agreement"):
        mx.nd.caps_agreement(mx.nd.ones((2, 3, 4)), mx.nd.ones((2, 5))).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="all float32 or all float64, got dtype codes "
                                                 "0 2"):
        mx.nd.caps_weighted_sum(mx.nd.ones((2, 3)), mx.nd.ones((2, 3, 4), dtype="float16"))
    with pytest.raises(mx.base.MXNetError, match="caps_predictions"):
        mx.nd.caps_predictions(mx.nd.ones((2, 3, 4)), mx.nd.ones((3, 5, 6, 7))).wait_to_read()
    c, u, weight, v = mx.nd.ones((2, 3, 5)), mx.nd.ones((2, 3, 4)), mx.nd.ones((3, 5, 6, 4)), \
        mx.nd.ones((2, 5, 6))
    with pytest.raises(mx.base.MXNetError, match="caps_routed_sum: expected couplings"):
        mx.nd.caps_routed_sum(c[:, :, :4], u, weight).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="caps_routed_agreement: expected capsules"):
        mx.nd.caps_routed_agreement(u, weight, v[:, :, :5]).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="caps_routed_step: expected logits"):
        mx.nd.caps_routed_step_detached(c, u, weight, v[:1])[0].wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="all float32 or all float64, got dtype codes "
                                                 "0 1 0"):
        mx.nd.caps_routed_sum(c, u.astype("float64"), weight)


def _route(fused, hybridize, detach):
    u_hat = mx.nd.array(np.random.RandomState(5).randn(3, 75, 4, 6) * 0.5)
    head = mx.nd.array(np.random.RandomState(6).randn(3, 4, 6))
    u_hat.attach_grad()
    block = DynamicRouting(num_routing=3, detach_intermediate=detach, return_coupling=True,
                           fused=fused)
    block.initialize()
    if hybridize:
        block.hybridize()
    with autograd.record():
        v, coupling = block(u_hat)
    v.backward(head)
    return v.asnumpy(), coupling.asnumpy(), u_hat.grad.asnumpy()


@pytest.mark.parametrize("detach", [True, False])
def test_fused_routing_equals_batch_dot_routing(detach, hybridize):
    require_fused_ops()
    for fused, reference in zip(_route(True, hybridize, detach), _route(False, hybridize, detach)):
        np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-6)


def _dense_caps(fused, hybridize):
    u = mx.nd.array(np.random.RandomState(7).randn(2, 40, 5) * 0.5)
    head = mx.nd.array(np.random.RandomState(8).randn(2, 3, 6))
    u.attach_grad()
    mx.random.seed(4)
    layer = DenseCaps(40, 5, 3, 6, routing=DynamicRouting(num_routing=3, fused=fused),
                      fused=fused)
    layer.initialize()
    if hybridize:
        layer.hybridize()
    with autograd.record():
        v = layer(u)
    v.backward(head)
    weight = layer.predictions.weight
    return v.asnumpy(), u.grad.asnumpy(), weight.grad().asnumpy()


def test_fused_dense_caps_equals_batch_dot_dense_caps(hybridize):
    require_fused_ops()
    fused, reference = _dense_caps(True, hybridize), _dense_caps(False, hybridize)
    for name, value, expected in zip(["v", "grad u", "grad W"], fused, reference):
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_standalone_predictions_are_the_same_both_ways(hybridize):
    require_fused_ops()
    u = mx.nd.array(np.random.RandomState(9).randn(3, 7, 4))
    outputs = []
    for fused in (True, False):
        block = CapsulePredictions(7, 4, 3, 5, fused=fused)
        block.initialize()
        block.weight.set_data(mx.nd.array(np.random.RandomState(10).randn(7, 3, 5, 4)))
        if hybridize:
            block.hybridize()
        outputs.append(block(u).asnumpy())
    assert outputs[0].shape == (3, 7, 3, 5)
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)


def _export_as_built(tmp_path, name):
    """Export a hybridized DenseCaps with the graph it built (``fused=True``); its operators."""
    block = DenseCaps(8, 2, 3, 4, routing=DynamicRouting(num_routing=3))
    block.initialize()
    block.hybridize()
    block(mx.nd.ones((1, 8, 2)))
    block.export(str(tmp_path / name), fused=True)
    return symbol_operators(str(tmp_path / name))


def test_hybridized_graph_is_fused_unless_built_portable(tmp_path):
    require_fused_ops()
    assert set(ops.FUSED_OPERATORS) & _export_as_built(tmp_path, "fused") == ROUTED_OPERATORS
    with ops.portable():
        portable = _export_as_built(tmp_path, "portable")
    assert not set(ops.FUSED_OPERATORS) & portable and "batch_dot" in portable


def test_portable_wins_over_fused_true():
    require_fused_ops()
    with ops.portable():
        assert not ops.fused_routing(True)
    assert ops.fused_routing(True)


def test_load_for_symbol_loads_only_for_graphs_that_use_them(tmp_path, monkeypatch):
    require_fused_ops()
    _export_as_built(tmp_path, "fused")
    with ops.portable():
        _export_as_built(tmp_path, "portable")
    calls = []
    monkeypatch.setattr(ops, "load", lambda: calls.append(1))
    ops.load_for_symbol(str(tmp_path / "portable-symbol.json"))
    ops.load_for_symbol(str(tmp_path / "missing-symbol.json"))
    assert calls == []
    ops.load_for_symbol(str(tmp_path / "fused-symbol.json"))
    assert calls == [1]


@pytest.fixture
def unloaded(monkeypatch, tmp_path):
    """A process state in which the operators were never loaded, with an empty cache."""
    unload_fused_ops(monkeypatch, tmp_path / "cache")
    return monkeypatch


@pytest.fixture
def no_compiler(monkeypatch, tmp_path):
    """:func:`unloaded` without a compiler; the list of attempts to build the library."""
    return without_compiler(monkeypatch, tmp_path / "cache")


def _capsule_layers(fused):
    return [CapsulePredictions(6, 2, 3, 4, fused=fused), DynamicRouting(fused=fused),
            DenseCaps(6, 2, 3, 4, fused=fused)]


def test_creating_capsule_layers_builds_and_loads_nothing(no_compiler):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fused in (None, True, False):
            _capsule_layers(fused)
    assert no_compiler == [] and caught == []


@pytest.mark.parametrize("index", [0, 1, 2])
def test_fused_true_without_a_compiler_raises_at_the_first_graph(no_compiler, index, hybridize):
    layer = _capsule_layers(True)[index]
    u = mx.nd.ones((2, 6, 3, 4) if isinstance(layer, DynamicRouting) else (2, 6, 2))
    layer.initialize()
    if hybridize:
        layer.hybridize()
    with pytest.raises(ops.OpsBuildError, match="no C\\+\\+ compiler 'nope'"):
        layer(u)


def test_fused_false_builds_nothing_and_uses_batch_dot(no_compiler):
    layer = DenseCaps(6, 2, 3, 4, fused=False)
    layer.initialize()
    layer.hybridize()
    assert layer(mx.nd.ones((2, 6, 2))).shape == (2, 3, 4)
    assert not set(ops.FUSED_OPERATORS) & graph_operators(layer)
    assert "batch_dot" in graph_operators(layer) and no_compiler == []


def test_load_for_block_loads_only_for_layers_that_would_use_them(no_compiler):
    declined = gluon.nn.HybridSequential()
    declined.add(gluon.nn.Dense(12, flatten=False), DenseCaps(6, 2, 3, 4, fused=False))
    assert not ops.load_for_block(declined) and not ops.load_for_block(gluon.nn.Dense(3))
    assert no_compiler == []
    required = gluon.nn.HybridSequential()
    required.add(declined, DynamicRouting(fused=True))
    with pytest.raises(ops.OpsBuildError, match="no C\\+\\+ compiler 'nope'"):
        ops.load_for_block(required)
    with pytest.warns(RuntimeWarning, match="routing uses batch_dot.*no C\\+\\+ compiler"):
        assert not ops.load_for_block(DenseCaps(6, 2, 3, 4))


def test_load_for_block_loads_them_for_a_network_that_uses_them(monkeypatch):
    require_fused_ops()
    monkeypatch.delenv(ops.ENV_VAR, raising=False)
    loaded = []
    monkeypatch.setattr(ops, "load", lambda: loaded.append(1))
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(12, flatten=False), DenseCaps(6, 2, 3, 4))
    assert ops.load_for_block(net) and loaded


def test_fused_argument_overrides_the_environment(unloaded):
    unloaded.setenv(ops.ENV_VAR, "1")
    unloaded.setattr(ops, "build_library", None)        # any attempt to build would fail
    assert not ops.fused_routing(False)
    with pytest.raises(ConfigError, match="fused must be None, True or False, got 'yes'"):
        ops.fused_routing("yes")


def test_fused_ops_0_uses_batch_dot_without_building(unloaded):
    unloaded.setenv(ops.ENV_VAR, "0")
    unloaded.setattr(ops, "build_library", None)        # any attempt to build would fail
    assert not ops.fused_routing()


def test_bad_fused_ops_setting_names_the_variable(unloaded):
    unloaded.setenv(ops.ENV_VAR, "fast")
    with pytest.raises(ConfigError, match="GLUON_CAPS_FUSED_OPS must be auto, 1 or 0, got 'fast'"):
        ops.fused_routing()


def test_auto_falls_back_to_batch_dot_with_one_warning(unloaded):
    unloaded.setenv("CXX", "no-such-compiler-here")
    with pytest.warns(RuntimeWarning, match="routing uses batch_dot.*no C\\+\\+ compiler"):
        assert not ops.fused_routing()
    assert not ops.fused_routing()          # no second warning: warnings are errors in tests
    u_hat = np.random.RandomState(3).randn(2, 9, 3, 4)
    v = DynamicRouting(num_routing=2)(mx.nd.array(u_hat))
    assert v.shape == (2, 3, 4) and np.isfinite(v.asnumpy()).all()


def test_fused_ops_1_raises_when_they_cannot_build(unloaded):
    unloaded.setenv(ops.ENV_VAR, "1")
    unloaded.setenv("CXX", "no-such-compiler-here")
    with pytest.raises(ops.OpsBuildError, match="no C\\+\\+ compiler 'no-such-compiler-here'"):
        ops.fused_routing()


def test_auto_uses_batch_dot_when_gpus_are_visible(unloaded):
    unloaded.setattr(mx.context, "num_gpus", lambda: 1)
    unloaded.setattr(ops, "build_library", None)
    assert not ops.fused_routing()


def test_failed_compilation_shows_the_command_and_leaves_no_file(unloaded, tmp_path):
    unloaded.setenv("CXX", "false")
    with pytest.raises(ops.OpsBuildError, match="compiling the fused routing operators failed"):
        build.build_library()
    assert os.listdir(str(tmp_path / "cache")) == []


def test_unwritable_cache_directory_is_named(unloaded, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    unloaded.setenv("GLUON_CAPS_CACHE", str(blocker / "cache"))
    unloaded.setenv("CXX", "false")                     # a compiler on every machine
    with pytest.raises(ops.OpsBuildError, match="cannot write to the cache directory .*file"):
        build.build_library()


def test_library_is_built_once_and_reused(unloaded, tmp_path):
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("no C++ compiler %r to build the library with" % os.environ.get("CXX", "g++"))
    path = build.build_library()
    assert os.path.dirname(path) == str(tmp_path / "cache") and os.path.getsize(path) > 0
    unloaded.setattr(build.subprocess, "run", None)     # a second build would fail
    assert build.build_library() == path
