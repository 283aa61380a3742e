"""The benchmark library: arithmetic counted by hand, stages that compose into the network, and
what a run reports from known times (no timing asserts)."""
import json

import mxnet as mx
import numpy as np
import pytest

from gluon_caps import ops
from gluon_caps.benchmark import (STAGES, Stage, conv_gflops, conv1_output_size, model_gflops,
                                  network_stages, run, run_benchmark, stage_times, stages)
from gluon_caps.errors import ConfigError
from gluon_caps.model_zoo import CapsNet, get_model
from gluon_caps.nn import capsule_length

from tests.helpers import require_fused_ops

# The paper's MNIST network, by hand (FLOP = 2 per multiply-add):
PRIMARY = 2 * 256 * 81 * 256 * 6 * 6                  # 382,205,952: 256 to 256 channels, 9x9
FORWARD = (2 * 81 * 256 * 20 * 20                     # conv1: 1 to 256 channels, 9x9
           + PRIMARY
           + 2 * 1152 * 10 * 16 * 8                   # predictions: 8 to 16 per pair
           + 2 * (160 * 512 + 512 * 1024 + 1024 * 784))   # decoder
TRAIN = 3 * FORWARD - 2 * 81 * 256 * 20 * 20          # no input gradient of conv1


def use_clock(monkeypatch, seconds):
    """Make every timing of the benchmark call its function once and report ``seconds`` per
    call, so that what a run computes from its times can be checked by hand; with ``seconds``
    None, any timing fails the test (to show that nothing was timed)."""
    def time_call(function, steps, warmup=2, rounds=3):
        assert seconds is not None, "the benchmark timed something"
        function()
        mx.nd.waitall()
        return seconds
    for module in (run, stages):
        monkeypatch.setattr(module, "time_call", time_call)


def _initialized(name="capsnet_mnist", **kwargs):
    net = get_model(name, **kwargs)
    net.initialize(mx.init.Xavier())
    return net


def _tiny(**kwargs):
    """A CapsNet of 12x12 images: conv1 3x3 to 4 channels (10x10), 2 types of 4-D primary
    capsules on a 4x4 grid (32 capsules), 3 classes of 4-D capsules, decoder 12 -> 8 -> 144."""
    net = CapsNet(input_shape=(1, 12, 12), num_classes=3, conv_channels=4, conv_kernel=3,
                  primary_channels=2, primary_dim=4, class_dim=4, decoder_units=(8,), **kwargs)
    net.initialize(mx.init.Xavier())
    return net


def _batch(net, labels=(2, 0)):
    x = mx.nd.random.uniform(shape=(len(labels),) + net.input_shape)
    return x, mx.nd.one_hot(mx.nd.array(labels), net.num_classes)


def test_conv_gflops_of_a_tiny_convolution():
    # 3 x 4 x 5 = 60 outputs, each a sum of 2 x 2 x 2 = 8 products: 480 multiply-adds
    assert conv_gflops(2, 3, 2, 4, 5) == pytest.approx(960e-9)


def test_model_gflops_of_a_tiny_network():
    net = _tiny()
    assert conv1_output_size(net) == (10, 10)
    counts = model_gflops(net)
    expected = {"conv1": 7200,           # 10 x 10 x 4 outputs of 1 x 3 x 3 products
                "primary": 9216,         # 4 x 4 x 8 outputs of 4 x 3 x 3 products
                "predictions": 3072,     # 32 x 3 pairs of a 4x4 matrix times a 4-vector
                "decoder": 2496,         # 12 x 8 + 8 x 144
                "forward": 21984,
                "train": 58752}          # 3 x 21984 less conv1's input gradient (7200)
    assert dict(counts) == pytest.approx({name: flop / 1e9 for name, flop in expected.items()})


def test_model_gflops_of_the_paper_network():
    counts = model_gflops(_initialized())
    assert counts["primary"] == pytest.approx(PRIMARY / 1e9)
    assert counts["forward"] == pytest.approx(FORWARD / 1e9)       # 0.405
    assert counts["train"] == pytest.approx(TRAIN / 1e9)           # 1.197
    assert counts["primary"] / counts["forward"] > 0.94


def test_model_gflops_without_decoder():
    counts = model_gflops(_initialized(with_decoder=False))
    assert counts["decoder"] == 0


