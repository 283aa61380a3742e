"""``gluon-caps bench``: output, JSON, memory sweep, PyTorch comparison and bad input."""
import json
import sys

import pytest

from gluon_caps import ops
from gluon_caps.model_zoo import CapsNet, get_model

from tests.cli.helpers import assert_input_error, assert_ok, invoke
from tests.helpers import require_onnx
from tests.helpers import require_fused_ops
from tests.test_benchmark import use_clock

TINY = ("--batch-size", 2, "--steps", 1, "--rounds", 1)


def test_bench_table_names_ceiling_model_memory_and_stages(monkeypatch):
    use_clock(monkeypatch, 0.5)              # a step of 2 images and every stage: 0.5 s
    monkeypatch.setenv(ops.ENV_VAR, "0")     # batch_dot: predictions are a stage of their own
    out = assert_ok(invoke("bench", "--mode", "train", *TINY))
    for fragment in ("capsnet_mnist  1x28x28  train", "capsule ops: batch_dot\n",
                     "1152 primary capsules", "ceiling:", "GFLOP/s forward",
                     "model:      4.0 images/s = ", "of the ceiling", "peak resident",
                     "forward+backward, each timed alone", "conv1", "primary", "predictions",
                     "routing", "decoder", "loss + update",
                     "3000.0 against 500.0 for the whole step"):
        assert fragment in out, fragment


def test_bench_table_without_predictions(monkeypatch):
    require_fused_ops()
    use_clock(monkeypatch, 0.5)
    monkeypatch.setenv(ops.ENV_VAR, "1")
    out = assert_ok(invoke("bench", "--mode", "infer", *TINY))
    assert "capsule ops: fused (no predictions stored)" in out
    assert "predictions" not in out.replace("no predictions stored", "")
    assert "2500.0 against 500.0 for the whole forward pass" in out     # 4 stages and the rest


@pytest.mark.parametrize("size", [28, 36])
def test_bench_input_size_builds_the_architecture_for_that_size(monkeypatch, size):
    use_clock(monkeypatch, 0.5)
    result = json.loads(assert_ok(invoke("bench", "--json", "--no-stages", "--no-ceiling",
                                         "--input-size", size, *TINY)))
    expected = CapsNet(input_shape=(1, size, size))
    assert result["input_shape"] == [1, size, size]
    assert result["primary_capsules"] == expected.num_primary_capsules
    assert result["primary_capsules"] == (get_model("capsnet_mnist").num_primary_capsules
                                          if size == 28 else 3200)    # as the MultiMNIST network


def test_bench_json_imperative_with_batch_dot_predictions(monkeypatch):
    monkeypatch.setenv(ops.ENV_VAR, "0")     # the predictions computed, as on a GPU
    result = json.loads(assert_ok(invoke("bench", "--json", "--mode", "infer", "--no-hybridize",
                                         "--no-ceiling", *TINY)))
    assert result["hybridize"] is False and result["stores_predictions"] is True
    assert result["images_per_s"] > 0 and result["images_per_s_inference_kernels"] > 0
    assert "fraction_of_ceiling" not in result
    assert list(result["stages_ms"]) == ["conv1", "primary", "predictions", "routing",
                                         "decoder", "rest"]
    assert all(ms > 0 for ms in result["stages_ms"].values()), result["stages_ms"]


@pytest.mark.slow
def test_bench_memory_sweep_runs_one_process_per_batch_size():
    result = json.loads(assert_ok(invoke("bench", "--json", "--no-stages", "--no-ceiling",
                                         "--memory-sweep", "1,4", *TINY)))
    assert sorted(result["memory_sweep_gib"]) == ["1", "4"]
    assert all(0.1 < peak < 8 for peak in result["memory_sweep_gib"].values())


