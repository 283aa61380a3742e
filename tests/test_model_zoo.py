import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_caps import ops
from gluon_caps.errors import ConfigError
from gluon_caps.loss import CapsuleLoss
from gluon_caps.model_zoo import CapsNet, get_model, get_model_list

from tests.helpers import (ROUTED_OPERATORS, graph_operators, require_fused_ops,
                           symbol_operators, without_compiler)

EXPECTED_PARAMETERS = {
    "capsnet_mnist": 8215568,          # the paper's figure
    "capsnet_multimnist": 11361808,    # the paper's figure
    # conv1 2->256 9x9, primary 256->256 9x9, W 2048x5x16x8, decoder 80->512->1024->2048
    "capsnet_smallnorb": 41728 + 5308672 + 1310720 + 41472 + 525312 + 2099200,
}


def count_parameters(net):
    return sum(int(np.prod(param.shape)) for param in net.collect_params().values())


def tiny_capsnet(**kwargs):
    """A CapsNet small enough to train in a test: 12x12 input, 3x3 kernels."""
    return CapsNet(input_shape=(1, 12, 12), num_classes=3, conv_channels=8, conv_kernel=3,
                   primary_channels=2, primary_dim=4, class_dim=4, decoder_units=(16, 32),
                   **kwargs)


def test_registry_lists_the_three_paper_models():
    assert get_model_list() == ["capsnet_mnist", "capsnet_multimnist", "capsnet_smallnorb"]


def test_unknown_model_error_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        get_model("capsnet_cifar")
    assert "capsnet_cifar" in str(info.value)
    assert all(name in str(info.value) for name in get_model_list())


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_parameter_counts(name):
    net = get_model(name)
    net.initialize()
    assert count_parameters(net) == EXPECTED_PARAMETERS[name]
    assert net.model_name == name


def test_mnist_parameters_without_decoder_match_the_paper():
    net = get_model("capsnet_mnist", with_decoder=False)
    net.initialize()
    assert count_parameters(net) == 6804224
    assert net.num_primary_capsules == 1152


def test_multimnist_has_3200_primary_capsules():
    assert get_model("capsnet_multimnist").num_primary_capsules == 3200


def test_too_small_input_is_a_config_error():
    with pytest.raises(ConfigError, match="too small"):
        get_model("capsnet_mnist", input_shape=(1, 16, 16))


@pytest.mark.slow
@pytest.mark.parametrize("name", get_model_list())
def test_every_model_hybridizes_and_exports(name, tmp_path):
    net = get_model(name)
    net.initialize()
    shape = net.input_shape
    inputs = {batch: mx.nd.random.uniform(shape=(batch,) + shape) for batch in (1, 3)}
    masks = {batch: mx.nd.one_hot(mx.nd.arange(batch), net.num_classes) for batch in (1, 3)}
    expected = {batch: [net(inputs[batch]), net(inputs[batch], masks[batch])] for batch in (1, 3)}
    net.hybridize(static_alloc=True, static_shape=True)
    for batch in (1, 3, 1):                        # alternate signatures and batch sizes
        for got, want in zip((net(inputs[batch], masks[batch]), net(inputs[batch])),
                             expected[batch][::-1]):
            for got_array, want_array in zip(got, want):
                np.testing.assert_allclose(got_array.asnumpy(), want_array.asnumpy(),
                                           rtol=1e-5, atol=1e-6)
    prefix = str(tmp_path / name)
    net.export(prefix)
    assert not symbol_operators(prefix) & set(ops.FUSED_OPERATORS)
    imported = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
    for batch in (1, 3):
        lengths, reconstruction = imported(inputs[batch])
        np.testing.assert_allclose(lengths.asnumpy(), expected[batch][0][0].asnumpy(), rtol=1e-5)
        np.testing.assert_allclose(reconstruction.asnumpy(), expected[batch][0][1].asnumpy(),
                                   rtol=1e-5, atol=1e-6)


def _saved_parameters(net, path):
    """Names and shapes of a network's parameters as ``save_parameters`` writes them."""
    net.initialize()
    net.save_parameters(path)
    return {name: array.shape for name, array in mx.nd.load(path).items()}


