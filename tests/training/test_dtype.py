"""The ``dtype`` field of a run: bfloat16 training from the launcher, what may change on resume,
and the refusals (one line, exit code 2, nothing written)."""
import os
import subprocess

import mxnet as mx
import numpy as np
import pytest

from gluon_caps import amx
from gluon_caps.checkpoint import latest_checkpoint, read_state
from gluon_caps.errors import ConfigError
from gluon_caps.training import default_config, fit, resolve_config
from gluon_caps.training.distributed import SingleProcess
from gluon_caps.training.launcher import main

from tests.training.helpers import environment, horovodrun_command, tiny_flags
from tests.training.test_loop import log_of, tiny_config


def test_dtype_may_change_on_resume_and_old_checkpoints_resume_in_float32(tmp_path):
    config = resolve_config(None, {"dtype": "bfloat16"}, resumed=default_config(),
                            resume_dir=str(tmp_path))
    assert config["dtype"] == "bfloat16"
    old = {name: value for name, value in default_config().items() if name != "dtype"}
    assert resolve_config(None, {}, resumed=old, resume_dir=str(tmp_path))["dtype"] == "float32"


def test_bad_dtype_settings_name_the_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dtype: float16\n")
    with pytest.raises(ConfigError, match=r"dtype \(c.yaml\) must be one of float32, bfloat16"):
        resolve_config(str(path))
    with pytest.raises(ConfigError, match=r"dtype bfloat16 \(--dtype\) needs a hybridized "
                                          r"network, not --no-hybridize \(--hybridize\)"):
        resolve_config(None, {"dtype": "bfloat16", "hybridize": False})


def test_the_launcher_refuses_bfloat16_without_bfloat16_instructions(
        tmp_path, monkeypatch, capsys, tiny_mnist_root):
    monkeypatch.setattr(amx, "bfloat16_kernels", lambda flags=None: None)
    output = str(tmp_path / "run")
    assert main(tiny_flags(tiny_mnist_root, output, dtype="bfloat16")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("launch/train.py: error: --dtype bfloat16: "
                                                   "this CPU has neither AMX nor AVX-512 BF16")
    assert not os.path.exists(output)


@pytest.mark.slow
@pytest.mark.skipif(amx.bfloat16_kernels() is None, reason="this CPU has no bfloat16 kernels")
def test_a_bfloat16_run_logs_its_dtype_and_keeps_float32_checkpoints(tmp_path, tiny_mnist_root):
    output = tmp_path / "run"
    final = fit(tiny_config(tiny_mnist_root, output, epochs=1, max_steps=2, dtype="bfloat16"),
                comm=SingleProcess())
    records = log_of(output)
    assert [record["dtype"] for record in records] == ["bfloat16", "bfloat16"]
    assert final["dtype"] == "bfloat16" and np.isfinite(final["test_error"])
    assert np.isfinite(records[0]["train_loss"]) and records[0]["val_error"] is not None
    params = mx.nd.load(os.path.join(latest_checkpoint(str(output)), "model.params"))
    assert {array.dtype for array in params.values()} == {np.float32}


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.skipif(amx.bfloat16_kernels() is None, reason="this CPU has no bfloat16 kernels")
def test_two_horovod_workers_train_in_bfloat16(tmp_path, tiny_mnist_root, horovod):
    # Rank 0's parameters reach rank 1 after a first bfloat16 training-mode pass (broadcast).
    output = tmp_path / "run"
    result = subprocess.run(horovodrun_command(2) + tiny_flags(
        tiny_mnist_root, output, batch_size=8, max_steps=2, epochs=1, dtype="bfloat16"),
        env=environment(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_state(latest_checkpoint(str(output)))["step"] == 2
    assert [record["dtype"] for record in log_of(output)] == ["bfloat16", "bfloat16"]
