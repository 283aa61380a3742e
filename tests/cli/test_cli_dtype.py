"""``--dtype`` of ``evaluate``, ``export``, ``predict`` and ``bench``: bfloat16 where the CPU has
it, a bfloat16 export that plain MXNet runs, and one clear line where it cannot be."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon_caps import amx, ops
from gluon_caps.inference import load_checkpoint
from gluon_caps.precision import inference_network

from tests.cli.helpers import assert_input_error, assert_ok, invoke, write_checkpoint
from tests.helpers import symbol_operators
from tests.test_benchmark import use_clock
from tests.training.helpers import write_mnist_root

BF16 = amx.bfloat16_kernels() is not None
needs_bf16 = pytest.mark.skipif(not BF16, reason="this CPU has no bfloat16 instructions")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ("--batch-size", 2, "--steps", 1, "--rounds", 1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """An untrained capsnet_mnist checkpoint over 16 random test digits."""
    rng = np.random.RandomState(5)
    images = rng.randint(0, 256, (48, 28, 28)).astype(np.uint8)
    labels = (np.arange(48) % 10).astype(np.uint8)
    root = write_mnist_root(tmp_path_factory.mktemp("digits"), (images[:32], labels[:32]),
                            (images[32:], labels[32:]))
    run_dir = tmp_path_factory.mktemp("untrained") / "run"
    mx.random.seed(2)
    write_checkpoint(run_dir, data_root=root)
    return str(run_dir)


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    """Four images as .npy files, and the images."""
    images = np.random.RandomState(6).uniform(size=(4, 1, 28, 28)).astype(np.float32)
    directory = tmp_path_factory.mktemp("arrays")
    paths = [str(directory / ("image-%d.npy" % index)) for index in range(len(images))]
    for path, image in zip(paths, images):
        np.save(path, image)
    return paths, images


@pytest.fixture(scope="module")
def bf16_export(tmp_path_factory, run):
    if not BF16:
        pytest.skip("this CPU has no bfloat16 instructions")
    prefix = str(tmp_path_factory.mktemp("export") / "capsnet-bf16")
    assert_ok(invoke("export", run, prefix, "--dtype", "bfloat16"))
    return prefix


def lengths_of(run, images, dtype):
    loaded = load_checkpoint(run, mx.cpu())
    inference_network(loaded.net, dtype)
    return loaded.net(mx.nd.array(images))[0].asnumpy()


@needs_bf16
def test_evaluate_in_bfloat16_scores_the_same_images(run):
    reports = {dtype: json.loads(assert_ok(invoke("evaluate", run, "--json", "--ctx", "cpu",
                                                  "--dtype", dtype)))
               for dtype in ("float32", "bfloat16")}
    assert reports["bfloat16"]["dtype"] == "bfloat16" and reports["float32"]["dtype"] == "float32"
    assert reports["bfloat16"]["count"] == reports["float32"]["count"] == 16
    table = assert_ok(invoke("evaluate", run, "--ctx", "cpu", "--dtype", "bfloat16"))
    assert "dtype:      bfloat16" in table


# A client that has MXNet and the exported files, and never imports gluon-caps.
CLIENT = r"""
import sys
import mxnet as mx
import numpy as np
prefix = sys.argv[1]
x = mx.nd.array(np.load(prefix + "-input.npy"))
block = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
lengths = block(x)[0].asnumpy()
symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, 0)
module = mx.mod.Module(symbol, data_names=["data"], label_names=None, context=mx.cpu())
module.bind(data_shapes=[("data", x.shape)], for_training=False)
module.set_params(arg_params, aux_params)
module.forward(mx.io.DataBatch([x]), is_train=False)
assert "gluon_caps" not in sys.modules, "the client imported gluon_caps"
np.savez(prefix + "-client.npz", gluon=lengths, module=module.get_outputs()[0].asnumpy())
"""


def test_a_bfloat16_export_runs_in_plain_mxnet(bf16_export, run, arrays):
    with open(bf16_export + "-meta.json") as handle:
        assert json.load(handle)["dtype"] == "bfloat16"
    operators = symbol_operators(bf16_export)
    assert {"amp_cast", "Convolution", "batch_dot"} <= operators
    assert not operators & set(ops.FUSED_OPERATORS)
    with open(bf16_export + "-symbol.json") as handle:
        nodes = json.load(handle)["nodes"]
    convolutions = [node for node in nodes if node["op"] == "Convolution"]
    assert len(convolutions) == 2
    casts = convolutions[0]["inputs"][:1]
    for node in convolutions:                 # weights and biases: float32 cast to bfloat16...
        casts += node["inputs"][1:]
    for entry in casts:                       # ...and conv1's image (conv1's ReLU feeds primary)
        assert nodes[entry[0]]["op"] == "amp_cast", nodes[entry[0]]["name"]
        assert nodes[entry[0]]["attrs"]["dtype"] == "bfloat16"
    images = arrays[1]
    np.save(bf16_export + "-input.npy", images)
    env = {key: value for key, value in os.environ.items() if key != "DNNL_MAX_CPU_ISA"}
    client = subprocess.run([sys.executable, "-I", "-c", CLIENT, bf16_export],
                            capture_output=True, text=True, timeout=600,
                            env=dict(env, OMP_NUM_THREADS="1"))
    assert client.returncode == 0, client.stderr
    got = np.load(bf16_export + "-client.npz")
    expected = lengths_of(run, images, "bfloat16")
    exact = lengths_of(run, images, "float32")
    for api in ("gluon", "module"):
        np.testing.assert_allclose(got[api], expected, rtol=1e-2, atol=1e-3, err_msg=api)
        np.testing.assert_allclose(got[api], exact, rtol=3e-2, atol=3e-3, err_msg=api)
        assert not np.array_equal(got[api], exact)            # it did compute in bfloat16


def test_predict_in_bfloat16_from_a_checkpoint_and_an_export(bf16_export, run, arrays):
    paths, images = arrays
    exact = lengths_of(run, images, "float32")
    for model, extra in ((run, ("--dtype", "bfloat16")), (bf16_export, ())):
        result = json.loads(assert_ok(invoke("predict", model, *paths, "--json", "--ctx", "cpu",
                                             *extra)))
        lengths = np.array([row["lengths"] for row in result["predictions"]])
        np.testing.assert_allclose(lengths, exact, rtol=3e-2, atol=3e-3)
    assert_input_error(invoke("predict", bf16_export, *paths, "--dtype", "float32"),
                       "--dtype float32: the export", "computes in bfloat16",
                       "export the checkpoint again with --dtype float32")


@needs_bf16
def test_bench_reports_both_ceilings_in_bfloat16(monkeypatch):
    use_clock(monkeypatch, 0.5)                  # every timing: 0.5 s for 2 images
    result = json.loads(assert_ok(invoke("bench", "--json", "--mode", "infer", "--dtype",
                                         "bfloat16", *TINY)))
    assert result["dtype"] == "bfloat16" and result["dense_dtype"] == "float32"
    assert result["images_per_s"] == 4.0
    low = result["low_precision_ceiling"]
    assert low["dtype"] == "bfloat16"
    assert low["fraction_of_ceiling"] == pytest.approx(4.0 / low["ceiling_images_per_s"])
    assert result["fraction_of_ceiling"] == pytest.approx(4.0 / result["ceiling_images_per_s"])
    assert result["float32_images_per_s"] == 4.0 and result["speedup_over_float32"] == 1.0
    assert list(result["stages_ms"]) == (["conv1", "primary"]
                                         + ["predictions"] * result["stores_predictions"]
                                         + ["routing", "decoder", "rest"])
    table = assert_ok(invoke("bench", "--mode", "train", "--dtype", "bfloat16", "--bf16-dense",
                             "--no-stages", *TINY))
    for fragment in ("bfloat16 convolutions and dense layers", "(float32)", "the same in "
                     "bfloat16", "of the bfloat16 ceiling",
                     "= 1.00x the same network in float32 (4.0 images/s, this run)"):
        assert fragment in table, fragment


@pytest.mark.parametrize("args", [("evaluate", "RUN"), ("export", "RUN", "PREFIX"),
                                  ("predict", "RUN", "IMAGE"), ("bench", "--no-stages") + TINY])
def test_bfloat16_is_refused_in_one_line_without_bfloat16_instructions(
        monkeypatch, tmp_path, run, arrays, args):
    monkeypatch.setattr(amx, "bfloat16_kernels", lambda flags=None: None)
    names = {"RUN": run, "PREFIX": str(tmp_path / "export"), "IMAGE": arrays[0][0]}
    result = invoke(*[names.get(arg, arg) for arg in args], "--dtype", "bfloat16")
    assert_input_error(result, "--dtype bfloat16: this CPU has neither AMX nor AVX-512 BF16",
                       "use --dtype float32")
    assert not os.path.exists(names["PREFIX"] + "-symbol.json")


def test_a_bfloat16_export_is_refused_where_it_cannot_run(bf16_export, arrays, monkeypatch):
    monkeypatch.setattr(amx, "bfloat16_kernels", lambda flags=None: None)
    assert_input_error(invoke("predict", bf16_export, arrays[0][0]),
                       "computes in bfloat16, but this CPU has neither AMX nor AVX-512 BF16",
                       "export the checkpoint again with --dtype float32")


@pytest.mark.parametrize("args, fragments", [
    (("evaluate", "RUN", "--dtype", "float16"), ("--dtype",)),
    (("bench", "--dtype", "bfloat16", "--no-hybridize") + TINY,
     ("--dtype bfloat16 needs a hybridized network, not --no-hybridize",)),
])
def test_bad_dtype_options(run, args, fragments):
    if "bench" in args and not BF16:
        pytest.skip("this CPU has no bfloat16 instructions")
    assert_input_error(invoke(*[run if arg == "RUN" else arg for arg in args]), *fragments)
