"""``gluon-caps bench``: output, JSON, memory sweep, PyTorch comparison and bad input."""
import json
import sys

import pytest

from tests.cli.helpers import assert_input_error, assert_ok, invoke

TINY = ("--batch-size", 2, "--steps", 1)


def test_bench_table_names_ceiling_model_memory_and_stages():
    out = assert_ok(invoke("bench", "--mode", "train", *TINY))
    for fragment in ("ceiling:", "GFLOP/s forward", "images/s = ", "of the ceiling",
                     "peak resident", "conv1", "primary", "predictions", "routing", "decoder",
                     "loss + update"):
        assert fragment in out, fragment


def test_bench_json_imperative_with_routing_chunks():
    result = json.loads(assert_ok(invoke("bench", "--json", "--mode", "infer", "--no-hybridize",
                                         "--routing-chunks", 3, "--no-ceiling", *TINY)))
    assert result["hybridize"] is False and result["routing_chunks"] == 3
    assert "fraction_of_ceiling" not in result
    assert set(result["stages_ms"]) == {"conv1", "primary", "predictions", "routing", "decoder",
                                        "rest"}


@pytest.mark.slow
def test_bench_memory_sweep_runs_one_process_per_batch_size():
    result = json.loads(assert_ok(invoke("bench", "--json", "--no-stages", "--no-ceiling",
                                         "--memory-sweep", "1,4", *TINY)))
    assert sorted(result["memory_sweep_gib"]) == ["1", "4"]
    assert all(0.1 < peak < 8 for peak in result["memory_sweep_gib"].values())


def test_bench_compares_with_a_reference_script(tmp_path):
    script = tmp_path / "reference.py"
    script.write_text("import sys\nprint('torch_cpu_%s_img_per_s=4.0' % sys.argv[2])\n")
    result = json.loads(assert_ok(invoke("bench", "--json", "--no-stages", "--no-ceiling",
                                         "--torch-reference", script,
                                         "--torch-python", sys.executable, *TINY)))
    assert result["torch_images_per_s"] == 4.0
    assert result["speedup_over_torch"] == pytest.approx(result["images_per_s"] / 4.0)


@pytest.mark.parametrize("args, fragments", [
    (("--memory-sweep", "32,x"), ("--memory-sweep",)),
    (("--torch-reference", "missing.py"), ("--torch-reference", "missing.py")),
    (("--torch-reference", __file__, "--torch-python", "/no/such/python"),
     ("--torch-reference", "cannot run /no/such/python")),
    (("--model", "capsnet_nope"), ("capsnet_nope",)),
    (("--mode", "fast"), ("--mode",)),
    (("--batch-size", 0), ("--batch-size",)),
    (("--routing-chunks", 5000), ("--routing-chunks", "1152 primary capsules", "5000")),
])
def test_bench_bad_input(args, fragments):
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", *(TINY + args)),
                       *fragments)


def test_bench_reference_without_a_result_line_is_one_line(tmp_path):
    script = tmp_path / "quiet.py"
    script.write_text("print('hello')\n")
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--torch-reference",
                              script, "--torch-python", sys.executable, *TINY),
                       "printed no torch_<mode>_img_per_s= line")


def test_bench_failing_memory_sweep_is_one_line(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")      # every child process fails
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--memory-sweep", "1",
                              *TINY), "--memory-sweep at batch size 1 failed: exit code 1")


def test_bench_failing_reference_is_one_line(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit('no torch here')\n")
    assert_input_error(invoke("bench", "--no-stages", "--no-ceiling", "--torch-reference",
                              script, *TINY), "--torch-reference", "no torch here")
