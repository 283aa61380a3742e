"""launch/train.py in one process: bad input, exact resume, signals, non-finite loss."""
import json
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

from gluon_caps.checkpoint import latest_checkpoint
from gluon_caps.checkpoint import list_checkpoints, read_state
from gluon_caps.model_zoo.pretrained import pretrained_file

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
    (["--lr", "nan"], ["lr (--lr) must be a finite number, got nan"]),
    (["--lr", "inf"], ["lr (--lr) must be a finite number, got inf"]),
    (["--lr-decay", "1.5"], ["lr_decay (--lr-decay) must be <= 1.0"]),
    (["--lr-decay", "inf"], ["lr_decay (--lr-decay) must be a finite number"]),
    (["--warmup-epochs", "-1"], ["warmup_epochs (--warmup-epochs) must be >= 0.0"]),
    (["--reconstruction-weight", "nan"], ["reconstruction_weight (--reconstruction-weight) must "
                                          "be a finite number"]),
    (["--config", "latin1.yaml"], ["config file latin1.yaml is not UTF-8 text"]),
    (["--initial-params", "missing.params"], ["cannot read", "missing.params"]),
    (["--initial-params", "other.params"], ["other.params does not hold the parameters of "
                                            "capsnet_mnist"]),
    (["--initial-params", "latin1.yaml"], ["latin1.yaml is not a readable MXNet parameter file"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, tiny_mnist_root, flags,
                                                         fragments):
    output = tmp_path / "run"
    (tmp_path / "latin1.yaml").write_bytes("epochs: 2  # d\xe9j\xe0\n".encode("latin-1"))
    mx.nd.save(str(tmp_path / "other.params"), {"dense0.weight": mx.nd.ones((2, 3))})
    result = run_train(tiny_flags(tiny_mnist_root, output) + flags, cwd=str(tmp_path))
    assert_one_line_error(result, *fragments)
    assert not output.exists()


@pytest.mark.parametrize("output", ["below-a-file/run", "/proc/gluon-caps-run"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, tiny_mnist_root, output):
    (tmp_path / "below-a-file").write_text("a regular file")
    result = run_train(tiny_flags(tiny_mnist_root, output), cwd=str(tmp_path))
    assert_one_line_error(result, "--output %s cannot be written" % output)


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


def test_resume_refuses_a_new_learning_rate_and_keeps_the_checkpoint(tmp_path,
                                                                     tiny_mnist_root):
    output = tmp_path / "run"
    assert run_train(tiny_flags(tiny_mnist_root, output, epochs=1)).returncode == 0
    before = list_checkpoints(str(output))
    result = run_train(tiny_flags(tiny_mnist_root, output, epochs=2) + [
        "--resume", str(output), "--lr", "0.5"])
    assert_one_line_error(result, "--lr cannot change on --resume", "0.5")
    assert list_checkpoints(str(output)) == before


@pytest.mark.parametrize("initial", ["pretrained", pretrained_file("capsnet_mnist")])
def test_a_run_starts_from_the_initial_params_it_is_given(tmp_path, tiny_mnist_root, initial):
    """One step of a learning rate of 1e-12 moves no parameter by more than 1e-11 (Adam's step
    is about the learning rate): the run's parameters are the shipped weights'."""
    output = tmp_path / "run"
    result = run_train(tiny_flags(tiny_mnist_root, output, max_steps=1, lr=1e-12, val_size=0,
                                  initial_params=initial))
    assert result.returncode == 0, result.stderr
    assert "from %s" % pretrained_file("capsnet_mnist") in result.stderr
    shipped = mx.nd.load(pretrained_file("capsnet_mnist"))
    trained = final_params(str(output))
    assert sorted(trained) == sorted(shipped)
    for name, value in shipped.items():
        np.testing.assert_allclose(trained[name], value.asnumpy(), rtol=0, atol=1e-11,
                                   err_msg=name)


def one_epoch_run(tmp_path, root, name="run"):
    output = tmp_path / name
    assert run_train(tiny_flags(root, output, epochs=1)).returncode == 0
    return output, list_checkpoints(str(output))


@pytest.fixture
def small_disk(tmp_path):
    """A 150 MB tmpfs: room for one checkpoint of capsnet_mnist (94 MB), not two."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150M", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here: %s" % made.stderr.strip())
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_one_line_naming_the_checkpoint_and_keeps_the_last_one(
        small_disk, tiny_mnist_root):
    output = small_disk / "run"
    result = run_train(tiny_flags(tiny_mnist_root, output, epochs=2))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("launch/train.py: stopped: cannot write checkpoint %s"
                                % (output / "checkpoints" / "epoch-0002-step-00000008"))
    assert "MB are free there; the previous checkpoints stay" in lines[-1]
    assert "Traceback" not in result.stderr
    assert [read_state(path)["step"] for path in list_checkpoints(str(output))] == [4]
    assert os.listdir(str(output / "checkpoints")) == ["epoch-0001-step-00000004"]


def test_resume_into_another_output_is_refused_and_writes_nothing(tmp_path, tiny_mnist_root):
    first, kept = one_epoch_run(tmp_path, tiny_mnist_root, "a")
    second, other = one_epoch_run(tmp_path, tiny_mnist_root, "b")
    config_b = (second / "config.json").read_text()
    result = run_train(["--resume", str(first), "--output", str(second), "--epochs", "2"])
    assert_one_line_error(result, "--output %s differs from --resume %s" % (second, first))
    assert list_checkpoints(str(first)) == kept and list_checkpoints(str(second)) == other
    assert (second / "config.json").read_text() == config_b


def test_resume_with_another_config_file_is_refused(tmp_path, tiny_mnist_root):
    output, kept = one_epoch_run(tmp_path, tiny_mnist_root)
    other = tmp_path / "other.yaml"
    other.write_text("dataset: mnist-t10k\nbatch_size: 32\n")
    result = run_train(["--resume", str(output), "--config", str(other)])
    assert_one_line_error(result, "--dataset cannot change on --resume", "other.yaml asks")
    assert list_checkpoints(str(output)) == kept


def test_resume_with_only_damaged_checkpoints_is_one_line(tmp_path, tiny_mnist_root):
    output, (path,) = one_epoch_run(tmp_path, tiny_mnist_root)
    with open(os.path.join(path, "model.params"), "r+b") as handle:
        handle.truncate(64)
    result = run_train(["--resume", str(output), "--epochs", "2"])
    assert_one_line_error(result, "--resume %s: no intact checkpoint" % output,
                          "model.params is not a readable MXNet parameter file")


def test_resume_cleans_partial_checkpoints_and_starts_reliably_many_times(
        tmp_path, tiny_mnist_root):
    """Resume after resume, one step each (once in ~45 resumes crashed before a fix)."""
    output = tmp_path / "run"
    assert run_train(tiny_flags(tiny_mnist_root, output, epochs=100, max_steps=1)).returncode == 0
    partial = output / "checkpoints" / ".partial-epoch-0000-step-00000002-999"
    partial.mkdir()
    (partial / "model.params").write_bytes(b"\0" * 1024)
    for step in range(2, 14):
        result = run_train(["--resume", str(output), "--max-steps", str(step)])
        assert result.returncode == 0, (step, result.stderr)
        assert not partial.exists()
    assert read_state(latest_checkpoint(str(output)))["step"] == 13


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
    assert "the loss or a gradient of step 2 (epoch 2) is not finite; that step was not " \
        "applied, so the parameters are those after step 1" in result.stderr
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
    from gluon_caps.check import default_threads
    environ = {"HOROVOD_LOCAL_SIZE": "2"}
    default_threads(environ)
    assert environ["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    environ = {"OMP_NUM_THREADS": "7", "HOROVOD_LOCAL_SIZE": "2"}
    default_threads(environ)
    assert environ["OMP_NUM_THREADS"] == "7"


def test_lost_worker_errors_are_recognised():
    from gluon_caps.training.distributed import is_lost_worker as _is_lost_worker
    gloo = ("[/tmp/horovod/third_party/gloo/gloo/transport/tcp/pair.cc:598] Connection closed "
            "by peer [127.0.0.1]:18818")
    assert _is_lost_worker(RuntimeError(gloo))
    assert _is_lost_worker(RuntimeError("Horovod has been shut down. This was caused by ..."))
    assert not _is_lost_worker(RuntimeError("out of memory"))