@pytest.mark.parametrize("fused", [None, True, False])
def test_building_a_model_builds_nothing_and_keeps_the_parameter_names(
        fused, monkeypatch, tmp_path):
    attempts = without_compiler(monkeypatch, tmp_path / "cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nets = [get_model(name, fused=fused) for name in get_model_list()]
    assert attempts == [] and caught == [] and not (tmp_path / "cache").exists()
    assert all(net.digit_caps.predictions.fused is fused and net.digit_caps.routing.fused is fused
               for net in nets)
    # the names of shipped weights, pinned in test_pretrained.py
    assert _saved_parameters(nets[0], str(tmp_path / "fused.params")) == \
        _saved_parameters(get_model(nets[0].model_name), str(tmp_path / "default.params"))


def test_routing_bias_is_one_extra_parameter(tmp_path):
    plain = _saved_parameters(get_model("capsnet_mnist"), str(tmp_path / "plain.params"))
    biased = _saved_parameters(get_model("capsnet_mnist", routing_bias=True),
                               str(tmp_path / "biased.params"))
    assert biased == dict(plain, **{"digit_caps.routing.bias": (10, 16)})


@pytest.mark.parametrize("fused", [False, True])
def test_fused_argument_chooses_the_operators_of_every_capsule_layer(fused, hybridize):
    if fused:
        require_fused_ops()
    x = mx.nd.random.uniform(shape=(2, 1, 12, 12))
    expected = tiny_capsnet(fused=False)
    expected.initialize()
    net = tiny_capsnet(fused=fused, params=expected.collect_params())
    if hybridize:
        net.hybridize()
    for got, want in zip(net(x), expected(x)):
        np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-5, atol=1e-6)
    if hybridize:
        used = graph_operators(net) & set(ops.FUSED_OPERATORS)
        assert used == (ROUTED_OPERATORS if fused else set())


def test_fused_true_without_a_compiler_raises_at_the_first_call(monkeypatch, tmp_path):
    without_compiler(monkeypatch, tmp_path / "cache")
    net = tiny_capsnet(fused=True)
    net.initialize()
    with pytest.raises(ops.OpsBuildError, match="no C\\+\\+ compiler 'nope'"):
        net(mx.nd.zeros((1, 1, 12, 12)))


def test_outputs_with_one_and_two_masks_and_coupling(hybridize):
    net = tiny_capsnet(return_coupling=True)
    net.initialize()
    if hybridize:
        net.hybridize()
    x = mx.nd.random.uniform(shape=(2, 1, 12, 12))
    lengths, recon, coupling = net(x)
    assert lengths.shape == (2, 3) and recon.shape == (2, 144)
    assert coupling.shape == (2, net.num_primary_capsules, 3)
    np.testing.assert_allclose(coupling.sum(axis=2).asnumpy(), 1, rtol=1e-5)
    two = mx.nd.one_hot(mx.nd.array([[0, 1], [2, 0]]), 3)
    _, recon_two, _ = net(x, two)
    assert recon_two.shape == (2, 2, 144)
    _, recon_first, _ = net(x, two[:, 0])
    np.testing.assert_allclose(recon_two[:, 0].asnumpy(), recon_first.asnumpy(), rtol=1e-5)


def test_without_decoder_returns_lengths_only(hybridize):
    net = tiny_capsnet(with_decoder=False)
    net.initialize()
    if hybridize:
        net.hybridize()
    outputs = net(mx.nd.random.uniform(shape=(2, 1, 12, 12)))
    assert len(outputs) == 1 and outputs[0].shape == (2, 3)


def test_capsules_and_reconstruct_reproduce_the_forward_pass():
    net = tiny_capsnet()
    net.initialize()
    x = mx.nd.random.uniform(shape=(2, 1, 12, 12))
    mask = mx.nd.one_hot(mx.nd.array([1, 2]), 3)
    _, recon = net(x, mask)
    np.testing.assert_allclose(net.reconstruct(net.capsules(x), mask).asnumpy(), recon.asnumpy(),
                               rtol=1e-6)


def test_gradients_reach_every_parameter():
    net = get_model("capsnet_mnist")
    net.initialize()
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    label = mx.nd.one_hot(mx.nd.array([3, 7]), 10)
    with autograd.record():
        lengths, recon = net(x, label)
        loss = CapsuleLoss()(lengths, label, recon, x)
    loss.backward()
    for name, param in net.collect_params().items():
        assert np.abs(param.grad().asnumpy()).max() > 0, name


def test_a_few_adam_steps_reduce_the_loss(hybridize):
    net = tiny_capsnet()
    net.initialize()
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(shape=(8, 1, 12, 12))
    label = mx.nd.one_hot(mx.nd.array([0, 1, 2, 0, 1, 2, 0, 1]), 3)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn = CapsuleLoss()
    losses = []
    for _ in range(15):
        with autograd.record():
            lengths, recon = net(x, label)
            loss = loss_fn(lengths, label, recon, x)
        loss.backward()
        trainer.step(8)
        losses.append(loss.mean().asscalar())
    assert losses[-1] < 0.5 * losses[0], losses


def test_fast_forward_gives_the_same_outputs_and_records_nothing(hybridize):
    from gluon_caps.nn import fast_forward
    net = get_model("capsnet_mnist")
    net.initialize(mx.init.Xavier())
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(shape=(3, 1, 28, 28))
    lengths, recon = net(x)
    with fast_forward():
        assert autograd.is_training() and not autograd.is_recording()
        fast_lengths, fast_recon = net(x)
    np.testing.assert_allclose(fast_lengths.asnumpy(), lengths.asnumpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fast_recon.asnumpy(), recon.asnumpy(), rtol=1e-4, atol=1e-6)