@pytest.mark.filterwarnings("ignore:Parameter .* is not used by any computation")
@pytest.mark.parametrize("fused", [None, False])
def test_stages_chained_compute_the_network(fused, hybridize):
    net = _tiny(fused=fused)
    x, mask = _batch(net)
    names = network_stages(net)
    assert ("predictions" in names) == net.digit_caps.stores_predictions()
    blocks = {stage: Stage(net, stage) for stage in names}
    if hybridize:
        for block in blocks.values():
            block.hybridize()
    v = x
    for stage in names[:-1]:
        v = blocks[stage](v)
    assert v.shape == (2, 3, 4)
    lengths, reconstruction = net(x, mask)
    np.testing.assert_allclose(capsule_length(mx.nd, v).asnumpy(), lengths.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(blocks["decoder"](v, mask).asnumpy(), reconstruction.asnumpy(),
                               rtol=1e-5)
    by_longest = Stage(net, "decoder")                      # no mask: the longest capsule
    np.testing.assert_allclose(by_longest(v).asnumpy(), net(x)[1].asnumpy(), rtol=1e-5)


@pytest.mark.parametrize("train, tail", [(False, "rest"), (True, "loss + update")])
def test_stage_times_time_every_stage(train, tail):
    net = _tiny(fused=False)
    net.hybridize(static_alloc=True, static_shape=True)
    x, mask = _batch(net)
    times = stage_times(net, x, mask, train, steps=1, rounds=1)
    assert tuple(times) == STAGES + (tail,)
    assert all(ms > 0 for ms in times.values()), times


def test_stage_times_without_decoder():
    net = _tiny(with_decoder=False, fused=False)
    times = stage_times(net, *_batch(net), train=True, steps=1, hybridize=False, rounds=1)
    assert tuple(times) == STAGES[:-1] + ("loss + update",)


def test_stages_without_predictions_route_from_the_primary_capsules():
    require_fused_ops()
    net = _tiny(fused=True)
    assert network_stages(net) == ("conv1", "primary", "routing", "decoder")
    times = stage_times(net, *_batch(net), train=True, steps=1, hybridize=False, rounds=1)
    assert tuple(times) == ("conv1", "primary", "routing", "decoder", "loss + update")


def test_each_stage_is_a_measurement_of_its_own(monkeypatch):
    # a difference of growing prefixes would read 500 for conv1, 0 for the next stages and
    # a negative rest
    use_clock(monkeypatch, 0.5)
    net = _tiny(fused=False)
    times = stage_times(net, *_batch(net), train=True, steps=1, hybridize=False)
    assert list(times.values()) == [500.0] * 6


@pytest.mark.parametrize("mode, ceiling", [
    ("infer", 2 * PRIMARY / 0.5 / FORWARD),             # forward GFLOP/s / GFLOP per image
    ("train", 3 * 2 * PRIMARY / 0.5 / TRAIN),           # forward+backward / GFLOP per step
], ids=["infer", "train"])
def test_run_benchmark_from_known_times(monkeypatch, mode, ceiling):
    use_clock(monkeypatch, 0.5)                         # every timed call: half a second
    result = run_benchmark(batch_size=2, mode=mode, steps=1)
    assert result["images_per_s"] == 4.0
    assert result["conv_gflops_per_s"] == pytest.approx(
        {"forward": 2 * PRIMARY / 0.5 / 1e9, "forward_backward": 3 * 2 * PRIMARY / 0.5 / 1e9})
    assert result["ceiling_images_per_s"] == pytest.approx(ceiling)
    assert result["fraction_of_ceiling"] == pytest.approx(4.0 / ceiling)
    assert list(result["stages_ms"].values()) == [500.0] * (len(network_stages(get_model(
        "capsnet_mnist"))) + 1)
    if mode == "infer":
        assert result["images_per_s_inference_kernels"] == 4.0


def test_run_benchmark_reports_one_consistent_run():
    result = json.loads(json.dumps(run_benchmark(batch_size=2, mode="train", steps=1,
                                                 rounds=1)))
    assert result["batch_size"] == 2 and result["rounds"] == 1
    assert result["images_per_s"] > 0 and result["ceiling_images_per_s"] > 0
    assert result["fraction_of_ceiling"] * result["ceiling_images_per_s"] == \
        pytest.approx(result["images_per_s"])
    assert all(ms > 0 for ms in result["stages_ms"].values()), result["stages_ms"]
    assert 0.1 < result["peak_memory_gib"] < 8
    try:
        ops.load()
        built = "fused"
    except ops.OpsBuildError:                      # no C++ compiler here: batch_dot
        built = "batch_dot"
    assert result["capsule_ops"] == built
    assert result["stores_predictions"] == (built == "batch_dot")
    assert list(result["stages_ms"]) == [stage for stage in STAGES if stage != "predictions"
                                         or built == "batch_dot"] + ["loss + update"]


@pytest.mark.parametrize("kwargs, fragment", [({"mode": "fast"}, "--mode"),
                                              ({"rounds": 0}, "--rounds"),
                                              ({"model": "capsnet_nope"}, "capsnet_nope")])
def test_run_benchmark_rejects_bad_input_before_timing(monkeypatch, kwargs, fragment):
    use_clock(monkeypatch, None)
    with pytest.raises(ConfigError, match=fragment):
        run_benchmark(**kwargs)
