import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_caps import checkpoint
from gluon_caps.errors import CheckpointError
from gluon_caps.training.distributed import SingleProcess
from gluon_caps.checkpoint import (best_checkpoint, find_checkpoint, latest_checkpoint,
                                   list_checkpoints, read_state, save_checkpoint)


@pytest.fixture
def net_and_trainer():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.1}, kvstore=None)
    with mx.autograd.record():
        loss = net(mx.nd.ones((2, 4))).sum()
    loss.backward()
    trainer.step(2)
    return net, trainer


def state(step, val_error=None):
    return {"epoch": step, "step": step, "val_error": val_error, "config": {"model": "m"}}


def test_checkpoint_holds_params_states_and_state(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    path = save_checkpoint(str(tmp_path), net, trainer, state(1, 0.5))
    assert sorted(os.listdir(path)) == ["model.params", "optimizer.params", "state.json"]
    assert read_state(path)["val_error"] == 0.5
    restored = gluon.nn.Dense(3, in_units=4)
    restored.load_parameters(os.path.join(path, "model.params"))
    np.testing.assert_array_equal(restored.weight.data().asnumpy(), net.weight.data().asnumpy())


def test_keeps_the_last_n_and_the_best(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    for step, error in zip(range(1, 7), [0.9, 0.1, 0.5, 0.4, 0.6, 0.7]):
        save_checkpoint(str(tmp_path), net, trainer, state(step, error), keep=2)
    kept = [read_state(path)["step"] for path in list_checkpoints(str(tmp_path))]
    assert kept == [2, 5, 6]
    assert read_state(best_checkpoint(str(tmp_path)))["step"] == 2
    assert read_state(latest_checkpoint(str(tmp_path)))["step"] == 6
    assert find_checkpoint(str(tmp_path)) == best_checkpoint(str(tmp_path))
    assert find_checkpoint(str(tmp_path), prefer="latest") == latest_checkpoint(str(tmp_path))


def test_a_full_disk_names_the_directory_and_keeps_the_last_good_checkpoint(
        tmp_path, net_and_trainer, monkeypatch):
    net, trainer = net_and_trainer
    good = save_checkpoint(str(tmp_path), net, trainer, state(1))

    def disk_full(path, arrays):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.mx.nd, "save", disk_full)
    with pytest.raises(CheckpointError) as error:
        save_checkpoint(str(tmp_path), net, trainer, state(2))
    message = str(error.value)
    assert "epoch-0002-step-00000002" in message and "No space left on device" in message
    assert "MB are free there" in message and "\n" not in message
    assert list_checkpoints(str(tmp_path)) == [good]
    assert os.listdir(str(tmp_path / "checkpoints")) == [os.path.basename(good)]


def test_saving_the_same_step_again_replaces_it(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    save_checkpoint(str(tmp_path), net, trainer, state(1, 0.5))
    path = save_checkpoint(str(tmp_path), net, trainer, state(1, 0.25))
    assert list_checkpoints(str(tmp_path)) == [path]
    assert read_state(path)["val_error"] == 0.25


def test_find_checkpoint_accepts_a_checkpoint_dir_or_a_file_in_it(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    path = save_checkpoint(str(tmp_path), net, trainer, state(1))
    assert find_checkpoint(path) == path
    assert find_checkpoint(os.path.join(path, "model.params")) == path


def test_find_checkpoint_errors_name_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere does not exist"):
        find_checkpoint(str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointError, match="holds no complete gluon-caps checkpoint"):
        find_checkpoint(str(tmp_path))


def test_corrupt_state_is_a_checkpoint_error(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    path = save_checkpoint(str(tmp_path), net, trainer, state(1))
    with open(os.path.join(path, "state.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(CheckpointError, match="state.json is not valid JSON"):
        read_state(path)
    with open(os.path.join(path, "state.json"), "w") as handle:
        json.dump({"epoch": 1}, handle)
    with pytest.raises(CheckpointError, match="lacks the config and step"):
        read_state(path)


def adam_pair():
    """Two identical Dense(3) networks with Adam trainers."""
    pairs = []
    for _ in range(2):
        net = gluon.nn.Dense(3, in_units=4)
        net.initialize(mx.init.Constant(0.1))
        pairs.append((net, gluon.Trainer(net.collect_params(), "adam",
                                         {"learning_rate": 0.1, "lr_scheduler":
                                          mx.lr_scheduler.FactorScheduler(2, 0.5, base_lr=0.1)})))
    return pairs


def adam_step(net, trainer, scale):
    with mx.autograd.record():
        loss = (net(mx.nd.ones((2, 4)) * scale) ** 2).sum()
    loss.backward()
    trainer.step(2)


def test_the_optimizer_state_continues_exactly_in_a_new_trainer(tmp_path):
    (net, trainer), (copy, fresh) = adam_pair()
    for scale in (1.0, 2.0, 3.0):
        adam_step(net, trainer, scale)
    path = save_checkpoint(str(tmp_path), net, trainer, resumable_state(3))
    point = checkpoint.read_resume_point(SingleProcess(), str(tmp_path))
    point.restore(copy, fresh, mx.cpu())
    assert fresh.learning_rate == trainer.learning_rate
    for scale in (4.0, 5.0, 6.0):                  # the schedule decays on the way
        adam_step(net, trainer, scale)
        adam_step(copy, fresh, scale)
    assert fresh.learning_rate == trainer.learning_rate < 0.1
    np.testing.assert_array_equal(copy.weight.data().asnumpy(), net.weight.data().asnumpy())
    assert point.path == path


def resumable_state(step):
    return dict(state(step), epoch_step=0, history=[])


def test_a_pickled_trainer_states_is_refused_and_never_unpickled(tmp_path, net_and_trainer):
    import pickle

    class Payload(object):
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    net, trainer = net_and_trainer
    path = save_checkpoint(str(tmp_path), net, trainer, resumable_state(1))
    os.remove(os.path.join(path, "optimizer.params"))
    with open(os.path.join(path, "trainer.states"), "wb") as handle:
        pickle.dump(Payload(), handle)
    with pytest.raises(CheckpointError, match="pickled trainer.states .* never loaded"):
        checkpoint.read_resume_point(SingleProcess(), str(tmp_path))
    assert not (tmp_path / "pwned").exists()
    assert checkpoint.load_checkpoint  # the model part of such a checkpoint stays readable
    assert find_checkpoint(str(tmp_path)) == path


def truncate(path, size):
    with open(path, "r+b") as handle:
        handle.truncate(size)


def poison(path):
    """Make one value of a saved array file NaN, as a flipped bit pattern would."""
    arrays = mx.nd.load(path)
    name = sorted(arrays)[0]
    arrays[name][:] = float("nan")
    mx.nd.save(path, arrays)


@pytest.mark.parametrize("damage, fragment", [
    (poison, "NaN or infinite values"),
    (lambda path: truncate(path, 0), "is empty"),
    (lambda path: truncate(path, 100), "not a readable MXNet parameter file"),
])
def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path, net_and_trainer, capsys,
                                                           damage, fragment):
    net, trainer = net_and_trainer
    good = save_checkpoint(str(tmp_path), net, trainer, resumable_state(1))
    bad = save_checkpoint(str(tmp_path), net, trainer, resumable_state(2))
    damage(os.path.join(bad, "model.params"))
    point = checkpoint.read_resume_point(SingleProcess(), str(tmp_path))
    assert point.path == good
    said = capsys.readouterr().err
    assert "skipped a damaged checkpoint" in said and bad in said and fragment in said
    damage(os.path.join(good, "optimizer.params"))
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        checkpoint.read_resume_point(SingleProcess(), str(tmp_path))


def test_non_finite_parameters_are_refused_when_loading_a_model(tmp_path):
    from gluon_caps.model_zoo import get_model
    net = get_model("capsnet_mnist", with_decoder=False)
    net.initialize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    net.digit_caps.predictions.weight.data()[:] = float("nan")
    path = str(tmp_path / "model.params")
    net.save_parameters(path)
    with pytest.raises(CheckpointError, match="model.params holds NaN or infinite values"):
        checkpoint.load_parameters(get_model("capsnet_mnist", with_decoder=False), path,
                                   mx.cpu())


@pytest.mark.parametrize("field, value, fragment", [
    ("epoch_step", "3", "epoch_step must be a non-negative integer"),
    ("step", -1, "step must be a non-negative integer"),
    ("history", None, "history must be a JSON array"),
    ("optimizer", None, "optimizer must be a JSON object"),
])
def test_a_state_with_missing_or_mistyped_fields_is_one_error(tmp_path, net_and_trainer, field,
                                                              value, fragment):
    net, trainer = net_and_trainer
    path = save_checkpoint(str(tmp_path), net, trainer, resumable_state(1))
    saved = read_state(path)
    saved[field] = value
    with open(os.path.join(path, "state.json"), "w") as handle:
        json.dump(saved, handle)
    with pytest.raises(CheckpointError, match=fragment):
        checkpoint.read_resume_point(SingleProcess(), str(tmp_path))


def test_partials_of_killed_writers_are_removed(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    good = save_checkpoint(str(tmp_path), net, trainer, state(1))
    partial = tmp_path / "checkpoints" / ".partial-epoch-0001-step-00000002-123"
    partial.mkdir()
    (partial / "model.params").write_bytes(b"x" * 10)
    checkpoint.remove_partials(str(tmp_path))
    assert os.listdir(str(tmp_path / "checkpoints")) == [os.path.basename(good)]


def test_validation_recorded_after_saving_ranks_the_checkpoint(tmp_path, net_and_trainer):
    net, trainer = net_and_trainer
    first = save_checkpoint(str(tmp_path), net, trainer, dict(state(1), pending={"epoch": 1}))
    second = save_checkpoint(str(tmp_path), net, trainer, state(2, 0.5))
    assert best_checkpoint(str(tmp_path)) == second
    checkpoint.record_validation(first, 0.25, [{"epoch": 1, "val_error": 0.25}])
    assert best_checkpoint(str(tmp_path)) == first
    assert "pending" not in read_state(first)
    assert read_state(first)["history"] == [{"epoch": 1, "val_error": 0.25}]