def test_bench_compares_with_a_reference_script(monkeypatch, tmp_path):
    use_clock(monkeypatch, 0.5)              # gluon-caps: 2 images in 0.5 s, 4 images/s
    script = tmp_path / "reference.py"
    script.write_text("import sys\n"
                      "open(sys.argv[0] + '.args', 'w').write(' '.join(sys.argv[1:]))\n"
                      "print('torch_cpu_%s_img_per_s=2.5' % sys.argv[2])\n")
    result = json.loads(assert_ok(invoke("bench", "--json", "--mode", "infer", "--no-stages",
                                         "--no-ceiling", "--torch-reference", script,
                                         "--torch-python", sys.executable, *TINY)))
    assert (tmp_path / "reference.py.args").read_text() == "--mode infer --batch 2 --steps 1"
    assert result["torch_images_per_s"] == 2.5
    assert result["speedup_over_torch"] == pytest.approx(1.6)


def test_bench_times_the_onnx_export_in_onnxruntime_on_the_same_batch(monkeypatch):
    require_onnx()
    use_clock(monkeypatch, 0.5)              # MXNet and onnxruntime: 2 images in 0.5 s each
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    args = ("bench", "--mode", "infer", "--onnxruntime", "--no-stages", "--no-ceiling") + TINY
    result = json.loads(assert_ok(invoke(*args, "--json")))
    assert result["onnxruntime_images_per_s"] == 4.0 and result["onnxruntime_threads"] == 1
    assert "onnxruntime: 4.0 images/s with 1 threads = 1.00x MXNet" in assert_ok(invoke(*args))


def test_bench_onnxruntime_needs_onnxruntime_before_any_timing(monkeypatch):
    use_clock(monkeypatch, None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)     # import onnxruntime fails
    assert_input_error(invoke("bench", "--mode", "infer", "--onnxruntime", *TINY),
                       "--onnxruntime needs onnxruntime", "gluon-caps[onnx]")


@pytest.mark.parametrize("args, fragments", [
    (("--memory-sweep", "32,x"), ("--memory-sweep",)),
    (("--torch-reference", "missing.py"), ("--torch-reference", "missing.py")),
    (("--torch-reference", __file__, "--torch-python", "/no/such/python"),
     ("--torch-reference", "cannot run /no/such/python")),
    (("--model", "capsnet_nope"), ("capsnet_nope",)),
    (("--mode", "fast"), ("--mode",)),
    (("--batch-size", 0), ("--batch-size",)),
    (("--rounds", 0), ("--rounds",)),
    (("--onnxruntime",), ("--onnxruntime", "--mode infer")),
    (("--onnxruntime", "--mode", "infer", "--no-hybridize"), ("--onnxruntime", "--hybridize")),
    (("--input-size", 16), ("input_shape (1, 16, 16) is too small",)),
    (("--input-size", 0), ("--input-size",)),
])
def test_bench_bad_input_is_reported_before_any_timing(monkeypatch, args, fragments):
    use_clock(monkeypatch, None)
    assert_input_error(invoke("bench", *(TINY + args)), *fragments)


def test_bench_reference_without_a_result_line_is_one_line(monkeypatch, tmp_path):
    use_clock(monkeypatch, 0.5)
    script = tmp_path / "quiet.py"
    script.write_text("print('hello')\n")
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--torch-reference",
                              script, "--torch-python", sys.executable, *TINY),
                       "printed no torch_<mode>_img_per_s= line")


def test_bench_failing_memory_sweep_is_one_line(monkeypatch):
    use_clock(monkeypatch, 0.5)
    monkeypatch.setattr(sys, "executable", "/bin/false")      # every child process fails
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--memory-sweep", "1",
                              *TINY), "--memory-sweep at batch size 1 failed: exit code 1")


def test_bench_failing_reference_is_one_line(monkeypatch, tmp_path):
    use_clock(monkeypatch, 0.5)
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit('no torch here')\n")
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--torch-reference",
                              script, *TINY), "--torch-reference", "no torch here")
