import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_caps.errors import CheckpointError
from gluon_caps.training import (best_checkpoint, find_checkpoint, latest_checkpoint,
                                 save_checkpoint)
from gluon_caps.training.checkpoint import list_checkpoints, read_state


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
    assert sorted(os.listdir(path)) == ["model.params", "state.json", "trainer.states"]
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


def test_a_failed_save_leaves_the_last_good_checkpoint(tmp_path, net_and_trainer, monkeypatch):
    net, trainer = net_and_trainer
    good = save_checkpoint(str(tmp_path), net, trainer, state(1))

    def disk_full(path):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "save_states", disk_full)
    with pytest.raises(OSError):
        save_checkpoint(str(tmp_path), net, trainer, state(2))
    assert list_checkpoints(str(tmp_path)) == [good]
    assert os.listdir(str(tmp_path / "checkpoints")) == [os.path.basename(good)]
    assert latest_checkpoint(str(tmp_path)) == good


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
