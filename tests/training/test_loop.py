"""The training loop in-process: fit, exact resume with augmentation, the best checkpoint's test
score, same-seed runs across DataLoader worker processes."""
import json
import os
import signal
import time

import mxnet as mx
import numpy as np
import pytest

from gluon_caps.checkpoint import list_checkpoints, read_resume_point, read_state
from gluon_caps.errors import ConfigError
from gluon_caps.training import fit, loop, resolve_config
from gluon_caps.training.loop import learning_rate_schedule
from gluon_caps.training.distributed import SingleProcess

pytestmark = pytest.mark.slow


def tiny_config(root, output, **fields):
    """A small run with augmentation on (seeded by seed, epoch and sample index)."""
    flags = dict(model="capsnet_mnist", dataset="mnist", data_root=root, output=str(output),
                 batch_size=16, epochs=2, val_size=32, num_workers=0, seed=3)
    flags.update(fields)
    return resolve_config(None, flags)


def params_of(run_dir):
    arrays = mx.nd.load(os.path.join(list_checkpoints(str(run_dir))[-1], "model.params"))
    return {name: array.asnumpy() for name, array in arrays.items()}


def largest_difference(first, second):
    assert sorted(first) == sorted(second)
    return max(np.abs(first[name] - second[name]).max() for name in first)


