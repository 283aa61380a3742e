"""launch/train.py in one process: bad input, exact resume, signals, non-finite loss."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gluon_caps.training import latest_checkpoint
from gluon_caps.training.checkpoint import list_checkpoints, read_state

from tests.training.helpers import TRAIN, environment, final_params, run_train, tiny_flags

pytestmark = pytest.mark.slow


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("launch/train.py: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("flags, fragments", [
    (["--model", "capsnet_cifar"], ["unknown model 'capsnet_cifar'", "capsnet_mnist"]),
    (["--epochs", "-1"], ["epochs (--epochs) must be >= 1"]),
    (["--config", "missing.yaml"], ["cannot read config file missing.yaml"]),
    (["--model", "capsnet_multimnist"], ["gives 1x28x28 images but model capsnet_multimnist"]),
    (["--batch-size", "1000"], ["--batch-size 1000 is larger than a worker's 64"]),
    (["--seeds", "a,b"], ["--seeds must be comma-separated"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, tiny_mnist_root, flags,
                                                         fragments):
    output = tmp_path / "run"
    result = run_train(tiny_flags(tiny_mnist_root, output) + flags, cwd=str(tmp_path))
    assert_one_line_error(result, *fragments)
    assert not output.exists()


def test_missing_data_names_the_file(tmp_path):
    output = tmp_path / "run"
    result = run_train(tiny_flags(str(tmp_path / "empty"), output))
    assert_one_line_error(result, "train-images-idx3-ubyte", "GLUON_CAPS_DATA")
    assert not output.exists()


def test_unknown_flag_is_a_usage_error(tiny_mnist_root, tmp_path):
    result = run_train(tiny_flags(tiny_mnist_root, tmp_path / "run") + ["--learning-rate", "1"])
    assert result.returncode == 2 and "unrecognized arguments: --learning-rate" in result.stderr


def test_run_writes_log_checkpoints_and_a_final_line(tmp_path, tiny_mnist_root):
    output = tmp_path / "run"
    result = run_train(tiny_flags(tiny_mnist_root, output))
    assert result.returncode == 0, result.stderr
    final = [line for line in result.stdout.splitlines() if '"final": true' in line]
    assert len(final) == 1 and '"test_error"' in final[0] and '"images_per_s"' in final[0]
    log = (output / "log.jsonl").read_text().splitlines()
    assert len(log) == 3                                  # two epochs, then the final record
    assert [read_state(path)["epoch"] for path in list_checkpoints(str(output))] == [1, 2]
    again = run_train(tiny_flags(tiny_mnist_root, output))
    assert_one_line_error(again, "already holds checkpoints", "--resume")


def test_resume_after_an_epoch_matches_an_uninterrupted_run(tmp_path, tiny_mnist_root):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_train(tiny_flags(tiny_mnist_root, straight, epochs=3)).returncode == 0
    assert run_train(tiny_flags(tiny_mnist_root, resumed, epochs=1)).returncode == 0
    result = run_train(tiny_flags(tiny_mnist_root, resumed, epochs=3) + ["--resume",
                                                                         str(resumed)])
    assert result.returncode == 0, result.stderr
    expected, got = final_params(str(straight)), final_params(str(resumed))
    assert sorted(expected) == sorted(got)
    worst = max(np.abs(expected[name] - got[name]).max() for name in expected)
    assert worst <= 1e-6, worst
    assert read_state(latest_checkpoint(str(resumed)))["step"] == 12


def test_resume_refuses_a_new_learning_rate_and_keeps_the_checkpoint(tmp_path,
                                                                     tiny_mnist_root):
    output = tmp_path / "run"
    assert run_train(tiny_flags(tiny_mnist_root, output, epochs=1)).returncode == 0
    before = list_checkpoints(str(output))
    result = run_train(tiny_flags(tiny_mnist_root, output, epochs=2) + [
        "--resume", str(output), "--lr", "0.5"])
    assert_one_line_error(result, "--lr cannot change on --resume", "0.5")
    assert list_checkpoints(str(output)) == before


def test_resume_of_a_directory_without_checkpoints_is_exit_2(tmp_path, tiny_mnist_root):
    result = run_train(tiny_flags(tiny_mnist_root, tmp_path / "run")
                       + ["--resume", str(tmp_path)])
    assert_one_line_error(result, "--resume %s" % tmp_path, "no complete gluon-caps checkpoint")


def test_sigterm_finishes_the_step_checkpoints_and_resumes(tmp_path, tiny_mnist_root):
    output = tmp_path / "run"
    process = subprocess.Popen([sys.executable, TRAIN] + tiny_flags(
        tiny_mnist_root, output, epochs=200, batch_size=8, val_size=80),
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while latest_checkpoint(str(output)) is None and time.time() < deadline:
        time.sleep(0.5)                                   # wait until a first epoch is done
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "stopped by a signal" in stderr and "--resume" in stderr
    stopped_at = read_state(latest_checkpoint(str(output)))
    assert 2 <= stopped_at["step"] < 400
    result = run_train(tiny_flags(tiny_mnist_root, output, epochs=stopped_at["epoch"] + 1,
                                  batch_size=8, val_size=80) + ["--resume", str(output)])
    assert result.returncode == 0, result.stderr
    assert read_state(latest_checkpoint(str(output)))["step"] == 2 * (stopped_at["epoch"] + 1)


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_checkpoint(tmp_path,
                                                                        tiny_mnist_root):
    output = tmp_path / "run"
    # One step per epoch: epoch 1 ends with a checkpoint; the 1e30 step makes step 2 overflow.
    result = run_train(tiny_flags(tiny_mnist_root, output, batch_size=64, epochs=3, lr=1e30))
    assert result.returncode == 1, result.stderr
    assert "non-finite loss at step 2" in result.stderr
    checkpoints = list_checkpoints(str(output))
    assert [read_state(path)["step"] for path in checkpoints] == [1]


def test_seeds_run_one_trial_each_and_report_mean_and_std(tmp_path, tiny_mnist_root):
    output = tmp_path / "trials"
    result = run_train(tiny_flags(tiny_mnist_root, output, epochs=1, max_steps=1)
                       + ["--seeds", "0,1"])
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["seeds"] == [0, 1] and len(summary["test_errors"]) == 2
    assert summary["test_error_mean"] == pytest.approx(np.mean(summary["test_errors"]))
    assert summary["test_error_std"] == pytest.approx(np.std(summary["test_errors"], ddof=1))
    assert "test error over 2 seeds" in result.stderr
    for seed in (0, 1):
        assert read_state(latest_checkpoint(str(output / ("seed-%d" % seed))))["config"][
            "seed"] == seed


def test_default_threads_share_the_cores_between_local_workers():
    from launch.train import default_threads
    environ = {"HOROVOD_LOCAL_SIZE": "2"}
    default_threads(environ)
    assert environ["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    environ = {"OMP_NUM_THREADS": "7", "HOROVOD_LOCAL_SIZE": "2"}
    default_threads(environ)
    assert environ["OMP_NUM_THREADS"] == "7"


def test_lost_worker_errors_are_recognised():
    from launch.train import _is_lost_worker
    gloo = ("[/tmp/horovod/third_party/gloo/gloo/transport/tcp/pair.cc:598] Connection closed "
            "by peer [127.0.0.1]:18818")
    assert _is_lost_worker(RuntimeError(gloo))
    assert _is_lost_worker(RuntimeError("Horovod has been shut down. This was caused by ..."))
    assert not _is_lost_worker(RuntimeError("out of memory"))
