import mxnet as mx
import numpy as np
from mxnet import autograd

from gluon_caps.nn import Squash, capsule_length, squash


def test_squash_norm_below_one_and_direction_kept(hybridize):
    s = mx.nd.array(np.random.RandomState(0).randn(4, 6, 8) * 3)
    block = Squash()
    block.initialize()
    if hybridize:
        block.hybridize()
    v = block(s).asnumpy()
    norm_s = np.linalg.norm(s.asnumpy(), axis=-1)
    norm_v = np.linalg.norm(v, axis=-1)
    assert np.all(norm_v < 1)
    np.testing.assert_allclose(norm_v, norm_s ** 2 / (1 + norm_s ** 2), rtol=1e-5)
    cosine = (v * s.asnumpy()).sum(-1) / (norm_v * norm_s)
    np.testing.assert_allclose(cosine, 1, rtol=1e-5)


def test_squash_zero_vector_gives_zero_and_finite_gradient():
    s = mx.nd.zeros((2, 3, 8))
    s.attach_grad()
    with autograd.record():
        v = squash(mx.nd, s)
        total = v.sum()
    total.backward()
    assert np.all(v.asnumpy() == 0)
    assert np.all(np.isfinite(s.grad.asnumpy()))


def test_capsule_length_matches_norm_and_has_finite_gradient_at_zero():
    v = mx.nd.array([[[3.0, 4.0], [0.0, 0.0]]])
    v.attach_grad()
    with autograd.record():
        lengths = capsule_length(mx.nd, v)
    lengths.backward()
    np.testing.assert_allclose(lengths.asnumpy(), [[5.0, 0.0]], atol=1e-4)
    assert np.all(np.isfinite(v.grad.asnumpy()))