def log_of(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def resume(run_dir, **fields):
    point = read_resume_point(SingleProcess(), str(run_dir))
    config = resolve_config(None, fields, point.state["config"], str(run_dir))
    return fit(config, point, SingleProcess())


def test_fit_logs_epochs_and_scores_the_best_validation_checkpoint_once(
        tmp_path, tiny_mnist_root):
    output = tmp_path / "run"
    final = fit(tiny_config(tiny_mnist_root, output, epochs=3), comm=SingleProcess())
    records = log_of(output)
    assert [record.get("epoch") for record in records[:3]] == [1, 2, 3]
    assert [record for record in records if record.get("final")] == [final]
    best = min(range(3), key=lambda index: (records[index]["val_error"], -index))
    assert final["checkpoint"] == "checkpoints/epoch-%04d-step-%08d" % (best + 1, 4 * (best + 1))
    assert final["test_images"] == 32 and final["step"] == 12


def test_a_run_resumed_mid_epoch_is_the_run_it_continues(tmp_path, tiny_mnist_root):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    fit(tiny_config(tiny_mnist_root, straight, epochs=3), comm=SingleProcess())
    fit(tiny_config(tiny_mnist_root, resumed, epochs=3, max_steps=6), comm=SingleProcess())
    assert read_state(list_checkpoints(str(resumed))[-1])["epoch_step"] == 2
    resume(resumed, max_steps=12)
    assert largest_difference(params_of(straight), params_of(resumed)) == 0.0
    epochs = [record for record in log_of(straight) if record.get("complete_epoch")]
    again = [record for record in log_of(resumed) if record.get("complete_epoch")]
    assert len(epochs) == len(again) == 3
    for first, second in zip(epochs, again):
        assert (first["train_loss"], first["val_error"]) == (second["train_loss"],
                                                             second["val_error"])


def test_a_stop_signal_saves_the_last_applied_step_at_once_and_resume_continues_exactly(
        tmp_path, tiny_mnist_root, monkeypatch):
    """The signal arrives as step 2 begins; that step waits until the checkpoint is on disk (a
    stop that saved only after the step would never write it) and is not applied."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    fit(tiny_config(tiny_mnist_root, straight, epochs=1), comm=SingleProcess())
    steps, real_step = [], loop._step

    def step_signalled_at_the_second(run, batch):
        steps.append(time.time())
        if len(steps) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            while not list_checkpoints(str(stopped)) and time.time() < steps[-1] + 60:
                time.sleep(0.05)
        return real_step(run, batch)

    monkeypatch.setattr(loop, "_step", step_signalled_at_the_second)
    monkeypatch.setattr(loop, "STOP_DEADLINE_S", 600.0)     # the main thread ends the run
    result = fit(tiny_config(tiny_mnist_root, stopped, epochs=1), comm=SingleProcess())
    assert result["stopped"] and result["step"] == 1, result
    assert [read_state(path)["step"] for path in list_checkpoints(str(stopped))] == [1]
    assert time.time() - steps[1] < 30
    monkeypatch.setattr(loop, "_step", real_step)
    resume(stopped)
    assert largest_difference(params_of(straight), params_of(stopped)) == 0.0


def test_the_same_seed_trains_the_same_network_with_dataloader_worker_processes(
        tmp_path, tiny_mnist_root):
    runs = {}
    for name, workers, seed in (("inline", 0, 3), ("workers", 2, 3), ("other", 0, 4)):
        fit(tiny_config(tiny_mnist_root, tmp_path / name, epochs=1, num_workers=workers,
                        seed=seed, val_size=0), comm=SingleProcess())
        runs[name] = params_of(tmp_path / name)
    assert largest_difference(runs["inline"], runs["workers"]) == 0.0
    assert largest_difference(runs["inline"], runs["other"]) > 1e-3


def test_an_epoch_checkpointed_before_its_validation_is_validated_on_resume(
        tmp_path, tiny_mnist_root):
    output = tmp_path / "run"
    fit(tiny_config(tiny_mnist_root, output, epochs=1), comm=SingleProcess())
    path = list_checkpoints(str(output))[-1]
    state = read_state(path)
    validated = state["history"].pop()
    state["pending"] = {key: value for key, value in validated.items() if key != "val_error"}
    state["val_error"] = None
    with open(os.path.join(path, "state.json"), "w") as handle:
        json.dump(state, handle)
    (output / "log.jsonl").write_text("")                  # as if killed before validating
    resume(output, epochs=2)
    records = log_of(output)
    assert [record.get("epoch") for record in records] == [1, 2, None]
    assert records[0]["val_error"] == validated["val_error"]
    assert read_state(path)["val_error"] == validated["val_error"]


@pytest.mark.parametrize("workers, scaling, scaled",
                         [(1, "none", 0.01), (4, "linear", 0.04), (4, "sqrt", 0.02)])
def test_the_learning_rate_warms_up_linearly_then_decays_every_n_steps(
        workers, scaling, scaled):
    config = resolve_config(overrides={"lr": 0.01, "lr_scaling": scaling, "warmup_epochs": 0.4,
                                       "lr_decay": 0.5, "lr_decay_steps": 5})
    schedule = learning_rate_schedule(config, workers, steps_per_epoch=10)   # 4 warm-up steps
    got = [schedule(step) for step in range(1, 17)]
    expected = [scaled * step / 4 for step in (1, 2, 3)] + [
        scaled * 0.5 ** ((step - 1) // 5) for step in range(4, 17)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    without = learning_rate_schedule(resolve_config(overrides={"lr": 0.01}), 1, 10)
    assert without(1) == 0.01 and without(2000) == 0.01 and without(2001) == 0.01 * 0.96


def test_initial_params_pretrained_of_a_model_without_weights_names_the_option():
    with pytest.raises(ConfigError, match="--initial-params pretrained: model capsnet_smallnorb "
                                          "has no pretrained weights"):
        loop.initial_params_file({"initial_params": "pretrained", "model": "capsnet_smallnorb"})


@pytest.mark.parametrize("changed", [{"seed": 1}, {"val_size": 4000}])
def test_initial_params_pretrained_refuse_a_validation_split_they_were_trained_on(changed):
    config = dict(resolve_config(overrides={"initial_params": "pretrained"}), **changed)
    with pytest.raises(ConfigError, match="validation would flatter them: keep --seed 0 "
                                          "--val-size 5000"):
        loop.initial_params_file(config)
    assert loop.initial_params_file(dict(config, val_size=0)).endswith("capsnet_mnist.params")
    assert loop.initial_params_file(dict(config, seed=0, val_size=5000)).endswith(
        "capsnet_mnist.params")
