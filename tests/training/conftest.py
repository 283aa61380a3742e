"""Fixtures of the launcher tests."""
import os
import shutil
import sys

import numpy as np
import pytest

from gluon_caps.data import MNIST

from tests.training.helpers import write_mnist_root


@pytest.fixture(scope="session")
def tiny_mnist_root(tmp_path_factory):
    """96 training and 32 test digits (random pixels, labels cycling 0..9) in the real format."""
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (128, 28, 28)).astype(np.uint8)
    labels = (np.arange(128) % 10).astype(np.uint8)
    return write_mnist_root(tmp_path_factory.mktemp("tiny_mnist"), (images[:96], labels[:96]),
                            (images[96:], labels[96:]))


@pytest.fixture(scope="session")
def paper_val_root(tmp_path_factory):
    """6,024 training digits (random pixels) so that the paper's val_size of 5,000 leaves 1,024
    to train on (2 steps of 2 workers of the paper's batch of 256), and 32 test digits."""
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, (6056, 28, 28)).astype(np.uint8)
    labels = (np.arange(6056) % 10).astype(np.uint8)
    return write_mnist_root(tmp_path_factory.mktemp("paper_val"), (images[:6024], labels[:6024]),
                            (images[6024:], labels[6024:]))


@pytest.fixture(scope="session")
def real_mnist_root(tmp_path_factory, shared_mnist_dir):
    """Real MNIST digits in a root of their own: 2,000 of the official test images as the
    training set (500 of them held out by ``val_size``) and 500 others as the test set."""
    official = MNIST(shared_mnist_dir, "test")
    images, labels = official.images, official.labels.astype(np.uint8)
    return write_mnist_root(tmp_path_factory.mktemp("real_mnist"),
                            (images[:2000], labels[:2000]), (images[8000:8500], labels[8000:8500]))


@pytest.fixture(scope="session")
def horovod():
    """Skip where Horovod with MXNet is not built, except under GLUON_CAPS_REQUIRE_HOROVOD=1
    (CI and tests/run.sh), where its absence is a failure."""
    try:
        import horovod.mxnet  # noqa: F401
        found = shutil.which("horovodrun", path=os.path.dirname(sys.executable))
    except ImportError:
        found = None
    if not found:
        if os.environ.get("GLUON_CAPS_REQUIRE_HOROVOD") == "1":
            pytest.fail("Horovod with MXNet support is required (GLUON_CAPS_REQUIRE_HOROVOD=1)")
        pytest.skip("Horovod with MXNet support is not installed")
    return found
