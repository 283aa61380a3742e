"""Fixtures of the command-line tests: real MNIST digits, a briefly trained run, and untrained
checkpoints of the other models."""
import numpy as np
import pytest

from gluon_caps.data import MNIST
from gluon_caps.training import fit, resolve_config
from gluon_caps.training.distributed import SingleProcess

from tests.cli.helpers import write_checkpoint, write_pngs
from tests.training.helpers import write_mnist_root


@pytest.fixture(scope="session")
def digits(shared_mnist_dir):
    """The first 120 official MNIST test images (uint8) and labels."""
    official = MNIST(shared_mnist_dir, "test")
    return official.images[:120], official.labels[:120].astype(np.uint8)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory, digits):
    """A data root of real digits: 64 training images (32 held out) and 40 test images."""
    images, labels = digits
    return write_mnist_root(tmp_path_factory.mktemp("mnist"), (images[:64], labels[:64]),
                            (images[64:104], labels[64:104]))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist_root):
    """A run trained in-process (:func:`~gluon_caps.training.fit`): two steps of 16 real digits,
    one checkpoint."""
    output = tmp_path_factory.mktemp("trained") / "run"
    fit(resolve_config(None, dict(data_root=mnist_root, output=str(output), batch_size=16,
                                  epochs=1, max_steps=2, val_size=32, num_workers=0, seed=3)),
        comm=SingleProcess())
    return str(output)


@pytest.fixture(scope="session")
def test_digits(digits):
    """The trained run's first eight test images and their labels."""
    images, labels = digits
    return images[64:72], labels[64:72]


@pytest.fixture(scope="session")
def digit_pngs(tmp_path_factory, test_digits):
    """The eight test digits as PNG files."""
    return write_pngs(tmp_path_factory.mktemp("pngs"), test_digits[0])


@pytest.fixture(scope="session")
def multimnist_run(tmp_path_factory, mnist_root):
    """An untrained capsnet_multimnist checkpoint scored on pairs of the 40 test digits."""
    run = tmp_path_factory.mktemp("multimnist") / "run"
    write_checkpoint(run, model="capsnet_multimnist", dataset="multimnist",
                     data_root=mnist_root, eval_pairs_per_image=1)
    return str(run)
