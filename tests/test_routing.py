import functools

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_caps.errors import ConfigError
from gluon_caps.nn import DenseCaps, DynamicRouting

from tests.helpers import numerical_gradient, require_fused_ops


def numpy_squash(s, eps=1e-7):
    squared = (s ** 2).sum(-1, keepdims=True)
    return squared / (1 + squared) * s / np.sqrt(squared + eps)


def numpy_routing(u_hat, num_routing, bias=0.0):
    """Procedure 1 of the paper, written independently in float64 NumPy (with the authors'
    code's ``bias`` ``(num_out, dim_out)`` added before the squash)."""
    batch, num_in, num_out, _ = u_hat.shape
    logits = np.zeros((batch, num_in, num_out))
    for iteration in range(num_routing):
        coupling = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
        v = numpy_squash((coupling[..., None] * u_hat).sum(axis=1) + bias)
        if iteration < num_routing - 1:
            logits = logits + (u_hat * v[:, None]).sum(-1)
    return v, coupling


def make_block(hybridize, **kwargs):
    block = DynamicRouting(**kwargs)
    block.initialize()
    if hybridize:
        block.hybridize()
    return block


@pytest.mark.parametrize("num_routing", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 3])
def test_routing_matches_numpy_procedure_1(num_routing, batch, hybridize):
    u_hat = np.random.RandomState(num_routing).randn(batch, 12, 4, 5) * 0.5
    block = make_block(hybridize, num_routing=num_routing, return_coupling=True)
    v, coupling = block(mx.nd.array(u_hat))
    expected_v, expected_c = numpy_routing(u_hat, num_routing)
    assert v.shape == (batch, 4, 5) and coupling.shape == (batch, 12, 4)
    np.testing.assert_allclose(v.asnumpy(), expected_v, atol=1e-5)
    np.testing.assert_allclose(coupling.asnumpy(), expected_c, atol=1e-5)
    np.testing.assert_allclose(coupling.asnumpy().sum(axis=2), 1, atol=1e-5)


def test_routing_changes_coupling_away_from_uniform():
    u_hat = np.random.RandomState(1).randn(2, 10, 3, 4)
    _, coupling = make_block(False, num_routing=3, return_coupling=True)(mx.nd.array(u_hat))
    assert np.abs(coupling.asnumpy() - 1 / 3).max() > 0.05


def _input_gradient(detach, num_routing):
    u_hat = mx.nd.array(np.random.RandomState(2).randn(2, 6, 3, 4))
    u_hat.attach_grad()
    block = make_block(False, num_routing=num_routing, detach_intermediate=detach)
    with autograd.record():
        out = block(u_hat)
    out.backward(mx.nd.ones_like(out))
    return u_hat.grad.asnumpy()


def test_detach_intermediate_only_changes_gradients_of_earlier_iterations():
    np.testing.assert_allclose(_input_gradient(True, 1), _input_gradient(False, 1), rtol=1e-6)
    assert np.abs(_input_gradient(True, 3) - _input_gradient(False, 3)).max() > 1e-4


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_routing_rejects_bad_iteration_counts(bad):
    with pytest.raises(ConfigError, match="num_routing"):
        DynamicRouting(num_routing=bad)


def test_routing_bias_is_added_before_the_squash(hybridize):
    u_hat = np.random.RandomState(4).randn(2, 9, 3, 4) * 0.5
    bias = np.random.RandomState(5).randn(3, 4)
    block = DynamicRouting(2, routing_bias=True, num_out=3, dim_out=4)
    block.initialize()
    assert block.bias.shape == (3, 4) and not block.bias.data().asnumpy().any()
    block.bias.set_data(mx.nd.array(bias))
    if hybridize:
        block.hybridize()
    np.testing.assert_allclose(block(mx.nd.array(u_hat)).asnumpy(),
                               numpy_routing(u_hat, 2, bias)[0], rtol=1e-5, atol=1e-6)


def test_routing_bias_needs_its_shape():
    with pytest.raises(ConfigError, match=r"num_out \(the shape of the routing bias\)"):
        DynamicRouting(routing_bias=True)
    with pytest.raises(ConfigError, match="routing_bias is for the default routing"):
        DenseCaps(6, 2, 3, 4, routing=DynamicRouting(), routing_bias=True)


def _numpy_dense_caps(u, weight, bias, num_routing, coupling=None):
    """v of a dense capsule layer in NumPy; with ``coupling``, its last iteration with these
    coupling coefficients held constant (what ``detach_intermediate`` back-propagates)."""
    u_hat = np.einsum("ijke,bie->bijk", weight, u)                       # (B, n, J, D)
    if coupling is None:
        return numpy_routing(u_hat, num_routing, bias)[0]
    return numpy_squash((coupling[..., None] * u_hat).sum(axis=1) + bias)


@functools.lru_cache(maxsize=None)
def _dense_caps_reference(detach, with_bias):
    """Inputs, v, couplings and central-difference gradients of ``sum(head * v)`` of a layer of
    11 input capsules (not a multiple of any vector width) of 3 dimensions to 3 of 4."""
    rng = np.random.RandomState(11)
    arrays = {"u": rng.randn(2, 11, 3), "W": rng.randn(11, 3, 4, 3) * 0.5,
              "bias": rng.randn(3, 4) * 0.2 if with_bias else np.zeros((3, 4))}
    head = rng.randn(2, 3, 4)
    v, coupling = numpy_routing(np.einsum("ijke,bie->bijk", arrays["W"], arrays["u"]), 3,
                                arrays["bias"])
    held = coupling if detach else None

    def loss():
        return (head * _numpy_dense_caps(arrays["u"], arrays["W"], arrays["bias"], 3, held)).sum()
    names = ["u", "W"] + (["bias"] if with_bias else [])
    gradients = {name: numerical_gradient(loss, arrays[name]) for name in names}
    return arrays, head, {"v": v, "coupling": coupling}, gradients


@pytest.mark.parametrize("with_bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("detach", [True, False], ids=["detach", "every-iteration"])
@pytest.mark.parametrize("fused", [True, False], ids=["without-predictions", "batch_dot"])
def test_dense_caps_routing_matches_numpy_procedure_1_in_float64(
        fused, detach, with_bias, hybridize):
    if fused:
        require_fused_ops()
    arrays, head, expected, gradients = _dense_caps_reference(detach, with_bias)
    routing = DynamicRouting(3, detach, return_coupling=True, fused=fused,
                             routing_bias=with_bias, num_out=3, dim_out=4)
    layer = DenseCaps(11, 3, 3, 4, routing=routing, fused=fused)
    layer.initialize()
    layer.cast("float64")
    parameters = {"W": layer.predictions.weight, "bias": layer.routing.bias}
    for name, param in parameters.items():
        if param is not None:
            param.set_data(mx.nd.array(arrays[name], dtype="float64"))
    if hybridize:
        layer.hybridize()
    u = mx.nd.array(arrays["u"], dtype="float64")
    u.attach_grad()
    with autograd.record():
        v, coupling = layer(u)
    v.backward(mx.nd.array(head, dtype="float64"))
    actual = {"v": v, "coupling": coupling, "u": u.grad, "W": parameters["W"].grad()}
    if with_bias:
        actual["bias"] = parameters["bias"].grad()
    assert not fused or not layer.stores_predictions()
    for name, value in actual.items():
        want = expected[name] if name in expected else gradients[name]
        assert value.dtype == np.float64, name
        np.testing.assert_allclose(value.asnumpy(), want, rtol=1e-5, atol=1e-8, err_msg=name)
    assert np.abs(gradients["W"]).max() > 1e-2                # gradients are not zero
