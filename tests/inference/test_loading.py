"""Trained networks loaded for inference hold no gradient arrays, and still give the same
outputs; loaded to be trained on, they do."""
import mxnet as mx
import numpy as np
import pytest

from gluon_caps.checkpoint import load_checkpoint
from gluon_caps.inference import load_trained


def _gradients(net):
    """The network's gradient arrays, or None for a parameter without one."""
    grads = []
    for param in net.collect_params().values():
        try:
            grads.append(param.grad())
        except RuntimeError:                      # grad_req 'null': no array was allocated
            grads.append(None)
    return grads


@pytest.mark.parametrize("path", ["run", "pretrained:capsnet_mnist"])
def test_networks_loaded_for_inference_hold_no_gradients_and_give_the_same_outputs(
        trained_run, path):
    path = trained_run if path == "run" else path
    inference = load_trained(path).net
    trainable = load_trained(path, grad_req="write").net
    assert all(grad is None for grad in _gradients(inference))
    assert all(grad is not None for grad in _gradients(trainable))
    x = mx.nd.random.uniform(shape=(3,) + tuple(inference.input_shape))
    np.testing.assert_array_equal(inference(x)[0].asnumpy(), trainable(x)[0].asnumpy())


def test_a_checkpoint_loads_trainable_by_default(trained_run):
    net = load_checkpoint(trained_run).net
    assert all(grad is not None for grad in _gradients(net))
