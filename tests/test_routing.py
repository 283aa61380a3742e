import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_caps.errors import ConfigError
from gluon_caps.nn import DynamicRouting


def numpy_routing(u_hat, num_routing, eps=1e-7):
    """Procedure 1 of the paper, written independently in float64 NumPy."""
    batch, num_in, num_out, _ = u_hat.shape
    logits = np.zeros((batch, num_in, num_out))
    for iteration in range(num_routing):
        coupling = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
        s = (coupling[..., None] * u_hat).sum(axis=1)
        squared = (s ** 2).sum(-1, keepdims=True)
        v = squared / (1 + squared) * s / np.sqrt(squared + eps)
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
