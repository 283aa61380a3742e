import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_caps import ops
from gluon_caps.errors import ConfigError
from gluon_caps.nn import (CapsuleMask, CapsulePredictions, Decoder, DenseCaps, DynamicRouting,
                           PrimaryCaps)

from tests.helpers import ROUTED_OPERATORS, graph_operators, require_fused_ops


class Identity(gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        return x


def run(block, hybridize, *inputs):
    block.initialize()
    if hybridize:
        block.hybridize()
    return block(*inputs)


@pytest.mark.parametrize("batch", [1, 2])
def test_primary_caps_groups_channels_into_squashed_capsules(batch, hybridize):
    block = PrimaryCaps(channels=3, capsule_dim=4, kernel_size=3, strides=2, in_channels=5)
    x = mx.nd.random.uniform(shape=(batch, 5, 9, 9))
    u = run(block, hybridize, x).asnumpy()
    assert u.shape == (batch, 3 * 4 * 4, 4)
    conv = block.conv(x).asnumpy()                                  # (B, 3*4, 4, 4)
    grid = conv.reshape(batch, 3, 4, 4, 4).transpose(0, 1, 3, 4, 2).reshape(batch, -1, 4)
    squared = (grid ** 2).sum(-1, keepdims=True)
    np.testing.assert_allclose(u, grid * squared / (1 + squared) / np.sqrt(squared + 1e-7),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 3])
def test_dense_caps_predictions_are_per_pair_matrix_products(batch, hybridize):
    block = DenseCaps(num_in=7, dim_in=4, num_out=3, dim_out=5, routing=Identity())
    u = mx.nd.random.normal(shape=(batch, 7, 4))
    u_hat = run(block, hybridize, u).asnumpy()
    weight = block.predictions.weight.data().asnumpy()
    assert weight.shape == (7, 3, 5, 4)
    expected = np.einsum("ijdk,bik->bijd", weight, u.asnumpy())
    np.testing.assert_allclose(u_hat, expected, rtol=1e-5, atol=1e-6)


def test_dense_caps_routes_to_output_capsules_by_default(hybridize):
    block = DenseCaps(num_in=7, dim_in=4, num_out=3, dim_out=5)
    v = run(block, hybridize, mx.nd.random.normal(shape=(2, 7, 4)))
    assert v.shape == (2, 3, 5)
    assert np.all(np.linalg.norm(v.asnumpy(), axis=-1) < 1)


def test_dense_caps_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="num_out"):
        DenseCaps(num_in=7, dim_in=4, num_out=0, dim_out=5)


def test_mask_keeps_labelled_or_longest_capsule(hybridize):
    v = mx.nd.array(np.arange(2 * 3 * 2).reshape(2, 3, 2) + 1.0)
    v[1, 0] = 100                                                   # longest capsule of sample 1
    mask = CapsuleMask(num_classes=3)
    labelled = run(mask, hybridize, v, mx.nd.one_hot(mx.nd.array([2, 1]), 3)).asnumpy()
    np.testing.assert_array_equal(labelled[:, 0], [[0, 0, 0, 0, 5, 6], [0, 0, 9, 10, 0, 0]])
    longest = mask(v).asnumpy()
    np.testing.assert_array_equal(longest[:, 0], [[0, 0, 0, 0, 5, 6], [100, 100, 0, 0, 0, 0]])


def test_mask_with_two_labels_gives_one_masked_copy_each(hybridize):
    v = mx.nd.random.normal(shape=(2, 4, 3))
    labels = mx.nd.one_hot(mx.nd.array([[0, 3], [2, 1]]), 4)          # (B, 2, K)
    masked = run(CapsuleMask(num_classes=4), hybridize, v, labels).asnumpy()
    assert masked.shape == (2, 2, 12)
    np.testing.assert_array_equal(masked[1, 0].reshape(4, 3)[2], v.asnumpy()[1, 2])
    np.testing.assert_array_equal(masked[1, 1].reshape(4, 3)[1], v.asnumpy()[1, 1])
    assert np.count_nonzero(masked[1, 1].reshape(4, 3)[[0, 2, 3]]) == 0


@pytest.mark.parametrize("shape", [(2, 12), (2, 3, 12)])
def test_decoder_outputs_pixels_in_unit_interval(shape, hybridize):
    decoder = Decoder(in_units=12, out_units=20, hidden_units=(8, 16))
    out = run(decoder, hybridize, mx.nd.random.normal(shape=shape)).asnumpy()
    assert out.shape == shape[:-1] + (20,)
    assert np.all((out > 0) & (out < 1))
    assert [layer.weight.shape for layer in decoder.layers] == [(8, 12), (16, 8), (20, 16)]


@pytest.mark.parametrize("fused", [False, True])
def test_fused_argument_chooses_the_operators_of_the_graph(fused):
    if fused:
        require_fused_ops()
    layers = [(CapsulePredictions(7, 4, 3, 5, fused=fused), (2, 7, 4), {"caps_predictions"}),
              (DynamicRouting(fused=fused), (2, 7, 3, 5), {"caps_weighted_sum", "caps_agreement"}),
              (DenseCaps(7, 4, 3, 5, fused=fused), (2, 7, 4), ROUTED_OPERATORS)]
    for layer, shape, fused_operators in layers:
        run(layer, True, mx.nd.random.normal(shape=shape))
        operators = graph_operators(layer)
        assert operators & set(ops.FUSED_OPERATORS) == (fused_operators if fused else set()), layer
        assert fused or "batch_dot" in operators, layer


@pytest.mark.parametrize("fused", [True, False])
def test_dense_caps_without_predictions_computes_no_array_of_their_size(fused):
    if fused:
        require_fused_ops()
    batch, num_in, dim_in, num_out, dim_out = 8, 40, 2, 5, 7     # predictions: 11,200 floats
    layer = DenseCaps(num_in, dim_in, num_out, dim_out, fused=fused)
    run(layer, True, mx.nd.random.normal(shape=(batch, num_in, dim_in)))
    (data,), graph = layer._cached_graph
    _, shapes, _ = graph.get_internals().infer_shape(**{data.name: (batch, num_in, dim_in)})
    sizes = [int(np.prod(shape)) for shape in shapes]
    # every backward array has the shape of a forward one: the gradient of an input of its node
    transforms = num_in * num_out * dim_out * dim_in
    predictions = batch * num_in * num_out * dim_out
    assert max(sizes) == (transforms if fused else predictions)
    if fused:                   # the transforms themselves, no detached copy
        assert sizes.count(transforms) == 1


@pytest.mark.parametrize("detach, passes", [(True, 1), (False, 5)])
def test_dense_caps_without_predictions_back_propagates_the_iterations_it_should(detach, passes):
    require_fused_ops()
    layer = DenseCaps(7, 4, 3, 5, routing=DynamicRouting(3, detach, fused=True), fused=True)
    run(layer, True, mx.nd.random.normal(shape=(2, 7, 4)))
    (data,), graph = layer._cached_graph
    trainer = graph.simple_bind(mx.cpu(), grad_req="write", **{data.name: (2, 7, 4)})
    nodes = [line.split(",")[0] for line in trainer.debug_str().splitlines()
             if line.startswith("Op:_backward_")]
    # 3 weighted sums and 2 agreements; with detach, only the last weighted sum's gradient, and
    # no backward pass of a softmax (the couplings of the last iteration are constants)
    assert sum("caps_routed" in node for node in nodes) == passes, nodes
    assert ("Op:_backward_softmax" in nodes) == (not detach), nodes
