"""Shared fixtures: fixed, printed seeds and a ``hybridize`` switch so each block runs both ways."""
import os

import mxnet as mx
import numpy as np
import pytest

SEED = int(os.environ.get("GLUON_CAPS_TEST_SEED", "0"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def fixed_seed():
    """Seed MXNet and NumPy before every test; the seed is printed on failure."""
    print("seed:", SEED)
    mx.random.seed(SEED)
    np.random.seed(SEED)
    return SEED


@pytest.fixture(params=[False, True], ids=["imperative", "hybridized"])
def hybridize(request):
    """Run a block test both imperatively and hybridized (as gluon-nlp does)."""
    return request.param


@pytest.fixture(scope="session")
def shared_mnist_dir():
    """The real MNIST files from ``../shared/data/mnist`` (or ``$GLUON_CAPS_SHARED_DATA``)."""
    root = os.environ.get("GLUON_CAPS_SHARED_DATA",
                          os.path.join(os.path.dirname(REPO), "shared", "data"))
    path = os.path.join(root, "mnist")
    if not os.path.exists(os.path.join(path, "t10k-images-idx3-ubyte.gz")):
        pytest.skip("real MNIST files not found under %s" % path)
    return path
