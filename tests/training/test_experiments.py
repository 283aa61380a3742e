"""Each experiment of the paper trains a step end to end on small files in the real formats, with
its augmentation seeded."""
import os

import numpy as np
import pytest

from gluon_caps.checkpoint import latest_checkpoint, read_state
from gluon_caps.data.affnist import write_affnist_mat
from gluon_caps.data.binmat import write_binary_matrix
from gluon_caps.data import build_splits
from gluon_caps.training import resolve_config

from tests.training.helpers import run_train, tiny_flags

NORB = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training-%s.mat",
        "test": "smallnorb-5x01235x9x18x6x2x96x96-testing-%s.mat"}


@pytest.fixture(scope="module")
def data_root(tiny_mnist_root):
    """The tiny MNIST root plus an affNIST test file and smallNORB training and test files."""
    rng = np.random.RandomState(1)
    os.makedirs(os.path.join(tiny_mnist_root, "affnist"), exist_ok=True)
    write_affnist_mat(os.path.join(tiny_mnist_root, "affnist", "test.mat"),
                      rng.randint(0, 256, (24, 40, 40)).astype(np.uint8), np.arange(24) % 10)
    os.makedirs(os.path.join(tiny_mnist_root, "smallnorb"), exist_ok=True)
    for split, count in (("train", 40), ("test", 16)):
        arrays = {"dat": rng.randint(0, 256, (count, 2, 96, 96)).astype(np.uint8),
                  "cat": (np.arange(count) % 5).astype(np.int32),
                  "info": rng.randint(0, 9, (count, 4)).astype(np.int32)}
        for part, array in arrays.items():
            write_binary_matrix(os.path.join(tiny_mnist_root, "smallnorb", NORB[split] % part),
                                array)
    return tiny_mnist_root


@pytest.mark.slow
@pytest.mark.parametrize("flags", [
    {"model": "capsnet_multimnist", "dataset": "multimnist", "pairs_per_image": 2,
     "eval_pairs_per_image": 1},
    {"model": "capsnet_mnist", "dataset": "affnist", "input_shape": "1 40 40"},
    {"model": "capsnet_smallnorb", "dataset": "smallnorb", "val_size": 8},
], ids=["multimnist", "affnist", "smallnorb"])
def test_each_experiment_trains_and_evaluates(tmp_path, data_root, flags):
    output = tmp_path / "run"
    args = tiny_flags(data_root, output, batch_size=8, max_steps=2, epochs=1, **flags)
    args = " ".join(args).split()                    # "--input-shape 1 40 40" as three values
    result = run_train(args)
    assert result.returncode == 0, result.stderr
    state = read_state(latest_checkpoint(str(output)))
    assert state["step"] == 2 and 0 <= state["val_error"] <= 1
    assert '"test_error"' in result.stdout


@pytest.mark.parametrize("flags", [
    {"dataset": "mnist"},
    {"dataset": "affnist", "input_shape": [1, 40, 40]},
    {"model": "capsnet_smallnorb", "dataset": "smallnorb", "val_size": 8},
], ids=["mnist-shift", "affnist-placement", "smallnorb-crop-jitter"])
def test_training_augmentation_is_a_function_of_seed_epoch_and_index(data_root, flags):
    def sample(key, seed=0):
        config = resolve_config(None, dict(flags, data_root=data_root, seed=seed, val_size=8))
        return build_splits(config)[0][key][0]

    np.testing.assert_array_equal(sample((3, 5)), sample((3, 5)))    # a new process, a resume
    np.testing.assert_array_equal(sample(5), sample((0, 5)))
    differs = [not np.array_equal(sample((epoch, 5)), sample((epoch + 1, 5)))
               for epoch in range(6)]
    assert sum(differs) >= 4, differs                    # a new draw each epoch (ties happen)
    plain = resolve_config(None, dict(flags, data_root=data_root, augment=False, val_size=8))
    unchanged = build_splits(plain)[0]
    np.testing.assert_array_equal(unchanged[(1, 5)][0], unchanged[(2, 5)][0])
