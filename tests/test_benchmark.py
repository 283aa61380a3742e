"""The benchmark library: arithmetic counts, stage prefixes and a tiny run (no timing asserts)."""
import mxnet as mx
import numpy as np
import pytest

from gluon_caps.benchmark import STAGES, model_gflops, run_benchmark, stage_times
from gluon_caps.benchmark.stages import DecoderStage, Prefix
from gluon_caps.errors import ConfigError
from gluon_caps.model_zoo import get_model


def _initialized(name="capsnet_mnist", **kwargs):
    net = get_model(name, **kwargs)
    net.initialize(mx.init.Xavier())
    return net


def test_model_gflops_of_the_paper_network():
    counts = model_gflops(_initialized())
    conv1 = 2 * 81 * 256 * 20 * 20
    primary = 2 * 256 * 81 * 256 * 6 * 6
    predictions = 2 * 1152 * 10 * 16 * 8
    decoder = 2 * (160 * 512 + 512 * 1024 + 1024 * 784)
    forward = (conv1 + primary + predictions + decoder) / 1e9
    assert counts["forward"] == pytest.approx(forward)
    assert counts["train"] == pytest.approx(3 * forward - conv1 / 1e9)
    assert 0.40 < counts["forward"] < 0.41 and 1.19 < counts["train"] < 1.20
    assert counts["primary"] / counts["forward"] > 0.94


def test_model_gflops_without_decoder():
    counts = model_gflops(_initialized(with_decoder=False))
    assert counts["decoder"] == 0


@pytest.mark.filterwarnings("ignore:Parameter .* is not used by any computation")
@pytest.mark.parametrize("stage, shape", [("conv1", (2, 1, 20, 20)),
                                          ("primary", (2, 1, 8)),
                                          ("predictions", (2, 1, 1152, 16)),
                                          ("routing", (2, 10))])
def test_prefixes_end_where_their_stage_ends(stage, shape, hybridize):
    net = _initialized()
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    mask = mx.nd.one_hot(mx.nd.array([3, 5]), 10)
    prefix = Prefix(net, stage)
    if hybridize:
        prefix.hybridize()
    out = prefix(x)
    assert out.shape == shape
    if stage == "routing":
        np.testing.assert_allclose(out.asnumpy(), net(x, mask)[0].asnumpy(), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Parameter .* is not used by any computation")
def test_decoder_stage_is_the_networks_decoder(hybridize):
    net = _initialized()
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    mask = mx.nd.one_hot(mx.nd.array([3, 5]), 10)
    stage = DecoderStage(net)
    if hybridize:
        stage.hybridize()
    got = stage(net.capsules(x), mask)
    np.testing.assert_allclose(got.asnumpy()[:, 0], net(x, mask)[1].asnumpy(), rtol=1e-5)


@pytest.mark.parametrize("train", [False, True])
def test_stage_times_name_every_stage(train):
    net = _initialized()
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(shape=(2, 1, 28, 28))
    times = stage_times(net, x, mx.nd.one_hot(mx.nd.array([1, 2]), 10), train, steps=1)
    assert tuple(times) == STAGES
    assert sum(times.values()) > 0


def test_run_benchmark_reports_ratio_and_memory():
    result = run_benchmark(batch_size=2, mode="infer", steps=1, stages=False)
    assert result["images_per_s"] > 0 and result["images_per_s_inference_kernels"] > 0
    assert result["fraction_of_ceiling"] == pytest.approx(
        result["images_per_s"] / result["ceiling_images_per_s"])
    assert result["ceiling_images_per_s"] == pytest.approx(
        result["conv_gflops_per_s"]["forward"] / result["gflops"]["forward"])
    assert 0.1 < result["peak_memory_gib"] < 8
    assert result["capsule_ops"] == "fused"


def test_run_benchmark_rejects_bad_mode():
    with pytest.raises(ConfigError, match="--mode"):
        run_benchmark(mode="fast")
