import mxnet as mx
import numpy as np
import pytest

from gluon_caps.loss import CapsuleLoss, MarginLoss, ReconstructionLoss


def run(loss, hybridize, *inputs):
    if hybridize:
        loss.hybridize()
    return loss(*inputs).asnumpy()


def test_margin_loss_hand_computed(hybridize):
    lengths = mx.nd.array([[0.95, 0.5, 0.05], [0.2, 0.3, 0.7]])
    label = mx.nd.array([[1, 0, 0], [0, 0, 1]])
    # sample 0: present 0.95 > 0.9 -> 0; absent 0.5 -> 0.5 * 0.4^2 = 0.08; absent 0.05 -> 0
    # sample 1: absent 0.2 -> 0.5 * 0.1^2 = 0.005; absent 0.3 -> 0.5 * 0.2^2 = 0.02;
    #           present 0.7 -> 0.2^2 = 0.04
    np.testing.assert_allclose(run(MarginLoss(), hybridize, lengths, label), [0.08, 0.065],
                               rtol=1e-5)


def test_margin_loss_with_two_true_labels(hybridize):
    lengths = mx.nd.array([[0.5, 0.8, 0.3]])
    label = mx.nd.array([[1, 1, 0]])
    # present 0.5 -> 0.16, present 0.8 -> 0.01, absent 0.3 -> 0.5 * 0.04 = 0.02
    np.testing.assert_allclose(run(MarginLoss(), hybridize, lengths, label), [0.19], rtol=1e-5)


def test_margin_loss_constants_are_arguments():
    lengths = mx.nd.array([[0.5, 0.5]])
    label = mx.nd.array([[1, 0]])
    loss = MarginLoss(m_plus=0.6, m_minus=0.4, lambda_=1.0, weight=0.5)(lengths, label)
    np.testing.assert_allclose(loss.asnumpy(), [0.5 * (0.01 + 0.01)], rtol=1e-5)


def test_reconstruction_loss_is_per_image_sum_of_squares(hybridize):
    recon = mx.nd.array([[0.0, 1.0, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]])
    image = mx.nd.array([[[[0.0, 0.0], [0.0, 0.0]]], [[[1.0, 1.0], [1.0, 0.0]]]])
    np.testing.assert_allclose(run(ReconstructionLoss(), hybridize, recon, image), [1.5, 1.0])


def test_reconstruction_loss_sums_over_several_digits():
    recon = mx.nd.ones((1, 2, 4))
    image = mx.nd.zeros((1, 2, 1, 2, 2))
    np.testing.assert_allclose(ReconstructionLoss()(recon, image).asnumpy(), [8.0])


@pytest.mark.parametrize("weight", [0.0005, 0.0])
def test_capsule_loss_is_margin_plus_weighted_reconstruction(weight, hybridize):
    lengths = mx.nd.array([[0.95, 0.5, 0.05]])
    label = mx.nd.array([[1, 0, 0]])
    recon = mx.nd.ones((1, 4))
    image = mx.nd.zeros((1, 1, 2, 2))
    loss = CapsuleLoss(reconstruction_weight=weight)
    np.testing.assert_allclose(run(loss, hybridize, lengths, label, recon, image),
                               [0.08 + weight * 4.0], rtol=1e-5)


def test_capsule_loss_sample_weight():
    lengths = mx.nd.array([[0.95, 0.5], [0.95, 0.5]])
    label = mx.nd.array([[1, 0], [1, 0]])
    recon, image = mx.nd.ones((2, 4)), mx.nd.zeros((2, 4))
    loss = CapsuleLoss(reconstruction_weight=0.01)(lengths, label, recon, image,
                                                   mx.nd.array([[1.0], [0.0]]))
    np.testing.assert_allclose(loss.asnumpy(), [0.08 + 0.04, 0.0], rtol=1e-5)
